"""Building a reference set locally: pretrain and oracle models in the EasyDUB layout.

For benchmarks without a published reference set (the embedded digits one),
the pipeline trains it: N pretrain models on the whole train split, and 2N
oracle models per forget set on its retain split. Oracles 0..N-1 are what
unlearned models are scored against; oracles N..2N-1, trained the same way
with other seeds, give the honest floor (oracle against oracle).
"""

from __future__ import annotations

import logging

from klomflow.datasets import ImageDataset
from klomflow.easydub import EasyDUBLayout
from klomflow.files import load_npy
from klomflow.splits import SPLITS
from klomflow.training import TrainingRecipe, derive_seed, train_models

log = logging.getLogger(__name__)

# Keys that separate the reference models' random streams from the
# retraining grid's (whose run seeds are small integers): an oracle must
# never be the very model a retraining cell trains.
_PRETRAIN, _ORACLE = 1, 2


def pretrain_seed(reference_seed: int) -> int:
    return derive_seed(reference_seed, _PRETRAIN)


def oracle_seed(reference_seed: int, forget_set: int) -> int:
    return derive_seed(reference_seed, _ORACLE, forget_set)


def build_pretrain_models(
    layout: EasyDUBLayout,
    dataset: ImageDataset,
    model_name: str,
    recipe: TrainingRecipe,
    *,
    n_models: int,
    reference_seed: int,
    device,
    resume_file=None,
) -> None:
    """Train N models on the whole train split; write their margins and checkpoints."""
    layout.check_images(dataset)
    train = (dataset.train_images, dataset.train_labels)
    run = train_models(
        model_name,
        train,
        recipe,
        n_models=n_models,
        seed=pretrain_seed(reference_seed),
        eval_splits={"retain": train, "val": (dataset.val_images, dataset.val_labels)},
        device=device,
        resume_file=resume_file,
        label="pretrain models",
    )
    layout.write_margins(layout.pretrain_dir("retain"), run.margins["retain"])
    layout.write_margins(layout.pretrain_dir("val"), run.margins["val"])
    layout.write_checkpoints(run.stack.state_dicts())


def write_pretrain_forget_margins(layout: EasyDUBLayout, forget_set: int, n_models: int) -> None:
    """Pretrain margins on forget set ``k``, taken from their margins on the whole train split."""
    indices = layout.read_forget_set(forget_set)
    for m in range(n_models):
        source = layout.model_file(layout.pretrain_dir("retain"), m)
        all_train = load_npy(source)
        if all_train.shape != (layout.n_train,):
            raise ValueError(
                f"{source}: expected ({layout.n_train},) margins, got {all_train.shape}"
            )
        layout.write_margins(
            layout.pretrain_dir(f"forget_{forget_set}"), all_train[None, indices], m
        )


def build_oracle_models(
    layout: EasyDUBLayout,
    dataset: ImageDataset,
    forget_set: int,
    model_name: str,
    recipe: TrainingRecipe,
    *,
    n_models: int,
    reference_seed: int,
    device,
    resume_file=None,
) -> None:
    """Train ``n_models`` (2N) models on the retain split of forget set ``k``; write their margins."""
    layout.check_images(dataset)
    splits = dataset.splits(layout.read_forget_set(forget_set))
    run = train_models(
        model_name,
        splits["retain"],
        recipe,
        n_models=n_models,
        seed=oracle_seed(reference_seed, forget_set),
        eval_splits=splits,
        device=device,
        resume_file=resume_file,
        label=f"oracle models of forget set {forget_set}",
    )
    for split in SPLITS:
        layout.write_margins(layout.oracle_dir(forget_set, split), run.margins[split])
