"""Bad input to the workflow: one clear line, a non-zero exit, nothing left behind.

A bad config stops Snakemake before any job, and leaves a finished run's
outputs alone; a bad file stops the job that reads it, naming the file. Each
case asserts the line that names the key, file or value at fault, and that no
output (partial, temporary or stale) remains. The package's own readers and
the ``klomflow`` command are in ``tests/unit/test_bad_input.py``.
"""

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
    output_files,
    planned_from_scratch,
    snakemake,
    write_config,
)

from klomflow.layout import EasyDUBLayout

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
        {"forget_sets": [1, 7]},
        "config: forget_sets: 7 is not a forget set of the digits benchmark",
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
    write_config(directory, config, "bad.yaml", over=None)
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
        "results/digits/forget_1/baselines.tsv",
        "--configfile",
        "test_config.yaml",
        "--forcerun",
        "score_baselines",
        "--allowed-rules",  # not the jobs upstream whose files were touched
        "score_baselines",
    )
    assert result.returncode != 0
    log_file = directory / "logs/score_baselines/digits/forget_1.log"
    log = log_file.read_text().strip().splitlines()
    assert log[-1].startswith("error: ") and str(culprit) in log[-1], log[-1]
    assert re.search(message, log[-1]), log[-1]
    # The stale table of the earlier run is gone, and no partial one was left.
    tables = directory / "results/digits/forget_1"
    assert not (tables / "baselines.tsv").exists()
    assert not list(tables.glob(".baselines*"))


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
    cache = {"hub": {"cache_dir": str(tmp_path / "empty_cache")}}
    write_config(directory, cache, "offline.yaml", over=None)
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


def test_a_config_mistake_after_a_complete_run_deletes_nothing(tmp_path, reference_run):
    directory = tmp_path / "run"
    shutil.copytree(reference_run, directory, symlinks=True)

    def outputs():
        return {
            p: p.stat().st_mtime_ns
            for folder in ("results", "resources")
            for p in (directory / folder).rglob("*")
            if p.is_file()
        }

    before = outputs()
    planned = planned_from_scratch(
        directory, "results/baselines.tsv", "--configfile", "test_config.yaml"
    )
    assert {p.relative_to(directory) for p in before} == output_files(directory, planned)
    # Read as 4 by jsonschema, this used to re-run (and first delete) every reference job.
    write_config(directory, {**TINY_CONFIG, "n_models": 4.0}, "bad.yaml")
    result = snakemake(directory, "results/baselines.tsv", "--configfile", "bad.yaml")
    assert result.returncode != 0
    [line] = [line for line in result.stderr.splitlines() if line.startswith("config: ")]
    assert line == "config: n_models: 4.0 is not an integer (write 4)"
    assert outputs() == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_cuda_without_cuda_stops_before_any_job_and_deletes_nothing(tmp_path, reference_run):
    directory = tmp_path / "run"
    shutil.copytree(reference_run, directory, symlinks=True)
    # A changed device re-plans every training job, whose outputs Snakemake
    # deletes before it runs one: the check must come first.
    write_config(directory, {**TINY_CONFIG, "device": "cuda"}, "gpu.yaml")
    before = {p: p.stat().st_mtime_ns for p in directory.rglob("*") if p.is_file()}
    result = snakemake(directory, "results/baselines.tsv", "--configfile", "gpu.yaml")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    [line] = [line for line in output.splitlines() if line.startswith("config: ")]
    assert line.startswith("config: device: cuda, but torch ") and line.endswith(
        "finds no CUDA device on this machine; use device: auto (CUDA where there is one, "
        "else the CPU) or cpu"
    )
    assert "Traceback" not in output
    after = {p: p.stat().st_mtime_ns for p in directory.rglob("*") if p.is_file()}
    assert {p: t for p, t in after.items() if ".snakemake" not in p.parts} == {
        p: t for p, t in before.items() if ".snakemake" not in p.parts
    }
    assert not list((directory / "logs").rglob("*gpu*"))


CODE_CONFIG_CASES = {
    "method-that-returns": (
        {"methods": {"mine": {"method": "my_methods.py:f", "epochs": [1]}}},
        "config: methods.mine.method: my_methods.py:f is not a generator function "
        "(it must yield the models after every epoch)",
    ),
    "revision-with-spaces": (
        {"hub": {"easydub": {"repo_id": "easydub/EasyDUB-dataset", "revision": "not a sha"}}},
        "config: hub.easydub.revision: 'not a sha' is not a branch, tag or commit name",
    ),
    "empty-revision": (
        {"hub": {"klom_models": {"repo_id": "royrin/KLOM-models", "revision": ""}}},
        "config: hub.klom_models.revision: '' is not a branch, tag or commit name",
    ),
}


@pytest.mark.parametrize(
    "config, message", CODE_CONFIG_CASES.values(), ids=CODE_CONFIG_CASES.keys()
)
def test_a_config_the_code_cannot_run_is_named_before_anything_runs(tmp_path, config, message):
    directory = copy_workflow(tmp_path)
    (directory / "my_methods.py").write_text("def f(models, data):\n    return models\n")
    write_config(directory, config, "bad.yaml")
    result = snakemake(directory, "--dry-run", "--configfile", "bad.yaml")
    assert "Traceback" not in result.stdout + result.stderr
    assert_stopped_before_any_job(directory, result, message)
