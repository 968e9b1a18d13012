from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.plotting import plot_n_models
from klomflow.tables import read_tsv

plot_n_models(read_tsv(snakemake.input[0]), snakemake.output[0], title=snakemake.params.title)
