import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")

from klomflow.easydub import EasyDUBLayout
from klomflow.hub import download_klom_models_forget_set

download_klom_models_forget_set(
    EasyDUBLayout.for_benchmark(**snakemake.params.layout),
    int(snakemake.wildcards.k),
    snakemake.params.hub,
)
