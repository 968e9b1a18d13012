"""The EasyDUB CIFAR-10 config through Snakemake, shrunk to CPU size.

Everything runs the real code: the hub client serves a small EasyDUB dataset
from its cache (offline), torchvision reads a small fake CIFAR-10 (only its
MD5 check is bypassed, see tests/boundary), ResNet9 trains on the CPU.
"""

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import (
    REPO,
    copy_workflow,
    easydub_hub_files,
    snakemake,
    write_config,
    write_fake_cifar10,
    write_hub_cache,
)

from klomflow.benchmarks import EASYDUB
from klomflow.layout import EasyDUBLayout
from klomflow.tables import read_tsv, write_tsv

N_TRAIN, N_VAL, N = 100, 20, 2
FORGET = np.array([5, 50, 99, 0, 7, 8])

TINY = {
    "forget_sets": [2],  # the one the hub cache serves
    "n_models": N,
    "split_sizes": {"n_train": N_TRAIN, "n_val": N_VAL},
    "retrain": {"noise_levels": [0.01], "seeds": [0]},
    "training": {"epochs": 2, "batch_size": 32},
    "device": "cpu",
    "methods": {
        name: {"epochs": [1]}
        for name in ("do_nothing", "ascent_forget", "ascent_descent", "noisy_descent", "scrub")
    },
}


