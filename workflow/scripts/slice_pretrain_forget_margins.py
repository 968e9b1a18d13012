from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.easydub import EasyDUBLayout
from klomflow.reference import write_pretrain_forget_margins

write_pretrain_forget_margins(
    EasyDUBLayout.for_benchmark(**snakemake.params.layout),
    int(snakemake.wildcards.k),
    snakemake.params.n_models,
)
