from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.easydub import EasyDUBLayout
from klomflow.hub import download_klom_models_forget_set, read_commit

download_klom_models_forget_set(
    EasyDUBLayout.for_benchmark(**snakemake.params.layout),
    int(snakemake.wildcards.forget_set),
    {**snakemake.params.hub, "file_list": f"{snakemake.log[0]}.files"},
    read_commit(snakemake.input.commit)["commit"],
)
