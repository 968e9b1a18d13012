"""Building a reference set locally: pretrain and oracle models in the EasyDUB layout.

For benchmarks without a published reference set (the embedded digits one),
the pipeline trains it: N pretrain models on the whole train split, and
``n_oracles(N)`` = 2N oracle models per forget set on its retain split.
Oracles 0..N-1 are what unlearned models are scored against; oracles
N..2N-1, trained the same way with other seeds, give the honest floor
(oracle against oracle).
"""

from __future__ import annotations

from pathlib import Path

from klomflow.benchmarks import n_oracles
from klomflow.datasets import ImageDataset
from klomflow.easydub import ReferenceFormat
from klomflow.seeds import ORACLE_RUN, PRETRAIN_RUN, derive_seed
from klomflow.training import TrainingRecipe, train_models


def pretrain_seed(reference_seed: int) -> int:
    return derive_seed(reference_seed, PRETRAIN_RUN)


def oracle_seed(reference_seed: int, forget_set: int) -> int:
    return derive_seed(reference_seed, ORACLE_RUN, forget_set)


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
    train = (dataset.train_images, dataset.train_labels)
    run = train_models(
        reference.model,
        train,
        recipe,
        n_models=n_models,
        seed=pretrain_seed(reference_seed),
        eval_splits={"retain": train, "val": (dataset.val_images, dataset.val_labels)},
        device=device,
        resume_file=resume_file,
        label="pretrain models",
    )
    reference.write_margins(retain_dir, run.margins["retain"])
    reference.write_margins(val_dir, run.margins["val"])
    reference.write_checkpoints(checkpoint_dir, run.stack.state_dicts())


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

    Their margins go to ``oracle_dir`` (``.../oracle/forget_{forget_set}``), one
    directory per split.
    """
    reference.check_images(dataset)
    splits = dataset.splits(reference.read_forget_set(forget_set_file))
    run = train_models(
        reference.model,
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
