"""Reference sets from the HuggingFace hub, in the EasyDUB layout (SPEC §4, §5).

Two sources:

- ``easydub``: the EasyDUB dataset (``easydub/EasyDUB-dataset``), already in the
  layout; only the files a run needs are fetched.
- ``klom-models``: the KLOM-models dataset (``royrin/KLOM-models``), oracles as
  logits and pretrain ("full") models as checkpoints; margins are derived from
  the logits (SPEC §1) and computed from the checkpoints, then written in the
  EasyDUB layout, so the rest of the pipeline reads both sources alike.

Files are fetched with ``huggingface_hub.snapshot_download`` and
``allow_patterns`` naming each file, into the hub client's cache (which honours
``HF_TOKEN``, ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` as it always does), then
linked into the layout directory. A file already there is not fetched again.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from klomflow.datasets import ImageDataset
from klomflow.easydub import EasyDUBLayout, read_margins
from klomflow.files import atomic_path
from klomflow.margins import margins_from_logits
from klomflow.splits import SPLITS, retain_indices

log = logging.getLogger(__name__)

EASYDUB_REPO = "easydub/EasyDUB-dataset"
KLOM_MODELS_REPO = "royrin/KLOM-models"
# Both datasets hold 200 pretrain models and 200 oracles per forget set, named
# after their last epoch, 23 of 24 counted from 0.
HUB_MODELS = 200
HUB_FILE_EPOCH = 23


class HubUnreachable(RuntimeError):
    """The hub could not deliver the files; the message says what to put where."""


def snapshot(repo_id: str, files: list[str], *, revision: str, cache_dir: Path, hint: str) -> Path:
    """The hub client's folder of ``repo_id@revision`` holding ``files`` (fetched if need be).

    One ``snapshot_download`` whose ``allow_patterns`` are exactly ``files``.
    ``hint`` ends the error message: where a person who downloads the files
    by hand should put them.
    """
    from huggingface_hub import snapshot_download

    log.info("fetching %d files of %s@%s", len(files), repo_id, revision)
    try:
        folder = Path(
            snapshot_download(
                repo_id,
                repo_type="dataset",
                revision=revision,
                cache_dir=cache_dir,
                allow_patterns=files,
            )
        )
    except Exception as error:  # the client raises many kinds; all mean the same here
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise HubUnreachable(
            f"cannot fetch {len(files)} files of the dataset {repo_id}@{revision} from the hub "
            f"({reason}); download them yourself, e.g. `hf download {repo_id} --repo-type "
            f"dataset --revision {revision} --include '{os.path.commonprefix(files)}*' {hint}`"
        ) from None
    absent = [f for f in files if not (folder / f).is_file()]
    if absent:
        raise HubUnreachable(
            f"{repo_id}@{revision} has no file {absent[0]} (and {len(absent) - 1} more)"
        )
    log.info("%s@%s is commit %s", repo_id, revision, folder.name)
    return folder


def fetch_into(
    repo_id: str, files: list[str], destination: Path, *, revision: str, cache_dir: Path
):
    """Make ``destination / f`` exist for every repo path ``f`` in ``files``, fetching what is missing."""
    destination = Path(destination)
    missing = [f for f in files if not (destination / f).is_file()]
    if missing:
        hint = f"--local-dir {destination}, so that {destination / missing[0]} exists"
        folder = snapshot(repo_id, missing, revision=revision, cache_dir=cache_dir, hint=hint)
        for f in missing:
            _place((folder / f).resolve(), destination / f)


def _place(source: Path, target: Path) -> None:
    """Hard-link (or, across file systems, copy) ``source`` to ``target``, atomically."""
    with atomic_path(target) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)


# -- EasyDUB -------------------------------------------------------------------


def easydub_files(layout: EasyDUBLayout, part: str, n_models: int, forget_set: int | None = None):
    """Repo paths of one part of the EasyDUB dataset that a run with N models needs.

    ``part``: ``pretrain`` (margins on the whole train split and val),
    ``forget_set`` (the indices), ``pretrain_forget`` (pretrain margins on the
    forget set), ``oracle`` (the 2N oracles' margins), ``checkpoints``
    (pretrain models; only unlearning methods need them).
    """
    check_model_count(n_models)
    root = layout.root
    relative = lambda path: str(path.relative_to(root))  # noqa: E731
    pretrain = range(n_models)
    if part == "pretrain":
        return [
            relative(layout.model_file(layout.pretrain_dir(s), m))
            for s in ("retain", "val")
            for m in pretrain
        ]
    if part == "forget_set":
        return [relative(layout.forget_set_file(forget_set))]
    if part == "pretrain_forget":
        return [
            relative(layout.model_file(layout.pretrain_dir(f"forget_{forget_set}"), m))
            for m in pretrain
        ]
    if part == "oracle":
        return [
            relative(layout.model_file(layout.oracle_dir(forget_set, s), m))
            for s in SPLITS
            for m in range(2 * n_models)
        ]
    if part == "checkpoints":
        return [relative(layout.model_file(layout.checkpoint_dir(), m, ".pt")) for m in pretrain]
    raise ValueError(f"unknown part {part!r} of the EasyDUB dataset")


def check_easydub_part(
    layout: EasyDUBLayout, part: str, n_models: int, forget_set: int | None = None
):
    """Read back what arrived: every file present, shapes consistent, no NaN; else an error naming the file."""
    n, epoch = n_models, layout.epoch
    if part == "pretrain":
        read_margins(layout.pretrain_dir("retain"), range(n), epoch, (layout.n_train,))
        read_margins(layout.pretrain_dir("val"), range(n), epoch, (layout.n_val,))
    elif part == "forget_set":
        layout.read_forget_set(forget_set)
    elif part == "pretrain_forget":
        layout.pretrain_margins("forget", forget_set, range(n))
    elif part == "oracle":
        for split in SPLITS:
            layout.oracle_margins(forget_set, split, range(2 * n))
    elif part == "checkpoints":
        from klomflow.training import ModelStack

        ModelStack(layout.arch, layout.read_checkpoints(range(n)), "cpu")  # loads strictly
    else:
        raise ValueError(f"unknown part {part!r} of the EasyDUB dataset")


def download_easydub_part(
    layout: EasyDUBLayout, part: str, n_models: int, forget_set: int | None, hub: dict
) -> None:
    """Fetch one part of the EasyDUB dataset into ``layout`` and check what arrived.

    ``hub``: ``repo_id``, ``revision`` and ``cache_dir``.
    """
    files = easydub_files(layout, part, n_models, forget_set)
    fetch_into(
        hub["repo_id"], files, layout.root, revision=hub["revision"], cache_dir=hub["cache_dir"]
    )
    check_easydub_part(layout, part, n_models, forget_set)


def check_model_count(n_models: int) -> None:
    if not 1 <= n_models <= HUB_MODELS // 2:
        raise ValueError(
            f"n_models: {n_models} needs {2 * n_models} oracles per forget set, but the hub "
            f"datasets hold {HUB_MODELS}; use at most {HUB_MODELS // 2}"
        )


# -- KLOM-models ---------------------------------------------------------------


def klom_models_files(part: str, n_models: int, forget_set: int | None = None) -> list[str]:
    """Repo paths of one part of the KLOM-models dataset (SPEC §5), CIFAR-10.

    ``part``: ``forget_set``, ``oracle`` (train and val logits of the 2N
    oracles) or ``pretrain`` (the N full models' checkpoints).
    """
    check_model_count(n_models)
    if part == "forget_set":
        return [f"forget_set_indices/CIFAR10/forget_set_{forget_set}.npy"]
    if part == "oracle":
        folder = f"oracles/CIFAR10/forget_set_{forget_set}"
        return [
            f"{folder}/{split}_logits_{m}.pt"
            for split in ("train", "val")
            for m in range(2 * n_models)
        ]
    if part == "pretrain":
        return [f"full_models/CIFAR10/sd_{m}____epoch_{HUB_FILE_EPOCH}.pt" for m in range(n_models)]
    raise ValueError(f"unknown part {part!r} of the KLOM-models dataset")


def download_klom_models_forget_set(layout: EasyDUBLayout, forget_set: int, hub: dict) -> None:
    from klomflow.files import load_npy

    folder = _klom_models_snapshot(klom_models_files("forget_set", 1, forget_set), hub)
    layout.write_forget_set(
        forget_set, load_npy(folder / klom_models_files("forget_set", 1, forget_set)[0])
    )


def download_klom_models_oracles(
    layout: EasyDUBLayout, dataset: ImageDataset, forget_set: int, n_models: int, hub: dict
) -> None:
    """Margins of the 2N oracles on retain, forget and val, from their train and val logits."""
    layout.check_images(dataset)
    folder = _klom_models_snapshot(klom_models_files("oracle", n_models, forget_set), hub)
    folder = folder / f"oracles/CIFAR10/forget_set_{forget_set}"
    indices = layout.read_forget_set(forget_set)
    retain = retain_indices(indices, dataset.n_train)
    for m in range(2 * n_models):
        train = _margins_of_logits(folder / f"train_logits_{m}.pt", dataset.train_labels)
        val = _margins_of_logits(folder / f"val_logits_{m}.pt", dataset.val_labels)
        for split, margins in (("retain", train[retain]), ("forget", train[indices]), ("val", val)):
            layout.write_margins(layout.oracle_dir(forget_set, split), margins[None], m)


def _klom_models_snapshot(files: list[str], hub: dict) -> Path:
    hint = f"--cache-dir {hub['cache_dir']}"
    return snapshot(
        hub["repo_id"], files, revision=hub["revision"], cache_dir=hub["cache_dir"], hint=hint
    )


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


def download_klom_models_pretrain(
    layout: EasyDUBLayout, dataset: ImageDataset, n_models: int, hub: dict, device
) -> None:
    """The N full models as checkpoints in the layout, and their margins on train and val."""
    from klomflow.training import ModelStack

    layout.check_images(dataset)
    files = klom_models_files("pretrain", n_models)
    folder = _klom_models_snapshot(files, hub)
    for m, name in enumerate(files):
        _place((folder / name).resolve(), layout.model_file(layout.checkpoint_dir(), m, ".pt"))
    models = ModelStack(layout.arch, layout.read_checkpoints(range(n_models)), device)
    for split, images, labels in (
        (
            "retain",
            dataset.train_images,
            dataset.train_labels,
        ),  # "retain" holds the whole train split
        ("val", dataset.val_images, dataset.val_labels),
    ):
        layout.write_margins(
            layout.pretrain_dir(split), models.margins(images.to(device), labels.to(device))
        )
