"""The EasyDUB dataset layout (docs/sources.md): reading and writing it.

A reference set, downloaded from the hub or built locally by the pipeline,
is a directory in this layout::

    forget_sets/{benchmark}/forget_set_{forget_set}.npy           train indices
    margins/{benchmark}/pretrain/{retain,val}/{model}/id_{m}_epoch_{e}.npy
    margins/{benchmark}/pretrain/forget_{forget_set}/{model}/id_{m}_epoch_{e}.npy
    margins/{benchmark}/oracle/forget_{forget_set}/{retain,forget,val}/{model}/id_{m}_epoch_{e}.npy
    models/{benchmark}/pretrain/{model}/id_{m}_epoch_{e}.pt

One file per model; each margins file is that model's margins on one split,
``(n_samples,)``. Pretrain ``retain`` covers the whole train split; the
readers drop the forget set from it (and from an oracle ``retain`` file that
covers the whole train split too), so that every split lines up sample by
sample between pretrain and oracle models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from klomflow.benchmarks import get_benchmark
from klomflow.files import atomic_save_npy, atomic_torch_save, load_npy
from klomflow.margins import check_margins
from klomflow.splits import SPLITS, check_forget_set, load_forget_set, retain_indices


def model_file_name(model_id, epoch, suffix: str = ".npy") -> str:
    """One model's file in the layout: ``id_{m}_epoch_{e}.npy`` (margins) or ``.pt`` (checkpoint).

    ``model_id`` may be ``"*"``, a glob pattern for every model's file.
    """
    return f"id_{model_id}_epoch_{epoch}{suffix}"


# The same names read back: model id and epoch.
_MODEL_FILE_PATTERN = r"id_(\d+)_epoch_(\d+)"


@dataclass(frozen=True)
class LayoutFormat:
    """How the files of a reference set are named and shaped, wherever they are.

    ``model`` is the architecture directory in the layout; ``epoch`` the epoch
    in the file names (EasyDUB: 23, the last of 24, counted from 0);
    ``n_train`` and ``n_val`` the split sizes every file is checked against.
    The workflow names the directories; these readers and writers take them.
    """

    model: str
    epoch: int
    n_train: int
    n_val: int

    def check_images(self, dataset) -> None:
        """ValueError if ``dataset`` (an ImageDataset) does not have these split sizes."""
        sizes = (dataset.n_train, len(dataset.val_labels))
        if sizes != (self.n_train, self.n_val):
            where = f"{dataset.source}: " if dataset.source else ""
            raise ValueError(
                f"{where}the images have {sizes[0]} train and {sizes[1]} val samples, "
                f"but the reference set is for {self.n_train} and {self.n_val}"
            )

    def model_file(self, directory: Path, model_id: int, suffix: str = ".npy") -> Path:
        return Path(directory) / model_file_name(model_id, self.epoch, suffix)

    def oracle_split_dir(self, oracle_dir: Path, split: str) -> Path:
        """The directory of one split's files in an oracle set ``.../oracle/forget_{forget_set}``."""
        return Path(oracle_dir) / split / self.model

    # -- reading ---------------------------------------------------------------

    def read_forget_set(self, path: Path) -> np.ndarray:
        return load_forget_set(path, self.n_train)

    def read_split_margins(
        self, directory: Path, split: str, forget_set: np.ndarray, model_ids
    ) -> np.ndarray:
        """Margins ``(len(model_ids), n_samples)`` on ``split`` from the files in ``directory``.

        A ``retain`` file may cover the whole train split (pretrain models do);
        the forget set is then dropped from it, so that every split lines up
        sample by sample between pretrain and oracle models.
        """
        expected = {
            "retain": (self.n_train - len(forget_set), self.n_train),
            "forget": (len(forget_set),),
            "val": (self.n_val,),
        }[split]
        margins = read_margins(directory, model_ids, self.epoch, expected)
        if split == "retain" and margins.shape[1] == self.n_train:
            margins = margins[:, retain_indices(forget_set, self.n_train)]
        return margins

    def read_oracle_margins(
        self, oracle_dir: Path, forget_set: np.ndarray, model_ids
    ) -> dict[str, np.ndarray]:
        """Margins of oracles ``model_ids`` on every split, from ``.../oracle/forget_{forget_set}``."""
        return {
            split: self.read_split_margins(
                self.oracle_split_dir(oracle_dir, split), split, forget_set, model_ids
            )
            for split in SPLITS
        }

    def read_checkpoints(self, directory: Path, model_ids) -> list[dict]:
        """State dicts of the pretrain models, ``model.``/``module.`` prefixes stripped.

        Each must load into the architecture exactly; else an error naming the file.
        """
        import torch  # only checkpoints need it; scoring stays light

        from klomflow.models import build_model

        states = []
        for m in model_ids:
            path = self.model_file(directory, m, ".pt")
            if not path.is_file():
                raise FileNotFoundError(f"{path}: pretrain checkpoint missing")
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as error:
                raise ValueError(f"{path}: not a readable checkpoint ({error})") from None
            if isinstance(state, dict):
                state = state.get("state_dict", state)
            if not isinstance(state, dict) or not state:
                raise ValueError(f"{path}: holds {type(state).__name__}, expected a state dict")
            state = strip_state_dict_prefix(state)
            bad = [
                k
                for k, v in state.items()
                if isinstance(v, torch.Tensor) and v.is_floating_point() and not v.isfinite().all()
            ]
            if bad:
                raise ValueError(f"{path}: {bad[0]} holds values that are not finite")
            try:
                build_model(self.model).load_state_dict(state, strict=True)
            except RuntimeError as error:
                reason = " ".join(str(error).split())[:300]
                raise ValueError(f"{path}: does not load into {self.model} ({reason})") from None
            states.append(state)
        return states

    # -- writing ---------------------------------------------------------------

    def write_forget_set(self, path: Path, indices: np.ndarray) -> None:
        atomic_save_npy(path, check_forget_set(indices, self.n_train))

    def write_margins(self, directory: Path, margins: np.ndarray, first_model: int = 0) -> None:
        """One file per row of ``margins`` ``(n_models, n_samples)``, ids from ``first_model``."""
        for i, row in enumerate(np.asarray(margins, dtype=np.float32)):
            atomic_save_npy(self.model_file(directory, first_model + i), row)

    def write_pretrain_forget_margins(
        self, retain_dir: Path, forget_set_file: Path, forget_dir: Path, n_models: int
    ) -> None:
        """Pretrain margins on a forget set, cut from their margins on the whole train split.

        Here and not beside the training: this job needs no torch.
        """
        indices = self.read_forget_set(forget_set_file)
        all_train = read_margins(retain_dir, range(n_models), self.epoch, (self.n_train,))
        self.write_margins(forget_dir, all_train[:, indices])

    def write_oracle_margins(
        self, oracle_dir: Path, margins: dict[str, np.ndarray], first_model: int = 0
    ) -> None:
        for split in SPLITS:
            self.write_margins(
                self.oracle_split_dir(oracle_dir, split), margins[split], first_model
            )

    def write_checkpoints(
        self, directory: Path, state_dicts: list[dict], first_model: int = 0
    ) -> None:
        for i, state in enumerate(state_dicts):
            atomic_torch_save(self.model_file(directory, first_model + i, ".pt"), state)


