from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.easydub import EasyDUBLayout
from klomflow.hub import download_easydub_part, read_commit

forget_set = snakemake.wildcards.get("forget_set")  # the pretrain and checkpoint parts have none
download_easydub_part(
    EasyDUBLayout.for_benchmark(**snakemake.params.layout),
    snakemake.params.part,
    snakemake.params.n_models,
    None if forget_set is None else int(forget_set),
    {**snakemake.params.hub, "file_list": f"{snakemake.log[0]}.files"},
    read_commit(snakemake.input.commit)["commit"],
)
