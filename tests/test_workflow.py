"""The workflow through Snakemake itself, on the tiny config of conftest.py."""

import json
import re

import numpy as np
import pytest
import torch
from conftest import (
    REPO,
    TINY_CONFIG,
    copy_workflow,
    differing_outputs,
    planned_jobs,
    snakemake,
    start_snakemake,
    wait_for,
    write_config,
)

from klomflow.margins import EpochMargins
from klomflow.splits import BENCHMARKS
from klomflow.tables import read_tsv

SUMMARY = ["klom_mean", "klom_p95", "klom_p05", "n_degenerate"]
N_TRAIN = BENCHMARKS["digits"].n_train
N_FORGET = 50  # digits forget set 1


def test_baselines_table(tiny_run):
    rows = read_tsv(tiny_run / "results/baselines.tsv")
    assert list(rows[0]) == ["baseline", "split", "n_models", *SUMMARY]
    assert {(r["baseline"], r["split"]) for r in rows} == {
        (b, s) for b in ("pretrain", "oracle_floor") for s in ("retain", "forget", "val")
    }
    for r in rows:
        assert r["n_models"] == "4"
        assert all(np.isfinite(float(r[c])) for c in SUMMARY)
        assert 0 <= float(r["klom_p05"]) <= float(r["klom_p95"])
        assert float(r["klom_mean"]) >= 0


def test_compute_vs_klom_table(tiny_run):
    rows = read_tsv(tiny_run / "results/compute_vs_klom.tsv")
    assert list(rows[0]) == ["noise", "seed", "epoch", "compute_pct", "split", *SUMMARY]
    cells = {(r["noise"], r["seed"]) for r in rows}
    assert cells == {("0", "0"), ("0.01", "0")}
    assert len(rows) == 2 * 2 * 3  # cells x epochs x splits
    for r in rows:
        expected = int(r["epoch"]) * (N_TRAIN - N_FORGET) / N_TRAIN * 100 / 2
        assert float(r["compute_pct"]) == pytest.approx(expected, rel=1e-5)
        assert float(r["klom_p95"]) >= float(r["klom_p05"]) >= 0


