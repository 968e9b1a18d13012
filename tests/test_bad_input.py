"""Bad input through the real entry points: one clear line, a non-zero exit, nothing left behind.

Three entry points: the workflow (a bad config stops Snakemake before any job;
a bad file stops the job that reads it), the ``klomflow`` command, and the
package's writers. Each case asserts the line that names the key, file or
value at fault, and that no output (partial, temporary or stale) remains.
"""

import errno
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, TINY_CONFIG, copy_workflow, snakemake, write_config

from klomflow import cli
from klomflow.easydub import EasyDUBLayout

# -- the config: stopped before anything runs ------------------------------------

CONFIG_CASES = {
    "unknown-key": ({"n_modles": 3}, "config: top level: Additional properties are not allowed"),
    "wrong-type": ({"n_models": "ten"}, "config: n_models: 'ten' is not of type 'integer'"),
    "zero-N": ({"n_models": 0}, "config: n_models: 0 is less than the minimum of 1"),
    "negative-N": ({"n_models": -3}, "config: n_models: -3 is less than the minimum of 1"),
    "noise-not-a-number": (
        {"retrain": {"noise_levels": ["a"]}},
        "config: retrain.noise_levels.0: 'a' is not of type 'number'",
    ),
    "negative-noise": (
        {"retrain": {"noise_levels": [-0.1]}},
        "config: retrain.noise_levels.0: -0.1 is less than the minimum of 0",
    ),
    "no-noise-levels": (
        {"retrain": {"noise_levels": []}},
        "config: retrain.noise_levels: [] should be non-empty",
    ),
    "duplicate-seeds": (
        {"retrain": {"seeds": [0, 0]}},
        "config: retrain.seeds: [0, 0] has non-unique elements",
    ),
    "unknown-benchmark": ({"benchmark": "mnist"}, "config: benchmark: 'mnist' is not one of"),
    "unknown-forget-set": (
        {"forget_set": 7},
        "config: forget_set: 7 is not a forget set of the digits benchmark",
    ),
    "zero-epochs": ({"training": {"epochs": 0}}, "config: training.epochs: 0 is less than"),
    "number-as-string": (
        {"training": {"weight_decay": "5e-4"}},
        "config: training.weight_decay: '5e-4' is not of type 'number'",
    ),
    "model-for-other-images": (
        {"model": "resnet9"},
        "config: model: resnet9 does not take digits images",
    ),
    "unknown-source": (
        {"reference": {"source": "zenodo"}},
        "config: reference.source: 'zenodo' is not one of",
    ),
    "unknown-method": (
        {"methods": {"x": {"method": "forgetful", "epochs": [1]}}},
        "config: methods.x: unknown method 'forgetful'",
    ),
    "unknown-method-parameter": (
        {"methods": {"x": {"method": "scrub", "epochs": [1], "lr_rate": 1}}},
        "config: methods.x: unknown parameter 'lr_rate' for scrub",
    ),
    "method-module-does-not-import": (
        {"methods": {"x": {"method": "no_such_module_xyz:run", "epochs": [1]}}},
        "config: methods.x: cannot import 'no_such_module_xyz'",
    ),
    "method-without-epochs": (
        {"methods": {"x": {"method": "scrub"}}},
        "config: methods.x: 'epochs' is a required property",
    ),
    "method-entry-name": (
        {"methods": {"bad name": {"method": "scrub", "epochs": [1]}}},
        "config: methods: 'bad name' does not match",
    ),
}

CIFAR_CONFIG_CASES = {
    "N-above-the-hub-models": (
        {"n_models": 101},
        "config: n_models: 101 needs 202 oracles per forget set, but the hub",
    ),
    "local-reference-for-cifar10": (
        {"reference": {"source": "local"}},
        "config: reference.source: local does not serve the cifar10 benchmark",
    ),
}


