import logging

from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.easydub import EasyDUBLayout
from klomflow.provenance import provenance
from klomflow.scoring import BASELINE_COLUMNS, score_baselines
from klomflow.tables import write_tsv

rows = score_baselines(
    EasyDUBLayout.for_benchmark(**snakemake.params.layout),
    snakemake.params.forget_set,
    snakemake.params.n_models,
    n_threads=snakemake.threads,
)
write_tsv(
    snakemake.output.table,
    rows,
    BASELINE_COLUMNS,
    provenance=provenance(
        snakemake.config, snakemake.scriptdir, snakemake.input.get("hub_commit", [])
    ),
)
for row in rows:
    logging.info("%(baseline)s %(split)s: P95 KLOM %(klom_p95).4f", row)
