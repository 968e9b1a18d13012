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

from dataclasses import dataclass
from pathlib import Path

import torch

from klomflow.benchmarks import n_oracles
from klomflow.datasets import ImageDataset, load_dataset
from klomflow.devices import resolve_device
from klomflow.layout import LayoutFormat
from klomflow.seeds import ORACLE_RUN, PRETRAIN_RUN, derive_seed
from klomflow.stacking import ModelStack
from klomflow.training import TrainingRecipe, train_models


def pretrain_seed(reference_seed: int) -> int:
    return derive_seed(reference_seed, PRETRAIN_RUN)


def oracle_seed(reference_seed: int, forget_set: int) -> int:
    return derive_seed(reference_seed, ORACLE_RUN, forget_set)


@dataclass(frozen=True)
class ReferenceTraining:
    """What training the pretrain models and training the oracles share."""

    reference: LayoutFormat
    dataset: ImageDataset
    recipe: TrainingRecipe
    n_models: int  # N
    reference_seed: int  # config reference.seed, from which every model's seed derives
    device: torch.device
    # Where the job keeps its state after every epoch, to continue after preemption.
    resume_file: Path | None = None

    @classmethod
    def from_config(
        cls,
        benchmark: str,
        dataset_file: Path,
        n_threads: int,
        *,
        reference: dict,
        recipe: dict,
        n_models: int,
        reference_seed: int,
        device: str,
        resume_file: Path | None = None,
    ) -> ReferenceTraining:
        """From the plain values a workflow rule passes, and with torch on ``n_threads`` threads.

        ``reference``: the arguments of :class:`LayoutFormat`; ``recipe``:
        config ``training``; ``device``: a name (``auto``, ``cpu``, ``cuda:0``).
        """
        torch.set_num_threads(n_threads)
        return cls(
            LayoutFormat(**reference),
            load_dataset(benchmark, dataset_file),
            TrainingRecipe(**recipe),
            n_models,
            reference_seed,
            resolve_device(device),
            resume_file,
        )


def build_pretrain_models(
    training: ReferenceTraining, *, retain_dir: Path, val_dir: Path, checkpoint_dir: Path
) -> None:
    """Train N models on the whole train split; write their margins and checkpoints.

    ``retain_dir`` gets the margins on the whole train split (as EasyDUB's
    pretrain "retain" files hold them), ``val_dir`` those on val.
    """
    reference, dataset = training.reference, training.dataset
    reference.check_images(dataset)
    splits = _pretrain_splits(dataset)
    run = train_models(
        reference.model,
        splits["retain"],
        training.recipe,
        n_models=training.n_models,
        seed=pretrain_seed(training.reference_seed),
        eval_splits=splits,
        device=training.device,
        resume_file=training.resume_file,
        label="pretrain models",
    )
    reference.write_margins(retain_dir, run.margins["retain"])
    reference.write_margins(val_dir, run.margins["val"])
    reference.write_checkpoints(checkpoint_dir, run.stack.state_dicts())


def build_pretrain_margins(
    reference: LayoutFormat,
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
        reference.model, reference.read_checkpoints(checkpoint_dir, range(n_models)), device
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
    training: ReferenceTraining, *, forget_set: int, forget_set_file: Path, oracle_dir: Path
) -> None:
    """Train ``n_oracles(N)`` models on the retain split of forget set ``forget_set``.

    Their margins go to ``oracle_dir`` (``.../oracle/forget_{forget_set}``), one
    directory per split.
    """
    reference, dataset = training.reference, training.dataset
    reference.check_images(dataset)
    splits = dataset.splits(reference.read_forget_set(forget_set_file))
    run = train_models(
        reference.model,
        splits["retain"],
        training.recipe,
        n_models=n_oracles(training.n_models),
        seed=oracle_seed(training.reference_seed, forget_set),
        eval_splits=splits,
        device=training.device,
        resume_file=training.resume_file,
        label=f"oracle models of forget set {forget_set}",
    )
    reference.write_oracle_margins(oracle_dir, run.margins)
