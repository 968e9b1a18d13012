import logging

from klomflow.joblog import log_to

log_to(snakemake.log[0])

import torch

from klomflow.datasets import load_dataset
from klomflow.devices import resolve_device
from klomflow.easydub import ReferenceFormat
from klomflow.margins import Diverged, EpochMargins
from klomflow.unlearning import unlearn

torch.set_num_threads(snakemake.threads)
try:
    recorded = unlearn(
        ReferenceFormat(**snakemake.params.reference),
        load_dataset(snakemake.wildcards.benchmark, snakemake.input.dataset),
        snakemake.input.forget_set,
        snakemake.input.checkpoints,
        snakemake.wildcards.setting,
        snakemake.params.setting,
        n_models=snakemake.params.n_models,
        training_epochs=snakemake.params.training_epochs,
        device=resolve_device(snakemake.params.device),
    )
except Diverged as error:
    # A setting that diverges is a result (reported as such, never scored),
    # not a failure that would stop the other settings.
    logging.warning("diverged: %s", error.message)
    recorded = EpochMargins.of_diverged(error, snakemake.params.setting["epochs"])
recorded.save(snakemake.output[0])
