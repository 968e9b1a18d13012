import logging

from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.easydub import ReferenceFormat
from klomflow.model_counts import MODEL_COUNT_COLUMNS, score_model_counts
from klomflow.provenance import provenance
from klomflow.tables import label_rows, write_tsv

forget_sets = snakemake.params.forget_sets
tables = [
    score_model_counts(
        ReferenceFormat(**snakemake.params.reference),
        {
            "retain": snakemake.input.pretrain_retain,
            "forget": pretrain_forget,
            "val": snakemake.input.pretrain_val,
        },
        oracle,
        forget_set_file,
        snakemake.params.n_models,
        n_threads=snakemake.threads,
    )
    for pretrain_forget, oracle, forget_set_file in zip(
        snakemake.input.pretrain_forget,
        snakemake.input.oracle,
        snakemake.input.forget_set,
        strict=True,
    )
]
labels = [{"benchmark": snakemake.wildcards.benchmark, "forget_set": k} for k in forget_sets]
rows = label_rows(tables, labels)
record = provenance(snakemake.config, snakemake.scriptdir, snakemake.input.get("hub_commit", []))
write_tsv(snakemake.output.table, rows, MODEL_COUNT_COLUMNS, provenance=record)
for row in rows:
    logging.info(
        "forget set %(forget_set)s, %(baseline)s %(split)s, n = %(n_models)s: "
        "P95 KLOM %(klom_p95).4f (%(klom_p95_low).4f to %(klom_p95_high).4f)",
        row,
    )
