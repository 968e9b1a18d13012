from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.files import atomic_write_text
from klomflow.leaderboard import LEADERBOARD_COLUMNS, leaderboard, markdown
from klomflow.provenance import provenance
from klomflow.scoring import BASELINE_COLUMNS, GRID_COLUMNS, METHOD_COLUMNS, read_scored
from klomflow.tables import write_tsv

inputs = snakemake.input
rows = leaderboard(
    read_scored(inputs.methods, METHOD_COLUMNS, inputs.methods_replicates),
    read_scored(inputs.baselines, BASELINE_COLUMNS, inputs.baselines_replicates),
    (
        read_scored(inputs.curves, GRID_COLUMNS, inputs.curves_replicates)
        if "curves" in inputs.keys()
        else []
    ),
)
record = provenance(snakemake.config, snakemake.scriptdir, inputs.get("hub_commit", []))
write_tsv(snakemake.output.table, rows, LEADERBOARD_COLUMNS, provenance=record)
if "markdown" in snakemake.output.keys():
    atomic_write_text(snakemake.output.markdown, markdown(rows))
