from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.plotting import plot_compute_vs_klom
from klomflow.tables import read_table

plot_compute_vs_klom(
    read_table(snakemake.input.curves, snakemake.input.curves_replicates),
    read_table(snakemake.input.baselines, snakemake.input.baselines_replicates),
    snakemake.output[0],
    title=snakemake.params.title,
)
