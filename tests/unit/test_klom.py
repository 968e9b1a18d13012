"""KLOM (docs/klom.md): the vectorised scores equal the one-sample-at-a-time definition."""

import math

import numpy as np
import pytest

from klomflow import degenerate_samples, klom_scores, klom_scores_loop, summarize_klom


def assert_matches_reference(p, q, **kwargs):
    fast = klom_scores(p, q, **kwargs)
    slow = klom_scores_loop(p, q, **kwargs)
    assert fast.shape == (p.shape[1],)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)
    return fast


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(3))
def test_matches_reference_on_random_margins(dtype, seed):
    rng = np.random.default_rng(seed)
    n_models, n_samples = 50, 3000
    scale = rng.uniform(0.01, 80, size=n_samples)
    p = (rng.normal(size=(n_models, n_samples)) * scale).astype(dtype)
    q = (rng.normal(1.0, 2.0, size=(n_models, n_samples)) * scale).astype(dtype)
    assert_matches_reference(p, q)


def test_matches_reference_on_adversarial_columns():
    rng = np.random.default_rng(7)
    p = rng.normal(size=(40, 12)).astype(np.float32)
    q = rng.normal(size=(40, 12)).astype(np.float32)
    p[:, 0] = q[:, 0] = 3.0  # constant column: lo == hi
    p[:, 1], q[:, 1] = 250.0, -400.0  # beyond the clip on both sides
    p[:, 2], q[:, 2] = 3e38, -3e38  # far beyond the clip, still finite (inf is refused)
    p[:, 3], q[:, 3] = np.round(p[:, 3]), np.round(q[:, 3])  # heavy ties
    p[:20, 4], p[20:, 4], q[:, 4] = 0.0, 1e-45, 0.0  # range of one subnormal: edges coincide
    p[:, 5] = np.linspace(-1, 1, 40)  # values exactly on the edges
    q[:, 5] = np.linspace(-1, 1, 40)[::-1]
    p[:, 6], q[:, 6] = 100.0, 99.99999  # clipped max on the last edge
    p[:, 7] = q[:, 7] = np.arange(40)  # identical columns
    q[:, 8] = 5.0  # oracle constant, unlearned spread
    p[:, 9] = -100.0  # unlearned at the lower clip
    p[:, 10], q[:, 10] = 1e30, 1e30  # both clipped to the same value
    p[:, 11], q[:, 11] = 0.0, 1.0  # disjoint: every q on the last edge
    assert_matches_reference(p, q)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_reference_when_every_margin_sits_on_a_bin_edge(dtype):
    # Columns whose values are the bin edges themselves, over ranges from
    # 1e-6 (edges a few ulps apart in float32) to 100 wide.
    rng = np.random.default_rng(5)
    n_models, n_samples = 40, 400
    p = np.empty((n_models, n_samples), dtype=dtype)
    q = np.empty_like(p)
    for j in range(n_samples):
        lo = dtype(rng.uniform(-60, 60))
        hi = dtype(lo + 10 ** rng.uniform(-6, 2))
        edges = np.linspace(lo, hi, 21)
        p[:, j] = rng.choice(edges, n_models)
        q[:, j] = rng.choice(edges, n_models)
        p[0, j], q[0, j] = lo, hi  # pin the pooled range to these edges
    assert_matches_reference(p, q)


def test_matches_reference_with_other_bins_clip_and_eps():
    rng = np.random.default_rng(3)
    p = rng.normal(size=(30, 500))
    q = rng.normal(0.5, size=(30, 500))
    assert_matches_reference(p, q, bins=7, clip=1.5, eps=1e-3)


def test_many_samples_span_several_chunks():
    rng = np.random.default_rng(11)
    p = rng.normal(size=(8, 9000)).astype(np.float32)
    q = rng.normal(size=(8, 9000)).astype(np.float32)
    np.testing.assert_allclose(
        klom_scores(p, q, n_threads=3), klom_scores_loop(p, q), rtol=0, atol=1e-12
    )


