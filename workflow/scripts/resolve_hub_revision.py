from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.hub import resolve_run_commit

resolve_run_commit(
    {**snakemake.params.hub, "file_list": f"{snakemake.log[0]}.files"},
    snakemake.params.needed,
    snakemake.output[0],
)
