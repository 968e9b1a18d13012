"""Stopping and resuming a long job: the resume file and the SIGTERM that asks for it.

Schedulers (SLURM on preemption or at the time limit) send SIGTERM and,
some seconds later, SIGKILL. A run that keeps a :class:`ResumeFile` saves its
state within one step of the signal and exits with
:data:`SIGTERM_EXIT_STATUS`; run again, it continues to the same result as an
uninterrupted run.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import re
import signal
import threading
from pathlib import Path

import numpy as np
import torch

from klomflow.files import atomic_file
from klomflow.joblog import one_line

log = logging.getLogger(__name__)

# What a job stopped by SIGTERM exits with, as if the signal had ended it.
SIGTERM_EXIT_STATUS = 128 + signal.SIGTERM


@contextlib.contextmanager
def stop_on_sigterm(enabled: bool):
    """An event that SIGTERM sets while the block runs, instead of ending the process.

    Schedulers (SLURM on preemption or at the time limit) send SIGTERM and,
    some seconds later, SIGKILL; the training loop checks the event before
    every step, so its state is saved within one step.
    """
    stopping = threading.Event()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield stopping  # only the main thread may handle signals
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    try:
        yield stopping
    finally:
        signal.signal(signal.SIGTERM, previous)


def short_reason(error: BaseException, limit: int = 200) -> str:
    text = one_line(error) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


# A resume file is one header line, giving the payload's length and SHA-256,
# then the payload (torch.save of the state). The checksum catches what
# torch.load would not: bytes changed inside a tensor load without error.
_HEADER = re.compile(rb"klomflow resume file: (\d+) bytes, sha256 ([0-9a-f]{64})")


class ResumeFile:
    """A run's training state and margins so far, rewritten atomically after every epoch.

    A cache, never worth failing a run over: a file this run cannot use
    (written by other arguments or another klomflow version, truncated,
    corrupted inside, unreadable, missing keys) is removed with a one-line
    warning, and the run starts from epoch 1. A path that cannot hold the
    file (a directory, say) is named in one warning, and the run goes on
    without one.
    """

    def __init__(self, path: str | Path, run_key: str):
        self.path = Path(path)
        self.run_key = run_key
        self.usable = True

    def __str__(self) -> str:
        return str(self.path)

    def save(self, trainer_state: dict, recorded: dict[str, list[np.ndarray]]) -> bool:
        """Write the state; False (after one warning) when the path cannot hold it."""
        if not self.usable:
            return False
        # Lists, empty ones included: a run that records margins only after
        # its last epoch has none to save, and must still find its splits.
        margins = {split: [torch.from_numpy(m) for m in ms] for split, ms in recorded.items()}
        state = {"run_key": self.run_key, "trainer": trainer_state, "margins": margins}
        try:
            write_checked(self.path, state)
        except OSError as error:
            self.give_up(f"cannot be written ({short_reason(error)})")
            return False
        return True

    def load(self) -> dict | None:
        """The saved state, or None when there is none or it is not this run's (then set aside)."""
        if self.path.exists() and not self.path.is_file():
            self.give_up("a directory, not a file" if self.path.is_dir() else "not a file")
            return None
        if not self.path.is_file():
            return None
        try:
            state = read_checked(self.path)
        except ValueError as error:
            self.set_aside(str(error))
            return None
        if not isinstance(state, dict) or state.get("run_key") != self.run_key:
            self.set_aside("written by another run's arguments or klomflow version")
            return None
        return state

    def set_aside(self, reason: str) -> None:
        log.warning("%s: %s; removed, starting from epoch 1", self.path, reason)
        self.remove()

    def give_up(self, reason: str) -> None:
        """Run on without a resume file: the path cannot hold one."""
        log.warning(
            "%s: %s; this run keeps no resume state (a stopped run starts over)", self, reason
        )
        self.usable = False

    def remove(self) -> None:
        """Delete the file, and the temporary copies of it that a job killed mid-write left."""
        if not self.path.parent.is_dir():
            return  # the path could never hold a file (see give_up)
        if not self.path.is_dir():
            self.path.unlink(missing_ok=True)
        for partial in self.path.parent.glob(f".{self.path.name}.*"):  # see klomflow.files
            partial.unlink(missing_ok=True)


def write_checked(path: Path, state: dict) -> None:
    """``torch.save`` of ``state`` behind a line holding its SHA-256, written atomically."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getbuffer()
    digest = hashlib.sha256(payload).hexdigest().encode()
    with atomic_file(path) as file:
        file.write(b"klomflow resume file: %d bytes, sha256 %s\n" % (len(payload), digest))
        file.write(payload)


def read_checked(path: Path) -> object:
    """What :func:`write_checked` wrote; ValueError saying why when the file is not that, intact."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ValueError(f"unreadable ({short_reason(error)})") from None
    header, _, payload = data.partition(b"\n")
    fields = _HEADER.fullmatch(header)
    if fields is None:
        raise ValueError("unreadable (not a klomflow resume file)")
    if len(payload) != int(fields[1]):
        raise ValueError(f"unreadable (cut short: {len(payload)} of {int(fields[1])} bytes)")
    if hashlib.sha256(payload).hexdigest().encode() != fields[2]:
        raise ValueError("corrupt (its SHA-256 checksum does not match its contents)")
    try:
        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as error:  # the checksum fits, but torch cannot read what was written
        raise ValueError(f"unreadable ({short_reason(error)})") from None
