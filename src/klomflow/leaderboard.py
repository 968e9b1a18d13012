"""The leaderboard: every method setting ranked, with what it can and cannot claim.

One row per method setting and recorded epoch, over the forget sets it was
scored on, built from the KLOM tables and their P95 replicates
(:mod:`klomflow.uncertainty`), so that every number has an interval and every
comparison is decided by the interval of a difference, paired where the two
sides share models or oracles.

Forget sets differ in how much there is to unlearn (doing nothing scores 7.2
on one digits forget set and 0.85 on another), so raw P95s are not averaged
across them. Each forget set's numbers are put on its own scale first:

- **gap closed** (forget split): ``(P95_pretrain - P95_x) / (P95_pretrain -
  P95_floor)``; 0 is doing nothing, 1 is as close to the oracles as a second
  set of oracles is.
- **score**, the ranking rule: ``1 - W_x / (P95_pretrain - P95_floor)`` on
  the forget split's gap, where ``W_x`` is the *worst* split's excess over the
  floor, ``max over retain, forget, val of (P95_x - P95_floor)``. A method
  whose worst split is the forget split scores its gap closed; damage to
  retain or val counts in full as soon as it is the worst, so no forget gain
  buys it back. 1 means no split can be told from the oracles better than a
  second set of oracles can, 0 means as far as doing nothing is on the forget
  split.

Across forget sets a row shows the mean of each (with its interval, from the
replicates averaged forget set by forget set) and every forget set's own gap
closed, so that one forget set cannot hide behind the others.

``rank``: 1 + the number of settings whose score interval lies wholly above
this one's; settings whose intervals overlap share a rank. ``pareto``: no
other setting has at most its compute and at least its score (points, one
strictly better). ``vs_do_nothing`` and ``vs_retrain`` say ``better``,
``worse`` or ``tie`` from the interval of the score's difference with doing
nothing (the pretrain models, paired model by model and oracle by oracle) and
with retraining from scratch at the same compute (the grid's noise-0 curve,
mean over seeds, interpolated between epochs on each forget set that has the
grid; paired on the oracles). ``retain_vs_do_nothing`` and
``val_vs_do_nothing`` flag raw P95 damage the same way.

A setting's epoch at which its models had diverged on any forget set stands
in it with status ``diverged`` and no numbers, and takes part in no ranking
(its epochs recorded finite before are ranked as usual). ``n_degenerate``
counts the samples, over splits and forget sets, whose KLOM of 0 only means
the binning dropped every unlearned margin (docs/klom.md): a non-zero count flags
the row's P95 as flattering.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from klomflow.scoring import scored
from klomflow.splits import SPLITS
from klomflow.uncertainty import Estimate, compare, mean, worst

log = logging.getLogger(__name__)

LEADERBOARD_COLUMNS = [
    "benchmark",
    "method",
    "setting",
    "params",
    "epoch",
    "status",
    "forget_sets",
    "compute_pct",
    "rank",
    "score",
    "score_low",
    "score_high",
    "vs_do_nothing",
    "vs_retrain",
    "pareto",
    "forget_gap_closed",
    "forget_gap_closed_low",
    "forget_gap_closed_high",
    "forget_gap_closed_by_set",
    *(f"{split}_p95{stat}" for split in SPLITS for stat in ("", "_low", "_high")),
    "retain_vs_do_nothing",
    "val_vs_do_nothing",
    *(f"{split}_share_above_half" for split in SPLITS),
    *(f"{split}_retrain_p95" for split in SPLITS),
    "retrain_forget_sets",
    "n_degenerate",
]


@dataclass
class ForgetSetScale:
    """One forget set's reference points: doing nothing and the oracle floor, per split."""

    pretrain: dict[str, Estimate]
    floor: dict[str, Estimate]

    @property
    def gap(self) -> Estimate:
        return self.pretrain["forget"] - self.floor["forget"]

    def gap_closed(self, x: dict[str, Estimate]) -> Estimate:
        return (self.pretrain["forget"] - x["forget"]) / self.gap

    def score(self, x: dict[str, Estimate]) -> Estimate:
        excess = worst([x[split] - self.floor[split] for split in SPLITS])
        return 1.0 - excess / self.gap


def leaderboard(methods: list[dict], baselines: list[dict], curves: list[dict]) -> list[dict]:
    """The leaderboard's rows from the rows (with replicates) of the methods', baselines' and
    grid's KLOM tables: reference rows first (doing nothing at 0 % compute, the oracle floor at
    100 %), then the settings by rank, diverged ones last."""
    scales = _scales(baselines)
    retraining = _noise_free_curves(scored(curves))
    do_nothing = {
        k: splits
        for (k, baseline), splits in _by_baseline(baselines).items()
        if baseline == "pretrain"
    }
    references = [
        _reference_row(baselines, scales, "pretrain", 0.0, do_nothing),
        _reference_row(baselines, scales, "oracle_floor", 100.0, None),
    ]
    groups = defaultdict(list)
    for r in methods:
        groups[(r["setting"], int(r["epoch"]))].append(r)
    rows = [_setting_row(group, scales, do_nothing, retraining) for group in groups.values()]
    ranked = [r for r in rows if r["status"] == "ok" and r["score"] is not None]
    _rank(ranked)
    _mark_pareto(ranked)
    rows.sort(
        key=lambda r: (
            r["rank"] is None,
            r["rank"] or 0,
            -(r["score"] if r["score"] is not None else 0.0),
            r["setting"],
        )
    )
    return [r for r in references if r is not None] + rows


