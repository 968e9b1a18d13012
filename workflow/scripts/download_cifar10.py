import logging

from klomflow.joblog import log_to

log_to(snakemake.log[0])

from klomflow.datasets import load_cifar10

# torchvision downloads where the network allows; offline, the error names
# the directory to copy cifar-10-batches-py into.
dataset = load_cifar10(snakemake.output[0], download=True)
logging.info("CIFAR-10: %d train and %d val images", dataset.n_train, len(dataset.val_labels))
