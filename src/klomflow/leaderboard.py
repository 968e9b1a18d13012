"""The leaderboard: every method setting against retraining at the same compute.

One row per method setting and recorded epoch, over all the forget sets it
was scored on: its compute, the P95 KLOM of each split as the mean over forget
sets with their minimum and maximum (the spread), its accuracy, and the P95
that plain retraining (the grid's noise-0 curve) reaches with the same
compute on the same forget sets. The baselines stand in it as reference rows,
and each method's Pareto-optimal settings on (compute, mean forget P95) are
marked: the question the compute-vs-KLOM figure exists to answer, as a table.

A setting that diverged on any forget set stands in it with status
``diverged`` and no numbers, and takes part in no ranking. ``n_degenerate``
counts the samples, over splits and forget sets, whose KLOM of 0 only means
the binning dropped every unlearned margin (docs/klom.md): a non-zero count flags
the row's P95 as flattering.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from klomflow.scoring import scored
from klomflow.splits import SPLITS

LEADERBOARD_COLUMNS = [
    "benchmark",
    "method",
    "setting",
    "params",
    "epoch",
    "status",
    "forget_sets",
    "compute_pct",
    *(f"{split}_p95_{stat}" for split in SPLITS for stat in ("mean", "min", "max")),
    *(f"{split}_accuracy" for split in SPLITS),
    *(f"{split}_retrain_p95" for split in SPLITS),
    "retrain_forget_sets",
    "n_degenerate",
    "pareto",
]


def leaderboard(methods: list[dict], baselines: list[dict], curves: list[dict]) -> list[dict]:
    """The leaderboard's rows from ``methods.tsv``, ``baselines.tsv`` and ``compute_vs_klom.tsv``.

    Reference rows first (pretrain at 0 % compute, the oracle floor at 100 %),
    then each method's settings by compute. Retraining at the same compute is
    interpolated linearly between the grid's epochs, on each forget set that
    has the grid, and averaged over those (named in ``retrain_forget_sets``);
    it is left blank outside the grid's range of compute, where retraining
    has no model to offer.
    """
    retraining = _noise_free_curves(scored(curves))
    rows = [
        _reference_row(baselines, name, pct)
        for name, pct in (("pretrain", 0.0), ("oracle_floor", 100.0))
    ]
    rows = [r for r in rows if r is not None]
    groups = defaultdict(list)
    for r in methods:
        groups[(r["setting"], int(r["epoch"]))].append(r)
    ranked = []
    for (setting, epoch), group in groups.items():
        first = group[0]
        forget_sets = sorted({int(r["forget_set"]) for r in group})
        row = {
            **dict.fromkeys(LEADERBOARD_COLUMNS),
            "benchmark": first["benchmark"],
            "method": first["method"],
            "setting": setting,
            "params": first["params"],
            "epoch": epoch,
            "status": "ok",
            "forget_sets": _numbers(forget_sets),
            "pareto": "",
        }
        if len(scored(group)) < len(group):
            row["status"] = "diverged"
            ranked.append(row)
            continue
        row |= {
            "compute_pct": float(np.mean([float(r["compute_pct"]) for r in group])),
            **_spread(group),
            "n_degenerate": sum(int(r["n_degenerate"]) for r in group),
        }
        matched = {}
        for split in SPLITS:
            row[f"{split}_accuracy"] = float(
                np.mean([float(r["accuracy"]) for r in group if r["split"] == split])
            )
            matched[split] = _retraining_at(retraining, split, forget_sets, group)
            values = list(matched[split].values())
            row[f"{split}_retrain_p95"] = float(np.mean(values)) if values else None
        row["retrain_forget_sets"] = _numbers(sorted(matched["forget"]))
        ranked.append(row)
    _mark_pareto([r for r in ranked if r["status"] == "ok"])
    # Diverged settings last within their method: they have no compute to sort by.
    ranked.sort(
        key=lambda r: (r["method"], r["status"] != "ok", r["compute_pct"] or 0.0, r["setting"])
    )
    return rows + ranked


def _numbers(values) -> str:
    return ",".join(str(v) for v in values)


def _spread(rows: list[dict]) -> dict:
    """Mean, minimum and maximum over forget sets of each split's P95."""
    out = {}
    for split in SPLITS:
        p95 = [float(r["klom_p95"]) for r in rows if r["split"] == split]
        out |= {
            f"{split}_p95_mean": float(np.mean(p95)),
            f"{split}_p95_min": float(np.min(p95)),
            f"{split}_p95_max": float(np.max(p95)),
        }
    return out


def _reference_row(baselines: list[dict], name: str, compute_pct: float) -> dict | None:
    rows = [r for r in baselines if r["baseline"] == name]
    if not rows:
        return None
    return {
        "benchmark": rows[0]["benchmark"],
        "method": name,
        "setting": name,
        "params": "",
        "epoch": None,
        "status": "ok",
        "forget_sets": _numbers(sorted({int(r["forget_set"]) for r in rows})),
        "compute_pct": compute_pct,
        **_spread(rows),
        **{f"{split}_accuracy": None for split in SPLITS},
        **{f"{split}_retrain_p95": None for split in SPLITS},
        "retrain_forget_sets": "",
        "n_degenerate": sum(int(r["n_degenerate"]) for r in rows),
        "pareto": "",
    }


def _noise_free_curves(curves: list[dict]) -> dict[tuple[int, str], tuple[np.ndarray, np.ndarray]]:
    """(forget set, split) -> (compute, P95) of retraining without noise, mean over seeds, by epoch."""
    by_epoch = defaultdict(lambda: defaultdict(list))
    for r in curves:
        if float(r["noise"]) == 0:
            key = (int(r["forget_set"]), r["split"])
            by_epoch[key][int(r["epoch"])].append((float(r["compute_pct"]), float(r["klom_p95"])))
    result = {}
    for key, epochs in by_epoch.items():
        points = [np.mean(epochs[e], axis=0) for e in sorted(epochs)]
        result[key] = (np.array([p[0] for p in points]), np.array([p[1] for p in points]))
    return result


def _retraining_at(retraining, split, forget_sets, group) -> dict[int, float]:
    """P95 of retraining at each forget set's own compute, where its grid covers it."""
    matched = {}
    for forget_set in forget_sets:
        if (forget_set, split) not in retraining:
            continue
        x, y = retraining[(forget_set, split)]
        compute = float(next(r["compute_pct"] for r in group if int(r["forget_set"]) == forget_set))
        if x[0] <= compute <= x[-1]:
            matched[forget_set] = float(np.interp(compute, x, y))
    return matched


def _mark_pareto(rows: list[dict]) -> None:
    """``pareto`` = yes for each method's settings that no other of its settings beats on both
    compute and mean forget P95 (lower is better on both)."""
    for row in rows:
        rivals = [r for r in rows if r["method"] == row["method"] and r is not row]
        dominated = any(
            r["compute_pct"] <= row["compute_pct"]
            and r["forget_p95_mean"] <= row["forget_p95_mean"]
            and (r["compute_pct"], r["forget_p95_mean"])
            != (row["compute_pct"], row["forget_p95_mean"])
            for r in rivals
        )
        row["pareto"] = "" if dominated else "yes"