@pytest.fixture(scope="module")
def cifar_run(tmp_path_factory):
    directory = copy_workflow(tmp_path_factory.mktemp("cifar10"))
    (directory / "config").mkdir()
    shutil.copy(REPO / "config/easydub-cifar10.yaml", directory / "config")
    write_fake_cifar10(directory / "resources/cifar10/images", N_TRAIN, N_VAL)
    # The hub holds more models than the run needs: only N pretrain and 2N
    # oracles may arrive.
    shape = EasyDUBLayout(Path("repo"), "cifar10", "resnet9", 23, N_TRAIN, N_VAL)
    cache = directory / "hub_cache"
    write_hub_cache(cache, EASYDUB.repo_id, easydub_hub_files(shape, N + 1, FORGET))
    write_config(directory, {**TINY, "hub": {"cache_dir": str(cache)}}, "tiny.yaml", over=None)
    env = {
        "HF_HUB_OFFLINE": "1",
        "KLOMFLOW_TEST_FAKE_CIFAR10": "1",
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(REPO / "tests/boundary"), os.environ.get("PYTHONPATH")])
        ),
    }
    args = ("--configfile", "config/easydub-cifar10.yaml", "tiny.yaml")
    result = snakemake(directory, "all", "results/eval_pretrain.tsv", *args, env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return directory, result


def test_only_the_needed_files_arrive_from_the_hub(cifar_run):
    directory, _ = cifar_run
    root = directory / "resources/cifar10/easydub/margins/cifar10"
    pretrain = sorted(p.name for p in (root / "pretrain/retain/resnet9").glob("id_*"))
    assert pretrain == ["id_0_epoch_23.npy", "id_1_epoch_23.npy"]
    oracles = sorted(p.name for p in (root / "oracle/forget_2/val/resnet9").glob("id_*"))
    assert oracles == [f"id_{m}_epoch_23.npy" for m in range(2 * N)]


def test_tables_and_figures(cifar_run):
    directory, _ = cifar_run
    baselines = read_tsv(directory / "results/baselines.tsv")
    assert len(baselines) == 6 and {r["n_models"] for r in baselines} == {"2"}
    grid = read_tsv(directory / "results/compute_vs_klom.tsv")
    assert len(grid) == 2 * 3  # epochs x splits
    expected = 1 * (N_TRAIN - len(FORGET)) / N_TRAIN * 100 / 2
    for r in grid:
        assert float(r["compute_pct"]) == pytest.approx(int(r["epoch"]) * expected)
    methods = read_tsv(directory / "results/methods.tsv")
    assert {r["method"] for r in methods} == set(TINY["methods"])
    for figure in ("compute_vs_klom.png", "methods.png"):
        assert (directory / "results" / figure).read_bytes()[:4] == b"\x89PNG"


def test_eval_pretrain_prints_and_writes_the_pretrain_table(cifar_run):
    directory, result = cifar_run
    rows = read_tsv(directory / "results/eval_pretrain.tsv")
    assert [r["split"] for r in rows] == ["retain", "forget", "val"]
    pretrain = {
        r["split"]: r["klom_p95"]
        for r in read_tsv(directory / "results/baselines.tsv")
        if r["baseline"] == "pretrain"
    }
    assert {r["split"]: r["klom_p95"] for r in rows} == pretrain
    assert "pretrain vs oracle, N = 2, P95 KLOM" in result.stdout + result.stderr


def test_every_table_records_the_commit_its_reference_set_was_fetched_at(cifar_run):
    directory, _ = cifar_run
    commit = json.loads((directory / "resources/cifar10/easydub/hub_commit.json").read_text())
    assert commit["revision"] == "main" and len(commit["commit"]) == 40
    for table in ("baselines", "compute_vs_klom", "methods", "eval_pretrain"):
        record = json.loads((directory / f"results/{table}.tsv.json").read_text())
        assert record["dataset"]["commit"] == commit["commit"], table


# -- benchmarks never mix ------------------------------------------------------

CIFAR_CONFIG = str(REPO / "config/easydub-cifar10.yaml")


def planned_settings(directory: Path, *args: str) -> list[str]:
    """The method setting of every run_unlearning_method job a dry run plans (one per forget set)."""
    result = snakemake(directory, "all", "--dry-run", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = re.findall(r"rule run_unlearning_method:.*?wildcards: ([^\n]*)", result.stdout, re.S)
    return [re.search(r"setting=([^,\s]+)", wildcards).group(1) for wildcards in jobs]


def test_the_cifar10_config_plans_only_its_own_method_entries(tmp_path):
    directory = copy_workflow(tmp_path)
    # A researcher's digits entry, tuned for the digits, in config.yaml.
    digits = yaml.safe_load((directory / "config.yaml").read_text())
    digits["methods"]["mine"] = {"method": "ascent_forget", "lr": 0.05, "epochs": [1]}
    (directory / "config.yaml").write_text(yaml.safe_dump(digits))
    assert "mine" in planned_settings(directory)
    planned = planned_settings(directory, "--configfile", CIFAR_CONFIG)
    with open(CIFAR_CONFIG) as f:
        cifar = yaml.safe_load(f)
    assert sorted(set(planned)) == sorted(cifar["methods"])
    assert len(planned) == len(cifar["methods"]) * len(cifar["forget_sets"])


def test_a_second_benchmark_stops_before_overwriting_the_firsts_results(tmp_path):
    directory = copy_workflow(tmp_path)
    # The gathered results of a digits run, as its tables record them.
    write_tsv(
        directory / "results/baselines.tsv",
        [{"benchmark": "digits", "forget_set": 1, "baseline": "pretrain", "split": "val"}],
        ["benchmark", "forget_set", "baseline", "split"],
    )
    (directory / "results/compute_vs_klom.png").write_bytes(b"the digits figure")
    before = {p: p.read_bytes() for p in (directory / "results").iterdir()}
    result = snakemake(directory, "results/compute_vs_klom.png", "--configfile", CIFAR_CONFIG)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "holds the digits" in line]
    assert len(lines) == 1, result.stderr[-3000:]
    assert "results/ holds the digits benchmark's results (results/baselines.tsv)" in lines[0]
    assert "run it in another directory (snakemake --directory DIR" in lines[0]
    assert {p: p.read_bytes() for p in (directory / "results").iterdir()} == before
    for created in ("resources", "logs"):
        assert not (directory / created).exists(), created
    # The digits benchmark itself goes on in the same directory.
    assert snakemake(directory, "results/compute_vs_klom.png", "--dry-run").returncode == 0
