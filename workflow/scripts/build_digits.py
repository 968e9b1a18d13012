import logging

from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.datasets import build_digits, save_dataset

dataset, split_index = build_digits()
save_dataset(dataset, snakemake.output[0], **split_index)
logging.info("train %d images, val %d images", dataset.n_train, len(dataset.val_labels))
