"""Building a reference set's margins: pretrain and oracle models in the EasyDUB layout.

For benchmarks without a published reference set (the embedded digits one),
the pipeline trains it: N pretrain models on the whole train split, and
``n_oracles(N)`` = 2N oracle models per forget set on its retain split.
Oracles 0..N-1 are what unlearned models are scored against; oracles
N..2N-1, trained the same way with other seeds, give the honest floor
(oracle against oracle).

A reference set whose pretrain models come as checkpoints only (KLOM-models)
gets their margins here too (:func:`build_pretrain_margins`).
"""

from __future__ import annotations

from pathlib import Path

from klomflow.benchmarks import n_oracles
from klomflow.datasets import ImageDataset
from klomflow.easydub import ReferenceFormat
from klomflow.training import ModelStack, TrainingRecipe, derive_seed, train_models

# Keys that separate the reference models' random streams from the
# retraining grid's (whose run seeds are small integers): an oracle must
# never be the very model a retraining cell trains.
_PRETRAIN, _ORACLE = 1, 2


def pretrain_seed(reference_seed: int) -> int:
    return derive_seed(reference_seed, _PRETRAIN)


def oracle_seed(reference_seed: int, forget_set: int) -> int:
    return derive_seed(reference_seed, _ORACLE, forget_set)


def build_pretrain_models(
    reference: ReferenceFormat,
    dataset: ImageDataset,
    recipe: TrainingRecipe,
    *,
    n_models: int,
    reference_seed: int,
    device,
    retain_dir: Path,
    val_dir: Path,
    checkpoint_dir: Path,
    resume_file=None,
) -> None:
    """Train N models on the whole train split; write their margins and checkpoints.

    ``retain_dir`` gets the margins on the whole train split (as EasyDUB's
    pretrain "retain" files hold them), ``val_dir`` those on val.
    """
    reference.check_images(dataset)
    splits = _pretrain_splits(dataset)
    run = train_models(
        reference.arch,
        splits["retain"],
        recipe,
        n_models=n_models,
        seed=pretrain_seed(reference_seed),
        eval_splits=splits,
        device=device,
        resume_file=resume_file,
        label="pretrain models",
    )
    reference.write_margins(retain_dir, run.margins["retain"])
    reference.write_margins(val_dir, run.margins["val"])
    reference.write_checkpoints(checkpoint_dir, run.stack.state_dicts())


def build_pretrain_margins(
    reference: ReferenceFormat,
    dataset: ImageDataset,
    *,
    n_models: int,
    device,
    checkpoint_dir: Path,
    retain_dir: Path,
    val_dir: Path,
) -> None:
    """Write the margins of the N pretrain checkpoints in ``checkpoint_dir``.

    The same files :func:`build_pretrain_models` writes: ``(n_models,
    n_train)`` into ``retain_dir``, ``(n_models, n_val)`` into ``val_dir``.
    """
    reference.check_images(dataset)
    models = ModelStack(
        reference.arch, reference.read_checkpoints(checkpoint_dir, range(n_models)), device
    )
    splits = _pretrain_splits(dataset)
    for split, directory in (("retain", retain_dir), ("val", val_dir)):
        images, labels = splits[split]
        reference.write_margins(directory, models.margins(images.to(device), labels.to(device)))


def _pretrain_splits(dataset: ImageDataset) -> dict:
    """The splits pretrain margins are on: EasyDUB's "retain" holds the whole train split."""
    return {
        "retain": (dataset.train_images, dataset.train_labels),
        "val": (dataset.val_images, dataset.val_labels),
    }


def build_oracle_models(
    reference: ReferenceFormat,
    dataset: ImageDataset,
    recipe: TrainingRecipe,
    *,
    forget_set: int,
    forget_set_file: Path,
    n_models: int,
    reference_seed: int,
    device,
    oracle_dir: Path,
    resume_file=None,
) -> None:
    """Train ``n_oracles(N)`` models on the retain split of forget set ``forget_set``.

    Their margins go to ``oracle_dir`` (``.../oracle/forget_{k}``), one
    directory per split.
    """
    reference.check_images(dataset)
    splits = dataset.splits(reference.read_forget_set(forget_set_file))
    run = train_models(
        reference.arch,
        splits["retain"],
        recipe,
        n_models=n_oracles(n_models),
        seed=oracle_seed(reference_seed, forget_set),
        eval_splits=splits,
        device=device,
        resume_file=resume_file,
        label=f"oracle models of forget set {forget_set}",
    )
    reference.write_oracle_margins(oracle_dir, run.margins)
