"""A workflow job's log: where its logging, progress bars and errors go.

Errors klomflow raises on bad input (ValueError, OSError and their kin) name
the file, key or value at fault; in the log they are that one line, last, so
that Snakemake's failed-job report shows the cause and not a stack of frames.
Any other exception is a bug and keeps its full traceback.
"""

from __future__ import annotations

import logging
import sys
import traceback

EXPECTED_ERRORS = (ValueError, OSError)


def log_to(path: str) -> None:
    """Send this process's stderr, logging and uncaught errors to the job's log file."""
    sys.stderr = open(path, "w", buffering=1)  # open for the rest of the process
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    sys.excepthook = _report


def _report(kind, error, trace) -> None:
    if issubclass(kind, EXPECTED_ERRORS):
        sys.stderr.write(f"error: {one_line(error)}\n")
    else:
        traceback.print_exception(kind, error, trace, file=sys.stderr)
    sys.stderr.flush()


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
