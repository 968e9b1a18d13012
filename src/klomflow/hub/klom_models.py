"""The KLOM-models dataset on the hub (by default ``royrin/KLOM-models``), written in the EasyDUB layout.

It holds oracles as logits and pretrain ("full") models as checkpoints. The
oracles' margins are derived from their logits here (docs/klom.md); the pretrain
checkpoints are only placed in the layout, and their margins are computed
where the rest of the reference set's are
(:func:`klomflow.reference.build_pretrain_margins`). The rest of the
pipeline then reads both hub sources alike.

File names follow the dataset card; the model number in them may or may not
be zero-padded on the hub, so each model's file is found in the folder's
listing (:func:`match_models`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from klomflow.benchmarks import KLOM_MODELS, n_oracles
from klomflow.datasets import ImageDataset
from klomflow.files import load_npy
from klomflow.hub.client import (
    HUB_FILE_EPOCH,
    HubError,
    check_model_count,
    fetch,
    list_folder,
    place_file,
    repo_at,
)
from klomflow.layout import EasyDUBLayout
from klomflow.margins import margins_from_logits
from klomflow.splits import retain_indices


@dataclass(frozen=True)
class KlomModelsSource:
    """The KLOM-models dataset, fetched into ``layout``: forget sets, oracles, pretrain checkpoints."""

    layout: EasyDUBLayout
    name: ClassVar[str] = KLOM_MODELS.name
    # {m} is the model number, {split} train or val.
    PRETRAIN_FOLDER: ClassVar[str] = "full_models/CIFAR10"
    CHECKPOINT: ClassVar[str] = f"sd_{{m}}____epoch_{HUB_FILE_EPOCH}.pt"
    LOGITS: ClassVar[str] = "{split}_logits_{m}.pt"
    LOGITS_SPLITS: ClassVar[tuple[str, ...]] = ("train", "val")

    @staticmethod
    def forget_set_file(forget_set: int) -> str:
        return f"forget_set_indices/CIFAR10/forget_set_{forget_set}.npy"

    @staticmethod
    def oracle_folder(forget_set: int) -> str:
        return f"oracles/CIFAR10/forget_set_{forget_set}"

    def run_files(self, n_models: int, forget_sets: list[int], checkpoints: bool) -> list[str]:
        """Every file of the run, as name patterns: the file names are only known from the listing.

        ``checkpoints`` changes nothing: the pretrain margins come from the checkpoints.
        """
        files = [f"{self.PRETRAIN_FOLDER}/{self.CHECKPOINT.format(m='*')}"]
        for forget_set in forget_sets:
            files.append(self.forget_set_file(forget_set))
            folder = self.oracle_folder(forget_set)
            files += [
                f"{folder}/{self.LOGITS.format(split=split, m='*')}" for split in self.LOGITS_SPLITS
            ]
        return files

    def download_forget_set(self, forget_set: int, hub: dict, commit: str) -> None:
        name = self.forget_set_file(forget_set)
        self.layout.write_forget_set(forget_set, load_npy(fetch(hub, commit, [name])[name]))

    def download_oracles(
        self, dataset: ImageDataset, forget_set: int, n_models: int, hub: dict, commit: str
    ) -> None:
        """Margins of the 2N oracles on retain, forget and val, from their train and val logits."""
        check_model_count(n_models)
        layout = self.layout
        layout.check_images(dataset)
        folder = self.oracle_folder(forget_set)
        templates = [self.LOGITS.format(split=split, m="{m}") for split in self.LOGITS_SPLITS]
        names = list_folder(hub, commit, folder, [t.format(m="*") for t in templates])
        train_files, val_files = (
            match_models(names, folder, template, n_oracles(n_models), repo_at(hub, commit))
            for template in templates
        )
        fetched = fetch(hub, commit, train_files + val_files)
        indices = layout.read_forget_set(forget_set)
        retain = retain_indices(indices, dataset.n_train)
        for m in range(n_oracles(n_models)):
            train = _margins_of_logits(fetched[train_files[m]], dataset.train_labels)
            val = _margins_of_logits(fetched[val_files[m]], dataset.val_labels)
            for split, margins in (
                ("retain", train[retain]),
                ("forget", train[indices]),
                ("val", val),
            ):
                layout.write_margins(layout.oracle_dir(forget_set, split), margins[None], m)

    def download_pretrain(self, n_models: int, hub: dict, commit: str) -> None:
        """The N full models as checkpoints in the layout, for reference.build_pretrain_margins."""
        check_model_count(n_models)
        folder, template = self.PRETRAIN_FOLDER, self.CHECKPOINT
        names = list_folder(hub, commit, folder, [template.format(m="*")])
        files = match_models(names, folder, template, n_models, repo_at(hub, commit))
        fetched = fetch(hub, commit, files)
        layout = self.layout
        for m, name in enumerate(files):
            place_file(
                fetched[name].resolve(), layout.model_file(layout.checkpoint_dir(), m, ".pt")
            )


def match_models(
    names: list[str], folder: str, template: str, n_models: int, where: str = "the listing"
) -> list[str]:
    """The file of each model 0..n_models-1 in ``folder``, by ``template`` (``{m}`` padded or not).

    ``names``: the repo paths the listing of ``folder`` holds; ``where`` names
    the listing (repo and revision) in the error.
    """
    before, after = template.split("{m}")
    pattern = re.compile(re.escape(f"{folder}/{before}") + r"(\d+)" + re.escape(after))
    by_model = {}
    for name in names:
        match = pattern.fullmatch(name)
        if match:
            by_model.setdefault(int(match.group(1)), name)
    absent = [m for m in range(n_models) if m not in by_model]
    if absent:
        example = f" (it holds {len(names)} files, e.g. {names[0]})" if names else " (it is empty)"
        raise HubError(
            f"no file matching {template.format(m=absent[0])} (model number zero-padded or "
            f"not) in the folder {folder} of {where}{example}; {len(absent)} of {n_models} "
            "models missing"
        )
    return [by_model[m] for m in range(n_models)]


def _margins_of_logits(path: Path, labels: torch.Tensor) -> np.ndarray:
    try:
        logits = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a readable logits file ({error})") from None
    if isinstance(logits, dict):
        logits = logits.get("logits")
    if not isinstance(logits, torch.Tensor) or logits.shape != (len(labels), 10):
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"{path}: logits have shape {shape}, expected ({len(labels)}, 10)")
    if not torch.isfinite(logits).all():
        raise ValueError(f"{path}: logits contain NaN or inf")
    return margins_from_logits(logits, labels).numpy()
