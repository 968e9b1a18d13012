"""What a run could not score: said at its end, and never silently wrong in its tables.

One finished tiny run, shared by the module, has all of it: a retraining cell
that diverges (noise 1e38), no noise-0 level (so no retraining to compare the
methods with), a method setting that diverges after its first recorded epoch,
and a sweep over seeds. Its gathered tables are then broken, a copy at a time,
to see that gathering and every reader stop with one line naming the file,
line and column, leaving the other results as they were.
"""

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO, copy_workflow, snakemake, write_config

from klomflow.tables import read_tsv

SUMMARY_RUN = {
    "forget_sets": [1],
    "n_models": 4,
    "retrain": {"noise_levels": [0.01, 1.0e38], "seeds": [0]},
    "methods": {
        "do_nothing": {"method": "do_nothing", "epochs": [1]},
        "seeds": {"method": "do_nothing", "epochs": [1], "sweep": {"seed": [0, 1]}},
        # Finite after epoch 1; NaN from epoch diverge_at on.
        "late": {
            "method": "methods_for_tests.py:poisons_from",
            "epochs": [1, 2],
            "sweep": {"diverge_at": [2, 3]},
        },
    },
}
LATE = "late__diverge_at-2"
CELL = "results/digits/forget_1/retrain/noise_0.01/seed_0/klom.tsv"