def _by_baseline(baselines: list[dict]) -> dict[tuple[int, str], dict[str, Estimate]]:
    by = defaultdict(dict)
    for r in baselines:
        by[(int(r["forget_set"]), r["baseline"])][r["split"]] = Estimate.of(r)
    return by


def _scales(baselines: list[dict]) -> dict[int, ForgetSetScale]:
    by = _by_baseline(baselines)
    scales = {}
    for (forget_set, baseline), splits in by.items():
        if baseline == "pretrain":
            scales[forget_set] = ForgetSetScale(splits, by[(forget_set, "oracle_floor")])
    for forget_set, scale in list(scales.items()):
        if scale.gap.point <= 0:
            log.warning(
                "forget set %d: doing nothing already scores the oracle floor on the forget split "
                "(P95 %.4g vs %.4g): nothing to unlearn, so it has no gap closed or score",
                forget_set,
                scale.pretrain["forget"].point,
                scale.floor["forget"].point,
            )
            del scales[forget_set]
    return scales


def _by_forget_set(group: list[dict]) -> dict[int, dict[str, Estimate]]:
    by = defaultdict(dict)
    for r in group:
        by[int(r["forget_set"])][r["split"]] = Estimate.of(r)
    return dict(by)


def _setting_row(group, scales, do_nothing, retraining) -> dict:
    first = group[0]
    forget_sets = sorted({int(r["forget_set"]) for r in group})
    row = {
        **dict.fromkeys(LEADERBOARD_COLUMNS),
        "benchmark": first["benchmark"],
        "method": first["method"],
        "setting": first["setting"],
        "params": first["params"],
        "epoch": int(first["epoch"]),
        "status": "ok",
        "forget_sets": _numbers(forget_sets),
        "pareto": "",
    }
    if len(scored(group)) < len(group):
        row["status"] = "diverged"
        return row
    x = _by_forget_set(group)
    compute = {int(r["forget_set"]): float(r["compute_pct"]) for r in group}
    row |= {
        "compute_pct": float(np.mean(list(compute.values()))),
        "n_degenerate": sum(int(r["n_degenerate"]) for r in group),
        **_raw_p95(x, do_nothing),
        **_relative(x, scales, do_nothing),
    }
    for split in SPLITS:
        row[f"{split}_share_above_half"] = float(
            np.mean([float(r["share_above_half"]) for r in group if r["split"] == split])
        )
    row |= _versus_retraining(x, compute, scales, retraining)
    return row


def _raw_p95(x: dict[int, dict[str, Estimate]], do_nothing) -> dict:
    """Each split's P95, mean over forget sets, with its interval; retain and val damage flagged."""
    out = {}
    for split in SPLITS:
        p95 = mean([splits[split] for splits in x.values()])
        out[f"{split}_p95"] = p95.point
        out[f"{split}_p95_low"], out[f"{split}_p95_high"] = p95.interval()
        if split != "forget" and all(k in do_nothing for k in x):
            versus = p95 - mean([do_nothing[k][split] for k in x])
            out[f"{split}_vs_do_nothing"] = compare(versus.point, versus.replicates)
    return out


def _relative(x: dict[int, dict[str, Estimate]], scales, do_nothing) -> dict:
    """Gap closed and score on each forget set's own scale, mean over forget sets, vs doing nothing."""
    on_scale = [k for k in x if k in scales]
    if not on_scale:
        return {}
    gaps = {k: scales[k].gap_closed(x[k]) for k in on_scale}
    score = mean([scales[k].score(x[k]) for k in on_scale])
    baseline = mean([scales[k].score(do_nothing[k]) for k in on_scale])
    gap = mean(list(gaps.values()))
    out = {"score": score.point, "forget_gap_closed": gap.point}
    out["score_low"], out["score_high"] = score.interval()
    out["forget_gap_closed_low"], out["forget_gap_closed_high"] = gap.interval()
    out["forget_gap_closed_by_set"] = " ".join(
        f"{k}:{gaps[k].point:.3g}" if k in gaps else f"{k}:n/a" for k in sorted(x)
    )
    out["vs_do_nothing"] = _higher_is_better(score - baseline)
    return out


def _higher_is_better(difference: Estimate) -> str:
    return compare(-difference.point, -difference.replicates)


