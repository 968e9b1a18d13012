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


@pytest.mark.parametrize(
    "make_bad, message",
    [
        (lambda d: None, "bad.npy: file missing"),
        (lambda d: np.save(d / "bad.npy", np.zeros(5)), r"shape \(5,\), expected"),
        (lambda d: np.save(d / "bad.npy", np.zeros((20, 50), dtype=int)), "dtype int64"),
        (lambda d: np.save(d / "bad.npy", np.full((20, 50), np.nan)), "contain NaN"),
        (lambda d: np.save(d / "bad.npy", np.zeros((20, 49))), "has shape"),
        (lambda d: (d / "bad.npy").write_bytes(b"\x93NUMPY garbage"), "not a readable .npy"),
    ],
)
def test_bad_margins_file_is_named_in_one_line(margins, make_bad, message):
    directory, _, _ = margins
    make_bad(directory)
    result = klomflow_command(
        "score", "unlearned.npy", "bad.npy", "--out", "scores.npy", cwd=directory
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("klomflow: error: ")
    assert re.search(message, lines[0])
    assert not (directory / "scores.npy").exists()
