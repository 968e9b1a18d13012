from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.leaderboard import LEADERBOARD_COLUMNS, leaderboard
from klomflow.provenance import provenance
from klomflow.scoring import BASELINE_COLUMNS, GRID_COLUMNS, METHOD_COLUMNS, read_scores
from klomflow.tables import write_tsv

rows = leaderboard(
    read_scores(snakemake.input.methods, METHOD_COLUMNS),
    read_scores(snakemake.input.baselines, BASELINE_COLUMNS),
    read_scores(snakemake.input.curves, GRID_COLUMNS),
)
record = provenance(snakemake.config, snakemake.scriptdir, snakemake.input.get("hub_commit", []))
write_tsv(snakemake.output.table, rows, LEADERBOARD_COLUMNS, provenance=record)
