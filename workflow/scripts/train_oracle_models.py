from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.reference import ReferenceTraining, build_oracle_models

build_oracle_models(
    # The rule's params are from_config's keywords, by name.
    ReferenceTraining.from_config(
        snakemake.wildcards.benchmark,
        snakemake.input.dataset,
        snakemake.threads,
        **snakemake.params,
    ),
    forget_set=int(snakemake.wildcards.forget_set),
    forget_set_file=snakemake.input.forget_set,
    oracle_dir=snakemake.output[0],
)
