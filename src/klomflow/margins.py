"""Margins: how strongly a model prefers the true class of a sample (docs/klom.md).

``margin = z[c] - logsumexp(z[j] for j != c)`` for logits ``z`` and true label
``c``, always computed in float32 (logits may come from a bf16 forward pass).

Also the file of margins recorded after several epochs (a retraining cell,
an unlearning method): one array per split of shape ``(epochs, n_models,
n_samples)``, the epochs and the compute they cost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from klomflow.files import atomic_save_npz, load_npz
from klomflow.splits import SPLITS

log = logging.getLogger(__name__)


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
    # Why the run stopped (a Diverged message). Then ``epochs`` are the epochs
    # that were asked for, and margins and compute_pct are of the first
    # len(compute_pct) of them only: those recorded finite before the
    # divergence (none, if it diverged before the first).
    diverged: str | None = None

    @property
    def finite_epochs(self) -> list[int]:
        """The epochs with margins to score."""
        return self.epochs[: len(self.compute_pct)]

    @property
    def diverged_epochs(self) -> list[int]:
        """The epochs from the divergence on: no margins, nothing to score."""
        return self.epochs[len(self.compute_pct) :]

    @classmethod
    def of_diverged(cls, error: Diverged, epochs: list[int]) -> EpochMargins:
        """The record of a run that diverged: its epochs, why, and the margins recorded before.

        A run that diverges (a large noise level or learning rate, say) is a
        result, reported as such in the tables and never scored, not a failure
        that would stop the other jobs: so a warning in the log, not an error.
        """
        log.warning("diverged: %s", error.message)
        kept = len(error.compute_pct)
        margins = {split: m[:kept] for split, m in error.margins.items()} if kept else {}
        return cls(margins, sorted(epochs), list(error.compute_pct), error.message)

    def save(self, path: str | Path) -> None:
        arrays = {"epochs": np.asarray(self.epochs)}
        if self.diverged is not None:
            arrays["diverged"] = np.array(self.diverged)
        if self.compute_pct:
            arrays["compute_pct"] = np.asarray(self.compute_pct, dtype=np.float64)
            arrays |= {split: self.margins[split] for split in SPLITS}
        atomic_save_npz(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> EpochMargins:
        """The file :meth:`save` wrote, checked; anything unusable is one error naming ``path``."""
        present = load_npz(path, (), optional=("diverged", "compute_pct"))
        diverged = present.get("diverged")
        if diverged is not None and "compute_pct" not in present:
            data = load_npz(path, ("epochs",))  # diverged before its first recorded epoch
            return cls({}, data["epochs"].tolist(), [], str(diverged))
        data = load_npz(path, (*SPLITS, "epochs", "compute_pct"))
        epochs, compute_pct = data["epochs"], data["compute_pct"]
        if epochs.ndim != 1 or epochs.size == 0 or not np.issubdtype(epochs.dtype, np.integer):
            raise ValueError(
                f"{path}: epochs must be a non-empty 1-D integer array, got {epochs.dtype} "
                f"of shape {epochs.shape}"
            )
        # All epochs have margins, but for those a divergence left without.
        n_finite = compute_pct.size if diverged is not None else epochs.size
        if (
            compute_pct.ndim != 1
            or compute_pct.size != n_finite
            or not 0 < n_finite <= epochs.size
            or not np.all(np.isfinite(compute_pct))
        ):
            raise ValueError(
                f"{path}: compute_pct must hold one finite number per epoch ({epochs.size})"
            )
        n_models = None
        for split in SPLITS:
            margins = data[split]
            if margins.ndim != 3 or margins.shape[0] != n_finite or 0 in margins.shape:
                raise ValueError(
                    f"{path}: {split} margins have shape {margins.shape}, expected "
                    f"({n_finite} epochs, n_models, n_samples)"
                )
            if n_models not in (None, margins.shape[1]):
                raise ValueError(
                    f"{path}: {split} margins are of {margins.shape[1]} models, "
                    f"{SPLITS[0]} of {n_models}"
                )
            n_models = margins.shape[1]
            check_margins(margins, f"{path}: {split} margins")
        return cls(
            {split: data[split] for split in SPLITS},
            epochs.tolist(),
            compute_pct.tolist(),
            None if diverged is None else str(diverged),
        )

    def check_fits(self, oracle: dict[str, np.ndarray], source: str, oracle_source: str) -> None:
        """ValueError naming both files unless every split's models and samples match the oracles'.

        ``source`` names these margins, ``oracle_source`` where ``oracle``
        (``split -> (n_models, n_samples)``) came from.
        """
        for split, margins in self.margins.items():
            if margins.shape[1:] != oracle[split].shape:
                n, k = margins.shape[1:]
                raise ValueError(
                    f"{source}: {split} margins of {n} models on {k} samples, but the oracles "
                    f"in {oracle_source} are {oracle[split].shape[0]} models on "
                    f"{oracle[split].shape[1]} samples; KLOM needs both the same "
                    "(n_models, n_samples)"
                )


def check_margins(margins: np.ndarray, source: str) -> None:
    """ValueError naming ``source`` unless ``margins`` are floats and all finite."""
    if not np.issubdtype(margins.dtype, np.floating):
        raise ValueError(f"{source} have dtype {margins.dtype}, expected a float dtype")
    finite = np.isfinite(margins)
    if not finite.all():
        bad = np.argwhere(~finite)
        where = ", ".join(f"{axis} {i}" for axis, i in zip(_AXES[-margins.ndim :], bad[0]))
        raise ValueError(
            f"{source} contain {margins[tuple(bad[0])]} ({where}); {len(bad)} of "
            f"{margins.size} values not finite"
        )


_AXES = ("epoch index", "model", "sample")


class Diverged(ValueError):
    """Models whose margins are not finite: training or unlearning diverged.

    ``what`` names the run (a method entry, a grid cell), ``setting`` the
    settings that drove it (e.g. ``lr=10.0``), ``epoch`` when it was seen.
    ``margins`` (split -> ``(k, N, n_samples)``) and ``compute_pct`` are what
    the run recorded, finite, after its epochs before that one, for
    :meth:`EpochMargins.of_diverged` to keep: the run that saw the divergence
    fills them in (the runner the margins, the retraining grid the compute).
    """

    def __init__(self, what: str, setting: str, epoch: int, n_bad: int, n_total: int):
        self.what, self.setting, self.epoch = what, setting, epoch
        self.n_bad, self.n_total = n_bad, n_total
        self.margins: dict[str, np.ndarray] = {}
        self.compute_pct: list[float] = []
        self.message = (
            f"{what}: {setting}: margins not finite after epoch {epoch} "
            f"({n_bad} of {n_total} non-finite)"
        )
        super().__init__(self.message)


def check_finite(margins: dict[str, np.ndarray], what: str, setting: str, epoch: int) -> None:
    """Raise :class:`Diverged` unless every split's margins are finite."""
    n_bad = sum(int(np.count_nonzero(~np.isfinite(m))) for m in margins.values())
    if n_bad:
        raise Diverged(what, setting, epoch, n_bad, sum(m.size for m in margins.values()))


def describe_setting(settings: dict) -> str:
    """``lr=10.0, noise=0.1``: the settings a divergence message names."""
    return ", ".join(f"{k}={v!r}" for k, v in settings.items()) or "default settings"