@pytest.fixture(scope="module")
def summary_run(tmp_path_factory):
    """The run's directory and its Snakemake result (terminal output)."""
    directory = copy_workflow(tmp_path_factory.mktemp("summary"))
    shutil.copy(REPO / "tests/methods_for_tests.py", directory)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config |= {k: v for k, v in SUMMARY_RUN.items() if k != "retrain"}
    config.setdefault("retrain", {}).update(SUMMARY_RUN["retrain"])
    config.setdefault("training", {}).update({"epochs": 2, "batch_size": 64})
    (directory / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(directory)
    assert result.returncode == 0, result.stderr[-3000:]
    return directory, result


def summary_lines(directory: Path) -> list[str]:
    return (directory / "results/run_summary.txt").read_text().splitlines()


def test_the_run_ends_by_printing_what_it_could_not_score(summary_run):
    directory, result = summary_run
    text = (directory / "results/run_summary.txt").read_text()
    assert text.startswith("What this run could not score:\n")
    assert f"results/run_summary.txt:\n{text}" in result.stdout


def test_the_summary_names_the_diverged_cell_and_setting(summary_run):
    lines = summary_lines(summary_run[0])
    assert "  forget set 1: noise 1e+38, seed 0 from epoch 1" in lines
    assert f"  forget set 1: {LATE} from epoch 2" in lines


def test_without_noise_0_the_retraining_columns_are_blank_and_the_summary_says_why(summary_run):
    directory = summary_run[0]
    board = read_tsv(directory / "results/leaderboard.tsv")
    compared = [r for r in board if r["status"] == "ok" and r["epoch"]]
    assert compared and all(r["forget_retrain_p95"] == "" for r in compared)
    assert (
        "  all of them: retrain.noise_levels has no 0, and only retraining without noise "
        "is compared"
    ) in summary_lines(directory)


def test_the_summary_counts_the_rows_with_degenerate_samples(summary_run):
    directory = summary_run[0]
    text = (directory / "results/run_summary.txt").read_text()
    for table in ("baselines", "compute_vs_klom", "methods"):
        rows = [
            r
            for r in read_tsv(directory / f"results/{table}.tsv")
            if r.get("status", "ok") == "ok" and int(r["n_degenerate"]) > 0
        ]
        counted = f"  results/{table}.tsv: {len(rows)} rows, "
        assert (counted in text) == bool(rows), table


def test_epochs_recorded_finite_before_a_divergence_are_scored(summary_run):
    directory = summary_run[0]
    rows = [r for r in read_tsv(directory / "results/methods.tsv") if r["setting"] == LATE]
    assert sorted({(r["epoch"], r["status"]) for r in rows}) == [("1", "ok"), ("2", "diverged")]
    for r in rows:
        if r["epoch"] == "1":
            assert np.isfinite(float(r["klom_p95"])) and np.isfinite(float(r["share_above_half"]))
        else:
            assert r["klom_p95"] == r["share_above_half"] == r["compute_pct"] == ""
    board = read_tsv(directory / "results/leaderboard.tsv")
    assert [(r["epoch"], r["status"]) for r in board if r["setting"] == LATE] == [
        ("1", "ok"),
        ("2", "diverged"),
    ]
    never = [
        r
        for r in read_tsv(directory / "results/methods.tsv")
        if r["setting"] == "late__diverge_at-3"
    ]
    assert {r["status"] for r in never} == {"ok"}


def test_a_seed_sweep_runs_one_setting_per_seed(summary_run):
    rows = read_tsv(summary_run[0] / "results/methods.tsv")
    assert {(r["setting"], r["params"]) for r in rows if r["method"] == "seeds"} == {
        ("seeds__seed-0", "seed=0"),
        ("seeds__seed-1", "seed=1"),
    }


# -- seed sweeps in the config: a dry run is enough ------------------------------


def test_a_seed_sweep_of_an_entry_without_a_seed_is_planned(tmp_path):
    directory = copy_workflow(tmp_path)
    entry = {"method": "do_nothing", "epochs": [1], "sweep": {"seed": [0, 1]}}
    write_config(directory, {"methods": {"seeds": entry}}, "seeds.yaml")
    target = "results/digits/forget_1/methods/seeds__seed-1/klom.tsv"
    result = snakemake(directory, "-n", target, "--configfile", "seeds.yaml")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "seeds__seed-1" in result.stdout + result.stderr


def test_a_seed_set_in_the_entry_and_swept_is_named_before_anything_runs(tmp_path):
    directory = copy_workflow(tmp_path)
    entry = {"method": "do_nothing", "epochs": [1], "seed": 3, "sweep": {"seed": [0, 1]}}
    write_config(directory, {"methods": {"seeds": entry}}, "seeds.yaml")
    result = snakemake(directory, "-n", "--configfile", "seeds.yaml")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    [line] = [line for line in output.splitlines() if line.startswith("config: ")]
    assert (
        line
        == "config: methods.seeds.sweep.seed: seed is also set in the entry; set it in one place"
    )
    assert "Traceback" not in output
    for created in ("results", "resources", "logs"):
        assert not (directory / created).exists(), created


# -- gathered tables that are broken: one line, nothing else touched -------------


def rewrite(path: Path, change) -> None:
    """Apply ``change`` to the rows (header first, lists of cells) of the TSV at ``path``."""
    with open(path, newline="") as f:
        table = list(csv.reader(f, delimiter="\t"))
    with open(path, "w", newline="") as f:
        csv.writer(f, delimiter="\t", lineterminator="\n").writerows(change(table))


def drop_column(name):
    def change(table):
        i = table[0].index(name)
        return [row[:i] + row[i + 1 :] for row in table]

    return change


def set_cell(name, text, line=3):
    def change(table):
        table[line - 1][table[0].index(name)] = text
        return table

    return change


def result_files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in (directory / "results").rglob("*")
        if p.is_file()
    }


def run_broken(tmp_path, summary_run, broken, change, target, rule):
    """A copy of the run with the table ``broken`` changed, its job ``rule`` run for ``target``."""
    directory = tmp_path / "run"
    shutil.copytree(summary_run[0], directory, symlinks=True)
    rewrite(directory / broken, change)
    before = result_files(directory)
    result = snakemake(directory, target, "--allowed-rules", rule)
    return directory, result, before


