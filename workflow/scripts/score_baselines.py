import logging

from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.layout import LayoutFormat
from klomflow.provenance import provenance
from klomflow.scoring import BASELINE_COLUMNS, score_baselines
from klomflow.tables import label_rows, write_replicates, write_tsv

rows = score_baselines(
    LayoutFormat(**snakemake.params.reference),
    {
        "retain": snakemake.input.pretrain_retain,
        "forget": snakemake.input.pretrain_forget,
        "val": snakemake.input.pretrain_val,
    },
    snakemake.input.oracle,
    snakemake.input.forget_set,
    snakemake.params.n_models,
    n_threads=snakemake.threads,
)
write_replicates(snakemake.output.replicates, rows)
record = provenance(snakemake.config, snakemake.scriptdir, snakemake.input.get("hub_commit", []))
write_tsv(
    snakemake.output.table,
    label_rows([rows], [snakemake.params.labels]),
    BASELINE_COLUMNS,
    provenance=record,
)
for row in rows:
    logging.info(
        "%(baseline)s %(split)s: P95 KLOM %(klom_p95).4f (%(klom_p95_low).4f to %(klom_p95_high).4f)",
        row,
    )
