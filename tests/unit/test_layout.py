"""The EasyDUB layout (docs/sources.md): what the writer writes, the reader reads back, aligned."""

import numpy as np
import pytest
import torch

from klomflow.layout import EasyDUBLayout
from klomflow.models import build_model

N_TRAIN, N_VAL = 30, 8
FORGET = np.array([4, 17, 2])


@pytest.fixture
def layout(tmp_path):
    layout = EasyDUBLayout(tmp_path, "toy", "digits_cnn", epoch=3, n_train=N_TRAIN, n_val=N_VAL)
    layout.write_forget_set(1, FORGET)
    return layout


def margins(n_models, n_samples, offset=0.0):
    return np.arange(n_models * n_samples, dtype=np.float32).reshape(n_models, n_samples) + offset


def test_files_are_named_as_in_easydub(layout, tmp_path):
    layout.write_margins(layout.pretrain_dir("val"), margins(2, N_VAL))
    assert (tmp_path / "forget_sets/toy/forget_set_1.npy").is_file()
    assert (tmp_path / "margins/toy/pretrain/val/digits_cnn/id_1_epoch_3.npy").is_file()
    assert (
        layout.oracle_dir(1, "retain") == tmp_path / "margins/toy/oracle/forget_1/retain/digits_cnn"
    )


def test_pretrain_retain_drops_the_forget_set(layout):
    all_train = margins(2, N_TRAIN)
    layout.write_margins(layout.pretrain_dir("retain"), all_train)
    retain = layout.pretrain_margins("retain", 1, range(2))
    keep = np.setdiff1d(np.arange(N_TRAIN), FORGET)
    np.testing.assert_array_equal(retain, all_train[:, keep])


def test_pretrain_forget_margins_follow_the_forget_set_order(layout):
    all_train = margins(2, N_TRAIN)
    layout.write_margins(layout.pretrain_dir("retain"), all_train)
    layout.format.write_pretrain_forget_margins(
        layout.pretrain_dir("retain"),
        layout.forget_set_file(1),
        layout.pretrain_dir("forget_1"),
        n_models=2,
    )
    np.testing.assert_array_equal(
        layout.pretrain_margins("forget", 1, range(2)), all_train[:, FORGET]
    )


def test_oracle_round_trip_with_model_offset(layout):
    first, second = margins(2, N_VAL), margins(2, N_VAL, offset=100)
    layout.write_margins(layout.oracle_dir(1, "val"), first)
    layout.write_margins(layout.oracle_dir(1, "val"), second, first_model=2)
    np.testing.assert_array_equal(layout.oracle_margins(1, "val", range(2, 4)), second)
    assert layout.oracle_margins(1, "val", range(4)).dtype == np.float32


def test_oracle_retain_covering_the_whole_train_split_is_aligned_too(layout):
    all_train = margins(1, N_TRAIN)
    layout.write_margins(layout.oracle_dir(1, "retain"), all_train)
    assert layout.oracle_margins(1, "retain", [0]).shape == (1, N_TRAIN - len(FORGET))


def test_checkpoints_round_trip(layout):
    model = build_model("digits_cnn")
    wrapped = {f"model.{k}": v for k, v in model.state_dict().items()}
    layout.write_checkpoints([model.state_dict(), wrapped])
    for state in layout.read_checkpoints(range(2)):
        build_model("digits_cnn").load_state_dict(state, strict=True)
        assert torch.equal(state["0.0.weight"], model.state_dict()["0.0.weight"])


def test_missing_margins_file_is_named(layout):
    with pytest.raises(FileNotFoundError, match="val/digits_cnn/id_0_epoch_3.npy: file missing"):
        layout.pretrain_margins("val", 1, range(1))


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros(N_VAL + 1, dtype=np.float32), r"shape \(9,\), expected \(8,\)"),
        (np.zeros((2, N_VAL), dtype=np.float32), "shape"),
        (np.zeros(N_VAL, dtype=np.int64), "dtype int64"),
        (np.array([np.nan] + [0.0] * (N_VAL - 1), dtype=np.float32), "contain nan"),
        (np.array([np.inf] + [0.0] * (N_VAL - 1), dtype=np.float32), "contain inf"),
    ],
)
def test_malformed_margins_files_are_named(layout, array, message):
    path = layout.model_file(layout.pretrain_dir("val"), 0)
    path.parent.mkdir(parents=True)
    np.save(path, array)
    with pytest.raises(ValueError, match=f"id_0_epoch_3.npy: .*{message}"):
        layout.pretrain_margins("val", 1, [0])


def test_truncated_margins_file_is_named(layout):
    path = layout.model_file(layout.pretrain_dir("val"), 0)
    path.parent.mkdir(parents=True)
    np.save(path, np.zeros(N_VAL, dtype=np.float32))
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ValueError, match="id_0_epoch_3.npy: not a readable .npy file"):
        layout.pretrain_margins("val", 1, [0])


def test_models_of_different_lengths_are_an_error(layout):
    directory = layout.oracle_dir(1, "retain")
    layout.write_margins(directory, margins(1, N_TRAIN))
    layout.write_margins(directory, margins(1, N_TRAIN - len(FORGET)), first_model=1)
    with pytest.raises(ValueError, match="id_1_epoch_3.npy: 27 margins, but model 0 has 30"):
        layout.oracle_margins(1, "retain", range(2))


def test_bad_forget_set_file_is_named(layout):
    np.save(layout.forget_set_file(2), np.array([1, 1]))
    with pytest.raises(ValueError, match="forget_set_2.npy: index 1 appears more than once"):
        layout.read_forget_set(2)
