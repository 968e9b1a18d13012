"""How sure a P95 KLOM is: intervals from a smoothed bootstrap over models.

What an interval covers. A split's P95 KLOM depends on which N unlearned and
which N oracle models happened to be trained: rerun the whole experiment
(fresh models, the same forget set and samples) and it moves. The interval
covers the P95 that such reruns give on average, so it answers "would another
run of this experiment say the same?". It says nothing about other forget sets
or other samples.

Why not the obvious bootstrap. Resampling models with replacement repeats
margins; repeated values pile into the same bins, sharpen both histograms and
inflate the KL divergence, so a percentile bootstrap sits far above the truth
(in a simulation with the truth known it covered it in 0 of 40 runs). Here
each replicate resamples whole models (rows, so a model's margins stay
together across samples) and then adds a little Gaussian noise to every
margin, with Silverman's bandwidth of its sample's column (1.06 sd N^-1/5):
no value repeats, and the resampled world has the spread of the real one. The
replicates serve only the spread; the interval is centred on the reference
P95 itself (``point ± z sd``), so the point estimate is never moved.

Replicates that are compared must be drawn alike. :class:`Replicates` draws
them from ``(n_models, seed)`` alone and by *role*: the models being scored
(pretrain, retrained, unlearned), the oracles ``0..N-1`` and the held-out
oracles ``N..2N-1``. A method's models and the pretrain models they started
from share their row draws, and everything scored against oracles ``0..N-1``
shares theirs, so the difference of two P95s, replicate by replicate, keeps
the pairing of the experiment: the interval of a difference is paired where
the two share models or oracles. ``do_nothing`` and the pretrain baseline,
with identical margins, get identical replicates, and a difference of 0.

Calibration (``tests/unit/test_uncertainty.py``, per-sample normal margins
with a per-model effect, N = 100, 400 samples, the truth from 300 simulated
reruns; see that test's docstring for the measured coverage and widths).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from klomflow.klom import klom_scores

# Replicates per interval. Each costs as much as the point estimate, and
# scoring is in every job of the grid: 20 keep the digits main command within
# its time. The sd of 20 replicates is within about 16 % of its limit; the
# interval pays for that with a 16 % wider half-width (see interval()), and
# the calibration test measures the result.
N_REPLICATES = 20
CONFIDENCE = 0.95

# The roles a model set can play in a comparison; each has its own row draws.
MODELS = "models"
ORACLES = "oracles"
HELD_OUT_ORACLES = "held_out_oracles"
_ROLES = (MODELS, ORACLES, HELD_OUT_ORACLES)

# Replicates scored in one klom_scores call: large enough to amortise the
# per-call overhead, small enough to keep the (N, chunk x n_samples) copies small.
_CHUNK_VALUES = 4_000_000


@dataclass
class Replicates:
    """The bootstrap draws of an experiment with ``n_models`` models per side.

    Deterministic: the same ``(n_models, seed, n_replicates)`` give the same
    draws in every process, which is what lets separately scored tables be
    compared replicate by replicate.
    """

    n_models: int
    seed: int = 0
    n_replicates: int = N_REPLICATES
    _noise: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        if self.n_models < 2:
            raise ValueError(f"an interval needs at least 2 models per side, got {self.n_models}")
        if self.n_replicates < 2:
            raise ValueError(f"n_replicates must be >= 2, got {self.n_replicates}")
        rng = np.random.default_rng([self.seed, self.n_models, self.n_replicates])
        shape = (self.n_replicates, self.n_models)
        self.rows = {role: rng.integers(0, self.n_models, shape) for role in _ROLES}
        self.noise_rows = {role: rng.integers(0, 2 * self.n_models, shape) for role in _ROLES}

    def resampled(self, margins: np.ndarray, role: str, replicates: slice) -> np.ndarray:
        """``margins`` ``(N, n)`` resampled for each replicate: ``(N, k * n)``, k replicates side by side."""
        n_samples = margins.shape[1]
        bandwidth = 1.06 * margins.std(axis=0, ddof=1) * self.n_models**-0.2
        noise = self._noise_pool(role, n_samples)
        blocks = [
            margins[rows] + bandwidth * noise[noise_rows]
            for rows, noise_rows in zip(
                self.rows[role][replicates], self.noise_rows[role][replicates]
            )
        ]
        return np.concatenate(blocks, axis=1).astype(margins.dtype, copy=False)

    def _noise_pool(self, role: str, n_samples: int) -> np.ndarray:
        # A pool of 2N noise rows per (role, width), drawn once: replicates pick
        # rows from it, which costs a copy instead of fresh normals every time.
        key = (role, n_samples)
        if key not in self._noise:
            rng = np.random.default_rng([self.seed, self.n_models, _ROLES.index(role), n_samples])
            self._noise[key] = rng.standard_normal((2 * self.n_models, n_samples), np.float32)
        return self._noise[key]


def p95_replicates(
    unlearned: np.ndarray,
    oracle: np.ndarray,
    replicates: Replicates,
    *,
    roles: tuple[str, str] = (MODELS, ORACLES),
    n_threads: int | None = None,
) -> np.ndarray:
    """The P95 KLOM of every bootstrap replicate: ``(n_replicates,)`` float64.

    ``unlearned`` and ``oracle`` are ``(N, n_samples)`` margins; ``roles`` says
    whose row draws each side takes (e.g. the oracle floor scores oracles
    ``0..N-1``, role ``oracles``, against the held-out ones).
    """
    unlearned, oracle = np.asarray(unlearned), np.asarray(oracle)
    if unlearned.shape != oracle.shape or unlearned.shape[0] != replicates.n_models:
        raise ValueError(
            f"margins of shape {unlearned.shape} and {oracle.shape} for replicates of "
            f"{replicates.n_models} models: expected both ({replicates.n_models}, n_samples)"
        )
    n_samples = unlearned.shape[1]
    per_call = max(1, _CHUNK_VALUES // (replicates.n_models * n_samples))
    p95 = []
    for start in range(0, replicates.n_replicates, per_call):
        chunk = slice(start, min(start + per_call, replicates.n_replicates))
        scores = klom_scores(
            replicates.resampled(unlearned, roles[0], chunk),
            replicates.resampled(oracle, roles[1], chunk),
            n_threads=n_threads,
        )
        p95.append(np.percentile(scores.reshape(-1, n_samples), 95, axis=1))
    return np.concatenate(p95)


def interval(
    point: float, replicates: np.ndarray, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """``point ± z sd``, the normal interval around the reference estimate.

    ``sd`` is the replicates' standard deviation raised by its own standard
    error, ``1 / sqrt(2 (k - 1))`` of it for k replicates (16 % for 20): an sd
    estimated from finitely many replicates is as often too small as too
    large, and a too small one costs coverage that the interval claims.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    replicates = np.asarray(replicates, dtype=np.float64)
    if not np.isfinite(replicates).all():
        # A ratio whose denominator vanished in some replicate (a gap that
        # resampling can close, e.g. doing nothing at the oracle floor): its
        # spread is unbounded, and so is the honest interval.
        return -np.inf, np.inf
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    sd = float(np.std(replicates, ddof=1)) * (1 + 1 / np.sqrt(2 * (replicates.size - 1)))
    return point - z * sd, point + z * sd


