"""Killed and interrupted runs: the re-run completes, to the outputs of an uninterrupted run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_workflow, snakemake, write_config

# One retraining cell, long enough (about 4 s of training) to be killed mid-way.
SLOW_CELL = {
    "n_models": 16,
    "training": {"epochs": 12, "batch_size": 64},
    "retrain": {"noise_levels": [0.0], "seeds": [0]},
    "methods": {},
}
CELL = "results/digits/forget_1/retrain/noise_0/seed_0/margins.npz"
RESUME_FILE = f"resume/{CELL}.pt"
CELL_LOG = "logs/retrain_models/digits/forget_1/noise_0_seed_0.log"


def start_snakemake(directory: Path, *args: str) -> subprocess.Popen:
    """Snakemake in its own process group, as a terminal or a batch system runs it."""
    return subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "2", *args],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"snakemake ended before {path} appeared"
        assert time.monotonic() < deadline, f"{path} did not appear in {timeout} s"
        time.sleep(0.01)


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    directory = copy_workflow(tmp_path_factory.mktemp("uninterrupted"))
    write_config(directory, SLOW_CELL)
    result = snakemake(directory, CELL, "--configfile", "test_config.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    return load(directory / CELL)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_a_training_job_stopped_mid_way_resumes_to_the_same_margins(sig, uninterrupted, tmp_path):
    directory = copy_workflow(tmp_path)
    write_config(directory, SLOW_CELL)
    run = start_snakemake(directory, CELL, "--configfile", "test_config.yaml")
    wait_for(directory / RESUME_FILE, run)  # at least one epoch done
    os.killpg(run.pid, sig)  # the whole group, as Ctrl-C or a scheduler does
    assert run.wait(timeout=60) != 0
    assert not (directory / CELL).exists()

    if sig == signal.SIGKILL:
        # Nobody released the lock of the killed run.
        assert snakemake(directory, "--unlock").returncode == 0
    result = snakemake(directory, CELL, "--configfile", "test_config.yaml", "--rerun-incomplete")
    assert result.returncode == 0, result.stderr[-3000:]

    assert "resuming after epoch" in (directory / CELL_LOG).read_text()
    resumed = load(directory / CELL)
    assert resumed.keys() == uninterrupted.keys()
    for name in resumed:
        np.testing.assert_array_equal(resumed[name], uninterrupted[name], err_msg=name)
    assert not (directory / RESUME_FILE).exists()
