"""Killed and interrupted runs: the re-run completes, to the outputs of an uninterrupted run."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_workflow, snakemake, start_snakemake, wait_for, write_config

# One retraining cell, long enough (about 4 s of training) to be killed mid-way.
SLOW_CELL = {
    "n_models": 16,
    "training": {"epochs": 12, "batch_size": 64},
    "retrain": {"noise_levels": [0.0], "seeds": [0]},
    "methods": {},
}
CELL = "results/digits/forget_1/retrain/noise_0/seed_0/margins.npz"
CELL_SCORES = "results/digits/forget_1/retrain/noise_0/seed_0/klom.tsv"
RESUME_FILE = f"resume/{CELL}.pt"
CELL_LOG = "logs/retrain_models/digits/forget_1/noise_0_seed_0.log"


def wait_for_script(name: str, process: subprocess.Popen, timeout: float = 120) -> None:
    """Until a job of ``process`` (a process of its session) runs the workflow script ``name``."""
    deadline = time.monotonic() + timeout
    while True:
        for entry in Path("/proc").iterdir():
            try:
                if (
                    entry.name.isdigit()
                    and os.getsid(int(entry.name)) == process.pid
                    and name.encode() in (entry / "cmdline").read_bytes()
                ):
                    return
            except OSError:  # the process ended while we looked
                continue
        assert process.poll() is None, f"snakemake ended before running {name}"
        assert time.monotonic() < deadline, f"no job ran {name} in {timeout} s"
        time.sleep(0.01)


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The directory of an uninterrupted run of the cell and its scoring."""
    directory = copy_workflow(tmp_path_factory.mktemp("uninterrupted"))
    write_config(directory, SLOW_CELL)
    result = snakemake(directory, CELL_SCORES, "--configfile", "test_config.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    return directory


def rerun_after(sig: signal.Signals, directory: Path, target: str) -> None:
    """Run ``target`` again, as a user would after the signal ``sig`` stopped its run."""
    if sig == signal.SIGKILL:
        # Nobody released the lock of the killed run.
        assert snakemake(directory, "--unlock").returncode == 0
    result = snakemake(directory, target, "--configfile", "test_config.yaml", "--rerun-incomplete")
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_a_training_job_stopped_mid_way_resumes_to_the_same_margins(sig, uninterrupted, tmp_path):
    directory = copy_workflow(tmp_path)
    write_config(directory, SLOW_CELL)
    run = start_snakemake(directory, CELL, "--configfile", "test_config.yaml")
    wait_for(directory / RESUME_FILE, run)  # at least one epoch done
    os.killpg(run.pid, sig)  # the whole group, as Ctrl-C or a scheduler does
    assert run.wait(timeout=60) != 0
    assert not (directory / CELL).exists()

    rerun_after(sig, directory, CELL)

    assert "resuming after epoch" in (directory / CELL_LOG).read_text()
    resumed, expected = load(directory / CELL), load(uninterrupted / CELL)
    assert resumed.keys() == expected.keys()
    for name in resumed:
        np.testing.assert_array_equal(resumed[name], expected[name], err_msg=name)
    assert not (directory / RESUME_FILE).exists()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_a_scoring_job_stopped_mid_way_reruns_to_the_same_table(sig, uninterrupted, tmp_path):
    directory = tmp_path / "run"
    shutil.copytree(uninterrupted, directory)  # the cell trained, its scores not yet
    for name in (CELL_SCORES, CELL_SCORES + ".json"):
        (directory / name).unlink()
    run = start_snakemake(directory, CELL_SCORES, "--configfile", "test_config.yaml")
    # The script needs a second or more to load Python, torch and the margins.
    wait_for_script("score_epochs.py", run)
    os.killpg(run.pid, sig)
    assert run.wait(timeout=60) != 0
    assert not (directory / CELL_SCORES).exists()

    rerun_after(sig, directory, CELL_SCORES)
    assert (directory / CELL_SCORES).read_bytes() == (uninterrupted / CELL_SCORES).read_bytes()
