from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.easydub import EasyDUBLayout
from klomflow.hub import EasyDUBSource, read_commit

forget_set = snakemake.wildcards.get("forget_set")  # the pretrain and checkpoint parts have none
EasyDUBSource(EasyDUBLayout.for_benchmark(**snakemake.params.layout)).download(
    snakemake.params.part,
    snakemake.params.n_models,
    None if forget_set is None else int(forget_set),
    {**snakemake.params.hub, "file_list": f"{snakemake.log[0]}.files"},
    read_commit(snakemake.input.commit)["commit"],
)
