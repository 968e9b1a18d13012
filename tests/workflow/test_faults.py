"""Killed and stopped jobs: run again, every job finishes to the outputs of an uninterrupted run.

The fault matrix: each job that works for more than a moment is forced to
run again in a copy of a finished run, stopped by a signal to its whole
process group at a point inside its work (read from its log or its resume
file, never a fixed sleep), and run again with the same command. SIGKILL is
what a node failure or an out-of-memory kill does, SIGTERM what SLURM sends
first when it preempts a job or its time is up, SIGINT what Ctrl-C sends.
"""

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import copy_workflow, snakemake, start_snakemake, wait_for, write_config

from klomflow.resume import read_checked

METHOD = "noisy_descent"
# Every job trains or unlearns for a few epochs of about a second each on two
# cores: long enough to be stopped part-way, short enough for the whole
# matrix to take minutes.
FAULT_CONFIG = {
    "n_models": 16,
    "training": {"epochs": 6, "batch_size": 64},
    "retrain": {"noise_levels": [0.0], "seeds": [0]},
    "methods": {METHOD: {"epochs": [1, 2, 3, 4]}},
}
REFERENCE = "resources/digits/local"
CELL = "results/digits/forget_1/retrain/noise_0/seed_0/margins.npz"
CELL_SCORES = "results/digits/forget_1/retrain/noise_0/seed_0/klom.tsv"
METHOD_MARGINS = f"results/digits/forget_1/methods/{METHOD}/margins.npz"


@dataclass(frozen=True)
class Job:
    rule: str
    outputs: tuple[str, ...]  # the first is the target asked for
    log: str
    resume_file: str | None = None  # where a training job keeps its state
    kill_after: str | None = None  # a line of the log that shows the job at work
    script: str | None = None  # or else: the moment its script runs
    # The line it logs when an epoch is done (the epoch's number as a group);
    # none for scoring, whose epochs are not logged.
    epoch_done: str | None = None

    def command(self) -> tuple[str, ...]:
        """Force the job to run again, as a user does to rebuild a result."""
        return (self.outputs[0], "--forcerun", self.rule, "--configfile", "test_config.yaml")


TRAINING_EPOCH_DONE = rf"epoch (\d+)/{FAULT_CONFIG['training']['epochs']}: mean training loss"
PRETRAIN = f"{REFERENCE}/margins/digits/pretrain/retain/digits_cnn"
ORACLES = f"{REFERENCE}/margins/digits/oracle/forget_1"
JOBS = {
    "pretrain": Job(
        "train_pretrain_models",
        (
            PRETRAIN,
            f"{REFERENCE}/margins/digits/pretrain/val/digits_cnn",
            f"{REFERENCE}/models/digits/pretrain/digits_cnn",
        ),
        "logs/train_pretrain_models/digits_digits_cnn.log",
        resume_file=f"resume/{PRETRAIN}.pt",
        epoch_done=TRAINING_EPOCH_DONE,
    ),
    "oracle": Job(
        "train_oracle_models",
        (ORACLES,),
        "logs/train_oracle_models/digits_forget_1.log",
        resume_file=f"resume/{ORACLES}.pt",
        epoch_done=TRAINING_EPOCH_DONE,
    ),
    "retrain": Job(
        "retrain_models",
        (CELL,),
        "logs/retrain_models/digits/forget_1/noise_0_seed_0.log",
        resume_file=f"resume/{CELL}.pt",
        epoch_done=TRAINING_EPOCH_DONE,
    ),
    "method": Job(
        "run_unlearning_method",
        (METHOD_MARGINS,),
        f"logs/run_unlearning_method/digits/forget_1/{METHOD}.log",
        kill_after=f"methods.{METHOD}: epoch 1/4 done",
        epoch_done=rf"methods\.{METHOD}: epoch (\d+)/4 done",
    ),
    "scoring": Job(
        "score_retraining",
        (CELL_SCORES,),
        "logs/score_retraining/digits/forget_1/noise_0_seed_0.log",
        script="score_epochs.py",
    ),
}


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


def wait_for_line(path: Path, text: str, process: subprocess.Popen, timeout: float = 120) -> None:
    """Until the log ``path`` holds ``text``, while ``process`` still runs."""
    deadline = time.monotonic() + timeout
    while not (path.is_file() and text in path.read_text()):
        assert process.poll() is None, f"snakemake ended before {path} said {text!r}"
        assert time.monotonic() < deadline, f"{path} did not say {text!r} in {timeout} s"
        time.sleep(0.01)


