import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

# A config small enough for a whole run in well under a minute on two cores.
TINY_CONFIG = {
    "n_models": 4,
    "retrain": {"noise_levels": [0.0, 0.01], "seeds": [0]},
    "training": {"epochs": 2, "batch_size": 64},
    # Merged into config.yaml's entries: each of its methods, for at most 2 epochs.
    "methods": {
        "do_nothing": {"epochs": [1]},
        "ascent_forget": {"epochs": [1, 2]},
        "ascent_descent": {"epochs": [1]},
        "noisy_descent": {"epochs": [1]},
        "scrub": {"epochs": [1]},
    },
}


def copy_workflow(destination: Path) -> Path:
    """The workflow's files (not its results) in a fresh directory."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(REPO / name, destination / name)
    for name in ("workflow", "envs"):
        shutil.copytree(REPO / name, destination / name)
    return destination


def write_config(directory: Path, config: dict, name: str = "test_config.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake(directory: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", *args],
        cwd=directory,
        capture_output=True,
        text=True,
    )


def planned_jobs(directory: Path, *args: str) -> dict[str, int]:
    """Rule -> number of jobs that a dry run would execute."""
    result = snakemake(directory, "--dry-run", "--quiet", "rules", *args)
    assert result.returncode == 0, result.stderr
    jobs = {}
    lines = (result.stdout + result.stderr).splitlines()
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total",):
            jobs[parts[0]] = int(parts[1])
    return jobs


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The whole workflow run once on the tiny config; returns its directory."""
    directory = copy_workflow(tmp_path_factory.mktemp("workflow"))
    config = write_config(directory, TINY_CONFIG)
    result = snakemake(directory, "--configfile", str(config))
    assert result.returncode == 0, result.stderr[-3000:]
    return directory
