"""What N buys: the baselines' P95 and interval for the first n of the N models."""

import numpy as np
import pytest

from klomflow.layout import LayoutFormat
from klomflow.model_counts import model_count_rows, subset_sizes
from klomflow.plotting import KLOM_CEILING
from klomflow.scoring import read_baseline_margins, score_baselines
from klomflow.splits import SPLITS

N = 16
N_TRAIN, N_VAL = 120, 40
FORGET_SET = np.arange(0, N_TRAIN, 6)  # 20 samples


def margins(rng, n_models, n_samples, shift=0.0):
    """Per-sample normal margins with a per-sample mean, as real models give."""
    centres = np.linspace(1.0, 4.0, n_samples) + shift
    return centres + rng.standard_normal((n_models, n_samples))


@pytest.fixture(scope="module")
def reference_set(tmp_path_factory):
    """A reference set on disk in the EasyDUB layout: N pretrain models, 2N oracles."""
    root = tmp_path_factory.mktemp("reference")
    rng = np.random.default_rng(1)
    reference = LayoutFormat(model="tiny", epoch=0, n_train=N_TRAIN, n_val=N_VAL)
    reference.write_forget_set(root / "forget_set.npy", FORGET_SET)
    n_retain = N_TRAIN - len(FORGET_SET)
    pretrain_train = margins(rng, N, N_TRAIN)
    pretrain_train[:, FORGET_SET] += 2.0  # memorised: the forget set sits higher
    dirs = {
        "retain": root / "pretrain/retain",
        "forget": root / "pretrain/forget",
        "val": root / "pretrain/val",
    }
    reference.write_margins(dirs["retain"], pretrain_train)
    reference.write_margins(dirs["forget"], pretrain_train[:, FORGET_SET])
    reference.write_margins(dirs["val"], margins(rng, N, N_VAL))
    oracle_dir = root / "oracle"
    reference.write_oracle_margins(
        oracle_dir,
        {
            "retain": margins(rng, 2 * N, n_retain),
            "forget": margins(rng, 2 * N, len(FORGET_SET)),
            "val": margins(rng, 2 * N, N_VAL),
        },
    )
    return reference, dirs, oracle_dir, root / "forget_set.npy"


@pytest.fixture(scope="module")
def model_counts(reference_set):
    return model_count_rows(*read_baseline_margins(*reference_set, N), N)


def test_the_subset_sizes_double_from_4_and_end_at_n():
    assert subset_sizes(100) == [4, 8, 16, 32, 64, 100]
    assert subset_sizes(16) == [4, 8, 16]
    assert subset_sizes(10) == [4, 8, 10]
    assert subset_sizes(3) == [3]


def test_every_split_baseline_and_size_has_a_row(model_counts):
    keys = [(r["split"], r["baseline"], r["n_models"]) for r in model_counts]
    expected = [(s, b, n) for s in SPLITS for n in (4, 8, 16) for b in ("pretrain", "oracle_floor")]
    assert sorted(keys) == sorted(expected)


def test_with_all_n_models_the_rows_are_the_baselines_own(reference_set, model_counts):
    baselines = {(r["split"], r["baseline"]): r for r in score_baselines(*reference_set, N)}
    for row in (r for r in model_counts if r["n_models"] == N):
        baseline = baselines[(row["split"], row["baseline"])]
        for column in ("klom_p95", "klom_p95_low", "klom_p95_high"):
            assert row[column] == baseline[column], (row["split"], row["baseline"], column)
        assert row["interval_width"] == pytest.approx(row["klom_p95_high"] - row["klom_p95_low"])
        np.testing.assert_array_equal(row["p95_replicates"], baseline["p95_replicates"])


@pytest.fixture(scope="module")
def larger_set_rows():
    """A larger synthetic set (400 samples, so the P95 is steady), pretrain a little off."""
    rng = np.random.default_rng(2)
    n_models, n_samples = 64, 400
    pretrain = {s: margins(rng, n_models, n_samples, shift=0.5) for s in SPLITS}
    oracles = {s: margins(rng, 2 * n_models, n_samples) for s in SPLITS}
    return model_count_rows(pretrain, oracles, n_models, sizes=[4, 16, 32, 64])


def by_size(rows, split, baseline, column):
    return {
        r["n_models"]: r[column] for r in rows if r["split"] == split and r["baseline"] == baseline
    }


def test_the_interval_narrows_as_n_grows(larger_set_rows):
    for split in SPLITS:
        for baseline in ("pretrain", "oracle_floor"):
            width = by_size(larger_set_rows, split, baseline, "interval_width")
            assert width[16] > width[32] > width[64], (split, baseline, width)


def test_with_few_models_even_the_floor_sits_near_the_ceiling(larger_set_rows):
    """Four margins in 20 bins rarely share a bin with four others: KLOM saturates.

    So at small n the interval is narrow for the wrong reason, and only the
    P95 falling with n tells the reader that N was too small.
    """
    for split in SPLITS:
        p95 = by_size(larger_set_rows, split, "oracle_floor", "klom_p95")
        assert p95[4] > 0.9 * KLOM_CEILING
        assert p95[4] > p95[16] > p95[32] > p95[64]
