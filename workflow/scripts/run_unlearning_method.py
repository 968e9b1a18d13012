from klomflow.joblog import log_to

log_to(snakemake.log[0])

import torch

from klomflow.datasets import load_dataset
from klomflow.easydub import EasyDUBLayout
from klomflow.training import resolve_device
from klomflow.unlearning import unlearn

torch.set_num_threads(snakemake.threads)
recorded = unlearn(
    EasyDUBLayout.for_benchmark(**snakemake.params.layout),
    load_dataset(snakemake.wildcards.benchmark, snakemake.input.dataset),
    int(snakemake.wildcards.k),
    snakemake.wildcards.entry,
    snakemake.params.entry,
    n_models=snakemake.params.n_models,
    training_epochs=snakemake.params.training_epochs,
    device=resolve_device(snakemake.params.device),
)
recorded.save(snakemake.output[0])
