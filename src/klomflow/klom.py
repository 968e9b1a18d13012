"""KLOM: the KL divergence of margins between unlearned and oracle models.

For one sample, the margins of the unlearned models and of the oracle models
(one value per model) are binned on a shared histogram and compared with
``KL(unlearned || oracle)``. docs/klom.md fixes every detail, quirks included;
:func:`klom_scores_reference` is that definition written one sample at a time,
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

# Samples scored together: small enough for the (n_models, chunk) temporaries
# to stay in cache, large enough to amortise numpy's per-call overhead. With
# more bins, fewer samples, so that the (chunk, bins) histograms stay as small.
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


def klom_scores_reference(unlearned, oracle, *, bins=BINS, clip=CLIP, eps=EPS) -> np.ndarray:
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
    bins_of = _Binning(_bin_edges(lo, hi, bins + 1))
    p_probs = bins_of.probabilities(p)
    q_probs = bins_of.probabilities(q)
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


class _Binning:
    """Histograms of many columns at once, each column with its own edges.

    A value's bin is ``numpy.digitize(value, edges)``: the number of edges <=
    value. Bins 1..bins are counted; a value equal to the last edge has index
    bins + 1 and falls in no bin, as in the reference.

    Edges are evenly spaced, so arithmetic finds a value's bin; it can only
    disagree with the real (rounded) edges for a value within ``margin`` (in
    bins) of an edge. Those few values are checked against the edges
    themselves and moved until ``lower <= value < upper`` holds exactly.
    """

    def __init__(self, edges: np.ndarray):
        """``edges``: ``(n_cols, bins + 1)``, each row non-decreasing."""
        n_cols, n_edges = edges.shape
        self.bins = n_edges - 1
        self.lo = edges[:, 0]
        with np.errstate(all="ignore"):
            self.scale = self.bins / (edges[:, -1] - self.lo)  # bins per unit, edges' dtype
        self.margin = _rounding_margin(edges)
        self.scale[~np.isfinite(self.margin)] = 0  # such columns are checked value by value
        # Row j of `padded` is edges[j] with -inf and +inf at the ends, so that
        # padded[j, i] is edges[j, i - 1] and every index 0..n_edges has both
        # bounds; bounds[k] is (padded.flat[k], padded.flat[k + 1]).
        self.width = n_edges + 2
        padded = np.empty((n_cols, self.width), dtype=edges.dtype)
        padded[:, 0], padded[:, -1], padded[:, 1:-1] = -np.inf, np.inf, edges
        self.bounds = np.lib.stride_tricks.sliding_window_view(padded.ravel(), 2)
        self.row_start = np.arange(n_cols) * self.width

    def probabilities(self, values: np.ndarray) -> np.ndarray:
        """Bin probabilities ``(n_cols, bins)`` of ``values`` ``(n_models, n_cols)``."""
        n_cols = values.shape[1]
        counts = np.bincount(self._positions(values), minlength=n_cols * self.width)
        counts = counts.reshape(n_cols, self.width)[:, 1 : self.bins + 1]
        totals = counts.sum(axis=1, keepdims=True)
        return np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)

    def _positions(self, values: np.ndarray) -> np.ndarray:
        """Flat index into ``padded`` of each value's bin: row start + digitize index."""
        with np.errstate(all="ignore"):
            x = values - self.lo  # in [0, bins] after scaling: lo, hi are the column's extremes
            x *= self.scale
        index = np.floor(x)
        near_edge = np.subtract(x, index, out=x)  # position within the bin, 0..1
        near_edge = (near_edge <= self.margin) | (near_edge >= 1 - self.margin)
        np.minimum(index, self.bins, out=index)
        position = index.astype(np.intp)
        position += 1 + self.row_start
        position = position.ravel()
        flat_values = values.ravel()
        todo = np.flatnonzero(near_edge)
        while todo.size:
            v, around = flat_values[todo], self.bounds[position[todo]]
            move = (around[:, 1] <= v).astype(np.intp) - (around[:, 0] > v)
            position[todo] += move
            todo = todo[move != 0]
        return position


def _rounding_margin(edges: np.ndarray) -> np.ndarray:
    """Per column, how far (in bins) arithmetic binning may stray from ``edges``.

    The edges' own distance from perfectly even spacing, plus a bound on the
    rounding of ``(value - lo) * scale`` in the edges' dtype, doubled for
    safety; infinite where the range is too small for arithmetic at all.
    """
    exact = edges.astype(np.float64)
    bins = edges.shape[1] - 1
    with np.errstate(all="ignore"):
        width = (exact[:, -1] - exact[:, 0]) / bins
        even = exact[:, :1] + np.arange(bins + 1) * width[:, None]
        deviation = np.max(np.abs(exact - even), axis=1) / width
        magnitude = np.maximum(np.abs(exact[:, 0]), np.abs(exact[:, -1]))
        rounding = (8 * bins + 2 * magnitude / width) * np.finfo(edges.dtype).eps
        margin = 2 * (deviation + rounding)
    return np.where(np.isfinite(margin) & (margin < 0.5), margin, np.inf)
