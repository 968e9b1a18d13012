from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.leaderboard import LEADERBOARD_COLUMNS, leaderboard
from klomflow.provenance import provenance
from klomflow.tables import read_tsv, write_tsv

rows = leaderboard(
    read_tsv(snakemake.input.methods),
    read_tsv(snakemake.input.baselines),
    read_tsv(snakemake.input.curves),
)
record = provenance(snakemake.config, snakemake.scriptdir, snakemake.input.get("hub_commit", []))
write_tsv(snakemake.output.table, rows, LEADERBOARD_COLUMNS, provenance=record)
