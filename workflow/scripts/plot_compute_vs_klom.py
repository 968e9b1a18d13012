from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.plotting import plot_compute_vs_klom
from klomflow.scoring import BASELINE_COLUMNS, GRID_COLUMNS, read_scores

plot_compute_vs_klom(
    read_scores(snakemake.input.curves, GRID_COLUMNS),
    read_scores(snakemake.input.baselines, BASELINE_COLUMNS),
    snakemake.output[0],
    title=snakemake.params.title,
)
