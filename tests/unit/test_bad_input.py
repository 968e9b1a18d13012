"""Bad input to the package and the ``klomflow`` command: one clear line, nothing left behind.

Each case asserts the line that names the key, file or value at fault, and
that no output (partial, temporary or stale) remains. Bad input to the
workflow is in ``tests/workflow/test_bad_workflow_input.py``.
"""

import errno
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO

from klomflow import cli, files
from klomflow.layout import EasyDUBLayout

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
        "klomflow: error: nothing_here: no forget_sets/<benchmark>/ directory; not an EasyDUB layout"
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


# == The corpus at package and command level: one line, nothing written ==========
#
# Grouped by kind. Each case asserts the one line (no newline, naming the key
# or file) and, where something could be written, that a valid output already
# there is neither deleted nor replaced.


def one_line_error(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    return message


# -- config mistakes, found before any job starts ----------------------------------


def checked_config(overrides: dict) -> list[str]:
    """config.yaml with ``overrides`` merged in, validated as the workflow does; its warnings."""
    import yaml
    from snakemake.utils import validate

    from klomflow.config_checks import check_config

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    schema_path = REPO / "workflow/schemas/config.schema.yaml"
    validate(config, str(schema_path))
    return check_config(config, yaml.safe_load(schema_path.read_text())).warnings


CONFIG_CHECK_CASES = {
    "float-N": ({"n_models": 100.0}, "config: n_models: 100.0 is not an integer (write 100)"),
    "float-reference-seed": (
        {"reference": {"seed": 1000.0}},
        "config: reference.seed: 1000.0 is not an integer (write 1000)",
    ),
    "float-method-epochs": (
        {"methods": {"x": {"method": "scrub", "epochs": [1.0, 2.0]}}},
        "config: methods.x.epochs.0: 1.0 is not an integer (write 1)",
    ),
    "float-training-epochs": (
        {"training": {"epochs": 2.0}},
        "config: training.epochs: 2.0 is not an integer (write 2)",
    ),
    "float-grid-seed": (
        {"retrain": {"seeds": [0, 1.0]}},
        "config: retrain.seeds.1: 1.0 is not an integer (write 1)",
    ),
    "infinite-noise": (
        {"retrain": {"noise_levels": [0.0, float("inf")]}},
        "config: retrain.noise_levels.1: inf is not a finite number",
    ),
    "infinite-weight-decay": (
        {"training": {"weight_decay": float("inf")}},
        "config: training.weight_decay: inf is not a finite number",
    ),
    "one-model": ({"n_models": 1}, "config: n_models: 1 is less than 2"),
    "batch-larger-than-retain": (
        {"training": {"batch_size": 1400}},
        "config: training.batch_size: 1400 is larger than the 1338 retain samples of forget set 2",
    ),
    "noise-levels-naming-one-cell": (
        {"retrain": {"noise_levels": [0.001, 0.0010000001]}},
        "config: retrain.noise_levels: 0.001 and 0.0010000001 both name the cell noise_0.001",
    ),
    "split-sizes-that-digits-cannot-have": (
        {"split_sizes": {"n_train": 1000}},
        "config: split_sizes.n_train: 1000, but the digits images always have 1438",
    ),
    "method-lr-not-a-number": (
        {"methods": {"x": {"method": "scrub", "epochs": [1], "lr": "fast"}}},
        "config: methods.x.lr: 'fast' is not a number",
    ),
    "method-lr-yaml-text": (
        {"methods": {"x": {"method": "ascent_forget", "epochs": [1], "lr": "1e-3"}}},
        "config: methods.x.lr: '1e-3' is text, not a number",
    ),
    "method-lr-zero": (
        {"methods": {"x": {"method": "ascent_forget", "epochs": [1], "lr": 0}}},
        "config: methods.x.lr: 0 is out of range: it must be > 0",
    ),
    "method-batch-size-zero": (
        {"methods": {"x": {"method": "scrub", "epochs": [1], "forget_batch_size": 0}}},
        "config: methods.x.forget_batch_size: 0 is out of range: it must be >= 1",
    ),
    "method-batch-size-float": (
        {"methods": {"x": {"method": "scrub", "epochs": [1], "batch_size": 64.0}}},
        "config: methods.x.batch_size: 64.0 is not an integer",
    ),
    "method-decay-epochs-not-a-list": (
        {"methods": {"x": {"method": "scrub", "epochs": [1], "lr_decay_epochs": 3}}},
        "config: methods.x.lr_decay_epochs: 3 is not a list",
    ),
    "method-decay-epochs-item": (
        {"methods": {"x": {"method": "scrub", "epochs": [1], "lr_decay_epochs": [3, "five"]}}},
        "config: methods.x.lr_decay_epochs: [3, 'five']: item 1: 'five' is not an integer",
    ),
    "method-momentum-above-1": (
        {"methods": {"x": {"method": "scrub", "epochs": [1], "momentum": 1.5}}},
        "config: methods.x.momentum: 1.5 is out of range: it must be >= 0 and <= 1",
    ),
    "method-negative-noise": (
        {"methods": {"x": {"method": "noisy_descent", "epochs": [1], "noise": -0.01}}},
        "config: methods.x.noise: -0.01 is out of range: it must be >= 0",
    ),
    "method-bool-for-int": (
        {"methods": {"x": {"method": "scrub", "epochs": [1], "ascent_epochs": True}}},
        "config: methods.x.ascent_epochs: True is not an integer",
    ),
    "users-annotated-method-wrong-type": (
        {
            "methods": {
                "x": {"method": "methods_for_tests:annotated", "epochs": [1], "strength": "x"}
            }
        },
        "config: methods.x.strength: 'x' is not a number",
    ),
    "unknown-forget-set": (
        {"forget_sets": [1, 7]},
        "config: forget_sets: 7 is not a forget set of the digits benchmark (it has 1, 2, 3)",
    ),
    "grid-forget-set-not-run": (
        {"forget_sets": [1], "retrain": {"forget_sets": [2]}},
        "config: retrain.forget_sets: 2 is not among forget_sets [1]",
    ),
    "model-for-other-images": (
        {"model": "resnet9"},
        "config: model: resnet9 does not take digits images (the digits benchmark's model is",
    ),
    "hub-source-for-digits": (
        {"reference": {"source": "easydub"}},
        "config: reference.source: easydub does not serve the digits benchmark (it has local)",
    ),
}


@pytest.mark.parametrize(
    "overrides, message", CONFIG_CHECK_CASES.values(), ids=CONFIG_CHECK_CASES.keys()
)
def test_a_config_mistake_is_one_line_naming_the_key(overrides, message):
    with pytest.raises(ValueError) as error:
        checked_config(overrides)
    assert one_line_error(error).startswith(message)


def test_a_users_method_without_annotations_takes_any_value():
    overrides = {"methods": {"x": {"method": "methods_for_tests:needs_strength", "epochs": [1]}}}
    overrides["methods"]["x"]["strength"] = "anything"
    checked_config(overrides)


def test_few_models_warn_that_klom_is_mostly_noise():
    [warning] = checked_config({"n_models": 4})
    assert warning.startswith("config: n_models: 4 models per side leave KLOM's 20-bin")
    assert checked_config({"n_models": 50}) == []


# -- files the package reads: one line naming the file ----------------------------


def test_a_user_method_module_is_named_for_its_jobs_and_a_builtin_is_not():
    from klomflow.unlearning.registry import method_module_file

    assert method_module_file("scrub") is None
    assert method_module_file("my_methods.py:mine") == "my_methods.py"
    assert method_module_file("methods_for_tests:poisons") == str(
        REPO / "tests/methods_for_tests.py"
    )


def _epoch_margins(path: Path, **changes) -> None:
    arrays = {
        "epochs": np.array([1, 2]),
        "compute_pct": np.array([1.0, 2.0]),
        **{s: np.zeros((2, 3, 4), np.float32) for s in ("retain", "forget", "val")},
        **changes,
    }
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})


