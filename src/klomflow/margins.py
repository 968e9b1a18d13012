"""Margins: how strongly a model prefers the true class of a sample (SPEC §1).

``margin = z[c] - logsumexp(z[j] for j != c)`` for logits ``z`` and true label
``c``, always computed in float32 (logits may come from a bf16 forward pass).

Also the file of margins recorded after several epochs (a retraining cell,
an unlearning method): one array per split of shape ``(epochs, n_models,
n_samples)``, the epochs and the compute they cost.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass
class EpochMargins:
    """Margins of N models recorded after some epochs of training or unlearning.

    ``margins[split]`` is ``(len(epochs), N, n_samples)`` float32;
    ``compute_pct[i]`` is the compute spent up to ``epochs[i]``, as % of a
    full retrain.
    """

    margins: dict[str, np.ndarray]
    epochs: list[int]
    compute_pct: list[float]

    def save(self, path: str | Path) -> None:
        atomic_save_npz(
            path,
            epochs=np.asarray(self.epochs),
            compute_pct=np.asarray(self.compute_pct, dtype=np.float64),
            **{split: self.margins[split] for split in SPLITS},
        )

    @classmethod
    def load(cls, path: str | Path) -> EpochMargins:
        with np.load(path) as data:
            missing = [k for k in (*SPLITS, "epochs", "compute_pct") if k not in data]
            if missing:
                raise ValueError(f"{path}: no {', '.join(missing)} in the margins file")
            return cls(
                {split: data[split] for split in SPLITS},
                data["epochs"].tolist(),
                data["compute_pct"].tolist(),
            )
