from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.layout import LayoutFormat

LayoutFormat(**snakemake.params.reference).write_pretrain_forget_margins(
    snakemake.input.retain,
    snakemake.input.forget_set,
    snakemake.output[0],
    snakemake.params.n_models,
)
