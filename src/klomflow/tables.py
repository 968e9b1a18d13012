"""Results tables: tab-separated text with a header row, and their P95 replicates.

A KLOM table's rows each carry the bootstrap replicates of their P95
(:mod:`klomflow.uncertainty`); they are saved beside the table as one
``(n_rows, n_replicates)`` array, row ``i`` of the array for row ``i`` of the
table (NaN for rows without numbers), and gathered along with it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from klomflow.files import atomic_save_npy, atomic_write_text, load_npy
from klomflow.provenance import provenance_file


def write_tsv(
    path: str | Path, rows: list[dict], columns: list[str], provenance: dict | None = None
) -> None:
    """Write ``rows`` (dicts with at least ``columns``) as a TSV table, atomically.

    ``provenance`` (see :mod:`klomflow.provenance`) goes to the sidecar
    ``<path>.json``, written before the table.
    """
    if provenance is not None:
        text = json.dumps(provenance, indent=2, default=str) + "\n"
        atomic_write_text(provenance_file(path), text)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_format(row[c]) for c in columns])
    atomic_write_text(path, buffer.getvalue())


def read_tsv(path: str | Path, columns: list[str] = ()) -> list[dict[str, str]]:
    """The rows of a TSV table as dicts of strings, keyed by the header.

    The table must have a header with ``columns`` (others may follow), at
    least one row, and as many cells in every row as in the header: a table
    cut short is an error naming it, never a figure or summary quietly
    missing its rows.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: a directory, expected a .tsv table")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file missing")
    try:
        with open(path, newline="") as f:
            table = list(csv.reader(f, delimiter="\t"))
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"{path}: not a readable table ({error})") from None
    if not table:
        raise ValueError(f"{path}: empty file, expected a table with a header row")
    header, rows = table[0], table[1:]
    missing = [c for c in columns if c not in header]
    if missing:
        raise ValueError(f"{path}: no column {', '.join(missing)} (it has {', '.join(header)})")
    if not rows:
        raise ValueError(f"{path}: no rows below the header")
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ValueError(f"{path}: line {line} has {len(row)} cells, the header {len(header)}")
    return [dict(zip(header, row)) for row in rows]


def label_rows(tables: list[list[dict]], labels: list[dict]) -> list[dict]:
    """One table from several: every row of ``tables[i]`` prefixed with the columns ``labels[i]``.

    E.g. the grid's cells labelled with their forget set, noise and seed.
    """
    if len(tables) != len(labels):
        raise ValueError(f"{len(tables)} tables for {len(labels)} labels")
    return [{**label, **row} for label, rows in zip(labels, tables) for row in rows]


def concatenate_tables(
    paths: list[str | Path],
    path: str | Path,
    columns: list[str],
    labels: list[dict] | None = None,
    provenance: dict | None = None,
    read: Callable[[str | Path, list[str]], list[dict]] = read_tsv,
    replicates: tuple[list[str | Path], str | Path] | None = None,
) -> None:
    """Write the rows of the tables at ``paths``, in order, as one table at ``path``.

    ``labels[i]``, if given, adds columns to every row of table ``i``. Each
    table is read by ``read(path, its columns)`` (``columns`` less those its
    label adds), which may check its cells too; all are read before anything
    is written, so a bad one leaves ``path`` as it was. ``replicates``, if
    given, is ``(the tables' replicates files, the output's)``: they are
    gathered alongside, row for row.
    """
    if labels is not None and len(paths) != len(labels):
        raise ValueError(f"{len(paths)} tables for {len(labels)} labels")
    tables = [
        read(p, [c for c in columns if labels is None or c not in labels[i]])
        for i, p in enumerate(paths)
    ]
    if replicates is not None:
        tables = [
            read_replicates(r, rows, p)
            for p, r, rows in zip(paths, replicates[0], tables, strict=True)
        ]
    rows = label_rows(tables, labels) if labels is not None else [r for t in tables for r in t]
    if replicates is not None:
        write_replicates(replicates[1], rows)
    write_tsv(path, rows, columns, provenance)


def write_replicates(path: str | Path, rows: list[dict]) -> None:
    """Save the ``p95_replicates`` of ``rows``, in order, as one ``(n_rows, k)`` array."""
    atomic_save_npy(path, np.stack([np.asarray(r["p95_replicates"], np.float64) for r in rows]))


def read_replicates(path: str | Path, rows: list[dict], table: str | Path) -> list[dict]:
    """``rows`` of ``table`` with their replicates from ``path`` under ``p95_replicates``."""
    replicates = load_npy(path)
    if replicates.ndim != 2 or replicates.shape[0] != len(rows):
        raise ValueError(
            f"{path}: replicates of shape {replicates.shape} for the {len(rows)} rows of {table}"
        )
    return [{**row, "p95_replicates": r} for row, r in zip(rows, replicates)]


def _format(value) -> str:
    if value is None:  # not measured, or not defined for this row
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