def _truncated_npz(path: Path) -> None:
    _epoch_margins(path)
    path.write_bytes(path.read_bytes()[:300])


EPOCH_MARGINS_CASES = {
    "missing": (lambda p: None, "file missing"),
    "empty": (lambda p: p.write_bytes(b""), "empty file, expected a .npz file"),
    "truncated": (_truncated_npz, "not a readable .npz file"),
    "a-npy-file": (
        lambda p: (
            np.save(p.with_suffix(".tmp.npy"), np.zeros(3)) or p.with_suffix(".tmp.npy").rename(p)
        ),
        "a .npy file, expected a .npz file",
    ),
    "text": (lambda p: p.write_text("epoch\tklom\n"), "not a numpy file"),
    "missing-key": (lambda p: _epoch_margins(p, forget=None), "no forget in it"),
    "nan": (
        lambda p: _epoch_margins(p, val=np.full((2, 3, 4), np.nan, np.float32)),
        r"val margins contain nan \(epoch index 0, model 0, sample 0\); 24 of 24 values",
    ),
    "inf": (
        lambda p: _epoch_margins(p, retain=np.r_[np.zeros((1, 3, 4)), np.full((1, 3, 4), np.inf)]),
        "retain margins contain inf",
    ),
    "two-dimensional": (
        lambda p: _epoch_margins(p, forget=np.zeros((3, 4), np.float32)),
        r"forget margins have shape \(3, 4\), expected \(2 epochs, n_models, n_samples\)",
    ),
    "models-differ": (
        lambda p: _epoch_margins(p, val=np.zeros((2, 2, 4), np.float32)),
        "val margins are of 2 models, retain of 3",
    ),
    "integer-margins": (
        lambda p: _epoch_margins(p, val=np.zeros((2, 3, 4), int)),
        "val margins have dtype int64",
    ),
    "float-epochs": (
        lambda p: _epoch_margins(p, epochs=np.array([1.0, 2.0])),
        "epochs must be a non-empty 1-D integer array",
    ),
}


