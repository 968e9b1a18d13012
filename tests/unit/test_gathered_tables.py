"""Gathering checks what it gathers: columns, words, numbers, named by file, line and column."""

import pytest

from klomflow.scoring import EPOCH_COLUMNS, GRID_COLUMNS, METHOD_COLUMNS, read_scores
from klomflow.tables import concatenate_tables, read_tsv, write_tsv

OK_ROW = {
    "epoch": 1,
    "compute_pct": 10.0,
    "split": "forget",
    "status": "ok",
    "klom_mean": 1.0,
    "klom_p95": 2.0,
    "klom_p95_low": 1.5,
    "klom_p95_high": 2.5,
    "klom_p05": 0.5,
    "n_degenerate": 0,
    "share_above_half": 0.9,
}
DIVERGED_ROW = {
    **dict.fromkeys(EPOCH_COLUMNS),
    "epoch": 2,
    "split": "forget",
    "status": "diverged",
}
LABEL = {"benchmark": "digits", "forget_set": 1, "noise": "0", "seed": 0}


def cell_table(path, rows, columns=EPOCH_COLUMNS):
    write_tsv(path, rows, columns)
    return path


def gather(tmp_path, cell):
    """Gather one cell into tmp_path/results/compute_vs_klom.tsv, as the workflow does."""
    concatenate_tables(
        [cell],
        tmp_path / "results/compute_vs_klom.tsv",
        GRID_COLUMNS,
        labels=[LABEL],
        read=read_scores,
    )


@pytest.fixture
def earlier(tmp_path):
    """An earlier gathered table in results/, which a bad gathering must leave as it was."""
    good = cell_table(tmp_path / "good.tsv", [OK_ROW, DIVERGED_ROW])
    gather(tmp_path, good)
    return (tmp_path / "results/compute_vs_klom.tsv").read_bytes()


def assert_left_alone(tmp_path, earlier):
    results = tmp_path / "results"
    assert (results / "compute_vs_klom.tsv").read_bytes() == earlier
    assert sorted(p.name for p in results.iterdir()) == ["compute_vs_klom.tsv"]


def test_ok_and_diverged_rows_gather(tmp_path, earlier):
    rows = read_tsv(tmp_path / "results/compute_vs_klom.tsv")
    assert [(r["status"], r["klom_p95"], r["forget_set"]) for r in rows] == [
        ("ok", "2", "1"),
        ("diverged", "", "1"),
    ]


def test_a_cell_without_its_klom_p95_column_is_named(tmp_path, earlier):
    columns = [c for c in EPOCH_COLUMNS if c != "klom_p95"]
    cell = cell_table(tmp_path / "klom.tsv", [OK_ROW], columns)
    with pytest.raises(ValueError) as error:
        gather(tmp_path, cell)
    assert str(error.value).startswith(f"{cell}: no column klom_p95 (it has epoch, ")
    assert_left_alone(tmp_path, earlier)


@pytest.mark.parametrize(
    "column, text, problem",
    [
        ("klom_p95", "abc", "'abc' is not a number"),
        ("klom_p95", "", "empty, expected a number"),
        ("klom_mean", "nan", "nan is not a finite number"),
        ("compute_pct", "-inf", "-inf is not a finite number"),
        ("epoch", "1.5", "'1.5' is not a whole number"),
        ("n_degenerate", "", "empty, expected a number"),
        ("status", "okay", "'okay' is not one of ok, diverged"),
        ("split", "train", "'train' is not one of retain, forget, val"),
    ],
)
def test_a_bad_cell_is_named_by_file_line_and_column(tmp_path, earlier, column, text, problem):
    cell = cell_table(tmp_path / "klom.tsv", [OK_ROW, {**OK_ROW, column: text}])
    with pytest.raises(ValueError) as error:
        gather(tmp_path, cell)
    assert str(error.value) == f"{cell}: line 3, column {column}: {problem}"
    assert_left_alone(tmp_path, earlier)


def test_a_diverged_row_still_names_its_epoch(tmp_path, earlier):
    cell = cell_table(tmp_path / "klom.tsv", [{**DIVERGED_ROW, "epoch": "abc"}])
    with pytest.raises(ValueError, match=r"klom.tsv: line 2, column epoch: 'abc' is not a whole"):
        gather(tmp_path, cell)
    assert_left_alone(tmp_path, earlier)


def test_a_gathered_table_read_back_is_checked_too(tmp_path):
    rows = [{**OK_ROW, **LABEL, "method": "m", "setting": "m", "params": "", "n_models": 4}]
    path = cell_table(
        tmp_path / "methods.tsv", [rows[0], {**rows[0], "share_above_half": "abc"}], METHOD_COLUMNS
    )
    with pytest.raises(ValueError) as error:
        read_scores(path, METHOD_COLUMNS)
    assert str(error.value) == f"{path}: line 3, column share_above_half: 'abc' is not a number"


def test_a_column_added_to_the_lists_is_checked_without_more(tmp_path):
    # E.g. a confidence bound added to SUMMARY_COLUMNS: a number, checked as one.
    columns = [*EPOCH_COLUMNS, "klom_p95_low"]
    path = cell_table(tmp_path / "klom.tsv", [{**OK_ROW, "klom_p95_low": "abc"}], columns)
    with pytest.raises(ValueError, match="line 2, column klom_p95_low: 'abc' is not a number"):
        read_scores(path, columns)
    blank = cell_table(tmp_path / "diverged.tsv", [{**DIVERGED_ROW, "klom_p95_low": None}], columns)
    assert read_scores(blank, columns)[0]["klom_p95_low"] == ""