@dataclass(frozen=True)
class EasyDUBLayout:
    """A reference set under one root, in the hub's EasyDUB layout (docs/sources.md).

    The paths the hub names its files by, for the downloads and for
    ``klomflow validate-dataset``; the files themselves are read and written
    by :class:`LayoutFormat` (``self.format``).
    """

    root: Path
    benchmark: str
    model: str
    epoch: int
    n_train: int
    n_val: int

    @classmethod
    def for_benchmark(
        cls,
        root,
        benchmark: str,
        model: str,
        epoch: int,
        n_train: int | None = None,
        n_val: int | None = None,
    ) -> EasyDUBLayout:
        """The layout of a benchmark, checked against its split sizes unless others are given."""
        sizes = get_benchmark(benchmark)
        return cls(
            Path(root), benchmark, model, epoch, n_train or sizes.n_train, n_val or sizes.n_val
        )

    @property
    def format(self) -> LayoutFormat:
        return LayoutFormat(self.model, self.epoch, self.n_train, self.n_val)

    def check_images(self, dataset) -> None:
        self.format.check_images(dataset)

    # -- paths ---------------------------------------------------------------

    def forget_set_file(self, forget_set: int) -> Path:
        return self.root / "forget_sets" / self.benchmark / f"forget_set_{forget_set}.npy"

    def pretrain_dir(self, split: str) -> Path:
        """``split``: ``retain`` (all train), ``val`` or ``forget_<forget set>``."""
        return self.root / "margins" / self.benchmark / "pretrain" / split / self.model

    def oracle_set_dir(self, forget_set: int) -> Path:
        return self.root / "margins" / self.benchmark / "oracle" / f"forget_{forget_set}"

    def oracle_dir(self, forget_set: int, split: str) -> Path:
        return self.format.oracle_split_dir(self.oracle_set_dir(forget_set), split)

    def checkpoint_dir(self) -> Path:
        return self.root / "models" / self.benchmark / "pretrain" / self.model

    def model_file(self, directory: Path, model_id: int, suffix: str = ".npy") -> Path:
        return self.format.model_file(directory, model_id, suffix)

    # -- reading ---------------------------------------------------------------

    def read_forget_set(self, forget_set: int) -> np.ndarray:
        return self.format.read_forget_set(self.forget_set_file(forget_set))

    def pretrain_margins(self, split: str, forget_set: int, model_ids) -> np.ndarray:
        """Pretrain margins ``(len(model_ids), n_samples)`` on ``split`` of that forget set."""
        directory = self.pretrain_dir(f"forget_{forget_set}" if split == "forget" else split)
        return self.format.read_split_margins(
            directory, split, self.read_forget_set(forget_set), model_ids
        )

    def oracle_margins(self, forget_set: int, split: str, model_ids) -> np.ndarray:
        """Margins ``(len(model_ids), n_samples)`` of that forget set's oracles."""
        return self.format.read_split_margins(
            self.oracle_dir(forget_set, split), split, self.read_forget_set(forget_set), model_ids
        )

    def read_checkpoints(self, model_ids) -> list[dict]:
        return self.format.read_checkpoints(self.checkpoint_dir(), model_ids)

    # -- writing ---------------------------------------------------------------

    def write_forget_set(self, forget_set: int, indices: np.ndarray) -> None:
        self.format.write_forget_set(self.forget_set_file(forget_set), indices)

    def write_margins(self, directory: Path, margins: np.ndarray, first_model: int = 0) -> None:
        self.format.write_margins(directory, margins, first_model)

    def write_checkpoints(self, state_dicts: list[dict], first_model: int = 0) -> None:
        self.format.write_checkpoints(self.checkpoint_dir(), state_dicts, first_model)


