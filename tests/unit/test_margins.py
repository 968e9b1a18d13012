"""Margins from logits (docs/klom.md)."""

import math

import numpy as np
import pytest
import torch

from klomflow import margins_from_logits
from klomflow.margins import EpochMargins


def test_margin_is_true_logit_minus_logsumexp_of_the_others():
    logits = torch.tensor([[2.0, 0.0, 0.0], [1.0, 3.0, -1.0]])
    margins = margins_from_logits(logits, torch.tensor([0, 2]))
    expected = [2.0 - math.log(2.0), -1.0 - math.log(math.exp(1.0) + math.exp(3.0))]
    np.testing.assert_allclose(margins.numpy(), expected, rtol=1e-6)


def test_margins_are_float32_even_from_bf16_logits():
    logits = torch.randn(5, 10).to(torch.bfloat16)
    margins = margins_from_logits(logits, torch.arange(5))
    assert margins.dtype == torch.float32
    expected = margins_from_logits(logits.float(), torch.arange(5))
    assert torch.equal(margins, expected)


def test_leading_model_dimension_and_numpy_round_trip():
    logits = np.random.default_rng(0).normal(size=(4, 6, 3)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2])
    margins = margins_from_logits(logits, labels)
    assert isinstance(margins, np.ndarray) and margins.shape == (4, 6)
    assert margins.dtype == np.float32
    np.testing.assert_allclose(margins[2], margins_from_logits(logits[2], labels))


def test_labels_must_match_and_lie_in_range():
    with pytest.raises(ValueError, match="3 samples but there are 2 labels"):
        margins_from_logits(torch.zeros(3, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="labels must lie in 0..3"):
        margins_from_logits(torch.zeros(2, 4), torch.tensor([0, 4]))


def test_epoch_margins_file_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    margins = {
        s: rng.normal(size=(2, 3, n)).astype(np.float32)
        for s, n in [("retain", 7), ("forget", 2), ("val", 4)]
    }
    EpochMargins(margins, [1, 3], [10.0, 30.0]).save(tmp_path / "margins.npz")
    loaded = EpochMargins.load(tmp_path / "margins.npz")
    assert loaded.epochs == [1, 3] and loaded.compute_pct == [10.0, 30.0]
    for split, array in margins.items():
        np.testing.assert_array_equal(loaded.margins[split], array)


def test_epoch_margins_file_without_a_split_is_an_error(tmp_path):
    np.savez(tmp_path / "margins.npz", retain=np.zeros((1, 1, 1)))
    with pytest.raises(ValueError, match="margins.npz: no forget, val, epochs, compute_pct"):
        EpochMargins.load(tmp_path / "margins.npz")


def test_a_diverged_run_is_saved_and_loaded_as_its_record(tmp_path):
    from klomflow.margins import Diverged

    error = Diverged("methods.ga", "lr=1000000.0", 1, 60, 60)
    EpochMargins.of_diverged(error, [3, 1]).save(tmp_path / "margins.npz")
    loaded = EpochMargins.load(tmp_path / "margins.npz")
    assert loaded.diverged == error.message
    assert loaded.epochs == [1, 3]
    assert loaded.margins == {} and loaded.compute_pct == []
