from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.plotting import plot_compute_vs_klom
from klomflow.scoring import BASELINE_COLUMNS, GRID_COLUMNS, read_scored

plot_compute_vs_klom(
    read_scored(snakemake.input.curves, GRID_COLUMNS, snakemake.input.curves_replicates),
    read_scored(snakemake.input.baselines, BASELINE_COLUMNS, snakemake.input.baselines_replicates),
    snakemake.output[0],
    title=snakemake.params.title,
)
