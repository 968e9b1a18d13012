"""The leaderboard: gap closed and score on each forget set's scale, comparisons, ranks.

Built from synthetic margins where the truth is known: on every split the
oracles' margins are normal per sample; each candidate's are the oracles'
distribution shifted by a chosen number of sds per split (0: indistinguishable
from oracles, 2: far). Doing nothing is far on the forget split only.
"""

from __future__ import annotations

import numpy as np
import pytest

from klomflow.leaderboard import LEADERBOARD_COLUMNS, leaderboard, markdown
from klomflow.scoring import summarize_split
from klomflow.splits import SPLITS
from klomflow.uncertainty import HELD_OUT_ORACLES, MODELS, N_REPLICATES, ORACLES, Replicates

N = 40
N_SAMPLES = {"retain": 200, "forget": 50, "val": 100}
PRETRAIN = {"retain": 0.0, "forget": 2.0, "val": 0.0}


class World:
    """One forget set: per-sample oracle margin distributions and the models drawn from them."""

    def __init__(self, rng):
        self.rng = rng
        self.mu = {s: rng.normal(3, 2, n) for s, n in N_SAMPLES.items()}
        self.sd = {s: rng.uniform(0.5, 2, n) for s, n in N_SAMPLES.items()}
        self.direction = {s: rng.choice([-1, 1], n) for s, n in N_SAMPLES.items()}

    def models(self, split, shift, n=N):
        mean = self.mu[split] + shift * self.sd[split] * self.direction[split]
        return (mean + self.sd[split] * self.rng.normal(size=(n, N_SAMPLES[split]))).astype(
            np.float32
        )


def _row(margins, oracle, roles=(MODELS, ORACLES)):
    return summarize_split(margins, oracle, Replicates(N), roles, n_threads=1)


def _experiment(seed, candidates, forget_sets=(1, 2)):
    """Baselines and method rows for ``candidates``: setting -> (compute, shift per split)."""
    rng = np.random.default_rng(seed)
    baselines, methods = [], []
    for k in forget_sets:
        world = World(rng)
        pretrain = {s: world.models(s, PRETRAIN[s]) for s in SPLITS}
        for split in SPLITS:
            oracles = world.models(split, 0.0, 2 * N)
            oracle, held_out = oracles[:N], oracles[N:]
            label = {"benchmark": "sim", "forget_set": k, "split": split, "n_models": N}
            baselines.append({**label, "baseline": "pretrain", **_row(pretrain[split], oracle)})
            floor = _row(oracle, held_out, (ORACLES, HELD_OUT_ORACLES))
            baselines.append({**label, "baseline": "oracle_floor", **floor})
            for setting, (compute, shifts) in candidates.items():
                margins = pretrain[split] if shifts is None else world.models(split, shifts[split])
                methods.append(
                    {
                        **label,
                        "method": setting.split("_")[0],
                        "setting": setting,
                        "params": "",
                        "epoch": 1,
                        "status": "ok",
                        "compute_pct": compute,
                        "share_above_half": float(np.mean(margins > 0)),
                        **_row(margins, oracle),
                    }
                )
    return baselines, methods


CANDIDATES = {
    # Indistinguishable from the oracles on every split.
    "good": (10.0, {"retain": 0.0, "forget": 0.0, "val": 0.0}),
    # Half way on the forget split, no damage.
    "half": (20.0, {"retain": 0.0, "forget": 1.0, "val": 0.0}),
    # Perfect on the forget split, but the retain split as far off as doing nothing's forget.
    "wrecker": (5.0, {"retain": 2.0, "forget": 0.0, "val": 0.0}),
    # The pretrain margins themselves.
    "donothing": (0.0, None),
}


@pytest.fixture(scope="module")
def board():
    baselines, methods = _experiment(0, CANDIDATES)
    rows = leaderboard(methods, baselines, [])
    return {r["setting"]: r for r in rows}, rows


def test_every_row_has_every_column(board):
    _, rows = board
    assert all(set(r) >= set(LEADERBOARD_COLUMNS) for r in rows)


def test_reference_rows_come_first_and_are_not_ranked(board):
    _, rows = board
    assert [r["setting"] for r in rows[:2]] == ["pretrain", "oracle_floor"]
    assert rows[0]["rank"] is None and rows[1]["rank"] is None
    assert rows[1]["score"] == 1.0 and rows[1]["forget_gap_closed"] == 1.0


def test_doing_nothing_closes_no_gap_and_ties_with_the_pretrain_baseline(board):
    by, _ = board
    assert by["donothing"]["forget_gap_closed"] == 0.0
    assert by["donothing"]["vs_do_nothing"] == "tie"
    assert by["donothing"]["score"] == by["pretrain"]["score"]
    assert by["pretrain"]["vs_do_nothing"] == "tie"


