import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")

import torch

from klomflow.datasets import load_dataset
from klomflow.easydub import EasyDUBLayout
from klomflow.hub import download_klom_models_pretrain
from klomflow.training import resolve_device

torch.set_num_threads(snakemake.threads)
download_klom_models_pretrain(
    EasyDUBLayout.for_benchmark(**snakemake.params.layout),
    load_dataset(snakemake.wildcards.benchmark, snakemake.input.dataset),
    snakemake.params.n_models,
    snakemake.params.hub,
    resolve_device(snakemake.params.device),
)
