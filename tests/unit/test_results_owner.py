"""A directory's gathered results say which benchmark they belong to; another is refused."""

import json

import pytest

from klomflow.results_owner import check_results_benchmark, gathered_benchmarks
from klomflow.tables import write_tsv


def write_gathered(results, name, benchmark, column=True):
    columns = ["benchmark", "forget_set"] if column else ["forget_set"]
    write_tsv(results / name, [{"benchmark": benchmark, "forget_set": 1}], columns)
    sidecar = {"dataset": {"benchmark": benchmark}}
    (results / f"{name}.json").write_text(json.dumps(sidecar))


def test_an_empty_or_missing_results_directory_belongs_to_no_benchmark(tmp_path):
    assert gathered_benchmarks(tmp_path / "results") == {}
    check_results_benchmark(tmp_path / "results", "cifar10")


def test_the_same_benchmark_may_run_again(tmp_path):
    write_gathered(tmp_path, "baselines.tsv", "digits")
    check_results_benchmark(tmp_path, "digits")


def test_another_benchmarks_results_stop_the_run_with_what_to_do(tmp_path):
    write_gathered(tmp_path, "baselines.tsv", "digits")
    with pytest.raises(ValueError) as error:
        check_results_benchmark(tmp_path, "cifar10")
    message = str(error.value)
    assert "\n" not in message
    assert f"holds the digits benchmark's results ({tmp_path / 'baselines.tsv'})" in message
    assert "snakemake --directory DIR" in message and "move" in message


def test_a_table_without_a_benchmark_column_is_read_from_its_sidecar(tmp_path):
    write_gathered(tmp_path, "leaderboard.tsv", "cifar10", column=False)
    assert gathered_benchmarks(tmp_path) == {"cifar10": str(tmp_path / "leaderboard.tsv")}
    with pytest.raises(ValueError, match="holds the cifar10 benchmark's results"):
        check_results_benchmark(tmp_path, "digits")


def test_a_mixed_directory_names_the_other_benchmark(tmp_path):
    write_gathered(tmp_path, "baselines.tsv", "digits")
    write_gathered(tmp_path, "methods.tsv", "cifar10")
    with pytest.raises(ValueError, match="holds the cifar10 benchmark's"):
        check_results_benchmark(tmp_path, "digits")
