from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.files import atomic_write_text
from klomflow.plotting import plot_methods
from klomflow.scoring import BASELINE_COLUMNS, GRID_COLUMNS, METHOD_COLUMNS, read_scored

inputs = snakemake.input
diverged = plot_methods(
    read_scored(inputs.methods, METHOD_COLUMNS, inputs.methods_replicates),
    read_scored(inputs.baselines, BASELINE_COLUMNS, inputs.baselines_replicates),
    (
        read_scored(inputs.curves, GRID_COLUMNS, inputs.curves_replicates)
        if "curves" in inputs.keys()
        else []
    ),
    snakemake.output.figure,
    title=snakemake.params.title,
)
# For the figure's caption in the report.
atomic_write_text(snakemake.output.diverged, (diverged or "no setting diverged") + "\n")
