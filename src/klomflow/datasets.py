"""The image datasets behind the benchmarks, split into retain, forget and val.

Two benchmarks:

- ``digits``, the embedded one: scikit-learn's bundled 8x8 handwritten digits
  (1,797 images, 10 classes), split once into a stratified train split of
  1,438 and a val split of 359 images. Its forget sets are picked by
  :data:`DIGITS_FORGET_SET_PICKERS`. Needs no network.
- ``cifar10``, EasyDUB's: CIFAR-10 from a local torchvision directory, in
  torchvision's order (the forget-set indices refer to it), normalised with
  the EasyDUB mean and std, no augmentation (docs/sources.md).

Images are float32 ``(n, C, H, W)``, normalised; labels int64 ``(n,)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from klomflow.benchmarks import BENCHMARKS, DIGITS_FORGET_SET_SIZES, get_benchmark
from klomflow.files import atomic_save_npz, load_npz
from klomflow.splits import check_forget_set, retain_indices

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)


def load_dataset(benchmark: str, path: Path) -> ImageDataset:
    """The images of ``benchmark`` by its registered loader: the saved ``.npz`` for digits,
    the torchvision directory for cifar10."""
    return globals()[get_benchmark(benchmark).loader](Path(path))


# 20 % of each digit class goes to val; the seed fixes which, once and for all.
DIGITS_VAL_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0


@dataclass(frozen=True)
class ImageDataset:
    """A train and a val split of normalised images."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor
    source: str = ""  # the file or directory they were read from, for errors to name

    @property
    def n_train(self) -> int:
        return len(self.train_labels)

    def splits(self, forget_set: np.ndarray) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """``retain``, ``forget`` (in forget-set order) and ``val`` as (images, labels)."""
        forget = torch.as_tensor(check_forget_set(forget_set, self.n_train), dtype=torch.long)
        retain = torch.as_tensor(retain_indices(forget_set, self.n_train), dtype=torch.long)
        return {
            "retain": (self.train_images[retain], self.train_labels[retain]),
            "forget": (self.train_images[forget], self.train_labels[forget]),
            "val": (self.val_images, self.val_labels),
        }


# -- digits -----------------------------------------------------------------


