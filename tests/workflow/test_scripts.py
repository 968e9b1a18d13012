"""Every script reads exactly the files its rule declares, and nothing else.

Each job of the tiny run is run again, outside Snakemake, in a directory that
holds only its declared inputs, moved and renamed; it must write what the
workflow wrote. A script that rebuilt a path instead of reading
``snakemake.input`` would find nothing there and fail.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from klomflow.tables import read_tsv

K = "results/digits/forget_1"
REFERENCE = "resources/digits/local"
PRETRAIN = f"{REFERENCE}/margins/digits/pretrain"
ORACLES = f"{REFERENCE}/margins/digits/oracle/forget_1"
FORGET_SET = f"{REFERENCE}/forget_sets/digits/forget_set_1.npy"


@pytest.fixture(scope="module")
def config(tiny_run):
    """The tiny run's resolved config, as its provenance recorded it."""
    return json.loads((tiny_run / "results/baselines.tsv.json").read_text())["config"]


@pytest.fixture(scope="module")
def reference(config):
    return {
        "model": "digits_cnn",
        "epoch": config["training"]["epochs"] - 1,
        "n_train": 1438,
        "n_val": 359,
    }


def run_moved(tiny_run, tmp_path, script, inputs, outputs, config, params=None, wildcards=None):
    """Run ``script`` in ``tmp_path/job`` on copies of ``inputs`` (name -> a path in the tiny
    run, or a list of them), each under a new name; returns the job directory."""
    job = tmp_path / "job"
    moved = job / "elsewhere"
    moved.mkdir(parents=True)

    def move(path, name):
        target = moved / f"{name}{Path(path).suffix}"
        copy = shutil.copytree if (tiny_run / path).is_dir() else shutil.copy
        copy(tiny_run / path, target)
        return str(target.relative_to(job))

    declared = {
        name: [move(p, f"moved_{name}_{i}") for i, p in enumerate(path)]
        if isinstance(path, list)
        else move(path, f"moved_{name}")
        for name, path in inputs.items()
    }
    description = {
        "script": str(REPO / "workflow/scripts" / script),
        "input": declared,
        "output": outputs,
        "params": params or {},
        "wildcards": wildcards or {},
        "log": "job.log",
        "config": config,
    }
    (job / "job.json").write_text(json.dumps(description))
    result = subprocess.run(
        [sys.executable, str(REPO / "tests/script_job.py"), "job.json"],
        cwd=job,
        capture_output=True,
        text=True,
    )
    log = (job / "job.log").read_text() if (job / "job.log").exists() else ""
    assert result.returncode == 0, log[-2000:] + result.stderr[-2000:]
    return job


def test_scoring_a_cell_reads_its_declared_inputs(tiny_run, tmp_path, config, reference):
    cell = f"{K}/retrain/noise_0/seed_0"
    job = run_moved(
        tiny_run,
        tmp_path,
        "score_epochs.py",
        {"margins": f"{cell}/margins.npz", "oracle": ORACLES, "forget_set": FORGET_SET},
        {
            "table": "klom.tsv",
            "replicates": "klom_p95_replicates.npy",
            "provenance": "klom.tsv.json",
        },
        config,
        params={"reference": reference, "n_models": 4},
    )
    for name in ("klom.tsv", "klom_p95_replicates.npy"):
        assert (job / name).read_bytes() == (tiny_run / f"{cell}/{name}").read_bytes()


def test_scoring_the_baselines_reads_its_declared_inputs(tiny_run, tmp_path, config, reference):
    job = run_moved(
        tiny_run,
        tmp_path,
        "score_baselines.py",
        {
            "pretrain_retain": f"{PRETRAIN}/retain/digits_cnn",
            "pretrain_val": f"{PRETRAIN}/val/digits_cnn",
            "pretrain_forget": f"{PRETRAIN}/forget_1/digits_cnn",
            "oracle": ORACLES,
            "forget_set": FORGET_SET,
        },
        {
            "table": "baselines.tsv",
            "replicates": "baselines_p95_replicates.npy",
            "provenance": "baselines.tsv.json",
        },
        config,
        params={
            "reference": reference,
            "labels": {"benchmark": "digits", "forget_set": 1},
            "n_models": 4,
        },
    )
    for name in ("baselines.tsv", "baselines_p95_replicates.npy"):
        assert (job / name).read_bytes() == (tiny_run / f"{K}/{name}").read_bytes()


