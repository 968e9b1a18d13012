import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")

from klomflow.datasets import load_dataset
from klomflow.easydub import EasyDUBLayout
from klomflow.hub import download_klom_models_oracles

download_klom_models_oracles(
    EasyDUBLayout.for_benchmark(**snakemake.params.layout),
    load_dataset(snakemake.wildcards.benchmark, snakemake.input.dataset),
    int(snakemake.wildcards.k),
    snakemake.params.n_models,
    snakemake.params.hub,
)
