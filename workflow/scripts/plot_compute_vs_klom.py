import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")

from klomflow.plotting import plot_compute_vs_klom
from klomflow.tables import read_tsv

plot_compute_vs_klom(
    read_tsv(snakemake.input.curves),
    read_tsv(snakemake.input.baselines),
    snakemake.output[0],
    title=snakemake.params.title,
)
