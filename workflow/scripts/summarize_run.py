from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.run_summary import write_run_summary

write_run_summary(
    snakemake.output[0],
    snakemake.input.curves,
    snakemake.input.baselines,
    snakemake.input.get("methods"),
)
