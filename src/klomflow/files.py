"""Atomic file writes: a killed job never leaves a file that looks complete.

Each writer writes a temporary file beside the target and renames it into
place; on any error the temporary file is removed and the target untouched.
The writers write to an open file, never to a name: ``np.save`` and
``np.savez`` append ``.npy``/``.npz`` to a name without that suffix, which
would leave the data in the temporary file and the target empty.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success."""
    path = Path(path)
    with _naming(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
        os.close(fd)
        # mkstemp makes the file private (0600); give it the mode open() would.
        os.chmod(tmp, 0o666 & ~_umask())
    try:
        with _naming(path):
            yield Path(tmp)
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """Make an OSError (disk full, permission denied) name ``path``, not a temporary file."""
    try:
        yield
    except OSError as error:
        if error.errno is None:
            raise
        raise type(error)(error.errno, error.strerror, str(path)) from error


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "wb") -> Iterator:
    """An open temporary file beside ``path``; renamed to ``path``, whatever its suffix, on success."""
    with atomic_path(path) as tmp, open(tmp, mode) as file:
        yield file


def atomic_save_npy(path: str | Path, array: np.ndarray) -> None:
    with atomic_file(path) as file:
        np.save(file, array)


def atomic_save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    with atomic_file(path) as file:
        np.savez(file, **arrays)


def atomic_torch_save(path: str | Path, obj) -> None:
    import torch  # only checkpoints need it; scoring stays light

    with atomic_file(path) as file:
        torch.save(obj, file)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_file(path, "w") as file:
        file.write(text)


def load_npy(path: str | Path) -> np.ndarray:
    """An array from a ``.npy`` file; a missing or unreadable file is an error naming it."""
    path = _existing_file(path, "npy")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{path}: not a readable .npy file ({_reason(error)})") from None


def load_npz(
    path: str | Path, keys: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of an ``.npz`` file, read in full; any failure is an error naming it.

    ``optional`` arrays are read too where the file has them. A missing,
    empty, truncated or foreign file, and a missing key, are each one
    ValueError (FileNotFoundError) line, never a BadZipFile or EOFError.
    """
    path = _existing_file(path, "npz")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in keys if k not in data.files]
            if missing:
                have = ", ".join(data.files) or "nothing"
                raise ValueError(f"{path}: no {', '.join(missing)} in it (it holds {have})")
            return {k: data[k] for k in (*keys, *optional) if k in data.files}
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as error:
        if str(error).startswith(f"{path}: "):
            raise
        raise ValueError(f"{path}: not a readable .npz file ({_reason(error)})") from None


# The first bytes of each kind of numpy file (an .npz archive is a zip file).
_MAGIC = {"npy": b"\x93NUMPY", "npz": b"PK\x03\x04"}


def _existing_file(path: str | Path, kind: str) -> Path:
    """``path``, if it is a non-empty file that starts like a ``kind`` file; else an error naming it."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: a directory, expected a .{kind} file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file missing")
    with open(path, "rb") as f:
        start = f.read(8)
    if not start:
        raise ValueError(f"{path}: empty file, expected a .{kind} file")
    if not start.startswith(_MAGIC[kind]):
        found = next((f"a .{k} file" for k, m in _MAGIC.items() if start.startswith(m)), None)
        raise ValueError(f"{path}: {found or 'not a numpy file'}, expected a .{kind} file")
    return path


def _reason(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
