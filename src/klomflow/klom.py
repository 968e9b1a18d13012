"""KLOM: the KL divergence of margins between unlearned and oracle models.

For one sample, the margins of the unlearned models and of the oracle models
(one value per model) are binned on a shared histogram and compared with
``KL(unlearned || oracle)``. docs/klom.md fixes every detail, quirks included;
:func:`klom_scores_loop` is that definition written one sample at a time,
and :func:`klom_scores` computes the same numbers for all samples at once.

Both take margins of shape ``(n_models, n_samples)``; the score of sample ``j``
compares column ``j`` of ``unlearned`` with column ``j`` of ``oracle``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from klomflow.margins import check_margins

BINS = 20
CLIP = 100.0
EPS = 1e-5
# The most bins a histogram may have. N models per side fill at most 2N bins
# (EasyDUB: N = 100); far beyond that a score only counts empty bins, and a
# careless 10^8 would ask for gigabytes per sample.
MAX_BINS = 10_000

# Samples scored together: few enough for the (n_models, chunk, bins + 1)
# comparisons with the edges to stay a few MB, enough to amortise numpy's
# per-call overhead (512 to 4096 time the same). With more bins, fewer samples.
_CHUNK_SAMPLES = 2048
_CHUNK_CELLS = _CHUNK_SAMPLES * (BINS + 3)


def klom_scores(
    unlearned: np.ndarray,
    oracle: np.ndarray,
    *,
    bins: int = BINS,
    clip: float = CLIP,
    eps: float = EPS,
    n_threads: int | None = None,
) -> np.ndarray:
    """Per-sample KLOM of ``unlearned`` against ``oracle`` margins.

    Args:
        unlearned: margins of the unlearned models, ``(n_models, n_samples)``.
        oracle: margins of the oracle models, the same shape.
        bins: histogram bins per sample.
        clip: margins are clipped to ``[-clip, clip]`` before binning.
        eps: floor for oracle bin probabilities where unlearned has mass.
        n_threads: threads scoring chunks of samples (numpy releases the GIL);
            default: all CPUs.

    Returns:
        ``(n_samples,)`` float64, lower is better (0 = same histogram).

    Both inputs are cast to their common floating dtype (float32 margins stay
    float32), because the reference bins in that dtype and a bin edge computed
    in float64 can land on the other side of a margin.
    """
    _check_options(bins, clip, eps)
    p, q = _as_margin_pair(unlearned, oracle)
    size = max(1, min(_CHUNK_SAMPLES, _CHUNK_CELLS // (bins + 3)))
    chunks = [slice(s, s + size) for s in range(0, p.shape[1], size)]
    with ThreadPoolExecutor(max_workers=n_threads or os.cpu_count()) as pool:
        scored = pool.map(lambda c: _klom_columns(p[:, c], q[:, c], bins, clip, eps), chunks)
        return np.concatenate(list(scored))


def klom_scores_loop(unlearned, oracle, *, bins=BINS, clip=CLIP, eps=EPS) -> np.ndarray:
    """The docs/klom.md definition, one sample at a time (slow; for tests and benchmarks).

    Arguments and result as :func:`klom_scores`, which must agree with it.
    """
    _check_options(bins, clip, eps)
    p, q = _as_margin_pair(unlearned, oracle)
    return np.array(
        [_klom_one_sample(p[:, j], q[:, j], bins, clip, eps) for j in range(p.shape[1])],
        dtype=np.float64,
    )


def degenerate_samples(unlearned: np.ndarray, oracle: np.ndarray, *, clip: float = CLIP):
    """Which samples are degenerate: ``(n_samples,)`` bool.

    A sample is degenerate when every unlearned margin, clipped, equals the
    pooled maximum of its column while the column is not constant: all
    unlearned values sit on the last bin edge, the binning drops them (the
    top-edge quirk of docs/klom.md) and KLOM is 0, a "perfect" score for the
    worst case. The score keeps the reference semantics; the count is reported beside it.
    """
    _check_options(BINS, clip, EPS)
    p, q = _as_margin_pair(unlearned, oracle)
    p = np.clip(p, -clip, clip)
    q = np.clip(q, -clip, clip)
    lo = np.minimum(p.min(axis=0), q.min(axis=0))
    hi = np.maximum(p.max(axis=0), q.max(axis=0))
    # A constant column gets hi = lo + 1, so its values are counted in bin 1.
    return (p.min(axis=0) == hi) & (lo < hi)


def summarize_klom(scores: np.ndarray) -> dict[str, float]:
    """Mean, 95th and 5th percentile of per-sample KLOM scores.

    The 95th percentile is a split's headline figure (docs/klom.md).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(f"KLOM scores must be a non-empty 1-D array, got shape {scores.shape}")
    return {
        "klom_mean": float(np.mean(scores)),
        "klom_p95": float(np.percentile(scores, 95)),
        "klom_p05": float(np.percentile(scores, 5)),
    }


