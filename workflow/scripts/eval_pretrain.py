import logging

from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.provenance import provenance
from klomflow.scoring import BASELINE_COLUMNS, PRETRAIN_COLUMNS, pretrain_table, read_scores
from klomflow.tables import write_tsv

rows, text = pretrain_table(read_scores(snakemake.input[0], BASELINE_COLUMNS))
record = provenance(snakemake.config, snakemake.scriptdir, snakemake.input.get("hub_commit", []))
write_tsv(snakemake.output.table, rows, PRETRAIN_COLUMNS, provenance=record)
print(text)  # on the terminal, as EasyDUB's eval_pretrain.py prints it
logging.info("\n%s", text)
