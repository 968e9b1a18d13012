from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.plotting import plot_compute_vs_klom
from klomflow.tables import read_tsv

plot_compute_vs_klom(
    read_tsv(snakemake.input.curves),
    read_tsv(snakemake.input.baselines),
    snakemake.output[0],
    title=snakemake.params.title,
)