def _as_margin_pair(unlearned, oracle) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(unlearned)
    q = np.asarray(oracle)
    if p.ndim != 2 or q.ndim != 2:
        raise ValueError(
            f"margins must be 2-D (n_models, n_samples); got unlearned {p.shape}, oracle {q.shape}"
        )
    if p.shape != q.shape:
        raise ValueError(
            f"unlearned and oracle margins differ in shape: {p.shape} vs {q.shape} "
            "(n_models, n_samples)"
        )
    if p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"margins are empty: shape {p.shape} (n_models, n_samples)")
    dtype = np.result_type(p.dtype, q.dtype, np.float32)
    p, q = p.astype(dtype, copy=False), q.astype(dtype, copy=False)
    for name, m in (("unlearned", p), ("oracle", q)):
        # inf would pass the clip as a "perfect" +-100 and NaN breaks the binning.
        check_margins(m, f"{name} margins")
    return p, q


def _check_options(bins, clip, eps) -> None:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be an integer >= 1, got {bins!r}")
    if bins > MAX_BINS:
        raise ValueError(f"bins must be at most {MAX_BINS}, got {bins}")
    for name, value in (("clip", clip), ("eps", eps)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _klom_one_sample(p, q, bins, clip, eps) -> float:
    p = np.clip(p, -clip, clip)
    q = np.clip(q, -clip, clip)
    lo = min(p.min(), q.min())
    hi = max(p.max(), q.max())
    if lo >= hi:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    p_index = np.digitize(p, edges)
    q_index = np.digitize(q, edges)
    p_counts = np.array([np.sum(p_index == i) for i in range(1, bins + 1)])
    q_counts = np.array([np.sum(q_index == i) for i in range(1, bins + 1)])
    p_probs = p_counts / p_counts.sum() if p_counts.sum() > 0 else np.zeros(bins)
    q_probs = q_counts / q_counts.sum() if q_counts.sum() > 0 else np.zeros(bins)
    q_safe = np.where(p_probs > 0, np.maximum(q_probs, eps), q_probs)
    mask = p_probs > 0
    return float(np.sum(p_probs[mask] * np.log(p_probs[mask] / q_safe[mask])))


def _klom_columns(p, q, bins, clip, eps) -> np.ndarray:
    p = np.clip(p, -clip, clip)
    q = np.clip(q, -clip, clip)
    lo = np.minimum(p.min(axis=0), q.min(axis=0))
    hi = np.maximum(p.max(axis=0), q.max(axis=0))
    hi = np.where(lo >= hi, lo + 1.0, hi)
    edges = _bin_edges(lo, hi, bins + 1)
    p_probs = _bin_probabilities(p, edges)
    q_probs = _bin_probabilities(q, edges)
    has_mass = p_probs > 0
    q_safe = np.where(has_mass, np.maximum(q_probs, eps), q_probs)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(has_mass, p_probs * np.log(p_probs / q_safe), 0.0)
    return terms.sum(axis=1)


def _bin_edges(lo: np.ndarray, hi: np.ndarray, n_edges: int) -> np.ndarray:
    """``np.linspace(lo[j], hi[j], n_edges)`` for every column j, bit for bit.

    np.linspace accepts array endpoints, but if the step underflows to zero in
    any one column it switches every column to another formula; calling it
    separately for those columns keeps each column equal to the scalar call.
    """
    step_is_zero = (hi - lo) / (n_edges - 1) == 0
    edges = np.empty((lo.size, n_edges), dtype=np.result_type(lo, hi, float(n_edges)))
    for columns in (step_is_zero, ~step_is_zero):
        if columns.any():
            edges[columns] = np.linspace(lo[columns], hi[columns], n_edges, axis=1)
    return edges


def _bin_probabilities(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin probabilities ``(n_cols, bins)`` of ``values`` ``(n_models, n_cols)``; column j has ``edges[j]``.

    A value's bin is the reference's ``numpy.digitize(value, edges)``: the
    number of edges <= value. Bin i holds ``edges[i-1] <= value < edges[i]``,
    so its count is how many values reach its lower edge less how many reach
    its upper one; a value equal to the last edge falls in no bin. Comparing
    with the edges themselves, not computing a bin from evenly spaced edges,
    makes that exact however the edges were rounded (and costs about twice
    the time: ``bench/klom_speed.py``).
    """
    at_least = np.count_nonzero(values[:, :, None] >= edges, axis=0)  # (n_cols, bins + 1)
    counts = at_least[:, :-1] - at_least[:, 1:]
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
