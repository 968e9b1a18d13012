from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.plotting import plot_methods
from klomflow.scoring import BASELINE_COLUMNS, GRID_COLUMNS, METHOD_COLUMNS, read_scores

plot_methods(
    read_scores(snakemake.input.methods, METHOD_COLUMNS),
    read_scores(snakemake.input.baselines, BASELINE_COLUMNS),
    read_scores(snakemake.input.curves, GRID_COLUMNS) if "curves" in snakemake.input.keys() else [],
    snakemake.output[0],
    title=snakemake.params.title,
)
