from klomflow.joblog import log_to

log_to(snakemake.log[0])

import torch

from klomflow.datasets import load_dataset
from klomflow.devices import resolve_device
from klomflow.easydub import ReferenceFormat
from klomflow.reference import build_oracle_models
from klomflow.training import TrainingRecipe

torch.set_num_threads(snakemake.threads)
build_oracle_models(
    ReferenceFormat(**snakemake.params.reference),
    load_dataset(snakemake.wildcards.benchmark, snakemake.input.dataset),
    TrainingRecipe(**snakemake.params.recipe),
    forget_set=int(snakemake.wildcards.forget_set),
    forget_set_file=snakemake.input.forget_set,
    n_models=snakemake.params.n_models,
    reference_seed=snakemake.params.reference_seed,
    device=resolve_device(snakemake.params.device),
    oracle_dir=snakemake.output[0],
    resume_file=snakemake.params.resume_file,
)