def build_digits() -> tuple[ImageDataset, dict[str, np.ndarray]]:
    """The embedded benchmark's dataset and the indices into ``load_digits`` of each split."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.float32) / 16.0  # pixel values are 0..16
    labels = digits.target.astype(np.int64)
    rng = np.random.default_rng(DIGITS_SPLIT_SEED)
    val = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        val.extend(members[: round(DIGITS_VAL_FRACTION * len(members))])
    val_index = np.sort(np.array(val))
    train_index = np.setdiff1d(np.arange(len(labels)), val_index)
    mean, std = images[train_index].mean(), images[train_index].std()
    normalised = ((images - mean) / std)[:, None]  # add the channel axis
    dataset = ImageDataset(
        torch.from_numpy(normalised[train_index]),
        torch.from_numpy(labels[train_index]),
        torch.from_numpy(normalised[val_index]),
        torch.from_numpy(labels[val_index]),
    )
    return dataset, {"train_index": train_index, "val_index": val_index}


def save_dataset(dataset: ImageDataset, path: Path, **provenance: np.ndarray) -> None:
    atomic_save_npz(
        path,
        train_images=dataset.train_images.numpy(),
        train_labels=dataset.train_labels.numpy(),
        val_images=dataset.val_images.numpy(),
        val_labels=dataset.val_labels.numpy(),
        **provenance,
    )


_SAVED_SPLITS = ("train_images", "train_labels", "val_images", "val_labels")


def load_saved_dataset(path: Path) -> ImageDataset:
    """The dataset :func:`save_dataset` wrote, checked; anything unusable is an error naming ``path``."""
    data = load_npz(path, _SAVED_SPLITS)
    for split in ("train", "val"):
        images, labels = data[f"{split}_images"], data[f"{split}_labels"]
        if images.ndim != 4 or images.dtype != np.float32 or len(images) == 0:
            raise ValueError(
                f"{path}: {split}_images are {images.dtype} of shape {images.shape}, "
                "expected float32 (n, channels, height, width)"
            )
        if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"{path}: {split}_labels are {labels.dtype} of shape {labels.shape}, "
                f"expected integers ({len(images)},)"
            )
        if not np.all(np.isfinite(images)):
            raise ValueError(f"{path}: {split}_images contain values that are not finite")
        check_labels(labels, f"{path}: {split}_labels")
    for split in ("train", "val"):
        data[f"{split}_labels"] = data[f"{split}_labels"].astype(np.int64)
    return ImageDataset(*(torch.from_numpy(data[k]) for k in _SAVED_SPLITS), source=str(path))


# Every benchmark's images are of 10 classes, and their models have 10 outputs
# (one value, or this line fails on import).
(N_CLASSES,) = {benchmark.n_classes for benchmark in BENCHMARKS.values()}


def check_labels(labels, source: str) -> None:
    """ValueError naming ``source`` and the first sample whose label is not a class 0..9."""
    labels = np.asarray(labels)
    outside = np.flatnonzero((labels < 0) | (labels >= N_CLASSES))
    if outside.size:
        first = outside[0]
        raise ValueError(
            f"{source}: sample {first} has label {labels[first]}, outside the classes "
            f"0..{N_CLASSES - 1} ({outside.size} of {labels.size} samples)"
        )


def _most_atypical(size: int):
    def pick(dataset: ImageDataset) -> np.ndarray:
        pixels = dataset.train_images.flatten(1).numpy().astype(np.float64)
        labels = dataset.train_labels.numpy()
        class_mean = np.stack([pixels[labels == c].mean(axis=0) for c in range(labels.max() + 1)])
        distance = np.linalg.norm(pixels - class_mean[labels], axis=1)
        return np.argsort(-distance, kind="stable")[:size]

    return pick


def _random(size: int, seed: int):
    def pick(dataset: ImageDataset) -> np.ndarray:
        return np.sort(np.random.default_rng(seed).choice(dataset.n_train, size, replace=False))

    return pick


def _highest_on_component(component: int, size: int):
    def pick(dataset: ImageDataset) -> np.ndarray:
        pixels = dataset.train_images.flatten(1).numpy().astype(np.float64)
        pixels -= pixels.mean(axis=0)
        direction = np.linalg.svd(pixels, full_matrices=False)[2][component]
        direction *= np.sign(direction[np.argmax(np.abs(direction))])  # fix the SVD's sign
        return np.argsort(-(pixels @ direction), kind="stable")[:size]

    return pick


# How each digits forget set is picked, in the spirit of EasyDUB's (docs/sources.md);
# what each holds is in klomflow.benchmarks. Set 1 holds the images a model can
# only get right by memorising them: there, as on CIFAR-10, pretrain and
# oracle models differ most. Set 3 is a coherent subpopulation picked by a
# principal component of the pixels (EasyDUB uses the datamodel matrix, which
# a laptop cannot compute). Their sizes are the registry's, known before the
# data are built.
DIGITS_FORGET_SET_PICKERS = {
    1: _most_atypical(DIGITS_FORGET_SET_SIZES[1]),
    2: _random(DIGITS_FORGET_SET_SIZES[2], seed=2),
    3: _highest_on_component(0, DIGITS_FORGET_SET_SIZES[3]),
}


def digits_forget_set(forget_set: int, dataset: ImageDataset) -> np.ndarray:
    return _digits_picker(forget_set)(dataset).astype(np.int64)


def _digits_picker(forget_set: int):
    if forget_set not in DIGITS_FORGET_SET_PICKERS:
        raise ValueError(
            f"unknown digits forget set {forget_set}; known: {sorted(DIGITS_FORGET_SET_PICKERS)}"
        )
    return DIGITS_FORGET_SET_PICKERS[forget_set]


# -- CIFAR-10 ---------------------------------------------------------------


def load_cifar10(data_dir: Path, download: bool = False) -> ImageDataset:
    """CIFAR-10 from a torchvision directory (``cifar-10-batches-py`` inside ``data_dir``)."""
    from torchvision import datasets

    try:
        train = datasets.CIFAR10(str(data_dir), train=True, download=download)
        val = datasets.CIFAR10(str(data_dir), train=False, download=download)
    except (RuntimeError, OSError) as error:  # not there, or (downloading) no network
        raise FileNotFoundError(
            f"CIFAR-10 is not in {data_dir} ({error}); download it there with torchvision "
            f"(datasets.CIFAR10({str(data_dir)!r}, download=True)) or copy "
            "cifar-10-batches-py into it"
        ) from None
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)

    def to_tensors(split):
        images = torch.from_numpy(split.data).permute(0, 3, 1, 2).float() / 255.0
        name = "train" if split.train else "val (test_batch)"
        check_labels(split.targets, f"{data_dir}/{split.base_folder}: {name} labels")
        return (images - mean) / std, torch.tensor(split.targets, dtype=torch.long)

    return ImageDataset(*to_tensors(train), *to_tensors(val), source=str(data_dir))