@pytest.mark.parametrize("make, message", EPOCH_MARGINS_CASES.values(), ids=EPOCH_MARGINS_CASES)
def test_a_bad_margins_file_is_one_line_naming_it(tmp_path, make, message):
    from klomflow.margins import EpochMargins

    path = tmp_path / "margins.npz"
    make(path)
    with pytest.raises((ValueError, OSError)) as error:
        EpochMargins.load(path)
    line = one_line_error(error)
    assert line.startswith(f"{path}: ") and re.search(message, line), line


TABLE_CASES = {
    "missing": (None, "file missing"),
    "empty": ("", "empty file, expected a table with a header row"),
    "header-only": ("epoch\tsplit\tklom_p95\n", "no rows below the header"),
    "column-missing": ("epoch\tsplit\n1\tval\n", "no column klom_p95 \\(it has epoch, split\\)"),
    "row-cut-short": ("epoch\tsplit\tklom_p95\n1\tval\t0.5\n2\tval\n", "line 3 has 2 cells"),
}


@pytest.mark.parametrize("text, message", TABLE_CASES.values(), ids=TABLE_CASES)
def test_a_bad_table_is_one_line_naming_it(tmp_path, text, message):
    from klomflow.tables import read_tsv

    path = tmp_path / "klom.tsv"
    if text is not None:
        path.write_text(text)
    with pytest.raises((ValueError, OSError)) as error:
        read_tsv(path, ["epoch", "split", "klom_p95"])
    line = one_line_error(error)
    assert line.startswith(f"{path}: ") and re.search(message, line), line


def _dataset(path: Path, **changes) -> None:
    arrays = {
        "train_images": np.zeros((6, 1, 8, 8), np.float32),
        "train_labels": np.arange(6),
        "val_images": np.zeros((2, 1, 8, 8), np.float32),
        "val_labels": np.arange(2),
        **changes,
    }
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})