def test_value_on_the_last_edge_falls_in_no_bin():
    # Pooled range 0..1. Unlearned: 0 -> bin 1, 0.5 -> bin 11, 1 -> the last
    # edge, dropped. Oracle: 0, 0 -> bin 1, 1 dropped.
    p = np.array([[0.0], [0.5], [1.0]])
    q = np.array([[0.0], [0.0], [1.0]])
    expected = 0.5 * math.log(0.5 / 1.0) + 0.5 * math.log(0.5 / 1e-5)
    assert klom_scores(p, q)[0] == pytest.approx(expected, abs=1e-12)


def test_oracle_mass_only_on_the_last_edge_scores_against_eps():
    p = np.zeros((4, 1))
    q = np.ones((4, 1))  # every oracle value is the maximum, so none is counted
    assert klom_scores(p, q)[0] == pytest.approx(math.log(1 / 1e-5), abs=1e-12)


def test_identical_margins_score_zero():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(20, 100))
    assert np.all(klom_scores(p, p.copy()) == 0)


@pytest.mark.parametrize(
    "p, q, message",
    [
        (np.zeros((3, 4)), np.zeros((3, 5)), "differ in shape"),
        (np.zeros((3, 4)), np.zeros((2, 4)), "differ in shape"),
        (np.zeros(4), np.zeros(4), "must be 2-D"),
        (np.zeros((3, 0)), np.zeros((3, 0)), "empty"),
        (np.full((2, 2), np.nan), np.zeros((2, 2)), "unlearned margins contain nan"),
        (np.zeros((2, 2)), np.full((2, 2), np.inf), r"oracle margins contain inf \(model 0"),
    ],
)
def test_rejects_unusable_margins(p, q, message):
    with pytest.raises(ValueError, match=message):
        klom_scores(p, q)


def test_summary_is_mean_and_linear_percentiles():
    scores = np.arange(101, dtype=float)
    assert summarize_klom(scores) == {"klom_mean": 50.0, "klom_p95": 95.0, "klom_p05": 5.0}
    assert summarize_klom(np.array([0.0, 1.0]))["klom_p95"] == pytest.approx(0.95)


def test_degenerate_samples_are_those_whose_unlearned_mass_the_binning_drops():
    rng = np.random.default_rng(3)
    p = rng.normal(size=(10, 400))
    q = rng.normal(size=(10, 400))
    p[:, :50] = q[:, :50].max(axis=0) + rng.uniform(0, 1, 50)  # every unlearned value on top...
    p[:, 50:100] = 150.0  # ...or past the clip: the same value after clipping
    p[0, 100:120] = 200.0  # one model on top, the others below: counted
    p[:, 120:130] = q[:, 120:130] = 7.0  # a constant column lands in bin 1
    for j in range(50):
        p[:, j] = p[0, j]
    clipped_p, clipped_q = np.clip(p, -100, 100), np.clip(q, -100, 100)
    by_definition = []
    for j in range(p.shape[1]):
        lo = min(clipped_p[:, j].min(), clipped_q[:, j].min())
        hi = max(clipped_p[:, j].max(), clipped_q[:, j].max())
        edges = np.linspace(lo, hi if lo < hi else lo + 1, 21)
        counted = np.isin(np.digitize(clipped_p[:, j], edges), np.arange(1, 21))
        by_definition.append(not counted.any())
    degenerate = degenerate_samples(p, q)
    np.testing.assert_array_equal(degenerate, by_definition)
    assert degenerate.sum() == 100
    assert np.all(klom_scores(p, q)[degenerate] == 0)


@pytest.mark.parametrize(
    "option, message",
    [
        ({"bins": 0}, "bins must be an integer >= 1"),
        ({"bins": 2.5}, "bins must be an integer >= 1"),
        ({"clip": 0.0}, "clip must be a finite number > 0"),
        ({"eps": 0.0}, "eps must be a finite number > 0"),
        ({"eps": np.inf}, "eps must be a finite number > 0"),
    ],
)
def test_rejects_options_that_would_give_inf_or_zeros(option, message):
    p = np.zeros((3, 4))
    with pytest.raises(ValueError, match=message):
        klom_scores(p, p, **option)