def test_figure_is_a_png(tiny_run):
    assert (tiny_run / "results/compute_vs_klom.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_retraining_margins_cover_every_epoch_model_and_sample(tiny_run):
    recorded = EpochMargins.load(
        tiny_run / "results/digits/forget_1/retrain/noise_0.01/seed_0/margins.npz"
    )
    margins = recorded.margins
    assert recorded.epochs == [1, 2]
    assert margins["retain"].shape == (2, 4, N_TRAIN - N_FORGET)
    assert margins["forget"].shape == (2, 4, N_FORGET)
    assert margins["val"].shape == (2, 4, BENCHMARKS["digits"].n_val)


def test_reference_set_is_written_in_the_easydub_layout(tiny_run):
    root = tiny_run / "resources/digits/local"
    assert (root / "forget_sets/digits/forget_set_1.npy").is_file()
    pretrain = sorted(
        p.name for p in (root / "margins/digits/pretrain/retain/digits_cnn").glob("id_*")
    )
    assert pretrain == [f"id_{m}_epoch_1.npy" for m in range(4)]
    assert len(list((root / "models/digits/pretrain/digits_cnn").glob("*.pt"))) == 4
    oracle = root / "margins/digits/oracle/forget_1"
    for split in ("retain", "forget", "val"):
        assert len(list((oracle / split / "digits_cnn").glob("id_*_epoch_1.npy"))) == 8  # 2N


def test_every_job_wrote_its_log(tiny_run):
    logs = list((tiny_run / "logs").rglob("*.log"))
    assert len(logs) >= 10
    assert any("retrain_models" in str(p) for p in logs)


def test_a_finished_run_has_nothing_left_to_do(tiny_run):
    assert planned_jobs(tiny_run, "--configfile", "test_config.yaml") == {}


def test_a_new_seed_reruns_only_its_cells_and_the_aggregates(tiny_run):
    config = {**TINY_CONFIG, "retrain": {"noise_levels": [0.0, 0.01], "seeds": [0, 1]}}
    write_config(tiny_run, config, "more_seeds.yaml")
    assert planned_jobs(tiny_run, "--configfile", "more_seeds.yaml") == {
        "retrain_models": 2,
        "score_retraining": 2,
        "collect_compute_vs_klom": 1,
        "plot_compute_vs_klom": 1,
        "plot_methods": 1,  # it draws the grid's curve beside the methods
        "all": 1,
    }


METHOD_JOBS = {
    "run_unlearning_method": 1,
    "score_unlearning_method": 1,
    "collect_methods": 1,
    "plot_methods": 1,
    "all": 1,
}


def test_methods_table(tiny_run):
    rows = read_tsv(tiny_run / "results/methods.tsv")
    assert list(rows[0]) == [
        "method",
        "epoch",
        "split",
        "n_models",
        *SUMMARY,
        "accuracy",
        "compute_pct",
    ]
    listed = {(r["method"], r["epoch"]) for r in rows}
    assert listed == {
        ("do_nothing", "1"),
        ("ascent_forget", "1"),
        ("ascent_forget", "2"),
        ("ascent_descent", "1"),
        ("noisy_descent", "1"),
        ("scrub", "1"),
    }
    assert len(rows) == 6 * 3
    for r in rows:
        assert 0 <= float(r["accuracy"]) <= 1
        assert float(r["compute_pct"]) >= 0
    do_nothing = {r["split"]: r for r in rows if r["method"] == "do_nothing"}
    pretrain = {
        r["split"]: r
        for r in read_tsv(tiny_run / "results/baselines.tsv")
        if r["baseline"] == "pretrain"
    }
    for split in ("retain", "forget", "val"):  # doing nothing scores as the pretrain models
        assert do_nothing[split]["klom_p95"] == pretrain[split]["klom_p95"]
        assert float(do_nothing[split]["compute_pct"]) == 0


def test_methods_figure_is_a_png(tiny_run):
    assert (tiny_run / "results/methods.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_new_method_entry_runs_only_that_entry_and_the_aggregates(tiny_run):
    config = {
        **TINY_CONFIG,
        "methods": {
            **TINY_CONFIG["methods"],
            "ga_lr1e-3": {"method": "ascent_forget", "lr": 0.001, "epochs": [1]},
        },
    }
    write_config(tiny_run, config, "new_method.yaml")
    assert planned_jobs(tiny_run, "--configfile", "new_method.yaml") == METHOD_JOBS


def test_changing_one_entry_reruns_only_that_entry(tiny_run):
    methods = {**TINY_CONFIG["methods"], "scrub": {"epochs": [1], "temperature": 2.0}}
    write_config(tiny_run, {**TINY_CONFIG, "methods": methods}, "changed_method.yaml")
    assert planned_jobs(tiny_run, "--configfile", "changed_method.yaml") == METHOD_JOBS


def test_snakemake_lint_finds_nothing(tmp_path):
    directory = copy_workflow(tmp_path)
    result = snakemake(directory, "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def test_every_table_carries_its_provenance(tiny_run):
    import klomflow

    tables = sorted((tiny_run / "results").rglob("*.tsv"))
    assert len(tables) >= 5
    for table in tables:
        record = json.loads((table.parent / (table.name + ".json")).read_text())
        assert record["klomflow_version"] == klomflow.__version__
        assert record["git_commit"] is None  # the copied workflow is not a git checkout
        assert record["config"]["n_models"] == TINY_CONFIG["n_models"]
        assert record["dataset"] == {
            "benchmark": "digits",
            "forget_set": 1,
            "n_models": 4,
            "reference_source": "local",
            "reference_seed": 1000,
        }
        assert record["software"]["torch"] == torch.__version__
        assert record["device"]["resolved"] == "cpu"


@pytest.fixture(scope="module")
def second_run(tmp_path_factory):
    """The tiny config run again in a new directory, with two more runs started beside it.

    Returns the directory and the results of the runs started beside it:
    one plain, one with --rerun-incomplete.
    """
    directory = copy_workflow(tmp_path_factory.mktemp("second_run"))
    write_config(directory, TINY_CONFIG)
    with open(directory / "run.out", "w") as out:
        run = start_snakemake(directory, "--configfile", "test_config.yaml", output=out)
        wait_for(directory / ".snakemake/locks/0.output.lock", run)
        beside = [
            snakemake(directory, "--configfile", "test_config.yaml", *extra)
            for extra in ([], ["--rerun-incomplete"])
        ]
        assert run.poll() is None, "the first run ended before the others were refused"
        assert run.wait(timeout=600) == 0, (directory / "run.out").read_text()[-3000:]
    return directory, beside


def test_runs_started_beside_a_running_one_are_refused(second_run):
    _, (plain, rerun_incomplete) = second_run
    # A plain run stops at the outputs of the running job, which look incomplete
    # to it, or at the lock; one that would redo incomplete jobs, at the lock.
    assert plain.returncode != 0
    assert re.search("Directory cannot be locked|Incomplete files", plain.stderr)
    assert rerun_incomplete.returncode != 0
    assert "Directory cannot be locked" in rerun_incomplete.stderr


def test_the_same_config_gives_byte_identical_outputs_on_cpu(tiny_run, second_run):
    directory, _ = second_run
    assert differing_outputs(tiny_run, directory) == []


def test_the_local_profile_plans_the_same_jobs(tmp_path):
    directory = copy_workflow(tmp_path)
    write_config(directory, TINY_CONFIG)
    with_profile = planned_jobs(
        directory, "--profile", str(REPO / "profiles/local"), "--configfile", "test_config.yaml"
    )
    assert with_profile == planned_jobs(directory, "--configfile", "test_config.yaml")
    assert with_profile["retrain_models"] == 2
