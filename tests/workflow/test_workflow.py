"""The workflow through Snakemake itself, on the tiny config of conftest.py."""

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import (
    REPO,
    TINY_CONFIG,
    copy_workflow,
    differing_outputs,
    planned_from_scratch,
    planned_jobs,
    snakemake,
    start_snakemake,
    wait_for,
    write_config,
)

import klomflow
from klomflow.benchmarks import BENCHMARKS
from klomflow.margins import EpochMargins
from klomflow.tables import read_tsv
from klomflow.unlearning.code import method_code_hash
from klomflow.unlearning.registry import resolve_method

SUMMARY = ["klom_mean", "klom_p95", "klom_p95_low", "klom_p95_high", "klom_p05", "n_degenerate"]
N_TRAIN = BENCHMARKS["digits"].n_train
FORGET_SIZES = {1: 50, 2: 100}  # digits forget sets 1 and 2
DIVERGING = "ga_sweep__lr-1e+06"
SETTINGS = [
    "do_nothing",
    "ascent_forget",
    "ga_sweep__lr-0.01",
    DIVERGING,
    "ascent_descent",
    "noisy_descent",
    "scrub",
]


def test_baselines_table_has_every_forget_set(tiny_run):
    rows = read_tsv(tiny_run / "results/baselines.tsv")
    assert list(rows[0]) == ["benchmark", "forget_set", "baseline", "split", "n_models", *SUMMARY]
    assert {(r["forget_set"], r["baseline"], r["split"]) for r in rows} == {
        (k, b, s)
        for k in ("1", "2")
        for b in ("pretrain", "oracle_floor")
        for s in ("retain", "forget", "val")
    }
    for r in rows:
        assert r["benchmark"] == "digits"
        assert r["n_models"] == "4"
        assert all(np.isfinite(float(r[c])) for c in SUMMARY)
        assert 0 <= float(r["klom_p05"]) <= float(r["klom_p95"])
        assert float(r["klom_p95_low"]) <= float(r["klom_p95"]) <= float(r["klom_p95_high"])
        assert float(r["klom_mean"]) >= 0


def test_each_forget_set_keeps_its_own_baselines(tiny_run):
    gathered = read_tsv(tiny_run / "results/baselines.tsv")
    for k in (1, 2):
        own = read_tsv(tiny_run / f"results/digits/forget_{k}/baselines.tsv")
        assert own == [r for r in gathered if r["forget_set"] == str(k)]


def test_compute_vs_klom_table(tiny_run):
    rows = read_tsv(tiny_run / "results/compute_vs_klom.tsv")
    assert list(rows[0]) == [
        "benchmark",
        "forget_set",
        "noise",
        "seed",
        "epoch",
        "compute_pct",
        "split",
        "status",
        *SUMMARY,
    ]
    cells = {(r["forget_set"], r["noise"], r["seed"]) for r in rows}
    assert cells == {(k, noise, "0") for k in ("1", "2") for noise in ("0", "0.01")}
    assert len(rows) == 2 * 2 * 2 * 3  # forget sets x cells x epochs x splits
    for r in rows:
        n_forget = FORGET_SIZES[int(r["forget_set"])]
        expected = int(r["epoch"]) * (N_TRAIN - n_forget) / N_TRAIN * 100 / 2
        assert float(r["compute_pct"]) == pytest.approx(expected, rel=1e-5)
        assert float(r["klom_p95"]) >= float(r["klom_p05"]) >= 0
        assert float(r["klom_p95_low"]) <= float(r["klom_p95"]) <= float(r["klom_p95_high"])