def _versus_retraining(x, compute, scales, retraining) -> dict:
    """Retraining from scratch at the same compute: its raw P95 per split and the score comparison."""
    matched = {}
    for k in x:
        splits = {split: _retraining_at(retraining, k, split, compute[k]) for split in SPLITS}
        if all(v is not None for v in splits.values()):
            matched[k] = splits
    out = {"retrain_forget_sets": _numbers(sorted(matched))}
    for split in SPLITS:
        values = [splits[split].point for splits in matched.values()]
        out[f"{split}_retrain_p95"] = float(np.mean(values)) if values else None
    on_scale = [k for k in matched if k in scales]
    if on_scale:
        difference = mean([scales[k].score(x[k]) for k in on_scale]) - mean(
            [scales[k].score(matched[k]) for k in on_scale]
        )
        out["vs_retrain"] = _higher_is_better(difference)
    return out


def _reference_row(baselines, scales, name, compute_pct, do_nothing) -> dict | None:
    rows = [r for r in baselines if r["baseline"] == name]
    if not rows:
        return None
    x = _by_forget_set(rows)
    row = {
        **dict.fromkeys(LEADERBOARD_COLUMNS),
        "benchmark": rows[0]["benchmark"],
        "method": name,
        "setting": name,
        "params": "",
        "status": "ok",
        "forget_sets": _numbers(sorted(x)),
        "compute_pct": compute_pct,
        "n_degenerate": sum(int(r["n_degenerate"]) for r in rows),
        "pareto": "",
        "retrain_forget_sets": "",
        **_raw_p95(x, do_nothing or {}),
        **_relative(x, scales, do_nothing or {k: s.pretrain for k, s in scales.items()}),
    }
    if do_nothing is None:  # the floor is no method: nothing to compare it with
        row["vs_do_nothing"] = None
    return row


def _noise_free_curves(curves: list[dict]) -> dict[tuple[int, str], tuple[np.ndarray, list]]:
    """(forget set, split) -> (compute, P95) of retraining without noise, mean over seeds, by epoch."""
    by_epoch = defaultdict(lambda: defaultdict(list))
    for r in curves:
        if float(r["noise"]) == 0:
            by_epoch[(int(r["forget_set"]), r["split"])][int(r["epoch"])].append(r)
    result = {}
    for key, epochs in by_epoch.items():
        ordered = [epochs[e] for e in sorted(epochs)]
        compute = np.array([np.mean([float(r["compute_pct"]) for r in rs]) for rs in ordered])
        result[key] = (compute, [mean([Estimate.of(r) for r in rs]) for rs in ordered])
    return result


def _retraining_at(retraining, forget_set: int, split: str, compute: float) -> Estimate | None:
    """Retraining's P95 at ``compute``, interpolated between epochs, where the grid covers it."""
    if (forget_set, split) not in retraining:
        return None
    x, curve = retraining[(forget_set, split)]
    if not x[0] <= compute <= x[-1]:
        return None
    i = min(int(np.searchsorted(x, compute, side="right")) - 1, len(x) - 2)
    if len(x) == 1:
        return curve[0]
    t = (compute - x[i]) / (x[i + 1] - x[i])
    return Estimate(
        (1 - t) * curve[i].point + t * curve[i + 1].point,
        (1 - t) * curve[i].replicates + t * curve[i + 1].replicates,
    )


def _rank(rows: list[dict]) -> None:
    """rank = 1 + the number of rows whose score interval lies wholly above this row's."""
    for row in rows:
        row["rank"] = 1 + sum(other["score_low"] > row["score_high"] for other in rows)


def _mark_pareto(rows: list[dict]) -> None:
    """``pareto`` = yes where no other row has at most its compute and at least its score."""
    for row in rows:
        dominated = any(
            r["compute_pct"] <= row["compute_pct"]
            and r["score"] >= row["score"]
            and (r["compute_pct"], r["score"]) != (row["compute_pct"], row["score"])
            for r in rows
        )
        row["pareto"] = "" if dominated else "yes"


def _numbers(values) -> str:
    return ",".join(str(v) for v in values)


def markdown(rows: list[dict], confidence_pct: int = 95) -> str:
    """The leaderboard as a Markdown table to paste into a paper or an issue."""
    header = (
        "| rank | setting | epoch | compute % | score "
        f"({confidence_pct} % interval) | forget gap closed by forget set "
        "| vs doing nothing | vs retraining | retain | val |"
    )
    lines = [header, "|" + "---|" * 10]
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"| | {r['setting']} | {r['epoch']} | | diverged | | | | | |")
            continue
        score = (
            ""
            if r["score"] is None
            else f"{r['score']:.3f} ({r['score_low']:.3f} to {r['score_high']:.3f})"
        )
        cells = [
            "" if r["rank"] is None else str(r["rank"]),
            f"{r['setting']}" + ("" if r["params"] in ("", None) else f" ({r['params']})"),
            "" if r["epoch"] is None else str(r["epoch"]),
            f"{r['compute_pct']:.1f}",
            score,
            r["forget_gap_closed_by_set"] or "",
            r["vs_do_nothing"] or "",
            r["vs_retrain"] or "",
            r["retain_vs_do_nothing"] or "",
            r["val_vs_do_nothing"] or "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
