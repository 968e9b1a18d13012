from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.provenance import provenance
from klomflow.scoring import read_scores
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
    read=read_scores,  # every cell checked: nothing gathered is trusted unread
    replicates=(snakemake.input.replicates, snakemake.output.replicates),
)
