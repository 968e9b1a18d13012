from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.provenance import provenance
from klomflow.scoring import GRID_COLUMNS, label_rows
from klomflow.tables import read_tsv, write_tsv

tables = [read_tsv(path) for path in snakemake.input.tables]
write_tsv(
    snakemake.output.table,
    label_rows(tables, snakemake.params.labels),
    GRID_COLUMNS,
    provenance=provenance(
        snakemake.config, snakemake.scriptdir, snakemake.input.get("hub_commit", [])
    ),
)
