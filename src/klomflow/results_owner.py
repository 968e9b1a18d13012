"""Which benchmark the gathered results in a directory belong to.

Every forget set keeps its outputs under ``results/{benchmark}/``, but the
gathered tables and figures (``results/*.tsv``, ``results/*.png``) have one
name for every benchmark. A second benchmark run in the same directory would
overwrite the first's, or gather a mix: the workflow asks here first, and
stops before any job.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path


def gathered_benchmarks(results: str | Path) -> dict[str, str]:
    """Benchmark -> one gathered table of ``results`` that records it.

    Read from each table's ``benchmark`` column, or, for a table without
    one, from its provenance sidecar (``<table>.tsv.json``, ``dataset.benchmark``).
    Unreadable files record nothing: the jobs that write them will say more.
    """
    found: dict[str, str] = {}
    for table in sorted(Path(results).glob("*.tsv")):
        for benchmark in _table_benchmarks(table) or _sidecar_benchmarks(table):
            found.setdefault(benchmark, str(table))
    return found


def check_results_benchmark(results: str | Path, benchmark: str) -> None:
    """ValueError, one line saying why and what to do, if ``results`` holds another benchmark's."""
    others = {
        name: table for name, table in gathered_benchmarks(results).items() if name != benchmark
    }
    if not others:
        return
    name, table = next(iter(sorted(others.items())))
    directory = f"{Path(results).as_posix()}/"
    raise ValueError(
        f"{directory} holds the {name} benchmark's results ({table}); this run is {benchmark}: "
        f"run it in another directory (snakemake --directory DIR ...) or move {directory} away"
    )


def _table_benchmarks(table: Path) -> set[str]:
    try:
        with open(table, newline="") as f:
            rows = csv.DictReader(f, delimiter="\t")
            if "benchmark" not in (rows.fieldnames or []):
                return set()
            return {row["benchmark"] for row in rows if row.get("benchmark")}
    except (OSError, UnicodeDecodeError, csv.Error):
        return set()


def _sidecar_benchmarks(table: Path) -> set[str]:
    try:
        record = json.loads(table.with_name(table.name + ".json").read_text())
        return {record["dataset"]["benchmark"]}
    except (OSError, ValueError, KeyError, TypeError):
        return set()
