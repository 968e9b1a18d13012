from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.layout import LayoutFormat
from klomflow.provenance import provenance
from klomflow.scoring import EPOCH_COLUMNS, score_against_oracles
from klomflow.tables import write_replicates, write_tsv

rows = score_against_oracles(
    LayoutFormat(**snakemake.params.reference),
    snakemake.input.margins,
    snakemake.input.oracle,
    snakemake.input.forget_set,
    snakemake.params.n_models,
    n_threads=snakemake.threads,
)
record = provenance(
    snakemake.config,
    snakemake.scriptdir,
    snakemake.input.get("hub_commit", []),
    methods=snakemake.params.get("methods"),
)
write_replicates(snakemake.output.replicates, rows)
write_tsv(snakemake.output.table, rows, EPOCH_COLUMNS, provenance=record)
