"""Margins: how strongly a model prefers the true class of a sample (SPEC §1).

``margin = z[c] - logsumexp(z[j] for j != c)`` for logits ``z`` and true label
``c``, always computed in float32 (logits may come from a bf16 forward pass).

Also the file of a retraining cell's margins, one array per split of shape
``(epochs, n_models, n_samples)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from klomflow.files import atomic_save_npz
from klomflow.splits import SPLITS


def margins_from_logits(logits, labels):
    """Margins of ``logits`` ``(..., n_samples, n_classes)`` for ``labels`` ``(n_samples,)``.

    Returns ``(..., n_samples)`` float32: a torch tensor for tensor logits (on
    their device), a numpy array for numpy logits.
    """
    import torch  # imported here so that scoring margins never loads torch

    if isinstance(logits, np.ndarray):
        return margins_from_logits(torch.from_numpy(logits), torch.as_tensor(labels)).numpy()
    logits = logits.float()
    labels = torch.as_tensor(labels, device=logits.device, dtype=torch.long)
    if logits.shape[-2] != labels.shape[0]:
        raise ValueError(
            f"logits cover {logits.shape[-2]} samples but there are {labels.shape[0]} labels"
        )
    if labels.numel() and (labels.min() < 0 or labels.max() >= logits.shape[-1]):
        raise ValueError(f"labels must lie in 0..{logits.shape[-1] - 1}")
    true_class = labels.expand(*logits.shape[:-1]).unsqueeze(-1)
    correct = logits.gather(-1, true_class).squeeze(-1)
    others = logits.scatter(-1, true_class, float("-inf"))
    return correct - others.logsumexp(dim=-1)


def save_epoch_margins(path: str | Path, margins: dict[str, np.ndarray]) -> None:
    atomic_save_npz(path, **{split: margins[split] for split in SPLITS})


def load_epoch_margins(path: str | Path) -> dict[str, np.ndarray]:
    """Margins per split, ``(epochs, N, n_samples)``, as written by :func:`save_epoch_margins`."""
    with np.load(path) as data:
        missing = [s for s in SPLITS if s not in data]
        if missing:
            raise ValueError(f"{path}: no margins for split(s) {', '.join(missing)}")
        return {split: data[split] for split in SPLITS}
