"""The EasyDUB dataset on the hub (by default ``easydub/EasyDUB-dataset``), already in the layout.

A run fetches only the files it needs, a part at a time: the pretrain margins
and, for unlearning methods, the pretrain checkpoints once; the forget set,
the pretrain margins on it and the oracles' margins once per forget set.
Each part is read back after it arrives, so a bad file fails its own job.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ClassVar

from klomflow.benchmarks import EASYDUB, n_oracles
from klomflow.hub.client import check_model_count, fetch_into
from klomflow.layout import EasyDUBLayout, read_margins
from klomflow.splits import SPLITS


def forget_set_in(path: str | Path) -> int | None:
    """The forget set a path of the layout is of: ``.../forget_2/...`` or ``forget_set_2.npy``."""
    found = re.search(r"forget_(?:set_)?(\d+)", str(path))
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class EasyDUBSource:
    """The EasyDUB dataset, fetched into ``layout`` part by part.

    Parts: ``pretrain`` (margins on the whole train split and val; also
    one split at a time, ``pretrain_retain`` and ``pretrain_val``),
    ``checkpoints`` (pretrain models; only unlearning methods need them),
    and per forget set ``forget_set`` (the indices), ``pretrain_forget``
    (pretrain margins on the forget set), ``oracle`` (the 2N oracles' margins).
    Every part but ``pretrain`` fills one file or folder of the layout
    (:meth:`part_of`), which is one download job's output.
    """

    layout: EasyDUBLayout
    name: ClassVar[str] = EASYDUB.name
    FORGET_SET_PARTS: ClassVar[tuple[str, ...]] = ("forget_set", "pretrain_forget", "oracle")

    def files(self, part: str, n_models: int, forget_set: int | None = None) -> list[str]:
        """Repo paths of one part that a run with ``n_models`` models needs."""
        check_model_count(n_models)
        files_of, _ = self._part(part)
        return [str(path.relative_to(self.layout.root)) for path in files_of(n_models, forget_set)]

    def check(self, part: str, n_models: int, forget_set: int | None = None) -> None:
        """Read back what arrived: every file present, shapes consistent, no NaN; else an error naming the file."""
        _, check_of = self._part(part)
        check_of(n_models, forget_set)

    def download(
        self, part: str, n_models: int, forget_set: int | None, hub: dict, commit: str
    ) -> None:
        """Fetch one part at ``commit`` into the layout; check what arrived.

        ``hub``: ``repo_id``, ``cache_dir`` and optionally ``file_list`` (see
        :func:`klomflow.hub.client.download_command`).
        """
        fetch_into(hub, commit, self.files(part, n_models, forget_set), self.layout.root)
        self.check(part, n_models, forget_set)

    def part_of(self, path: str | Path) -> tuple[str, int | None]:
        """The part that fills ``path`` of the layout (a download job's output), and its forget set.

        ValueError naming ``path`` if no part fills it.
        """
        forget_set = forget_set_in(path)
        layout = self.layout
        outputs = {
            layout.pretrain_dir("retain"): "pretrain_retain",
            layout.pretrain_dir("val"): "pretrain_val",
            layout.checkpoint_dir(): "checkpoints",
        }
        if forget_set is not None:
            outputs[layout.forget_set_file(forget_set)] = "forget_set"
            outputs[layout.pretrain_dir(f"forget_{forget_set}")] = "pretrain_forget"
            outputs[layout.oracle_set_dir(forget_set)] = "oracle"
        part = outputs.get(Path(path))
        if part is None:
            raise ValueError(f"{path}: not a file or folder of the EasyDUB dataset's layout")
        return part, forget_set

    def run_files(self, n_models: int, forget_sets: list[int], checkpoints: bool) -> list[str]:
        """Every file of the run: the parts the download jobs fetch, in their order."""
        whole_run = ["pretrain"] + (["checkpoints"] if checkpoints else [])
        files = [f for part in whole_run for f in self.files(part, n_models)]
        for forget_set in forget_sets:
            for part in self.FORGET_SET_PARTS:
                files += self.files(part, n_models, forget_set)
        return files

    def _part(self, part: str) -> tuple[Callable, Callable]:
        """The part's file selection and its check, each ``(n_models, forget_set)``."""
        parts = {
            "pretrain": (self._pretrain_files, self._check_pretrain),
            "pretrain_retain": (
                partial(self._pretrain_files, splits=("retain",)),
                partial(self._check_pretrain, splits=("retain",)),
            ),
            "pretrain_val": (
                partial(self._pretrain_files, splits=("val",)),
                partial(self._check_pretrain, splits=("val",)),
            ),
            "checkpoints": (self._checkpoint_files, self._check_checkpoints),
            "forget_set": (self._forget_set_files, self._check_forget_set),
            "pretrain_forget": (self._pretrain_forget_files, self._check_pretrain_forget),
            "oracle": (self._oracle_files, self._check_oracle),
        }
        if part not in parts:
            raise ValueError(f"unknown part {part!r} of the EasyDUB dataset")
        return parts[part]

    # -- each part's files -------------------------------------------------------

    def _pretrain_files(
        self, n_models: int, forget_set: None, splits: tuple[str, ...] = ("retain", "val")
    ) -> list[Path]:
        layout = self.layout
        return [
            layout.model_file(layout.pretrain_dir(split), m)
            for split in splits
            for m in range(n_models)
        ]

    def _checkpoint_files(self, n_models: int, forget_set: None) -> list[Path]:
        layout = self.layout
        return [layout.model_file(layout.checkpoint_dir(), m, ".pt") for m in range(n_models)]

    def _forget_set_files(self, n_models: int, forget_set: int) -> list[Path]:
        return [self.layout.forget_set_file(forget_set)]

    def _pretrain_forget_files(self, n_models: int, forget_set: int) -> list[Path]:
        directory = self.layout.pretrain_dir(f"forget_{forget_set}")
        return [self.layout.model_file(directory, m) for m in range(n_models)]

    def _oracle_files(self, n_models: int, forget_set: int) -> list[Path]:
        layout = self.layout
        return [
            layout.model_file(layout.oracle_dir(forget_set, split), m)
            for split in SPLITS
            for m in range(n_oracles(n_models))
        ]

    # -- each part's check -------------------------------------------------------

    def _check_pretrain(
        self, n_models: int, forget_set: None, splits: tuple[str, ...] = ("retain", "val")
    ) -> None:
        layout = self.layout
        lengths = {"retain": layout.n_train, "val": layout.n_val}
        for split in splits:
            read_margins(
                layout.pretrain_dir(split), range(n_models), layout.epoch, (lengths[split],)
            )

    def _check_checkpoints(self, n_models: int, forget_set: None) -> None:
        # Reading loads each checkpoint strictly into the model, naming a file that does not fit.
        self.layout.read_checkpoints(range(n_models))

    def _check_forget_set(self, n_models: int, forget_set: int) -> None:
        self.layout.read_forget_set(forget_set)

    def _check_pretrain_forget(self, n_models: int, forget_set: int) -> None:
        self.layout.pretrain_margins("forget", forget_set, range(n_models))

    def _check_oracle(self, n_models: int, forget_set: int) -> None:
        for split in SPLITS:
            self.layout.oracle_margins(forget_set, split, range(n_oracles(n_models)))