def read_margins(directory: Path, model_ids, epoch: int, lengths: tuple[int, ...]) -> np.ndarray:
    """Stack the margins files of ``model_ids`` into ``(n_models, n_samples)`` float32.

    Every file must be a 1-D float array whose length is one of ``lengths``,
    the same for all files, with no NaN or inf; anything else is an error naming the file.
    """
    model_ids = list(model_ids)
    rows = []
    for m in model_ids:
        path = Path(directory) / model_file_name(m, epoch)
        row = load_npy(path)
        if row.ndim != 1 or row.shape[0] not in lengths:
            want = " or ".join(f"({n},)" for n in lengths)
            raise ValueError(f"{path}: margins have shape {row.shape}, expected {want}")
        if rows and row.shape != rows[0].shape:
            raise ValueError(
                f"{path}: {row.shape[0]} margins, but model {model_ids[0]} has {rows[0].shape[0]}"
            )
        check_margins(row, f"{path}: margins")
        rows.append(row.astype(np.float32, copy=False))
    if not rows:
        raise ValueError(f"{directory}: no models requested")
    return np.stack(rows)


def strip_state_dict_prefix(state_dict: dict) -> dict:
    """Drop the ``model.`` or ``module.`` prefix that wrapped checkpoints carry (docs/sources.md)."""
    for prefix in ("model.", "module."):
        if state_dict and all(key.startswith(prefix) for key in state_dict):
            return {key[len(prefix) :]: value for key, value in state_dict.items()}
    return state_dict


