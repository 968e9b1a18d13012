"""Running one method setting on the N pretrain models, recording margins after its epochs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from klomflow.datasets import ImageDataset
from klomflow.layout import LayoutFormat
from klomflow.margins import Diverged, EpochMargins, check_finite, describe_setting
from klomflow.splits import SPLITS
from klomflow.stacking import ModelStack
from klomflow.unlearning.data import STEP_COST, UnlearningData
from klomflow.unlearning.registry import resolve_method
from klomflow.unlearning.settings import setting_parameters

log = logging.getLogger(__name__)


def run_method(
    method,
    models: ModelStack,
    data: UnlearningData,
    splits: dict[str, tuple[torch.Tensor, torch.Tensor]],
    epochs: list[int],
    params: dict,
    *,
    full_retrain_cost: float,
    entry: str = "method",
) -> EpochMargins:
    """Run ``method`` for ``max(epochs)`` epochs, recording margins after each listed one.

    ``full_retrain_cost``: forward-pass equivalents per model of retraining
    from scratch, the 100 % of the compute axis. Raises
    :class:`klomflow.margins.Diverged` (naming ``entry``, ``params`` and the
    epoch, and holding the epochs recorded before) if recorded margins are
    not finite. ``params`` are not checked here: config's are, once, before
    anything runs (:func:`klomflow.unlearning.settings.method_settings`).
    """
    n_models = len(models)
    epochs = sorted(set(epochs))
    recorded = {split: [] for split in SPLITS}
    compute = []
    # A method's few epochs cost less than saving N models' state after each.
    log.info(
        "%s: starting from epoch 1 (methods keep no resume state: a stopped run starts over)", entry
    )
    unlearned = method(models, data, **params)
    for epoch in range(1, max(epochs) + 1):
        try:
            result = next(unlearned)
        except StopIteration:
            raise ValueError(
                f"{entry}: the method stopped after {epoch - 1} epochs, but epochs up to {max(epochs)} were asked"
            ) from None
        if not isinstance(result, ModelStack) or len(result) != n_models:
            got = (
                f"{len(result)} models" if isinstance(result, ModelStack) else type(result).__name__
            )
            raise ValueError(
                f"{entry}: the method yielded {got}, expected a ModelStack of {n_models} models"
            )
        if epoch in epochs:
            now = {split: result.margins(*splits[split]) for split in SPLITS}
            try:
                check_finite(now, entry, describe_setting(params), epoch)
            except Diverged as error:  # the epochs recorded before were finite: keep them
                error.margins = {s: np.stack(m) for s, m in recorded.items() if m}
                error.compute_pct = compute
                raise
            for split in SPLITS:
                recorded[split].append(now[split])
            compute.append(100 * data.compute / full_retrain_cost)
        log.info("%s: epoch %d/%d done", entry, epoch, max(epochs))
    return EpochMargins({s: np.stack(m) for s, m in recorded.items()}, epochs, compute)


def unlearn(
    reference: LayoutFormat,
    dataset: ImageDataset,
    forget_set_file: Path,
    checkpoint_dir: Path,
    setting_name: str,
    setting: dict,
    *,
    n_models: int,
    training_epochs: int,
    device,
) -> EpochMargins:
    """Run one method setting on pretrain models 0..N-1 (the checkpoints in ``checkpoint_dir``).

    ``setting`` holds ``method``, ``epochs``, ``seed`` and the method's own
    parameters (one setting of a config entry of ``methods:``, as
    :func:`klomflow.unlearning.settings.method_settings` checked it);
    ``training_epochs`` of a full retrain on the whole train split make the
    100 % of the compute axis. A setting that diverges returns the record of
    a diverged run (:meth:`EpochMargins.of_diverged`).
    """
    reference.check_images(dataset)
    method = resolve_method(setting["method"], f"methods.{setting_name}")
    forget_set = reference.read_forget_set(forget_set_file)
    splits = {
        split: (images.to(device), labels.to(device))
        for split, (images, labels) in dataset.splits(forget_set).items()
    }
    models = ModelStack(
        reference.model, reference.read_checkpoints(checkpoint_dir, range(n_models)), device
    )
    data = UnlearningData(splits["retain"], splits["forget"], n_models, seed=setting["seed"])
    try:
        return run_method(
            method,
            models,
            data,
            splits,
            setting["epochs"],
            setting_parameters(setting),
            full_retrain_cost=training_epochs * dataset.n_train * STEP_COST,
            entry=f"methods.{setting_name}",
        )
    except Diverged as error:
        return EpochMargins.of_diverged(error, setting["epochs"])
