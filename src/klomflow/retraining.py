"""The retraining grid: N models retrained from scratch per (noise, seed) cell (docs/recipe.md).

Retraining on the retain split is the exact unlearning method; stopped after
fewer epochs, or trained with gradient noise, it is also the baseline that
every cheaper method is compared with on the compute axis.
"""

from __future__ import annotations

import numpy as np

from klomflow.datasets import ImageDataset
from klomflow.margins import Diverged, EpochMargins
from klomflow.training import TrainingRecipe, train_models


def retrain_cell(
    dataset: ImageDataset,
    forget_set: np.ndarray,
    model: str,
    recipe: TrainingRecipe,
    *,
    n_models: int,
    noise: float,
    seed: int,
    device,
    resume_file=None,
) -> EpochMargins:
    """Margins of N models retrained on the retain split, after every epoch.

    ``resume_file``: see :func:`klomflow.training.train_models`. A cell that
    diverges returns the record of a diverged run
    (:meth:`EpochMargins.of_diverged`): the margins and compute of the epochs
    before the divergence.
    """
    splits = dataset.splits(forget_set)
    # Each epoch is one pass over the retain split; a full retrain is
    # recipe.epochs passes over the whole train split (docs/recipe.md).
    share = len(splits["retain"][1]) / dataset.n_train
    epochs = list(range(1, recipe.epochs + 1))
    compute = [100 * share * e / recipe.epochs for e in epochs]
    try:
        run = train_models(
            model,
            splits["retain"],
            recipe,
            n_models=n_models,
            seed=seed,
            grad_noise=noise,
            eval_splits=splits,
            every_epoch=True,
            device=device,
            resume_file=resume_file,
            label=f"retrain noise {noise:g}, seed {seed}",
        )
    except Diverged as error:
        error.compute_pct = compute[: len(next(iter(error.margins.values()), []))]
        return EpochMargins.of_diverged(error, epochs)
    return EpochMargins(run.margins, epochs, compute)
