"""The hub path through Snakemake, against the stand-in hub: a killed download, a failed one."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, copy_workflow, snakemake, start_snakemake, write_config
from hub_server import StandInHub

from klomflow.benchmarks import EASYDUB
from klomflow.layout import EasyDUBLayout

N_TRAIN, N_VAL, N = 100, 20, 2
FORGET = np.array([5, 50, 99, 0, 7, 8])
TARGET = "results/baselines.tsv"
RUN = (TARGET, "--configfile", "config/easydub-cifar10.yaml", "tiny.yaml")


@pytest.fixture
def stand_in(monkeypatch, tmp_path):
    """The EasyDUB dataset (N + 1 models) on a stand-in hub, the one jobs of this test reach."""
    from conftest import easydub_hub_files

    server = StandInHub().start()
    shape = EasyDUBLayout(Path("repo"), "cifar10", "resnet9", 23, N_TRAIN, N_VAL)
    server.add(EASYDUB.repo_id, easydub_hub_files(shape, N + 1, FORGET))
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))  # no token or settings of this machine
    yield server
    server.stop()


def workflow(directory: Path, **hub) -> Path:
    copy_workflow(directory)
    (directory / "config").mkdir()
    shutil.copy(REPO / "config/easydub-cifar10.yaml", directory / "config")
    tiny = {
        "forget_sets": [2],  # the one the stand-in hub serves
        "n_models": N,
        "split_sizes": {"n_train": N_TRAIN, "n_val": N_VAL},
        "training": {"batch_size": 32},  # fits the small train split
        "device": "cpu",
        "hub": {"cache_dir": str(directory / "hub_cache"), **hub},
    }
    write_config(directory, tiny, "tiny.yaml", over=None)
    return directory


def arrived(directory: Path) -> list[Path]:
    """The files complete in the run's hub cache."""
    return [p for p in (directory / "hub_cache").rglob("blobs/*") if p.suffix != ".incomplete"]


def outputs(directory: Path) -> dict[str, bytes]:
    """Every file under results/ and resources/, but the provenance sidecars (they hold times)."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for folder in ("results", "resources")
        for path in sorted((directory / folder).rglob("*"))
        if path.is_file() and not path.name.endswith(".tsv.json")
    }


def test_a_download_killed_mid_way_reruns_to_the_outputs_of_an_uninterrupted_run(
    tmp_path, stand_in
):
    whole = workflow(tmp_path / "uninterrupted")
    result = snakemake(whole, *RUN)
    assert result.returncode == 0, result.stderr[-3000:]
    needed = set(stand_in.downloads)

    stand_in.delay = 0.2  # per file, so that the kill lands inside a download job
    stand_in.downloads.clear()
    killed = workflow(tmp_path / "killed")
    run = start_snakemake(killed, *RUN)
    deadline = time.monotonic() + 120
    while len(arrived(killed)) < 2:  # some files in the hub cache, more to come
        assert run.poll() is None, "snakemake ended before the downloads"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=60)
    assert len(stand_in.downloads) < len(needed), "the downloads were over before the kill"
    assert not (killed / TARGET).exists()

    stand_in.delay = 0.0
    assert snakemake(killed, "--unlock").returncode == 0
    result = snakemake(killed, *RUN, "--rerun-incomplete")
    assert result.returncode == 0, result.stderr[-3000:]
    assert outputs(killed) == outputs(whole)


def test_a_hub_failure_ends_the_job_log_in_one_line_shown_in_the_terminal(tmp_path, stand_in):
    directory = workflow(tmp_path, easydub={"revision": "v9"})
    result = snakemake(directory, *RUN, "--show-failed-logs")
    assert result.returncode != 0
    log = (directory / "logs/resolve_hub_revision/cifar10_easydub.log").read_text()
    last = log.strip().splitlines()[-1]
    assert last.startswith(
        f"error: dataset {EASYDUB.repo_id} at revision v9: revision not found on the hub; "
    )
    assert "Traceback" not in log
    assert last in result.stdout + result.stderr
    assert not (directory / "resources/cifar10/easydub/hub_commit.json").exists()


def test_the_offline_hint_fills_the_cache_so_that_the_run_succeeds_offline(
    tmp_path, stand_in, monkeypatch
):
    directory = workflow(tmp_path)
    result = snakemake(directory, *RUN, env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode != 0
    log = (directory / "logs/resolve_hub_revision/cifar10_easydub.log").read_text()
    command = re.search(r"run `(hf download [^`]*)`", log.strip().splitlines()[-1]).group(1)
    hf = Path(sys.executable).parent / "hf"
    # On "a machine with access": the stand-in hub, reached through HF_ENDPOINT.
    subprocess.run(f"{hf} {command[3:]}", shell=True, cwd=directory, check=True)

    stand_in.downloads.clear()
    result = snakemake(directory, *RUN, env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert stand_in.downloads == []