def test_a_method_like_the_oracles_closes_the_gap_and_ranks_first(board):
    by, rows = board
    good = by["good"]
    assert good["rank"] == 1 and rows[2]["setting"] == "good"
    assert good["score_low"] <= 1.0 <= good["score_high"] + 0.05
    assert good["forget_gap_closed"] > 0.9
    assert good["vs_do_nothing"] == "better"


def test_retain_damage_cannot_buy_a_forget_gain(board):
    """The wrecker closes the forget gap as fully as `good` does, and pays for its retain split."""
    by, _ = board
    wrecker = by["wrecker"]
    assert wrecker["forget_gap_closed"] > 0.9
    assert wrecker["retain_vs_do_nothing"] == "worse"
    assert wrecker["score"] < by["half"]["score"] < by["good"]["score"]
    assert wrecker["rank"] > by["good"]["rank"]


def test_every_forget_set_shows_its_own_gap_closed(board):
    by, _ = board
    parts = dict(p.split(":") for p in by["half"]["forget_gap_closed_by_set"].split())
    assert set(parts) == {"1", "2"}
    assert np.mean([float(v) for v in parts.values()]) == pytest.approx(
        by["half"]["forget_gap_closed"], abs=2e-3
    )


def test_rows_are_sorted_by_rank_and_pareto_spans_all_methods(board):
    by, rows = board
    ranks = [r["rank"] for r in rows[2:]]
    assert ranks == sorted(ranks)
    # good (10 %) beats half (20 %) on compute and score; doing nothing (0 %) and the
    # wrecker (5 %) are cheaper than good, so nothing dominates them.
    assert by["good"]["pareto"] == "yes" and by["half"]["pareto"] == ""
    assert by["donothing"]["pareto"] == "yes"


def test_a_setting_diverged_on_one_forget_set_is_listed_last_and_never_ranked():
    baselines, methods = _experiment(1, {"good": CANDIDATES["good"], "bad": CANDIDATES["half"]})
    for r in methods:
        if r["setting"] == "bad" and r["forget_set"] == 2:
            r.update(status="diverged", klom_p95=None, p95_replicates=np.full(N_REPLICATES, np.nan))
    rows = leaderboard(methods, baselines, [])
    assert rows[-1]["setting"] == "bad" and rows[-1]["status"] == "diverged"
    assert rows[-1]["rank"] is None and rows[-1]["score"] is None


def test_retraining_at_the_same_compute_is_interpolated_and_compared():
    """A curve that is `good` from 0 % compute on is better than `half` at its 20 %."""
    baselines, methods = _experiment(2, {"half": CANDIDATES["half"]})
    curves = []
    for r in baselines:
        if r["baseline"] == "oracle_floor":
            for epoch, compute in ((1, 0.0), (2, 50.0)):
                curves.append(
                    {**r, "noise": 0.0, "seed": 0, "epoch": epoch, "compute_pct": compute}
                )
    by = {r["setting"]: r for r in leaderboard(methods, baselines, curves)}
    assert by["half"]["vs_retrain"] == "worse"
    assert by["half"]["retrain_forget_sets"] == "1,2"
    assert by["half"]["forget_retrain_p95"] == pytest.approx(
        np.mean([r["klom_p95"] for r in curves if r["split"] == "forget" and r["epoch"] == 1])
    )


def test_the_markdown_table_has_a_row_per_setting(board):
    _, rows = board
    text = markdown(rows)
    lines = text.strip().splitlines()
    assert lines[0].startswith("| rank | setting")
    assert len(lines) == 2 + len(rows)
    assert any(line.startswith("| 1 | good |") for line in lines)


def test_same_distribution_methods_share_a_rank_and_a_far_one_ranks_below():
    """The ranking rule where the truth is known: `a` and `b` are drawn from one distribution,
    `c` is farther from the oracles on the forget split.

    Measured (10 experiments, seeds 100..109): a and b shared a rank in 10, c ranked below
    both in 10.
    """
    candidates = {
        "a": (10.0, {"retain": 0.0, "forget": 0.5, "val": 0.0}),
        "b": (10.0, {"retain": 0.0, "forget": 0.5, "val": 0.0}),
        "c": (10.0, {"retain": 0.0, "forget": 1.5, "val": 0.0}),
    }
    shared, below = 0, 0
    for seed in range(100, 110):
        baselines, methods = _experiment(seed, candidates)
        by = {r["setting"]: r for r in leaderboard(methods, baselines, [])}
        shared += by["a"]["rank"] == by["b"]["rank"]
        below += by["c"]["rank"] > max(by["a"]["rank"], by["b"]["rank"])
    print({"shared": shared, "below": below})
    assert shared >= 9
    assert below == 10
