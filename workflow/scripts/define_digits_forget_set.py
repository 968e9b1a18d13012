import logging

from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.datasets import digits_forget_set, load_saved_dataset
from klomflow.files import atomic_save_npy
from klomflow.splits import check_forget_set

dataset = load_saved_dataset(snakemake.input[0])
indices = digits_forget_set(int(snakemake.wildcards.forget_set), dataset)
atomic_save_npy(snakemake.output[0], check_forget_set(indices, dataset.n_train))
logging.info("forget set %s: %d train images", snakemake.wildcards.forget_set, len(indices))
