from klomflow.joblog import log_to

log_to(snakemake.log[0])

import torch

from klomflow.datasets import load_dataset
from klomflow.devices import resolve_device
from klomflow.layout import LayoutFormat
from klomflow.unlearning import unlearn

torch.set_num_threads(snakemake.threads)
recorded = unlearn(
    LayoutFormat(**snakemake.params.reference),
    load_dataset(snakemake.wildcards.benchmark, snakemake.input.dataset),
    snakemake.input.forget_set,
    snakemake.input.checkpoints,
    snakemake.wildcards.setting,
    snakemake.params.setting,
    n_models=snakemake.params.n_models,
    training_epochs=snakemake.params.training_epochs,
    device=resolve_device(snakemake.params.device),
)
recorded.save(snakemake.output[0])
