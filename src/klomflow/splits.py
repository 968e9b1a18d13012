"""The splits of a benchmark and its forget sets, as indices (no images).

Every model is scored on three splits (docs/klom.md): ``retain``, the train
samples outside the forget set; ``forget``, the forget set in the order of its
file; ``val``, the held-out split. A forget set is a 1-D array of unique
indices into the train split.
"""

from __future__ import annotations

import numpy as np

from klomflow.files import load_npy

SPLITS = ("retain", "forget", "val")


def check_forget_set(indices: np.ndarray, n_train: int, source: str = "forget set") -> np.ndarray:
    """The forget-set indices as int64, or ValueError naming ``source`` if they are unusable."""
    indices = np.asarray(indices)
    if indices.ndim != 1 or indices.size == 0:
        raise ValueError(f"{source}: expected a non-empty 1-D array, got shape {indices.shape}")
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"{source}: indices must be integers, got dtype {indices.dtype}")
    bad = indices[(indices < 0) | (indices >= n_train)]
    if bad.size:
        raise ValueError(f"{source}: index {bad[0]} outside the train split 0..{n_train - 1}")
    values, counts = np.unique(indices, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{source}: index {values[counts > 1][0]} appears more than once")
    return indices.astype(np.int64)


def load_forget_set(path, n_train: int) -> np.ndarray:
    """The forget set in a ``.npy`` file, checked (:func:`check_forget_set`); errors name the file."""
    return check_forget_set(load_npy(path), n_train, source=str(path))


def retain_indices(forget_set: np.ndarray, n_train: int) -> np.ndarray:
    """Train indices not in the forget set, in train order."""
    keep = np.ones(n_train, dtype=bool)
    keep[np.asarray(forget_set)] = False
    return np.flatnonzero(keep)
