import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")

from klomflow.datasets import load_cifar10

# torchvision downloads where the network allows; offline, the error names
# the directory to copy cifar-10-batches-py into.
dataset = load_cifar10(snakemake.output[0], download=True)
logging.info("CIFAR-10: %d train and %d val images", dataset.n_train, len(dataset.val_labels))
