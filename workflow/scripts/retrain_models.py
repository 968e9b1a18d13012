from klomflow.joblog import log_to

log_to(snakemake.log[0])

import torch

from klomflow.datasets import load_dataset
from klomflow.devices import resolve_device
from klomflow.retraining import retrain_cell
from klomflow.splits import load_forget_set
from klomflow.training import TrainingRecipe

torch.set_num_threads(snakemake.threads)
dataset = load_dataset(snakemake.wildcards.benchmark, snakemake.input.dataset)
forget_set = load_forget_set(snakemake.input.forget_set, dataset.n_train)
recorded = retrain_cell(
    dataset,
    forget_set,
    snakemake.params.model,
    TrainingRecipe(**snakemake.params.recipe),
    n_models=snakemake.params.n_models,
    noise=float(snakemake.wildcards.noise),
    seed=int(snakemake.wildcards.seed),
    device=resolve_device(snakemake.params.device),
    resume_file=snakemake.params.resume_file,
)
recorded.save(snakemake.output[0])
