"""What N buys: the baselines' P95 KLOM and its interval with fewer models.

For a subset size n, ``pretrain`` scores the first n pretrain models against
the first n oracles, and ``oracle_floor`` oracles ``0..n-1`` against oracles
``N..N+n-1``, exactly as :func:`klomflow.scoring.score_baselines` does with
all N (at n = N the rows are the baselines' own). How the interval narrows
as n grows says how many models a run needs for a given precision; how the
P95 itself moves says how much of it is the binning of few models.
"""

from __future__ import annotations

import numpy as np

from klomflow.scoring import FORGET_SET_COLUMNS, baseline_rows

MODEL_COUNT_COLUMNS = [
    *FORGET_SET_COLUMNS,
    "baseline",
    "split",
    "n_models",
    "klom_p95",
    "klom_p95_low",
    "klom_p95_high",
    "interval_width",
]
# The smallest subset: with fewer models per side a 20-bin histogram of one
# sample's margins says next to nothing.
SMALLEST_SUBSET = 4


def subset_sizes(n_models: int) -> list[int]:
    """The subset sizes n scored for N models: 4, 8, 16, ... (doubling) below N, then N.

    E.g. N = 100: 4, 8, 16, 32, 64, 100; N = 16: 4, 8, 16. An N below 4 is
    scored at N alone.
    """
    sizes = []
    n = SMALLEST_SUBSET
    while n < n_models:
        sizes.append(n)
        n *= 2
    return [*sizes, n_models]


def model_count_rows(
    pretrain: dict[str, np.ndarray],
    oracles: dict[str, np.ndarray],
    n_models: int,
    sizes: list[int] | None = None,
    n_threads: int | None = None,
) -> list[dict]:
    """One row per (n, split, baseline): the P95 of the first n models and its interval.

    ``pretrain[split]`` is ``(N, n_samples)``, ``oracles[split]`` ``(2N,
    n_samples)``, as :func:`klomflow.scoring.read_baseline_margins` reads them; ``sizes`` defaults to :func:`subset_sizes`. Each row carries
    its P95's bootstrap replicates under ``"p95_replicates"``, as every KLOM
    table's rows do.
    """
    rows = []
    for n in sizes or subset_sizes(n_models):
        for row in baseline_rows(pretrain, oracles, n_models, n, n_threads=n_threads):
            rows.append({**row, "interval_width": row["klom_p95_high"] - row["klom_p95_low"]})
    return rows
