from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.hub import EasyDUBSource, read_commit
from klomflow.layout import EasyDUBLayout

source = EasyDUBSource(EasyDUBLayout.for_benchmark(**snakemake.params.layout))
part, forget_set = source.part_of(snakemake.output[0])
source.download(
    part,
    snakemake.params.n_models,
    forget_set,
    {**snakemake.params.hub, "file_list": f"{snakemake.log[0]}.files"},
    read_commit(snakemake.input.commit)["commit"],
)
