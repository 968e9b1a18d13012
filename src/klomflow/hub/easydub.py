"""The EasyDUB dataset on the hub (``easydub/EasyDUB-dataset``), already in the layout.

A run fetches only the files it needs, a part at a time: the pretrain margins
and, for unlearning methods, the pretrain checkpoints once; the forget set,
the pretrain margins on it and the oracles' margins once per forget set.
Each part is read back after it arrives, so a bad file fails its own job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from klomflow.benchmarks import n_oracles
from klomflow.easydub import EasyDUBLayout, read_margins
from klomflow.hub.client import check_model_count, fetch_into
from klomflow.splits import SPLITS

EASYDUB_REPO = "easydub/EasyDUB-dataset"


@dataclass(frozen=True)
class EasyDUBSource:
    """The EasyDUB dataset, fetched into ``layout`` part by part.

    Parts: ``pretrain`` (margins on the whole train split and val),
    ``checkpoints`` (pretrain models; only unlearning methods need them),
    and per forget set ``forget_set`` (the indices), ``pretrain_forget``
    (pretrain margins on the forget set), ``oracle`` (the 2N oracles' margins).
    """

    layout: EasyDUBLayout
    name: ClassVar[str] = "easydub"
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
            "checkpoints": (self._checkpoint_files, self._check_checkpoints),
            "forget_set": (self._forget_set_files, self._check_forget_set),
            "pretrain_forget": (self._pretrain_forget_files, self._check_pretrain_forget),
            "oracle": (self._oracle_files, self._check_oracle),
        }
        if part not in parts:
            raise ValueError(f"unknown part {part!r} of the EasyDUB dataset")
        return parts[part]

    # -- each part's files -------------------------------------------------------

    def _pretrain_files(self, n_models: int, forget_set: None) -> list[Path]:
        layout = self.layout
        return [
            layout.model_file(layout.pretrain_dir(split), m)
            for split in ("retain", "val")
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

    def _check_pretrain(self, n_models: int, forget_set: None) -> None:
        layout = self.layout
        for split, length in (("retain", layout.n_train), ("val", layout.n_val)):
            read_margins(layout.pretrain_dir(split), range(n_models), layout.epoch, (length,))

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
