"""The klomflow command for margins computed elsewhere."""

import re
import subprocess
import sys

import numpy as np
import pytest

import klomflow


def klomflow_command(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "klomflow", *args], capture_output=True, text=True, cwd=cwd
    )


@pytest.fixture
def margins(tmp_path):
    rng = np.random.default_rng(0)
    unlearned = rng.normal(size=(20, 50)).astype(np.float32)
    oracle = rng.normal(1.0, size=(20, 50)).astype(np.float32)
    np.save(tmp_path / "unlearned.npy", unlearned)
    np.save(tmp_path / "oracle.npy", oracle)
    return tmp_path, unlearned, oracle


def test_version():
    result = klomflow_command("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"klomflow {klomflow.__version__}"


def test_score_prints_the_summary_and_writes_the_scores(margins):
    directory, unlearned, oracle = margins
    result = klomflow_command(
        "score", "unlearned.npy", "oracle.npy", "--out", "scores.npy", cwd=directory
    )
    assert result.returncode == 0, result.stderr
    expected = klomflow.klom_scores(unlearned, oracle)
    np.testing.assert_array_equal(np.load(directory / "scores.npy"), expected)
    p95 = klomflow.summarize_klom(expected)["klom_p95"]
    assert f"klom_p95\t{p95:.6g}" in result.stdout
    low, high = klomflow.klom_p95_interval(unlearned, oracle)
    assert f"klom_p95_low\t{low:.6g}\nklom_p95_high\t{high:.6g}" in result.stdout


@pytest.fixture
def easydub_dir(tmp_path):
    from conftest import easydub_hub_files, write_files

    from klomflow.layout import EasyDUBLayout

    layout = EasyDUBLayout(tmp_path / "easydub", "cifar10", "resnet9", 23, n_train=60, n_val=20)
    forget = np.array([3, 7, 11, 40, 59])
    write_files(layout.root, easydub_hub_files(layout, 2, forget))
    return layout


def test_validate_dataset_reports_every_part_it_checked(easydub_dir):
    result = klomflow_command(
        "validate-dataset", str(easydub_dir.root), "--n-train", "60", "--n-val", "20"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "cifar10/resnet9: 2 pretrain models, epoch 23",
        "forget set 2: 5 samples, pretrain margins of 2 models, 4 oracles",
        "2 pretrain checkpoints load into resnet9",
        f"{easydub_dir.root}: valid",
    ]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: np.save(d.model_file(d.oracle_dir(2, "val"), 3), np.full(20, np.inf)), "inf"),
        (lambda d: d.model_file(d.pretrain_dir("val"), 0).unlink(), "file missing"),
        (lambda d: np.save(d.model_file(d.pretrain_dir("val"), 1), np.zeros(19)), r"\(19,\)"),
        (lambda d: np.save(d.forget_set_file(2), np.array([1, 1])), "more than once"),
    ],
    ids=["inf", "missing", "shape", "duplicate-index"],
)
def test_validate_dataset_names_the_file_at_fault(easydub_dir, damage, message):
    damage(easydub_dir)
    result = klomflow_command(
        "validate-dataset", str(easydub_dir.root), "--n-train", "60", "--n-val", "20"
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert re.search(message, line), line
    assert str(easydub_dir.root) in line
