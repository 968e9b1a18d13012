from klomflow.joblog import log_to

log_to(snakemake.log[0])

import torch

from klomflow.datasets import load_dataset
from klomflow.easydub import EasyDUBLayout
from klomflow.reference import build_oracle_models
from klomflow.training import TrainingRecipe, resolve_device

torch.set_num_threads(snakemake.threads)
layout = EasyDUBLayout.for_benchmark(**snakemake.params.layout)
build_oracle_models(
    layout,
    load_dataset(snakemake.wildcards.benchmark, snakemake.input.dataset),
    int(snakemake.wildcards.k),
    layout.arch,
    TrainingRecipe(**snakemake.params.recipe),
    n_models=snakemake.params.n_models,
    reference_seed=snakemake.params.reference_seed,
    device=resolve_device(snakemake.params.device),
    resume_file=snakemake.params.resume_file,
)