def assert_stopped_before_any_job(directory: Path, result, message: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0
    [line] = [line for line in output.splitlines() if message in line]
    assert line.strip().startswith("config: "), line
    for created in ("results", "resources", "logs", "resume"):
        assert not (directory / created).exists(), created


@pytest.mark.parametrize("config, message", CONFIG_CASES.values(), ids=CONFIG_CASES.keys())
def test_bad_config_is_named_before_anything_runs(tmp_path, config, message):
    directory = copy_workflow(tmp_path)
    write_config(directory, config, "bad.yaml")
    result = snakemake(directory, "--configfile", "bad.yaml")
    assert_stopped_before_any_job(directory, result, message)


@pytest.mark.parametrize(
    "config, message", CIFAR_CONFIG_CASES.values(), ids=CIFAR_CONFIG_CASES.keys()
)
def test_bad_cifar10_config_is_named_before_anything_runs(tmp_path, config, message):
    directory = copy_workflow(tmp_path)
    write_config(directory, config, "bad.yaml")
    cifar = str(REPO / "config/easydub-cifar10.yaml")
    result = snakemake(directory, "--configfile", cifar, "bad.yaml")
    assert_stopped_before_any_job(directory, result, message)


# -- files the workflow reads: the job that reads one stops ----------------------


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """The tiny workflow up to the baselines table: a reference set to break."""
    directory = copy_workflow(tmp_path_factory.mktemp("reference"))
    write_config(directory, TINY_CONFIG)
    result = snakemake(directory, "results/baselines.tsv", "--configfile", "test_config.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    return directory


LOCAL = EasyDUBLayout(Path("resources/digits/local"), "digits", "digits_cnn", 1, 1438, 359)

FILE_CASES = {
    "nan-in-oracle-margins": (
        lambda root: np.save(
            root / LOCAL.model_file(LOCAL.oracle_dir(1, "val"), 2), np.full(359, np.nan)
        ),
        LOCAL.model_file(LOCAL.oracle_dir(1, "val"), 2),
        "margins contain nan",
    ),
    "inf-in-pretrain-margins": (
        lambda root: np.save(
            root / LOCAL.model_file(LOCAL.pretrain_dir("val"), 0),
            np.r_[np.zeros(358), np.inf].astype(np.float32),
        ),
        LOCAL.model_file(LOCAL.pretrain_dir("val"), 0),
        r"margins contain inf \(sample 358\)",
    ),
    "oracle-margins-wrong-shape": (
        lambda root: np.save(
            root / LOCAL.model_file(LOCAL.oracle_dir(1, "forget"), 1), np.zeros(49)
        ),
        LOCAL.model_file(LOCAL.oracle_dir(1, "forget"), 1),
        r"margins have shape \(49,\), expected \(50,\)",
    ),
    "margins-wrong-dtype": (
        lambda root: np.save(
            root / LOCAL.model_file(LOCAL.oracle_dir(1, "val"), 0), np.zeros(359, dtype=np.int64)
        ),
        LOCAL.model_file(LOCAL.oracle_dir(1, "val"), 0),
        "margins have dtype int64, expected a float dtype",
    ),
    "truncated-npy": (
        lambda root: _truncate(root / LOCAL.model_file(LOCAL.oracle_dir(1, "retain"), 3)),
        LOCAL.model_file(LOCAL.oracle_dir(1, "retain"), 3),
        "not a readable .npy file",
    ),
    "margins-file-missing": (
        lambda root: (root / LOCAL.model_file(LOCAL.oracle_dir(1, "retain"), 0)).unlink(),
        LOCAL.model_file(LOCAL.oracle_dir(1, "retain"), 0),
        "file missing",
    ),
    "forget-set-duplicate-index": (
        lambda root: np.save(root / LOCAL.forget_set_file(1), np.r_[np.arange(49), 0]),
        LOCAL.forget_set_file(1),
        "index 0 appears more than once",
    ),
    "forget-set-index-out-of-range": (
        lambda root: np.save(root / LOCAL.forget_set_file(1), np.r_[np.arange(49), 1438]),
        LOCAL.forget_set_file(1),
        "index 1438 outside the train split",
    ),
}


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


@pytest.mark.parametrize("damage, culprit, message", FILE_CASES.values(), ids=FILE_CASES.keys())
def test_a_bad_reference_file_stops_the_job_that_reads_it(
    tmp_path, reference_run, damage, culprit, message
):
    directory = tmp_path / "run"
    shutil.copytree(reference_run, directory, symlinks=True)
    damage(directory)
    result = snakemake(
        directory,
        "results/baselines.tsv",
        "--configfile",
        "test_config.yaml",
        "--forcerun",
        "score_baselines",
        "--allowed-rules",  # not the jobs upstream whose files were touched
        "score_baselines",
    )
    assert result.returncode != 0
    log = (directory / "logs/score_baselines/baselines.log").read_text().strip().splitlines()
    assert log[-1].startswith("error: ") and str(culprit) in log[-1], log[-1]
    assert re.search(message, log[-1]), log[-1]
    # The stale table of the earlier run is gone, and no partial one was left.
    assert not (directory / "results/baselines.tsv").exists()
    assert not list((directory / "results").glob(".baselines*"))


def test_a_checkpoint_that_does_not_load_stops_the_method_job(tmp_path, reference_run):
    directory = tmp_path / "run"
    shutil.copytree(reference_run, directory, symlinks=True)
    checkpoint = LOCAL.model_file(LOCAL.checkpoint_dir(), 1, ".pt")
    state = torch.load(directory / checkpoint, weights_only=True)
    state.pop(next(iter(state)))
    torch.save(state, directory / checkpoint)
    target = "results/digits/forget_1/methods/do_nothing/margins.npz"
    result = snakemake(
        directory,
        target,
        "--configfile",
        "test_config.yaml",
        "--allowed-rules",
        "run_unlearning_method",
    )
    assert result.returncode != 0
    log = (directory / "logs/run_unlearning_method/digits/forget_1/do_nothing.log").read_text()
    last = log.strip().splitlines()[-1]
    assert last.startswith(f"error: {checkpoint}: does not load into digits_cnn"), last
    assert not (directory / target).exists()


def test_an_unreachable_hub_says_what_to_download_and_where(tmp_path):
    directory = copy_workflow(tmp_path)
    write_config(directory, {"hub": {"cache_dir": str(tmp_path / "empty_cache")}}, "offline.yaml")
    target = "resources/cifar10/easydub/forget_sets/cifar10/forget_set_2.npy"
    result = snakemake(
        directory,
        target,
        "--configfile",
        str(REPO / "config/easydub-cifar10.yaml"),
        "offline.yaml",
        env={"HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode != 0
    # The first job to need the hub is the one that resolves the revision.
    log = directory / "logs/resolve_hub_revision/cifar10_easydub.log"
    last = log.read_text().strip().splitlines()[-1]
    assert last.startswith(
        "error: dataset easydub/EasyDUB-dataset at revision main: hub unreachable "
        "(HF_HUB_OFFLINE is set and the hub cache does not hold them); "
    )
    assert "`hf download easydub/EasyDUB-dataset --repo-type dataset --revision main " in last
    assert f"$(cat {log}.files)" in last or f"$(cat {log.relative_to(directory)}.files)" in last
    assert not (directory / target).exists()


# -- the klomflow command ------------------------------------------------------------


def klomflow(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "klomflow", *args], capture_output=True, text=True, cwd=cwd
    )


ORACLE = np.random.default_rng(0).normal(size=(20, 50)).astype(np.float32)

CLI_CASES = {
    "file-missing": (lambda d: None, "bad.npy: file missing"),
    "one-dimensional": (
        lambda d: np.save(d / "bad.npy", np.zeros(50, np.float32)),
        r"bad.npy: margins have shape \(50,\), expected \(n_models, n_samples\)",
    ),
    "int-dtype": (
        lambda d: np.save(d / "bad.npy", np.zeros((20, 50), dtype=int)),
        "bad.npy: margins have dtype int64",
    ),
    "nan": (
        lambda d: np.save(d / "bad.npy", np.where(np.eye(20, 50) > 0, np.nan, ORACLE)),
        r"bad.npy: margins contain nan \(model 0, sample 0\)",
    ),
    "inf": (
        lambda d: np.save(d / "bad.npy", np.where(np.eye(20, 50, 3) > 0, -np.inf, ORACLE)),
        r"bad.npy: margins contain -inf \(model 0, sample 3\)",
    ),
    "shapes-differ": (
        lambda d: np.save(d / "bad.npy", ORACLE[:, :49]),
        r"bad.npy has shape \(20, 49\) but oracle.npy has \(20, 50\)",
    ),
    "empty-split": (
        lambda d: np.save(d / "bad.npy", np.zeros((20, 0), np.float32)),
        r"bad.npy: margins of shape \(20, 0\) are empty",
    ),
    "truncated": (
        lambda d: (d / "bad.npy").write_bytes(b"\x93NUMPY\x01\x00garbage"),
        "bad.npy: not a readable .npy file",
    ),
}


@pytest.mark.parametrize("make_bad, message", CLI_CASES.values(), ids=CLI_CASES.keys())
def test_bad_margins_for_klomflow_score_are_named(tmp_path, make_bad, message):
    np.save(tmp_path / "oracle.npy", ORACLE)
    make_bad(tmp_path)
    result = klomflow("score", "bad.npy", "oracle.npy", "--out", "scores.npy", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("klomflow: error: ") and re.search(message, line), line
    assert not (tmp_path / "scores.npy").exists()


def test_validate_dataset_on_a_directory_that_is_not_a_dataset(tmp_path):
    result = klomflow("validate-dataset", "nothing_here", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line == (
        "klomflow: error: nothing_here: no forget_sets/<dataset>/ directory; not an EasyDUB layout"
    )


# -- writing results: the target is never left half-written ------------------------


@pytest.fixture
def margins_pair(tmp_path):
    np.save(tmp_path / "a.npy", ORACLE + 1)
    np.save(tmp_path / "b.npy", ORACLE)
    return tmp_path


def score_failing(directory, out, capsys) -> str:
    """`klomflow score a.npy b.npy --out OUT` that must fail: its one line of error."""
    code = cli.main(
        ["score", str(directory / "a.npy"), str(directory / "b.npy"), "--out", str(out)]
    )
    assert code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    return line


def test_a_results_directory_that_is_not_writable(margins_pair, monkeypatch, capsys):
    # Tests run as root here, which any permission bits let through: the
    # refusal the file system would give is simulated at the call that makes files.
    import tempfile

    def refuse(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(dir))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    out = margins_pair / "results" / "scores.npy"
    line = score_failing(margins_pair, out, capsys)
    assert line == f"klomflow: error: [Errno 13] Permission denied: '{out}'"
    assert not out.exists()


def test_a_disk_that_fills_up_during_a_write(margins_pair, monkeypatch, capsys):
    real_save = np.save

    def fill_up(file, array, *args, **kwargs):
        real_save(file, array[: array.size // 2])  # half of it reaches the disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", fill_up)
    out = margins_pair / "results" / "scores.npy"
    line = score_failing(margins_pair, out, capsys)
    assert line == f"klomflow: error: [Errno 28] No space left on device: '{out}'"
    assert list(out.parent.iterdir()) == []  # neither the target nor the temporary file
