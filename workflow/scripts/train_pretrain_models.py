from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.reference import ReferenceTraining, build_pretrain_models

build_pretrain_models(
    # The rule's params are from_config's keywords, by name.
    ReferenceTraining.from_config(
        snakemake.wildcards.benchmark,
        snakemake.input.dataset,
        snakemake.threads,
        **snakemake.params,
    ),
    retain_dir=snakemake.output.retain,
    val_dir=snakemake.output.val,
    checkpoint_dir=snakemake.output.checkpoints,
)
