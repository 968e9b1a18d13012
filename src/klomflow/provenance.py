"""Where a results table came from: code, config, data and machine.

Every table is written with a sidecar ``<table>.json`` holding this record,
so that a number in a paper can be traced to the exact code version, the
resolved config, the reference data's source, revision and commit, the
software and host it was computed with, and the device the config asked for
(the device a training job resolved it to is in that job's log).
"""

from __future__ import annotations

import hashlib
import importlib.util
import platform
import re
import subprocess
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import numpy as np

from klomflow.benchmarks import reference_source


def provenance_file(table: str | Path) -> Path:
    """The sidecar of ``table``: ``results/baselines.tsv`` -> ``results/baselines.tsv.json``."""
    table = Path(table)
    return table.with_name(table.name + ".json")


def provenance(config: dict, code_dir: str | Path, hub_commits=(), methods=None) -> dict:
    """The record for a table computed now, under ``config``, by the code in ``code_dir``.

    ``hub_commits``: the commit records (``hub_commit.json``, a path or a list
    of them) of the hub datasets the table used; none for local models.
    ``methods``: for a table of unlearning methods, method name -> its code's
    hash and its user file (``code_sha256``, ``file``); see :func:`method_provenance`.

    Light on purpose: every scoring and table job writes one, and importing
    torch would cost each of them seconds, so its version is read from the
    installed package's metadata.
    """
    import klomflow

    commit, dirty = _git_state(Path(code_dir))
    record = {
        "klomflow_version": klomflow.__version__,
        "git_commit": commit,
        "git_uncommitted_changes": dirty,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": dataset_provenance(config, hub_commits),
        "software": {
            "python": platform.python_version(),
            "torch": _torch_version(),
            "numpy": np.__version__,
        },
        "device": _device(config.get("device", "cpu")),
        "host": platform.node(),
        "config": config,
    }
    if methods is not None:
        record["methods"] = method_provenance(methods)
    return record


def method_provenance(methods: dict[str, dict]) -> dict[str, dict]:
    """Each method's code hash and, for a method of a user's file, that file's SHA-256 now.

    ``methods``: method name (as config gives it) -> ``{"code_sha256": ...,
    "file": path or None}``; a built-in has no file of its own (the klomflow
    version and git commit above say which built-ins ran).
    """
    record = {}
    for name, code in methods.items():
        entry = {"code_sha256": code["code_sha256"]}
        if code.get("file"):
            path = Path(code["file"])
            entry.update(file=str(path), file_sha256=hashlib.sha256(path.read_bytes()).hexdigest())
        record[name] = entry
    return record


def dataset_provenance(config: dict, hub_commits=()) -> dict:
    """Benchmark, forget sets, and where the reference models came from.

    From the hub: repo, the revision asked for and the commit it was fetched
    at (from ``hub_commits``, see :func:`provenance`).
    """
    source = config["reference"]["source"]
    hub_key = reference_source(source).hub_key
    record = {
        "benchmark": config["benchmark"],
        "forget_sets": config["forget_sets"],
        "n_models": config["n_models"],
        "reference_source": source,
    }
    if hub_key:
        hub = config["hub"][hub_key]
        record.update(repo_id=hub["repo_id"], revision=hub["revision"])
        from klomflow.hub import read_commit

        if isinstance(hub_commits, (str, Path)):
            hub_commits = [hub_commits]
        for path in hub_commits:
            fetched = read_commit(path)
            if fetched["repo_id"] == hub["repo_id"]:
                record["commit"] = fetched["commit"]
    else:
        record["reference_seed"] = config["reference"]["seed"]
    return record


def _device(configured: str) -> dict:
    # The training jobs log the device they resolved `configured` to (one
    # host's answer would be wrong for another's on a cluster); KLOM itself is
    # always computed with NumPy on the CPU.
    return {"configured": configured, "klom_scored_on": "cpu"}


def _torch_version() -> str | None:
    """torch's full version (``2.4.1+cu121``: the build's CUDA too), read without importing it.

    The package metadata drops the ``+cu121`` part; torch/version.py keeps it.
    """
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    version_file = Path(spec.submodule_search_locations[0]) / "version.py"
    found = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)", version_file.read_text(), re.M)
    return found.group(1) if found else version("torch")


def _git_state(directory: Path) -> tuple[str | None, bool | None]:
    """The commit checked out at ``directory`` and whether it has uncommitted changes."""

    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(
                ["git", "-C", str(directory), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return result.stdout.strip() if result.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None, None
    return commit, bool(git("status", "--porcelain", "--untracked-files=no"))
