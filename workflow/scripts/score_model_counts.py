import logging

from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.layout import LayoutFormat
from klomflow.model_counts import MODEL_COUNT_COLUMNS, model_count_rows
from klomflow.provenance import provenance
from klomflow.scoring import read_baseline_margins
from klomflow.tables import label_rows, write_replicates, write_tsv

pretrain, oracles = read_baseline_margins(
    LayoutFormat(**snakemake.params.reference),
    {
        "retain": snakemake.input.pretrain_retain,
        "forget": snakemake.input.pretrain_forget,
        "val": snakemake.input.pretrain_val,
    },
    snakemake.input.oracle,
    snakemake.input.forget_set,
    snakemake.params.n_models,
)
rows = model_count_rows(pretrain, oracles, snakemake.params.n_models, n_threads=snakemake.threads)
write_replicates(snakemake.output.replicates, rows)
record = provenance(snakemake.config, snakemake.scriptdir, snakemake.input.get("hub_commit", []))
write_tsv(
    snakemake.output.table,
    label_rows([rows], [snakemake.params.labels]),
    MODEL_COUNT_COLUMNS,
    provenance=record,
)
for row in rows:
    logging.info(
        "%(baseline)s %(split)s, first %(n_models)d models: "
        "P95 KLOM %(klom_p95).4f (%(klom_p95_low).4f to %(klom_p95_high).4f)",
        row,
    )
