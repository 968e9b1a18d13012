"""What a run could not score, from its gathered tables: the end of every complete run.

Tables can look complete and say less than they seem: a cell or setting that
diverged has rows without numbers, a leaderboard row may have no retraining
at its compute to be compared with, and a KLOM of 0 may only mean that the
binning dropped every unlearned margin. The summary names each, per forget
set, with the reason.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from klomflow.files import atomic_write_text
from klomflow.scoring import BASELINE_COLUMNS, GRID_COLUMNS, METHOD_COLUMNS, read_scores, scored

# How many rows with degenerate samples each table names; the rest are counted.
DEGENERATE_EXAMPLES = 3


def write_run_summary(
    path: str | Path, curves: str | Path, baselines: str | Path, methods: str | Path | None
) -> str:
    """:func:`run_summary` of the gathered tables at these paths, written to ``path``; returns it."""
    text = run_summary(
        read_scores(curves, GRID_COLUMNS),
        read_scores(baselines, BASELINE_COLUMNS),
        read_scores(methods, METHOD_COLUMNS) if methods is not None else [],
        names={"curves": str(curves), "baselines": str(baselines), "methods": str(methods)},
    )
    atomic_write_text(path, text)
    return text


def run_summary(
    curves: list[dict], baselines: list[dict], methods: list[dict], names: dict | None = None
) -> str:
    """The summary text of ``compute_vs_klom.tsv``, ``baselines.tsv`` and ``methods.tsv`` rows.

    ``names`` maps curves, baselines and methods to the tables' file names.
    """
    names = names or {"curves": "curves", "baselines": "baselines", "methods": "methods"}
    sections = [
        (
            "retraining cells that diverged (no numbers from that epoch on)",
            _diverged(curves, _cell),
        ),
        (
            "method settings that diverged (no numbers from that epoch on)",
            _diverged(methods, _setting),
        ),
        (
            "method settings without retraining at the same compute to compare with "
            "(blank <split>_retrain_p95 in the leaderboard, or averaged over the other "
            "forget sets: see its retrain_forget_sets)",
            _unmatched(methods, curves),
        ),
        (
            "rows with degenerate samples (KLOM 0 only because the binning dropped "
            "every unlearned margin: the row's scores flatter it)",
            _degenerate(names["baselines"], baselines, _baseline)
            + _degenerate(names["curves"], curves, _cell)
            + _degenerate(names["methods"], methods, _setting),
        ),
    ]
    lines = []
    for title, items in sections:
        if items:
            lines += [f"{title}:", *(f"  {item}" for item in items)]
    if not lines:
        return (
            "Everything was scored: nothing diverged, every method setting has "
            "retraining at its compute, no degenerate samples.\n"
        )
    return "\n".join(["What this run could not score:", *lines]) + "\n"


def _cell(row: dict) -> str:
    return f"noise {row['noise']}, seed {row['seed']}"


def _setting(row: dict) -> str:
    return row["setting"]


def _baseline(row: dict) -> str:
    return row["baseline"]


def _diverged(rows: list[dict], name) -> list[str]:
    """One line per forget set: what diverged there, from which epoch."""
    first = defaultdict(dict)  # forget set -> name -> first diverged epoch
    for r in rows:
        if r["status"] == "diverged":
            epochs, epoch = first[r["forget_set"]], int(r["epoch"])
            epochs[name(r)] = min(epochs.get(name(r), epoch), epoch)
    return [
        f"forget set {k}: " + "; ".join(f"{what} from epoch {e}" for what, e in runs.items())
        for k, runs in first.items()
    ]


def _unmatched(methods: list[dict], curves: list[dict]) -> list[str]:
    """Settings (and epochs) that retraining cannot be compared with, grouped by why.

    As the leaderboard compares: with noise-0 retraining that did not
    diverge, on the same forget set, within the compute its epochs span.
    """
    settings = [r for r in scored(methods) if r["split"] == "forget"]  # the same for every split
    if settings and not any(float(r["noise"]) == 0 for r in curves):
        return [
            "all of them: retrain.noise_levels has no 0, and only retraining "
            "without noise is compared"
        ]
    grid = {r["forget_set"] for r in curves}
    span = defaultdict(list)  # forget set -> compute of its scored noise-0 epochs
    for r in scored(curves):
        if float(r["noise"]) == 0:
            span[r["forget_set"]].append(float(r["compute_pct"]))
    reasons = defaultdict(list)  # why -> the settings it applies to
    for r in settings:
        k, compute = r["forget_set"], float(r["compute_pct"])
        if k not in grid:
            why = f"forget set {k} has no retraining grid (see retrain.forget_sets)"
        elif not span[k]:
            why = f"forget set {k}: every noise-0 retraining cell diverged"
        elif not min(span[k]) <= compute <= max(span[k]):
            why = (
                f"forget set {k}: compute outside the {min(span[k]):.3g}-{max(span[k]):.3g} % "
                "its noise-0 grid spans"
            )
        else:
            continue
        reasons[why].append(f"{r['setting']} epoch {r['epoch']} ({compute:.3g} %)")
    return [f"{why}: {', '.join(which)}" for why, which in reasons.items()]


def _degenerate(table: str, rows: list[dict], name) -> list[str]:
    """The rows of ``table`` with degenerate samples: a few named, the rest counted."""
    flagged = [r for r in scored(rows) if int(r["n_degenerate"]) > 0]
    if not flagged:
        return []
    named = [
        f"forget set {r['forget_set']}, {name(r)}"
        + (f", epoch {r['epoch']}" if "epoch" in r else "")
        + f", {r['split']}: {r['n_degenerate']}"
        for r in flagged[:DEGENERATE_EXAMPLES]
    ]
    more = len(flagged) - len(named)
    total = sum(int(r["n_degenerate"]) for r in flagged)
    return [
        f"{table}: {len(flagged)} rows, {total} samples; "
        + "; ".join(named)
        + (f"; and {more} more rows" if more else "")
    ]