def compare(difference: float, replicates: np.ndarray, confidence: float = CONFIDENCE) -> str:
    """``better``, ``worse`` or ``tie`` for a difference where lower is better.

    ``better`` when the whole interval of ``difference`` (e.g. a method's P95
    minus doing nothing's) lies below 0, ``worse`` when above, ``tie`` when
    it holds 0.
    """
    low, high = interval(difference, replicates, confidence)
    if high < 0:
        return "better"
    if low > 0:
        return "worse"
    return "tie"


@dataclass
class Estimate:
    """A P95 KLOM (or a number made of several) and its bootstrap replicates.

    Arithmetic acts on the point and on every replicate alike, so a gap, a
    ratio or a mean of estimates carries its own replicates and interval.
    """

    point: float
    replicates: np.ndarray

    @classmethod
    def of(cls, row: dict) -> Estimate:
        """A table row's P95 and replicates (``klom_p95``, ``p95_replicates``)."""
        return cls(float(row["klom_p95"]), np.asarray(row["p95_replicates"], np.float64))

    def __sub__(self, other: Estimate) -> Estimate:
        return Estimate(self.point - other.point, self.replicates - other.replicates)

    def __rsub__(self, number: float) -> Estimate:
        return Estimate(number - self.point, number - self.replicates)

    def __truediv__(self, other: Estimate) -> Estimate:
        with np.errstate(divide="ignore", invalid="ignore"):  # see interval()
            return Estimate(self.point / other.point, self.replicates / other.replicates)

    def __neg__(self) -> Estimate:
        return Estimate(-self.point, -self.replicates)

    def interval(self, confidence: float = CONFIDENCE) -> tuple[float, float]:
        return interval(self.point, self.replicates, confidence)


def mean(estimates: list[Estimate]) -> Estimate:
    """The mean of several estimates, replicate by replicate (so correlations are kept)."""
    return Estimate(
        float(np.mean([e.point for e in estimates])),
        np.mean([e.replicates for e in estimates], axis=0),
    )


def worst(estimates: list[Estimate]) -> Estimate:
    """The largest of several estimates, replicate by replicate."""
    return Estimate(
        max(e.point for e in estimates), np.max([e.replicates for e in estimates], axis=0)
    )


def klom_p95_interval(
    unlearned: np.ndarray,
    oracle: np.ndarray,
    *,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float]:
    """An interval for the P95 KLOM of ``unlearned`` against ``oracle`` margins.

    Both are ``(n_models, n_samples)`` with the same shape and at least 2
    models. It covers, with probability ``confidence``, the P95 that reruns
    of the experiment with fresh models give on average (module docstring).
    Deterministic for a given ``seed``.
    """
    unlearned, oracle = np.asarray(unlearned), np.asarray(oracle)
    point = float(np.percentile(klom_scores(unlearned, oracle), 95))
    replicates = p95_replicates(unlearned, oracle, Replicates(unlearned.shape[0], seed))
    return interval(point, replicates, confidence)