DATASET_CASES = {
    "truncated": (lambda p: _dataset(p) or p.write_bytes(p.read_bytes()[:200]), "not a readable"),
    "missing-labels": (lambda p: _dataset(p, val_labels=None), "no val_labels in it"),
    "labels-too-short": (lambda p: _dataset(p, train_labels=np.arange(5)), "train_labels are"),
    "images-float64": (
        lambda p: _dataset(p, val_images=np.zeros((2, 1, 8, 8))),
        "val_images are float64",
    ),
    "nan-pixels": (
        lambda p: _dataset(p, train_images=np.full((6, 1, 8, 8), np.nan, np.float32)),
        "train_images contain values that are not finite",
    ),
}


@pytest.mark.parametrize("make, message", DATASET_CASES.values(), ids=DATASET_CASES)
def test_a_bad_digits_data_file_is_one_line_naming_it(tmp_path, make, message):
    from klomflow.datasets import load_saved_dataset

    path = tmp_path / "data.npz"
    make(path)
    with pytest.raises(ValueError) as error:
        load_saved_dataset(path)
    line = one_line_error(error)
    assert line.startswith(f"{path}: ") and message in line, line


@pytest.mark.parametrize(
    "content, message",
    [
        (np.array([1.0, 2.0]), "indices must be integers, got dtype float64"),
        (b"", "empty file"),
        (np.zeros((2, 2), int), "expected a non-empty 1-D array"),
    ],
    ids=["float", "empty", "two-dimensional"],
)
def test_a_bad_forget_set_file_is_one_line_naming_it(tmp_path, content, message):
    from klomflow.splits import load_forget_set

    path = tmp_path / "forget_set_1.npy"
    path.write_bytes(content) if isinstance(content, bytes) else np.save(path, content)
    with pytest.raises(ValueError) as error:
        load_forget_set(path, 100)
    line = one_line_error(error)
    assert line.startswith(f"{path}: ") and message in line, line


