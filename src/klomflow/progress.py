"""Progress bars that read well in a terminal and in a job's log file.

In a terminal, a tqdm bar redraws itself in place. A job's log is a file,
where each redraw would pile up behind carriage returns on one endless line;
there every update becomes a line of its own, at most every ``log_interval``
seconds, still with tqdm's rate and time-left estimate.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tqdm.auto import tqdm


class _LinePerUpdate:
    """A text stream for tqdm that turns each in-place redraw into a new line."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").rstrip("\n")
        if text.strip():
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress(iterable: Iterable | None = None, *, log_interval: float = 30.0, **kwargs) -> tqdm:
    """``tqdm(iterable, **kwargs)`` on stderr, one line per update when stderr is not a terminal."""
    stream = sys.stderr
    if not stream.isatty():
        stream = _LinePerUpdate(stream)
        kwargs = {"mininterval": log_interval, "ascii": True, "ncols": 100, **kwargs}
    return tqdm(iterable, file=stream, **kwargs)
