from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.plotting import plot_methods
from klomflow.tables import read_tsv

plot_methods(
    read_tsv(snakemake.input.methods),
    read_tsv(snakemake.input.baselines),
    read_tsv(snakemake.input.curves) if "curves" in snakemake.input.keys() else [],
    snakemake.output[0],
    title=snakemake.params.title,
)
