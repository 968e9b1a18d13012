from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.hub import KlomModelsSource, read_commit
from klomflow.layout import EasyDUBLayout

KlomModelsSource(EasyDUBLayout.for_benchmark(**snakemake.params.layout)).download_forget_set(
    int(snakemake.wildcards.forget_set),
    {**snakemake.params.hub, "file_list": f"{snakemake.log[0]}.files"},
    read_commit(snakemake.input.commit)["commit"],
)
