from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.easydub import ReferenceFormat
from klomflow.reference import write_pretrain_forget_margins

write_pretrain_forget_margins(
    ReferenceFormat(**snakemake.params.reference),
    snakemake.input.retain,
    snakemake.input.forget_set,
    snakemake.output[0],
    snakemake.params.n_models,
)