def test_figures_are_pngs_for_all_and_for_each_forget_set(tiny_run):
    figures = ["results/compute_vs_klom.png", "results/methods.png"]
    figures += [
        f"results/digits/forget_{k}/{name}.png"
        for k in (1, 2)
        for name in ("compute_vs_klom", "methods")
    ]
    for figure in figures:
        assert (tiny_run / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", figure


def test_retraining_margins_cover_every_epoch_model_and_sample(tiny_run):
    recorded = EpochMargins.load(
        tiny_run / "results/digits/forget_1/retrain/noise_0.01/seed_0/margins.npz"
    )
    margins = recorded.margins
    assert recorded.epochs == [1, 2]
    assert margins["retain"].shape == (2, 4, N_TRAIN - FORGET_SIZES[1])
    assert margins["forget"].shape == (2, 4, FORGET_SIZES[1])
    assert margins["val"].shape == (2, 4, BENCHMARKS["digits"].n_val)


def test_reference_set_is_written_in_the_easydub_layout(tiny_run):
    root = tiny_run / "resources/digits/local"
    for k in (1, 2):
        assert (root / f"forget_sets/digits/forget_set_{k}.npy").is_file()
    pretrain = sorted(
        p.name for p in (root / "margins/digits/pretrain/retain/digits_cnn").glob("id_*")
    )
    assert pretrain == [f"id_{m}_epoch_1.npy" for m in range(4)]
    assert len(list((root / "models/digits/pretrain/digits_cnn").glob("*.pt"))) == 4
    for k in (1, 2):
        oracle = root / f"margins/digits/oracle/forget_{k}"
        for split in ("retain", "forget", "val"):
            assert len(list((oracle / split / "digits_cnn").glob("id_*_epoch_1.npy"))) == 8  # 2N


def test_the_pretrain_models_are_trained_once_for_every_forget_set(tiny_run):
    logs = list((tiny_run / "logs/train_pretrain_models").glob("*.log"))
    assert len(logs) == 1
    assert len(list((tiny_run / "logs/train_oracle_models").glob("*.log"))) == 2


def test_every_job_wrote_its_log(tiny_run):
    jobs = [j for j in planned_from_scratch(tiny_run, "--configfile", "test_config.yaml")]
    assert [j.rule for j in jobs if j.log is None] == ["all"]  # the target alone runs nothing
    missing = [j.log for j in jobs if j.log and not (tiny_run / j.log).is_file()]
    assert missing == []


def test_a_finished_run_has_nothing_left_to_do(tiny_run):
    assert planned_jobs(tiny_run, "--configfile", "test_config.yaml") == {}


AGGREGATES = {
    "gather_baselines": 1,
    "eval_pretrain": 1,
    "gather_compute_vs_klom": 1,
    "gather_methods": 1,
    "plot_compute_vs_klom": 1,
    "plot_methods": 1,
    "rank_methods": 1,
    "summarize_run": 1,
    "gather_model_counts": 1,
    "plot_model_counts": 1,
    "all": 1,
}


def test_a_new_forget_set_runs_only_its_own_jobs_and_the_aggregates(tiny_run):
    write_config(tiny_run, {**TINY_CONFIG, "forget_sets": [1, 2, 3]}, "three_forget_sets.yaml")
    assert planned_jobs(tiny_run, "--configfile", "three_forget_sets.yaml") == {
        # Forget set 3: its forget set, oracles, pretrain margins on it, baselines ...
        "define_digits_forget_set": 1,
        "train_oracle_models": 1,
        "slice_pretrain_forget_margins": 1,
        "score_baselines": 1,
        "score_model_counts": 1,
        # ... its grid (2 cells) and methods (6 settings), their tables and figures,
        "retrain_models": 2,
        "score_retraining": 2,
        "run_unlearning_method": len(SETTINGS),
        "score_unlearning_method": len(SETTINGS),
        "gather_retraining_cells": 1,
        "gather_method_settings": 1,
        "plot_forget_set_compute_vs_klom": 1,
        "plot_forget_set_methods": 1,
        "rank_forget_set_methods": 1,
        # ... and the tables of all forget sets. Not the pretrain models.
        **AGGREGATES,
    }


def test_removing_a_forget_set_redoes_only_the_aggregates(tiny_run):
    write_config(tiny_run, {**TINY_CONFIG, "forget_sets": [1]}, "one_forget_set.yaml")
    assert planned_jobs(tiny_run, "--configfile", "one_forget_set.yaml") == AGGREGATES


def test_the_grid_can_skip_forget_sets(tiny_run):
    config = {**TINY_CONFIG, "retrain": {**TINY_CONFIG["retrain"], "forget_sets": [1]}}
    write_config(tiny_run, config, "grid_on_one.yaml")
    # The grid's table now gathers forget set 1 only; forget set 2's methods
    # figure no longer draws a grid curve.
    assert planned_jobs(tiny_run, "--configfile", "grid_on_one.yaml") == {
        "gather_compute_vs_klom": 1,
        "plot_compute_vs_klom": 1,
        "plot_methods": 1,
        "rank_methods": 1,
        "plot_forget_set_methods": 1,
        "rank_forget_set_methods": 1,  # forget set 2's leaderboard loses its retraining column
        "summarize_run": 1,
        "all": 1,
    }


def test_a_new_seed_reruns_only_its_cells_and_the_aggregates(tiny_run):
    config = {**TINY_CONFIG, "retrain": {"noise_levels": [0.0, 0.01], "seeds": [0, 1]}}
    write_config(tiny_run, config, "more_seeds.yaml")
    assert planned_jobs(tiny_run, "--configfile", "more_seeds.yaml") == {
        "retrain_models": 4,  # two cells on each of two forget sets
        "score_retraining": 4,
        "gather_retraining_cells": 2,
        "plot_forget_set_compute_vs_klom": 2,
        "plot_forget_set_methods": 2,  # they draw the grid's curve beside the methods
        "rank_forget_set_methods": 2,  # and compare with it
        "gather_compute_vs_klom": 1,
        "plot_compute_vs_klom": 1,
        "plot_methods": 1,
        "rank_methods": 1,
        "summarize_run": 1,
        "all": 1,
    }


def method_jobs(settings: int) -> dict[str, int]:
    """What adding or changing ``settings`` method settings plans, on both forget sets."""
    return {
        "run_unlearning_method": 2 * settings,
        "score_unlearning_method": 2 * settings,
        "gather_method_settings": 2,
        "plot_forget_set_methods": 2,
        "rank_forget_set_methods": 2,
        "gather_methods": 1,
        "plot_methods": 1,
        "rank_methods": 1,
        "summarize_run": 1,
        "all": 1,
    }


def test_methods_table(tiny_run):
    rows = read_tsv(tiny_run / "results/methods.tsv")
    assert list(rows[0]) == [
        "benchmark",
        "forget_set",
        "method",
        "setting",
        "params",
        "epoch",
        "split",
        "status",
        "n_models",
        *SUMMARY,
        "share_above_half",
        "compute_pct",
    ]
    listed = {(r["forget_set"], r["setting"], r["epoch"]) for r in rows}
    assert listed == {
        (k, setting, epoch)
        for k in ("1", "2")
        for setting in SETTINGS
        for epoch in (["1", "2"] if setting.startswith("ascent_forget") else ["1"])
    }
    assert len(rows) == 2 * 8 * 3  # forget sets x (setting, epoch) x splits
    for r in rows:
        assert r["method"] == r["setting"].split("__")[0]
        assert r["params"] == (
            "lr=" + r["setting"].split("-", 1)[1] if "__" in r["setting"] else ""
        )
        if r["setting"] == DIVERGING:
            continue
        assert r["status"] == "ok"
        assert 0 <= float(r["share_above_half"]) <= 1
        assert float(r["compute_pct"]) >= 0
    pretrain = {
        (r["forget_set"], r["split"]): r
        for r in read_tsv(tiny_run / "results/baselines.tsv")
        if r["baseline"] == "pretrain"
    }
    for r in rows:  # doing nothing scores as the pretrain models
        if r["method"] == "do_nothing":
            for column in ("klom_p95", "klom_p95_low", "klom_p95_high"):
                assert r[column] == pretrain[(r["forget_set"], r["split"])][column]
            assert float(r["compute_pct"]) == 0


def test_a_diverging_setting_is_reported_as_diverged_and_never_scored(tiny_run):
    rows = [r for r in read_tsv(tiny_run / "results/methods.tsv") if r["setting"] == DIVERGING]
    assert len(rows) == 2 * 3  # forget sets x splits
    for r in rows:
        assert r["status"] == "diverged"
        assert r["klom_p95"] == r["klom_p95_low"] == r["share_above_half"] == r["compute_pct"] == ""
    log = tiny_run / f"logs/run_unlearning_method/digits/forget_1/{DIVERGING}.log"
    assert "diverged: methods." in log.read_text()
    board = [r for r in read_tsv(tiny_run / "results/leaderboard.tsv") if r["setting"] == DIVERGING]
    assert [(r["status"], r["forget_p95"], r["rank"], r["pareto"]) for r in board] == [
        ("diverged", "", "", "")
    ]


def test_the_leaderboard_compares_each_setting_across_forget_sets(tiny_run):
    rows = read_tsv(tiny_run / "results/leaderboard.tsv")
    assert list(rows[0])[:8] == [
        "benchmark",
        "method",
        "setting",
        "params",
        "epoch",
        "status",
        "forget_sets",
        "compute_pct",
    ]
    assert [r["setting"] for r in rows[:2]] == ["pretrain", "oracle_floor"]
    assert {(r["setting"], r["epoch"]) for r in rows[2:]} == {
        (s, e) for s in SETTINGS for e in (["1", "2"] if s.startswith("ascent_forget") else ["1"])
    }
    methods = read_tsv(tiny_run / "results/methods.tsv")
    for row in rows[2:]:
        assert row["forget_sets"] == "1,2"
        if row["status"] == "diverged":
            continue
        p95 = [
            float(r["klom_p95"])
            for r in methods
            if (r["setting"], r["epoch"], r["split"]) == (row["setting"], row["epoch"], "forget")
        ]
        assert float(row["forget_p95"]) == pytest.approx(np.mean(p95), rel=1e-5)
        assert float(row["forget_p95_low"]) <= float(row["forget_p95"])
        assert float(row["forget_p95"]) <= float(row["forget_p95_high"])
    # Each forget set on its own scale: doing nothing closes none of its gap, the floor all
    # of it; a forget set where doing nothing already scores the floor (4 models sit near
    # the ceiling) shows n/a, and the job's log says why.
    pretrain, floor = (
        dict(p.split(":") for p in r["forget_gap_closed_by_set"].split()) for r in rows[:2]
    )
    log = (tiny_run / "logs/rank_methods/leaderboard.log").read_text()
    for k in ("1", "2"):
        if pretrain[k] == "n/a":
            assert f"forget set {k}: doing nothing already scores the oracle floor" in log
        else:
            assert (float(pretrain[k]), float(floor[k])) == (0.0, 1.0)
    by = {(r["setting"], r["epoch"]): r for r in rows}
    assert by[("do_nothing", "1")]["score"] == rows[0]["score"]
    assert by[("do_nothing", "1")]["vs_do_nothing"] == "tie"
    for r in rows[2:]:
        if r["score"]:
            assert float(r["score_low"]) <= float(r["score"]) <= float(r["score_high"])
            assert int(r["rank"]) >= 1
        else:
            assert r["rank"] == ""


def test_retraining_at_the_same_compute_interpolates_the_noise_free_grid(tiny_run):
    curves = [
        r
        for r in read_tsv(tiny_run / "results/compute_vs_klom.tsv")
        if r["noise"] == "0" and r["split"] == "forget"
    ]
    board = read_tsv(tiny_run / "results/leaderboard.tsv")
    # One epoch of SCRUB (a retain pass with the teacher's forward passes)
    # costs two thirds of the tiny config's retrain: between the grid's epochs.
    row = next(r for r in board if r["setting"] == "scrub")
    assert row["retrain_forget_sets"] == "1,2"
    methods = read_tsv(tiny_run / "results/methods.tsv")
    expected = []
    for k in ("1", "2"):
        compute = next(
            float(r["compute_pct"])
            for r in methods
            if r["setting"] == "scrub" and r["forget_set"] == k and r["split"] == "forget"
        )
        grid = sorted(
            (float(r["compute_pct"]), float(r["klom_p95"])) for r in curves if r["forget_set"] == k
        )
        expected.append(np.interp(compute, [x for x, _ in grid], [y for _, y in grid]))
    assert float(row["forget_retrain_p95"]) == pytest.approx(np.mean(expected), rel=1e-5)
    # do_nothing spends no compute: below the grid, retraining has nothing to offer.
    assert next(r for r in board if r["setting"] == "do_nothing")["forget_retrain_p95"] == ""


def test_a_new_method_entry_runs_only_that_entry_and_the_aggregates(tiny_run):
    config = {
        **TINY_CONFIG,
        "methods": {
            **TINY_CONFIG["methods"],
            "ga_lr1e-3": {"method": "ascent_forget", "lr": 0.001, "epochs": [1]},
        },
    }
    write_config(tiny_run, config, "new_method.yaml")
    assert planned_jobs(tiny_run, "--configfile", "new_method.yaml") == method_jobs(1)


def test_a_new_sweep_value_runs_only_its_setting(tiny_run):
    methods = {
        **TINY_CONFIG["methods"],
        "ga_sweep": {**TINY_CONFIG["methods"]["ga_sweep"], "sweep": {"lr": [0.01, 1.0e6, 0.03]}},
    }
    write_config(tiny_run, {**TINY_CONFIG, "methods": methods}, "more_lr.yaml")
    assert planned_jobs(tiny_run, "--configfile", "more_lr.yaml") == method_jobs(1)


def test_changing_one_entry_reruns_only_that_entry(tiny_run):
    methods = {**TINY_CONFIG["methods"], "scrub": {"epochs": [1], "temperature": 2.0}}
    write_config(tiny_run, {**TINY_CONFIG, "methods": methods}, "changed_method.yaml")
    assert planned_jobs(tiny_run, "--configfile", "changed_method.yaml") == method_jobs(1)


def test_snakemake_lint_finds_nothing(tmp_path):
    directory = copy_workflow(tmp_path)
    result = snakemake(directory, "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


# The settings of TINY_CONFIG's method entries, a sweep's named by its value.
TINY_SETTINGS = [
    "do_nothing",
    "ascent_forget",
    "ga_sweep__lr-0.01",
    "ga_sweep__lr-1e+06",
    "ascent_descent",
    "noisy_descent",
    "scrub",
]
TINY_RUN_TABLES = {
    *(f"results/{name}.tsv" for name in ("baselines", "compute_vs_klom", "methods")),
    *(f"results/{name}.tsv" for name in ("eval_pretrain", "leaderboard")),
    "results/digits/n_models.tsv",
    *(
        f"results/digits/forget_{k}/{table}"
        for k in TINY_CONFIG["forget_sets"]
        for table in [
            *(f"{name}.tsv" for name in ("baselines", "compute_vs_klom", "leaderboard")),
            *(f"{name}.tsv" for name in ("methods", "n_models")),
            *(f"methods/{setting}/klom.tsv" for setting in TINY_SETTINGS),
            *(
                f"retrain/noise_{noise:g}/seed_{seed}/klom.tsv"
                for noise in TINY_CONFIG["retrain"]["noise_levels"]
                for seed in TINY_CONFIG["retrain"]["seeds"]
            ),
        ]
    ),
}


def test_every_table_carries_its_provenance(tiny_run):
    import klomflow

    tables = sorted((tiny_run / "results").rglob("*.tsv"))
    assert {str(t.relative_to(tiny_run)) for t in tables} == TINY_RUN_TABLES
    for table in tables:
        record = json.loads((table.parent / (table.name + ".json")).read_text())
        assert record["klomflow_version"] == klomflow.__version__
        assert record["git_commit"] is None  # the copied workflow is not a git checkout
        assert record["config"]["n_models"] == TINY_CONFIG["n_models"]
        assert record["dataset"] == {
            "benchmark": "digits",
            "forget_sets": [1, 2],
            "n_models": 4,
            "reference_source": "local",
            "reference_seed": 1000,
        }
        assert record["software"]["torch"] == torch.__version__
        assert record["device"] == {"configured": "auto", "klom_scored_on": "cpu"}


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
    assert with_profile["retrain_models"] == 4


# A second function of the same file, used by a second entry: editing the first leaves it alone.
SECOND_METHOD = """

def keeps_models(models, data):
    while True:
        yield models
"""


@pytest.fixture(scope="module")
def run_with_own_method(tiny_run, tmp_path_factory):
    """The tiny run, copied, with the README's example method and a second one of its file run."""
    directory = tmp_path_factory.mktemp("own_method") / "run"
    shutil.copytree(tiny_run, directory, symlinks=True)  # keeps the files' times
    readme = (REPO / "README.md").read_text()
    example = readme.split("## Add your method")[1].split("```python\n")[1].split("```")[0]
    (directory / "my_methods.py").write_text(example + SECOND_METHOD)
    methods = {
        **TINY_CONFIG["methods"],
        "mine": {"method": "my_methods.py:ascent_then_finetune", "lr": 0.005, "epochs": [1]},
        "theirs": {"method": "my_methods.py:keeps_models", "epochs": [1]},
    }
    write_config(directory, {**TINY_CONFIG, "methods": methods}, "own_method.yaml")
    result = snakemake(directory, "--configfile", "own_method.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    return directory


def planned_after_edit(run: Path, edit, env: dict | None = None) -> dict[str, int]:
    """The jobs a dry run of ``run`` plans with my_methods.py's text replaced by ``edit(text)``.

    The file is restored afterwards: the run is shared by the tests of this module.
    """
    module = run / "my_methods.py"
    original = module.read_text()
    assert planned_jobs(run, "--configfile", "own_method.yaml") == {}
    module.write_text(edit(original))
    try:
        return planned_jobs(run, "--configfile", "own_method.yaml", env=env)
    finally:
        module.write_text(original)


def test_editing_a_method_reruns_only_its_settings(run_with_own_method):
    def edit(text):
        return text.replace("finetune_lr=0.001", "finetune_lr=0.002")

    # `mine` only: not `theirs`, whose function lives in the same file.
    assert planned_after_edit(run_with_own_method, edit) == method_jobs(1)


def test_adding_an_unrelated_function_to_a_method_file_reruns_nothing(run_with_own_method):
    def edit(text):
        return text + "\n\ndef not_used_yet(models, data):\n    yield models\n"

    assert planned_after_edit(run_with_own_method, edit) == {}


def test_method_tables_record_the_code_and_the_file_of_their_methods(run_with_own_method):
    module = run_with_own_method / "my_methods.py"
    code = method_code_hash(resolve_method(f"{module}:ascent_then_finetune"))
    expected = {
        "code_sha256": code,
        "file": "my_methods.py",
        "file_sha256": hashlib.sha256(module.read_bytes()).hexdigest(),
    }
    name = "my_methods.py:ascent_then_finetune"
    setting = run_with_own_method / "results/digits/forget_1/methods/mine/klom.tsv.json"
    assert json.loads(setting.read_text())["methods"] == {name: expected}
    gathered = json.loads((run_with_own_method / "results/methods.tsv.json").read_text())
    assert gathered["methods"][name] == expected
    assert gathered["methods"]["scrub"] == {
        "code_sha256": method_code_hash(resolve_method("scrub"))
    }


def test_editing_a_builtin_method_reruns_its_settings(run_with_own_method, tmp_path):
    """The built-ins are read from a copy of the package, put first on the Python path, with
    scrub's default temperature changed: as a researcher edits src/ with an editable install.
    """
    package = Path(klomflow.__file__).parent
    copy = shutil.copytree(
        package, tmp_path / "klomflow", ignore=shutil.ignore_patterns("__pycache__")
    )
    methods = copy / "unlearning" / "methods.py"
    source = methods.read_text()
    assert "temperature: PositiveFloat = 4.0" in source
    methods.write_text(
        source.replace("temperature: PositiveFloat = 4.0", "temperature: PositiveFloat = 5.0")
    )
    python_path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    planned = planned_after_edit(run_with_own_method, str, env={"PYTHONPATH": python_path})
    assert planned == method_jobs(1)  # scrub's one setting, on both forget sets