def wait_until_at_work(job: Job, directory: Path, run: subprocess.Popen) -> None:
    if job.resume_file:
        wait_for(directory / job.resume_file, run)  # at least one epoch done and saved
    elif job.kill_after:
        wait_for_line(directory / job.log, job.kill_after, run)
    else:
        # Scoring the small cell takes less time than a poll of its log: stop
        # it while it loads Python, torch and its inputs, once its script runs.
        wait_for_script(job.script, run)


def saved_epoch(job: Job, directory: Path) -> int:
    """The epochs done that the stopped run's resume file holds (0 without one)."""
    if not job.resume_file:
        return 0
    return read_checked(directory / job.resume_file)["trainer"]["epoch"]


def same_files(first: Path, second: Path) -> list[str]:
    """The files under ``first`` (a file or folder) that differ in ``second``, the same path elsewhere.

    ``.npz`` archives compare array by array, ``.pt`` checkpoints tensor by
    tensor (torch stores a random id in the file); everything else byte by byte.
    """
    names = [first] if first.is_file() else sorted(p for p in first.rglob("*") if p.is_file())
    assert names, f"nothing under {first}"
    differing = []
    for a in names:
        b = second / a.relative_to(first) if first.is_dir() else second
        if not b.is_file():
            same = False
        elif a.suffix == ".npz":
            with np.load(a) as x, np.load(b) as y:
                same = x.files == y.files and all(np.array_equal(x[k], y[k]) for k in x.files)
        elif a.suffix == ".pt":
            x, y = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
            same = x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)
        else:
            same = a.read_bytes() == b.read_bytes()
        if not same:
            differing.append(str(a))
    return differing


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The directory of an uninterrupted run of every job of the matrix."""
    directory = copy_workflow(tmp_path_factory.mktemp("uninterrupted"))
    write_config(directory, FAULT_CONFIG)
    targets = [CELL_SCORES, METHOD_MARGINS, *JOBS["pretrain"].outputs]
    result = snakemake(directory, *targets, "--configfile", "test_config.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    return directory


def rerun_after(sig: signal.Signals, directory: Path, command: tuple[str, ...]) -> None:
    """Run ``command`` again, as a user (or SLURM's requeue) does after ``sig`` stopped it."""
    if sig == signal.SIGKILL:
        # Nobody released the lock of the killed run.
        assert snakemake(directory, "--unlock").returncode == 0
    result = snakemake(directory, *command, "--rerun-incomplete")
    assert result.returncode == 0, result.stderr[-3000:]


MATRIX = [
    pytest.param(job, sig, id=f"{job}-{sig.name}")
    for job in JOBS
    for sig in (signal.SIGKILL, signal.SIGTERM)
] + [
    pytest.param(job, signal.SIGINT, id=f"{job}-SIGINT")
    for job in ("retrain", "scoring")  # Ctrl-C, as in a terminal
]


@pytest.mark.parametrize("name, sig", MATRIX)
def test_a_job_stopped_mid_way_finishes_to_the_outputs_of_an_uninterrupted_run(
    name, sig, uninterrupted, tmp_path
):
    job = JOBS[name]
    directory = tmp_path / "run"
    shutil.copytree(uninterrupted, directory)
    (directory / job.log).unlink()  # so that only this run's log is read
    run = start_snakemake(directory, *job.command())
    wait_until_at_work(job, directory, run)
    os.killpg(run.pid, sig)  # the whole group, as Ctrl-C or a scheduler does
    assert run.wait(timeout=120) != 0
    assert not any((directory / output).exists() for output in job.outputs)
    if job.resume_file and sig == signal.SIGTERM:
        assert "SIGTERM: stopped after epoch" in (directory / job.log).read_text()

    saved = saved_epoch(job, directory)
    if job.resume_file:
        assert saved >= 1  # it was stopped once an epoch had been saved

    rerun_after(sig, directory, job.command())

    said = (directory / job.log).read_text()  # the run's own: a job rewrites its log
    if job.resume_file:
        assert f"resuming after epoch {saved} of " in said
    if job.epoch_done:
        # A training job goes on after its saved epochs, a method starts over.
        last = max(
            int(n) for n in re.findall(job.epoch_done, (uninterrupted / job.log).read_text())
        )
        done = [int(n) for n in re.findall(job.epoch_done, said)]
        assert done == list(range(saved + 1, last + 1))
    for output in job.outputs:
        assert same_files(uninterrupted / output, directory / output) == []
    assert [p for p in (directory / "resume").rglob("*") if p.is_file()] == []


def test_a_finished_run_leaves_no_resume_file(uninterrupted):
    # Every training job of the run kept one while it ran.
    assert (uninterrupted / "resume").is_dir()
    assert [p for p in (uninterrupted / "resume").rglob("*") if p.is_file()] == []
