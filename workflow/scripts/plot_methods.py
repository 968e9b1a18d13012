from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.files import atomic_write_text
from klomflow.plotting import plot_methods
from klomflow.tables import read_table

diverged = plot_methods(
    read_table(snakemake.input.methods, snakemake.input.methods_replicates),
    read_table(snakemake.input.baselines, snakemake.input.baselines_replicates),
    (
        read_table(snakemake.input.curves, snakemake.input.curves_replicates)
        if "curves" in snakemake.input.keys()
        else []
    ),
    snakemake.output.figure,
    title=snakemake.params.title,
)
# For the figure's caption in the report.
atomic_write_text(snakemake.output.diverged, (diverged or "no setting diverged") + "\n")
