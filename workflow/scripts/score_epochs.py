from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.easydub import EasyDUBLayout
from klomflow.margins import EpochMargins
from klomflow.provenance import provenance
from klomflow.scoring import EPOCH_COLUMNS, score_epochs
from klomflow.splits import SPLITS
from klomflow.tables import write_tsv

layout = EasyDUBLayout.for_benchmark(**snakemake.params.layout)
oracles = range(snakemake.params.n_models)
rows = score_epochs(
    EpochMargins.load(snakemake.input.margins),
    {split: layout.oracle_margins(int(snakemake.wildcards.k), split, oracles) for split in SPLITS},
    n_threads=snakemake.threads,
)
write_tsv(
    snakemake.output.table,
    rows,
    EPOCH_COLUMNS,
    provenance=provenance(
        snakemake.config, snakemake.scriptdir, snakemake.input.get("hub_commit", [])
    ),
)
