"""Stopping and resuming a long job: the resume file and the SIGTERM that asks for it.

Schedulers (SLURM on preemption or at the time limit) send SIGTERM and,
some seconds later, SIGKILL. A run that keeps a :class:`ResumeFile` saves its
state within one step of the signal and exits with
:data:`SIGTERM_EXIT_STATUS`; run again, it continues to the same result as an
uninterrupted run.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from pathlib import Path

import numpy as np
import torch

from klomflow.files import atomic_torch_save
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


class ResumeFile:
    """A run's training state and margins so far, rewritten atomically after every epoch.

    A cache, never worth failing a run over: a file this run cannot use
    (written by other arguments or another klomflow version, truncated,
    unreadable, missing keys) is removed with a one-line warning, and the run
    starts from epoch 1.
    """

    def __init__(self, path: str | Path, run_key: str):
        self.path = Path(path)
        self.run_key = run_key

    def __str__(self) -> str:
        return str(self.path)

    def save(self, trainer_state: dict, recorded: dict[str, list[np.ndarray]]) -> None:
        # Lists, empty ones included: a run that records margins only after
        # its last epoch has none to save, and must still find its splits.
        margins = {split: [torch.from_numpy(m) for m in ms] for split, ms in recorded.items()}
        state = {"run_key": self.run_key, "trainer": trainer_state, "margins": margins}
        atomic_torch_save(self.path, state)

    def load(self) -> dict | None:
        """The saved state, or None when there is none or it is not this run's (then set aside)."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as error:  # truncated, or not a torch file at all
            self.set_aside(f"unreadable ({short_reason(error)})")
            return None
        if not isinstance(state, dict) or state.get("run_key") != self.run_key:
            self.set_aside("written by another run's arguments or klomflow version")
            return None
        return state

    def set_aside(self, reason: str) -> None:
        log.warning("%s: %s; removed, starting from epoch 1", self.path, reason)
        self.remove()

    def remove(self) -> None:
        """Delete the file, and the temporary copies of it that a job killed mid-write left."""
        self.path.unlink(missing_ok=True)
        for partial in self.path.parent.glob(f".{self.path.name}.*"):  # see klomflow.files
            partial.unlink(missing_ok=True)