def test_slicing_pretrain_margins_reads_its_declared_inputs(tiny_run, tmp_path, config, reference):
    job = run_moved(
        tiny_run,
        tmp_path,
        "slice_pretrain_forget_margins.py",
        {"retain": f"{PRETRAIN}/retain/digits_cnn", "forget_set": FORGET_SET},
        ["sliced"],
        config,
        params={"reference": reference, "n_models": 4},
    )
    expected = tiny_run / f"{PRETRAIN}/forget_1/digits_cnn"
    names = sorted(p.name for p in expected.glob("id_*"))
    assert sorted(p.name for p in (job / "sliced").iterdir()) == names
    for name in names:
        assert (job / "sliced" / name).read_bytes() == (expected / name).read_bytes()


def test_a_method_job_reads_its_declared_inputs(tiny_run, tmp_path, config, reference):
    job = run_moved(
        tiny_run,
        tmp_path,
        "run_unlearning_method.py",
        {
            "dataset": "resources/digits/data.npz",
            "forget_set": FORGET_SET,
            "checkpoints": f"{REFERENCE}/models/digits/pretrain/digits_cnn",
        },
        ["margins.npz"],
        config,
        params={
            "setting": {
                "method": "do_nothing",
                "epochs": [1],
                "seed": 0,
                "entry": "do_nothing",
                "swept": {},
            },
            "reference": reference,
            "n_models": 4,
            "training_epochs": config["training"]["epochs"],
            "device": "cpu",
        },
        wildcards={"benchmark": "digits", "forget_set": "1", "setting": "do_nothing"},
    )
    with (
        np.load(job / "margins.npz") as got,
        np.load(tiny_run / f"{K}/methods/do_nothing/margins.npz") as want,
    ):
        assert got.files == want.files
        for name in want.files:
            np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_gathering_and_ranking_read_their_declared_inputs(tiny_run, tmp_path, config):
    from klomflow.scoring import METHOD_COLUMNS

    gathered = run_moved(
        tiny_run,
        tmp_path / "gather",
        "gather_tables.py",
        {
            "tables": [f"results/digits/forget_{k}/methods.tsv" for k in (1, 2)],
            "replicates": [f"results/digits/forget_{k}/methods_p95_replicates.npy" for k in (1, 2)],
        },
        {
            "table": "methods.tsv",
            "replicates": "methods_p95_replicates.npy",
            "provenance": "methods.tsv.json",
        },
        config,
        params={"columns": METHOD_COLUMNS},
    )
    for name in ("methods.tsv", "methods_p95_replicates.npy"):
        assert (gathered / name).read_bytes() == (tiny_run / "results" / name).read_bytes()
    ranked = run_moved(
        tiny_run,
        tmp_path / "rank",
        "rank_methods.py",
        {
            name: f"results/{table}{suffix}"
            for name, table in (
                ("methods", "methods"),
                ("baselines", "baselines"),
                ("curves", "compute_vs_klom"),
            )
            for name, suffix in ((name, ".tsv"), (f"{name}_replicates", "_p95_replicates.npy"))
        },
        {
            "table": "leaderboard.tsv",
            "markdown": "leaderboard.md",
            "provenance": "leaderboard.tsv.json",
        },
        config,
    )
    assert read_tsv(ranked / "leaderboard.tsv") == read_tsv(tiny_run / "results/leaderboard.tsv")
    assert (ranked / "leaderboard.md").read_text() == (
        tiny_run / "results/leaderboard.md"
    ).read_text()


def test_summarizing_the_run_reads_its_declared_inputs(tiny_run, tmp_path, config):
    inputs = {
        "curves": "results/compute_vs_klom.tsv",
        "baselines": "results/baselines.tsv",
        "methods": "results/methods.tsv",
    }
    job = run_moved(tiny_run, tmp_path, "summarize_run.py", inputs, ["run_summary.txt"], config)
    text = (job / "run_summary.txt").read_text()
    for name, path in inputs.items():  # the summary names the tables it counts rows of
        text = text.replace(f"elsewhere/moved_{name}.tsv", path)
    assert text == (tiny_run / "results/run_summary.txt").read_text()
