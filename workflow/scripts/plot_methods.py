import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")

from klomflow.plotting import plot_methods
from klomflow.tables import read_tsv

plot_methods(
    read_tsv(snakemake.input.methods),
    read_tsv(snakemake.input.baselines),
    read_tsv(snakemake.input.curves),
    snakemake.output[0],
    title=snakemake.params.title,
)