def validate_dataset(
    root: str | Path, *, n_train: int | None = None, n_val: int | None = None
) -> list[str]:
    """Check every part of an EasyDUB-layout directory that is there; one line per part.

    The benchmark, model, epoch and model counts are read off the file
    names; split sizes are the benchmark's unless given. Raises ValueError
    (or FileNotFoundError) naming the first file at fault.
    """
    root = Path(root)
    benchmarks = sorted(p.name for p in (root / "forget_sets").glob("*") if p.is_dir())
    if not benchmarks:
        raise FileNotFoundError(
            f"{root}: no forget_sets/<benchmark>/ directory; not an EasyDUB layout"
        )
    report = []
    for benchmark in benchmarks:
        forget_sets = sorted(
            _numbers_in_name(p, r"forget_set_(\d+)\.npy", "forget_set_3.npy")[0]
            for p in (root / "forget_sets" / benchmark).glob("forget_set_*.npy")
        )
        pretrain = sorted((root / "margins" / benchmark / "pretrain" / "retain").glob("*/id_*.npy"))
        if not pretrain:
            raise FileNotFoundError(
                f"{root / 'margins' / benchmark / 'pretrain' / 'retain'}: no margins"
            )
        model = pretrain[0].parent.name
        _, epoch = _numbers_in_name(
            pretrain[0], _MODEL_FILE_PATTERN + r"\.npy", model_file_name(0, 23)
        )
        layout = EasyDUBLayout.for_benchmark(root, benchmark, model, epoch, n_train, n_val)
        n_pretrain = _count_models(layout.pretrain_dir("retain"), epoch)
        read_margins(layout.pretrain_dir("retain"), range(n_pretrain), epoch, (layout.n_train,))
        read_margins(layout.pretrain_dir("val"), range(n_pretrain), epoch, (layout.n_val,))
        report.append(f"{benchmark}/{model}: {n_pretrain} pretrain models, epoch {epoch}")
        for forget_set in forget_sets:
            size = len(layout.read_forget_set(forget_set))
            line = f"forget set {forget_set}: {size} samples"
            n = _count_models(layout.pretrain_dir(f"forget_{forget_set}"), epoch)
            if n:
                layout.pretrain_margins("forget", forget_set, range(n))
                line += f", pretrain margins of {n} models"
            n = _count_models(layout.oracle_dir(forget_set, "forget"), epoch)
            if n:
                for split in ("retain", "forget", "val"):
                    layout.oracle_margins(forget_set, split, range(n))
                line += f", {n} oracles"
            report.append(line)
        n = _count_models(layout.checkpoint_dir(), epoch, ".pt")
        if n:
            layout.read_checkpoints(range(n))
            report.append(f"{n} pretrain checkpoints load into {model}")
    return report


def _count_models(directory: Path, epoch: int, suffix: str = ".npy") -> int:
    """How many models 0..n-1 have a file in ``directory``; a gap is an error naming the file."""
    # The glob keeps the epoch's files only, so every name that fits has this epoch.
    pattern = _MODEL_FILE_PATTERN + re.escape(suffix)
    present = {
        _numbers_in_name(p, pattern, model_file_name(0, epoch, suffix))[0]
        for p in directory.glob(model_file_name("*", epoch, suffix))
    }
    for m in range(len(present)):
        if m not in present:
            raise FileNotFoundError(
                f"{directory / model_file_name(m, epoch, suffix)}: file missing"
            )
    return len(present)


def _numbers_in_name(path: Path, pattern: str, example: str) -> tuple[int, ...]:
    """The numbers a layout file's name holds (``pattern``'s groups); else an error naming it."""
    match = re.fullmatch(pattern, path.name)
    if match is None:
        raise ValueError(
            f"{path}: a stray file, not named like the layout's files (e.g. {example}); "
            "move it out of the directory"
        )
    return tuple(int(number) for number in match.groups())