@pytest.mark.parametrize(
    "content, message",
    [
        (torch.zeros(3), "holds Tensor, expected a state dict"),
        ("nan-weights", "holds values that are not finite"),
        (b"PK\x03\x04 cut short", "not a readable checkpoint"),
    ],
    ids=["a-tensor", "nan-weights", "truncated"],
)
def test_a_bad_checkpoint_is_one_line_naming_it(tmp_path, content, message):
    from klomflow.models import build_model

    layout = EasyDUBLayout(tmp_path, "digits", "digits_cnn", 1, 1438, 359)
    path = layout.model_file(layout.checkpoint_dir(), 0, ".pt")
    path.parent.mkdir(parents=True)
    if content == "nan-weights":
        state = build_model("digits_cnn").state_dict()
        next(v for v in state.values() if v.is_floating_point()).fill_(float("nan"))
        torch.save(state, path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(ValueError) as error:
        layout.read_checkpoints([0])
    line = one_line_error(error)
    assert line.startswith(f"{path}: ") and message in line, line


# -- runs that diverge: they fail, naming the run, the setting and the epoch -------


def test_a_method_that_diverges_names_the_entry_setting_and_epoch():
    from klomflow.margins import Diverged
    from klomflow.stacking import ModelStack
    from klomflow.unlearning import UnlearningData, run_method
    from klomflow.unlearning.registry import resolve_method

    images, labels = torch.randn(30, 1, 8, 8), torch.arange(30) % 10
    splits = {"retain": (images[:20], labels[:20]), "forget": (images[20:25], labels[20:25])}
    splits["val"] = (images[25:], labels[25:])
    models = ModelStack.initialised("digits_cnn", 2, seed=0, device="cpu")
    data = UnlearningData(splits["retain"], splits["forget"], 2, seed=0)
    with pytest.raises(Diverged) as error:
        run_method(
            resolve_method("methods_for_tests:poisons"),
            models,
            data,
            splits,
            [2, 3],
            {"lr": 10.0},
            full_retrain_cost=1.0,
            entry="methods.ga",
        )
    assert one_line_error(error) == (
        "methods.ga: lr=10.0: margins not finite after epoch 2 (60 of 60 non-finite)"
    )
    assert (error.value.what, error.value.epoch) == ("methods.ga", 2)


def test_training_that_diverges_names_the_cell_and_keeps_no_resume_file(tmp_path):
    from klomflow.margins import Diverged
    from klomflow.training import TrainingRecipe, train_models

    recipe = TrainingRecipe(3, 8, 0.1, 0.9, 0.0, 1, 10.0, 10.0, False)
    images, labels = torch.randn(24, 1, 8, 8), torch.arange(24) % 10
    resume = tmp_path / "resume.pt"
    with pytest.raises(Diverged) as error:
        train_models(
            "digits_cnn",
            (images, labels),
            recipe,
            n_models=2,
            seed=0,
            grad_noise=1e38,  # float32 weights overflow at the first step
            eval_splits={"val": (images, labels)},
            resume_file=resume,
            label="retrain noise 1e+38, seed 0",
        )
    line = one_line_error(error)
    assert line.startswith("retrain noise 1e+38, seed 0: training.lr=0.1, noise=1e+38: ")
    assert "margins not finite after epoch 1 (48 of 48 non-finite)" in line
    assert not resume.exists()


def test_a_training_batch_larger_than_its_split_is_refused():
    from klomflow.training import TrainingRecipe, train_models

    recipe = TrainingRecipe(1, 64, 0.1, 0.9, 0.0, 1, 10.0, 10.0, False)
    images, labels = torch.randn(24, 1, 8, 8), torch.arange(24) % 10
    with pytest.raises(ValueError) as error:
        train_models("digits_cnn", (images, labels), recipe, n_models=2, seed=0, eval_splits={})
    assert one_line_error(error) == (
        "training.batch_size: 64 is larger than the 24 samples it batches"
    )


# -- the klomflow command: options and inputs --------------------------------------

CLI_OPTION_CASES = {
    "bins-zero": (["--bins", "0"], "klomflow score: error: argument --bins: 0 is less than 1"),
    "bins-float": (["--bins", "2.5"], "argument --bins: '2.5' is not an integer"),
    "eps-zero": (["--eps", "0"], "argument --eps: 0 is not a finite number > 0"),
    "eps-nan": (["--eps", "nan"], "argument --eps: nan is not a finite number > 0"),
    "clip-zero": (["--clip", "0"], "argument --clip: 0 is not a finite number > 0"),
    "clip-inf": (["--clip", "inf"], "argument --clip: inf is not a finite number > 0"),
    "clip-text": (["--clip", "wide"], "argument --clip: 'wide' is not a number"),
}


@pytest.fixture
def scored_before(tmp_path):
    """Two margins files and the scores of an earlier, valid run."""
    np.save(tmp_path / "a.npy", ORACLE + 1)
    np.save(tmp_path / "oracle.npy", ORACLE)
    np.save(tmp_path / "scores.npy", np.arange(50.0))
    return tmp_path


def assert_scores_untouched(directory: Path) -> None:
    np.testing.assert_array_equal(np.load(directory / "scores.npy"), np.arange(50.0))
    assert sorted(p.name for p in directory.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("options, message", CLI_OPTION_CASES.values(), ids=CLI_OPTION_CASES)
def test_a_bad_klomflow_score_option_is_one_line(scored_before, options, message):
    result = klomflow(
        "score", "a.npy", "oracle.npy", "--out", "scores.npy", *options, cwd=scored_before
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert message in line and line.startswith("klomflow score: error: "), line
    assert_scores_untouched(scored_before)


CLI_INPUT_CASES = {
    "an-npz-file": (
        lambda d: np.savez(d / "bad.npz", m=ORACLE) or (d / "bad.npz").rename(d / "bad.npy"),
        "a .npz file, expected a .npy file",
    ),
    "a-text-file": (lambda d: (d / "bad.npy").write_text("0.1 0.2\n"), "not a numpy file"),
    "empty-file": (lambda d: (d / "bad.npy").write_bytes(b""), "empty file"),
    "a-directory": (lambda d: (d / "bad.npy").mkdir(), "a directory, expected a .npy file"),
    "pickled": (
        lambda d: np.save(d / "bad.npy", np.array([{}, {}]), allow_pickle=True),
        "not a readable .npy file",
    ),
}


@pytest.mark.parametrize("make_bad, message", CLI_INPUT_CASES.values(), ids=CLI_INPUT_CASES)
def test_a_bad_klomflow_score_input_is_one_line(scored_before, make_bad, message):
    make_bad(scored_before)
    result = klomflow("score", "bad.npy", "oracle.npy", "--out", "scores.npy", cwd=scored_before)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("klomflow: error: bad.npy: ") and message in line, line
    assert_scores_untouched(scored_before)


def test_klomflow_score_counts_and_flags_degenerate_samples(tmp_path):
    unlearned = ORACLE.copy()
    unlearned[:, [4, 9]] = 500.0  # past the clip: all on the top bin edge, KLOM 0
    np.save(tmp_path / "u.npy", unlearned)
    np.save(tmp_path / "oracle.npy", ORACLE)
    result = klomflow("score", "u.npy", "oracle.npy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "n_degenerate\t2" in result.stdout.splitlines()
    assert result.stderr.startswith("warning: 2 samples score 0 only because")


# == Nothing silent, second round (issue 21) ======================================

# -- atomic writes keep the name they were given, whatever its suffix --------------


def _read_npz(path):
    with np.load(path) as data:
        return dict(data)


WRITERS = {
    "npy": (
        lambda path: files.atomic_save_npy(path, np.arange(3.0)),
        lambda path: np.testing.assert_array_equal(np.load(path), np.arange(3.0)),
    ),
    "npz": (
        lambda path: files.atomic_save_npz(path, a=np.arange(3)),
        lambda path: np.testing.assert_array_equal(_read_npz(path)["a"], np.arange(3)),
    ),
    "torch": (
        lambda path: files.atomic_torch_save(path, {"w": torch.ones(2)}),
        lambda path: torch.equal(torch.load(path, weights_only=True)["w"], torch.ones(2)),
    ),
    "text": (
        lambda path: files.atomic_write_text(path, "epoch\tklom\n"),
        lambda path: path.read_text() == "epoch\tklom\n",
    ),
}


@pytest.mark.parametrize("name", ["scores", "scores.out", "scores.npy.bak", ".hidden"])
@pytest.mark.parametrize("write, check", WRITERS.values(), ids=WRITERS)
def test_every_atomic_writer_writes_the_name_it_was_given(tmp_path, write, check, name):
    path = tmp_path / name
    path.write_text("what an earlier run left")
    write(path)
    assert check(path) is not False
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file beside it


def test_klomflow_score_out_without_a_suffix_holds_the_scores(tmp_path):
    np.save(tmp_path / "u.npy", ORACLE + 1)
    np.save(tmp_path / "o.npy", ORACLE)
    (tmp_path / "scores").write_text("what an earlier run left")
    result = klomflow("score", "u.npy", "o.npy", "--out", "scores", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    scores = np.load(tmp_path / "scores")
    assert scores.shape == (50,) and scores.max() > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.npy", "scores", "u.npy"]


# -- the klomflow command refuses what cannot be scored -----------------------------


def test_klomflow_score_refuses_more_bins_than_the_limit(scored_before):
    result = klomflow(
        "score", "a.npy", "oracle.npy", "--out", "scores.npy", "--bins", "100000000",
        cwd=scored_before,
    )  # fmt: skip
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line == (
        "klomflow score: error: argument --bins: 100000000 is more than 10000 "
        "(the most bins a KLOM histogram may have) (see klomflow score --help)"
    )
    assert_scores_untouched(scored_before)


def test_klomflow_score_refuses_one_model_per_side(scored_before):
    np.save(scored_before / "one.npy", ORACLE[:1] + 1)
    np.save(scored_before / "one_oracle.npy", ORACLE[:1])
    result = klomflow(
        "score", "one.npy", "one_oracle.npy", "--out", "scores.npy", cwd=scored_before
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line == (
        "klomflow: error: one.npy and one_oracle.npy hold margins of 1 model each; "
        "KLOM compares histograms and needs at least 2 models per side"
    )
    assert_scores_untouched(scored_before)


def test_the_most_bins_allowed_score_as_the_definition_does():
    from klomflow.klom import MAX_BINS, klom_scores, klom_scores_loop

    # More samples than one chunk holds at this many bins: chunking must not change a score.
    unlearned, oracle = ORACLE[:, :12] + 0.5, ORACLE[:, :12]
    scores = klom_scores(unlearned, oracle, bins=MAX_BINS)
    one_by_one = [klom_scores(unlearned[:, [j]], oracle[:, [j]], bins=MAX_BINS) for j in range(12)]
    np.testing.assert_array_equal(scores, np.concatenate(one_by_one))
    np.testing.assert_allclose(
        scores, klom_scores_loop(unlearned, oracle, bins=MAX_BINS), rtol=1e-12
    )
    with pytest.raises(ValueError, match=f"bins must be at most {MAX_BINS}, got {MAX_BINS + 1}"):
        klom_scores(unlearned, oracle, bins=MAX_BINS + 1)


# -- culprits named: the file, the split, the sample ---------------------------------


def test_margins_of_other_models_than_the_oracles_name_both(tmp_path):
    from klomflow.layout import LayoutFormat
    from klomflow.margins import EpochMargins
    from klomflow.scoring import score_against_oracles

    reference = LayoutFormat("digits_cnn", epoch=1, n_train=10, n_val=4)
    forget_set_file, oracle_dir = tmp_path / "forget_set_1.npy", tmp_path / "oracle"
    reference.write_forget_set(forget_set_file, np.array([2, 5]))
    sizes = {"retain": 8, "forget": 2, "val": 4}
    reference.write_oracle_margins(
        oracle_dir, {s: np.zeros((4, n), np.float32) for s, n in sizes.items()}
    )
    margins_file = tmp_path / "margins.npz"  # 2 models: from a run with another n_models
    EpochMargins({s: np.zeros((1, 2, n), np.float32) for s, n in sizes.items()}, [1], [100.0]).save(
        margins_file
    )
    with pytest.raises(ValueError) as error:
        score_against_oracles(reference, margins_file, oracle_dir, forget_set_file, n_models=4)
    assert one_line_error(error) == (
        f"{margins_file}: retain margins of 2 models on 8 samples, but the oracles in "
        f"{oracle_dir} are 4 models on 8 samples; KLOM needs both the same (n_models, n_samples)"
    )


def test_a_label_outside_the_classes_names_the_file_split_and_sample(tmp_path):
    from klomflow.datasets import load_saved_dataset

    path = tmp_path / "data.npz"
    _dataset(path, val_labels=np.array([3, 10]))
    with pytest.raises(ValueError) as error:
        load_saved_dataset(path)
    assert one_line_error(error) == (
        f"{path}: val_labels: sample 1 has label 10, outside the classes 0..9 (1 of 2 samples)"
    )


@pytest.mark.parametrize(
    "stray",
    [
        "forget_sets/cifar10/forget_set_abc.npy",
        "margins/cifar10/pretrain/retain/resnet9/id_0.npy",
        "margins/cifar10/pretrain/retain/resnet9/id_abc_epoch_23.npy",
        "models/cifar10/pretrain/resnet9/id_1b_epoch_23.pt",
    ],
    ids=["forget-set", "no-epoch", "model-number", "checkpoint"],
)
def test_a_stray_file_in_a_dataset_directory_is_named(tmp_path, capsys, stray):
    from conftest import easydub_hub_files, write_files

    layout = EasyDUBLayout(tmp_path / "easydub", "cifar10", "resnet9", 23, n_train=60, n_val=20)
    write_files(layout.root, easydub_hub_files(layout, 2, np.array([3, 7, 11, 40, 59])))
    (layout.root / stray).write_bytes(b"")
    code = cli.main(["validate-dataset", str(layout.root), "--n-train", "60", "--n-val", "20"])
    assert code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"klomflow: error: {layout.root / stray}: a stray file, not named"), line


def test_images_of_other_split_sizes_than_the_reference_name_their_file(tmp_path):
    from klomflow.datasets import load_saved_dataset
    from klomflow.layout import LayoutFormat

    path = tmp_path / "data.npz"
    _dataset(path)
    with pytest.raises(ValueError) as error:
        LayoutFormat("digits_cnn", 1, n_train=10, n_val=4).check_images(load_saved_dataset(path))
    assert one_line_error(error) == (
        f"{path}: the images have 6 train and 2 val samples, but the reference set is for 10 and 4"
    )


# -- config checks that know the code and the machine ------------------------------


def test_a_method_that_is_not_a_generator_function_is_named_by_its_entry():
    with pytest.raises(ValueError) as error:
        checked_config(
            {"methods": {"mine": {"method": "methods_for_tests:returns_models", "epochs": [1]}}}
        )
    assert one_line_error(error) == (
        "config: methods.mine.method: methods_for_tests:returns_models is not a generator "
        "function (it must yield the models after every epoch)"
    )


@pytest.mark.parametrize("revision", ["not a sha", "", "main..dev", "v1.0/", "HEAD~1"], ids=repr)
def test_a_hub_revision_that_no_ref_can_have_is_one_line(revision):
    with pytest.raises(ValueError) as error:
        checked_config({"hub": {"easydub": {"repo_id": "o/r", "revision": revision}}})
    assert one_line_error(error) == (
        f"config: hub.easydub.revision: {revision!r} is not a branch, tag or commit name "
        "(e.g. main, v1.0 or a 40-character commit; no spaces)"
    )


@pytest.mark.parametrize("revision", ["main", "v1.0", "refs/pr/1", "0123456789" * 4])
def test_branches_tags_and_commits_are_hub_revisions(revision):
    checked_config({"hub": {"easydub": {"repo_id": "o/r", "revision": revision}}})


def test_the_suggested_download_command_quotes_what_it_interpolates(tmp_path):
    import shlex

    from klomflow.hub.client import download_command

    hub = {"repo_id": "me/it's", "cache_dir": str(tmp_path / "my cache")}
    command = download_command(hub, "don't;rm", ["a b.npy", "c.npy"])
    assert command.startswith("`") and command.endswith("`")
    assert shlex.split(command.strip("`")) == [
        "hf", "download", "me/it's", "--repo-type", "dataset", "--revision", "don't;rm",
        "--cache-dir", str(tmp_path / "my cache"), "a b.npy", "c.npy",
    ]  # fmt: skip


def test_device_cuda_on_a_machine_without_cuda_is_one_line_naming_the_key(monkeypatch):
    from klomflow.config_checks import check_device
    from klomflow.devices import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError) as error:
        check_device("cuda")
    assert one_line_error(error) == (
        f"config: device: cuda, but torch {torch.__version__} finds no CUDA device on this "
        "machine; use device: auto (CUDA where there is one, else the CPU) or cpu"
    )
    # A job that gets there anyway (on a cluster node without a GPU) says the same.
    with pytest.raises(ValueError, match="^device: cuda, but torch .* finds no CUDA device"):
        resolve_device("cuda")
    check_device("auto")
    check_device("cpu")
    assert resolve_device("auto") == torch.device("cpu")
