from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.provenance import provenance
from klomflow.tables import concatenate_tables

record = provenance(
    snakemake.config,
    snakemake.scriptdir,
    snakemake.input.get("hub_commit", []),
    methods=snakemake.params.get("methods"),
)
concatenate_tables(
    snakemake.input.tables,
    snakemake.output.table,
    snakemake.params.columns,
    labels=snakemake.params.get("labels"),
    provenance=record,
)
