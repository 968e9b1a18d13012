import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")

from klomflow.datasets import build_digits, save_dataset

dataset, split_index = build_digits()
save_dataset(dataset, snakemake.output[0], **split_index)
logging.info("train %d images, val %d images", dataset.n_train, len(dataset.val_labels))