def assert_one_line_and_nothing_else_touched(directory, result, before, log, outputs, line):
    assert result.returncode != 0
    text = (directory / log).read_text()
    assert text.strip().splitlines()[-1] == f"error: {line}"
    assert "Traceback" not in text
    assert log in result.stderr
    after = result_files(directory)
    # Snakemake removes a job's own outputs before it runs; the job leaves none.
    assert not any((directory / output).exists() for output in outputs)
    assert {k: v for k, v in before.items() if k not in outputs} == after
    assert not [p for p in (directory / "results").rglob(".*")]


GATHER_CASES = {
    "cell-without-klom_p95": (
        drop_column("klom_p95"),
        f"{CELL}: no column klom_p95 (it has epoch, compute_pct, split, status, klom_mean, "
        "klom_p95_low, klom_p95_high, klom_p05, n_degenerate, share_above_half)",
    ),
    "abc-in-a-number-cell": (
        set_cell("klom_p95", "abc"),
        f"{CELL}: line 3, column klom_p95: 'abc' is not a number",
    ),
    "empty-number-cell": (
        set_cell("klom_mean", ""),
        f"{CELL}: line 3, column klom_mean: empty, expected a number",
    ),
}


@pytest.mark.parametrize("change, line", GATHER_CASES.values(), ids=GATHER_CASES.keys())
def test_a_bad_cell_table_stops_the_gathering_naming_file_line_and_column(
    tmp_path, summary_run, change, line
):
    table = "results/digits/forget_1/compute_vs_klom.tsv"
    directory, result, before = run_broken(
        tmp_path, summary_run, CELL, change, table, "gather_retraining_cells"
    )
    log = "logs/gather_retraining_cells/digits/forget_1.log"
    assert_one_line_and_nothing_else_touched(
        directory, result, before, log, [table, f"{table}.json", replicates_of(table)], line
    )


def replicates_of(table: str) -> str:
    return table.removesuffix(".tsv") + "_p95_replicates.npy"


def first_ok_line(path: Path) -> int:
    rows = read_tsv(path)
    return 2 + next(i for i, r in enumerate(rows) if r["status"] == "ok")


READER_CASES = {
    "leaderboard": (
        "results/methods.tsv",
        "share_above_half",
        "results/leaderboard.tsv",
        "rank_methods",
        "logs/rank_methods/leaderboard.log",
    ),
    "figure": (
        "results/compute_vs_klom.tsv",
        "klom_p95",
        "results/compute_vs_klom.png",
        "plot_compute_vs_klom",
        "logs/plot_compute_vs_klom/compute_vs_klom.log",
    ),
}


@pytest.mark.parametrize(
    "table, column, target, rule, log", READER_CASES.values(), ids=READER_CASES.keys()
)
def test_a_bad_gathered_table_stops_its_reader_naming_file_line_and_column(
    tmp_path, summary_run, table, column, target, rule, log
):
    line = first_ok_line(summary_run[0] / table)
    directory, result, before = run_broken(
        tmp_path, summary_run, table, set_cell(column, "abc", line), target, rule
    )
    outputs = [target, f"{target}.json"]
    if rule == "rank_methods":
        outputs.append("results/leaderboard.md")
    message = f"{table}: line {line}, column {column}: 'abc' is not a number"
    assert_one_line_and_nothing_else_touched(directory, result, before, log, outputs, message)


def test_a_run_of_the_figure_alone_prints_no_outdated_summary(tmp_path, summary_run):
    directory = tmp_path / "run"
    shutil.copytree(summary_run[0], directory, symlinks=True)
    # A table the summary was made from changes (a new time alone re-runs nothing).
    table = directory / "results/compute_vs_klom.tsv"
    rewrite(table, set_cell("klom_p95", "1.5", first_ok_line(table)))
    result = snakemake(directory, "results/compute_vs_klom.png")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "rule plot_compute_vs_klom" in result.stderr
    assert "run_summary" not in result.stdout + result.stderr
    result = snakemake(directory)  # the default target brings it up to date, and prints it
    assert result.returncode == 0, result.stderr[-2000:]
    assert "results/run_summary.txt:\nWhat this run could not score:" in result.stdout
