"""Scoring models against the oracles: KLOM per split, summarised, with intervals (docs/klom.md, docs/recipe.md).

Every P95 comes with its interval (``klom_p95_low``, ``klom_p95_high``,
:mod:`klomflow.uncertainty`) and its bootstrap replicates, which the scoring
jobs save beside their tables (``tables.write_replicates``) so that the
leaderboard can compare any two rows replicate by replicate.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from klomflow.benchmarks import n_oracles
from klomflow.klom import degenerate_samples, klom_scores, summarize_klom
from klomflow.layout import LayoutFormat
from klomflow.margins import EpochMargins
from klomflow.progress import progress
from klomflow.splits import SPLITS
from klomflow.tables import read_replicates, read_tsv
from klomflow.uncertainty import (
    HELD_OUT_ORACLES,
    MODELS,
    N_REPLICATES,
    ORACLES,
    Replicates,
    interval,
    p95_replicates,
)

log = logging.getLogger(__name__)

# The columns of each table. One cell's or setting's klom.tsv has
# EPOCH_COLUMNS; the gathered tables say which benchmark and forget set each
# row is of (FORGET_SET_COLUMNS first). n_degenerate: samples whose KLOM of 0
# only means the binning dropped every unlearned margin
# (klom.degenerate_samples); a non-zero count flags the row.
# klom_p95_low, klom_p95_high: the P95's interval (klomflow.uncertainty).
SUMMARY_COLUMNS = [
    "klom_mean",
    "klom_p95",
    "klom_p95_low",
    "klom_p95_high",
    "klom_p05",
    "n_degenerate",
]
# status: ok, or diverged (the run's margins were not finite: no numbers, and
# no place in any ranking).
# share_above_half: the share of (model, sample) pairs with a positive margin,
# i.e. whose true class has a probability above 1/2 (not top-1 accuracy: a
# true class at 0.4 can still be the most probable).
EPOCH_COLUMNS = ["epoch", "compute_pct", "split", "status", *SUMMARY_COLUMNS, "share_above_half"]
FORGET_SET_COLUMNS = ["benchmark", "forget_set"]
BASELINE_COLUMNS = [*FORGET_SET_COLUMNS, "baseline", "split", "n_models", *SUMMARY_COLUMNS]
GRID_COLUMNS = [
    *FORGET_SET_COLUMNS,
    "noise",
    "seed",
    "epoch",
    "compute_pct",
    "split",
    "status",
    *SUMMARY_COLUMNS,
]
METHOD_COLUMNS = [
    *FORGET_SET_COLUMNS,
    "method",
    "setting",
    "params",
    "epoch",
    "split",
    "status",
    "n_models",
    *SUMMARY_COLUMNS,
    "share_above_half",
    "compute_pct",
]
PRETRAIN_COLUMNS = [
    *FORGET_SET_COLUMNS,
    "split",
    "n_models",
    "klom_p95",
    "klom_p95_low",
    "klom_p95_high",
    "n_degenerate",
]

# What the cells of the tables above hold, for reading them back
# (read_scores): these columns hold words (one of the listed values, where
# there is a list), INTEGER_COLUMNS whole numbers, and every other column a
# finite number. The rows of a run that diverged carry only the numbers of
# KEY_NUMBER_COLUMNS, which say which row it is; the rest were never measured.
# A column added to the lists above is checked as a measured number.
STATUSES = ("ok", "diverged")
WORD_COLUMNS = {
    "benchmark": None,
    "baseline": ("pretrain", "oracle_floor"),
    "method": None,
    "setting": None,
    "params": None,
    "split": SPLITS,
    "status": STATUSES,
}
INTEGER_COLUMNS = ("forget_set", "seed", "epoch", "n_models", "n_degenerate")
KEY_NUMBER_COLUMNS = ("forget_set", "noise", "seed", "epoch", "n_models")


def score_epochs(
    recorded: EpochMargins, oracle: dict[str, np.ndarray], n_threads: int | None = None
) -> list[dict]:
    """KLOM of models recorded after several epochs, one row per (epoch, split).

    ``oracle[split]`` is ``(N, n_samples)``. Each row carries its P95's
    bootstrap replicates under ``"p95_replicates"``. A run that diverged is
    scored on the epochs it recorded finite before, and gets one row per
    (later epoch, split) with status ``diverged``, no numbers and NaN
    replicates.
    """
    log.info(
        "scoring from the first epoch (scoring keeps no resume state: a stopped run starts over)"
    )
    n_models = len(oracle["retain"])  # a run that diverged at once recorded no margins
    replicates = Replicates(n_models)
    rows = []
    epochs = progress(
        enumerate(zip(recorded.finite_epochs, recorded.compute_pct)),
        total=len(recorded.finite_epochs),
        desc=f"KLOM of {n_models} models",
        unit="epoch",
    )
    for i, (epoch, pct) in epochs:
        for split in SPLITS:
            margins = recorded.margins[split][i]
            rows.append(
                {
                    "epoch": epoch,
                    "compute_pct": pct,
                    "split": split,
                    "status": "ok",
                    **summarize_split(margins, oracle[split], replicates, n_threads=n_threads),
                    "share_above_half": float(np.mean(margins > 0)),
                }
            )
    if recorded.diverged is not None:
        epochs = ", ".join(map(str, recorded.diverged_epochs))
        log.warning("epochs %s not scored: %s", epochs, recorded.diverged)
        rows += [
            {
                **dict.fromkeys(EPOCH_COLUMNS),
                "epoch": epoch,
                "split": split,
                "status": "diverged",
                "p95_replicates": np.full(N_REPLICATES, np.nan),
            }
            for epoch in recorded.diverged_epochs
            for split in SPLITS
        ]
    return rows


def summarize_split(
    margins: np.ndarray,
    oracle: np.ndarray,
    replicates: Replicates,
    roles: tuple[str, str] = (MODELS, ORACLES),
    n_threads: int | None = None,
) -> dict:
    """One split's KLOM summary, its P95's interval and replicates, and its degenerate samples."""
    summary = summarize_klom(klom_scores(margins, oracle, n_threads=n_threads))
    p95 = p95_replicates(margins, oracle, replicates, roles=roles, n_threads=n_threads)
    low, high = interval(summary["klom_p95"], p95)
    return {
        **summary,
        "klom_p95_low": low,
        "klom_p95_high": high,
        "n_degenerate": count_degenerate(margins, oracle),
        "p95_replicates": p95,
    }


def score_against_oracles(
    reference: LayoutFormat,
    margins_file: Path,
    oracle_dir: Path,
    forget_set_file: Path,
    n_models: int,
    n_threads: int | None = None,
) -> list[dict]:
    """:func:`score_epochs` of a margins file (a retraining cell's, a method's) against oracles 0..N-1."""
    forget_set = reference.read_forget_set(forget_set_file)
    oracle = reference.read_oracle_margins(oracle_dir, forget_set, range(n_models))
    recorded = EpochMargins.load(margins_file)
    recorded.check_fits(oracle, str(margins_file), str(oracle_dir))
    return score_epochs(recorded, oracle, n_threads=n_threads)


def score_baselines(
    reference: LayoutFormat,
    pretrain_dirs: dict[str, Path],
    oracle_dir: Path,
    forget_set_file: Path,
    n_models: int,
    n_threads: int | None = None,
) -> list[dict]:
    """The two reference points of every figure, one row per (baseline, split).

    ``pretrain``: the N pretrain models, trained on the forget set, against
    oracles 0..N-1 (what doing nothing scores). ``oracle_floor``: oracles
    0..N-1 against the disjoint oracles N..2N-1 (the best an unlearning
    method can hope for with N models). ``pretrain_dirs[split]`` holds the
    pretrain margins files of each split.
    """
    pretrain, oracles = read_baseline_margins(
        reference, pretrain_dirs, oracle_dir, forget_set_file, n_models
    )
    return baseline_rows(pretrain, oracles, n_models, n_models, n_threads=n_threads)


def read_baseline_margins(
    reference: LayoutFormat,
    pretrain_dirs: dict[str, Path],
    oracle_dir: Path,
    forget_set_file: Path,
    n_models: int,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The N pretrain models' and the 2N oracles' margins of one forget set, per split."""
    forget_set = reference.read_forget_set(forget_set_file)
    oracles = reference.read_oracle_margins(oracle_dir, forget_set, range(n_oracles(n_models)))
    pretrain = {
        split: reference.read_split_margins(
            pretrain_dirs[split], split, forget_set, range(n_models)
        )
        for split in SPLITS
    }
    return pretrain, oracles


def baseline_rows(
    pretrain: dict[str, np.ndarray],
    oracles: dict[str, np.ndarray],
    n_models: int,
    n: int,
    n_threads: int | None = None,
) -> list[dict]:
    """The baselines with the first ``n`` of the N models, one row per (split, baseline).

    ``pretrain[split]`` is ``(N, n_samples)``, ``oracles[split]`` ``(2N,
    n_samples)``: the first n pretrain models against oracles ``0..n-1``, and
    oracles ``0..n-1`` against the held-out ``N..N+n-1``.
    """
    replicates = Replicates(n)
    rows = []
    for split in SPLITS:
        # The floor's two sides are both oracles: its replicates resample
        # oracles 0..n-1 exactly as every other row's oracle side does, so
        # that the gap between a method and the floor is paired.
        candidates = {
            "pretrain": (pretrain[split][:n], oracles[split][:n], (MODELS, ORACLES)),
            "oracle_floor": (
                oracles[split][:n],
                oracles[split][n_models : n_models + n],
                (ORACLES, HELD_OUT_ORACLES),
            ),
        }
        for baseline, (margins, oracle, roles) in candidates.items():
            rows.append(
                {
                    "baseline": baseline,
                    "split": split,
                    "n_models": n,
                    **summarize_split(margins, oracle, replicates, roles, n_threads=n_threads),
                }
            )
    return rows


def read_scores(path: str | Path, columns: list[str]) -> list[dict[str, str]]:
    """A table of KLOM scores read back (a cell's ``klom.tsv``, a gathered table), checked.

    It must have ``columns`` (one of the lists above, or part of one), and
    every cell of them must hold what WORD_COLUMNS, INTEGER_COLUMNS and
    KEY_NUMBER_COLUMNS say; otherwise one ValueError names the file, line and
    column, before any figure or table is made of it.
    """
    rows = read_tsv(path, columns)
    # The status first: it says whether the row's measured cells hold numbers.
    ordered = sorted(columns, key=lambda column: column != "status")
    for line, row in enumerate(rows, start=2):
        for column in ordered:
            problem = _cell_problem(column, row[column], row.get("status", "ok"))
            if problem:
                raise ValueError(f"{path}: line {line}, column {column}: {problem}")
    return rows


def read_scored(path: str | Path, columns: list[str], replicates: str | Path) -> list[dict]:
    """:func:`read_scores`, each row with its P95 replicates from ``replicates``."""
    return read_replicates(replicates, read_scores(path, columns), path)


def _cell_problem(column: str, text: str, status: str) -> str | None:
    """What is wrong with the cell ``text`` of ``column`` in a row of ``status``, if anything."""
    if column in WORD_COLUMNS:
        allowed = WORD_COLUMNS[column]
        if allowed is not None and text not in allowed:
            return f"{text!r} is not one of {', '.join(allowed)}"
        return None
    if status == "diverged" and column not in KEY_NUMBER_COLUMNS:
        return None  # never measured
    if not text:
        return "empty, expected a number"
    try:
        value = int(text) if column in INTEGER_COLUMNS else float(text)
    except ValueError:
        return f"{text!r} is not {'a whole' if column in INTEGER_COLUMNS else 'a'} number"
    if not math.isfinite(value):
        return f"{text} is not a finite number"
    return None


def scored(rows: list[dict]) -> list[dict]:
    """The rows of a table that carry numbers: all but those of runs that diverged."""
    return [r for r in rows if r.get("status", "ok") == "ok"]


def count_degenerate(unlearned: np.ndarray, oracle: np.ndarray) -> int:
    """How many samples score KLOM 0 only because the binning dropped their unlearned mass."""
    return int(np.count_nonzero(degenerate_samples(unlearned, oracle)))


def pretrain_table(baselines: list[dict]) -> tuple[list[dict], str]:
    """The pretrain-vs-oracle P95 KLOM per split (EasyDUB's eval_pretrain), as rows and as text."""
    rows = [
        {column: r[column] for column in PRETRAIN_COLUMNS}
        for r in baselines
        if r["baseline"] == "pretrain"
    ]
    lines = [f"pretrain vs oracle, N = {rows[0]['n_models']}, P95 KLOM (95 % interval)"]
    lines.append(f"{'forget set':<11}" + "".join(f"{split:>26}" for split in SPLITS))
    for forget_set in dict.fromkeys(r["forget_set"] for r in rows):
        cells = {
            r["split"]: (
                f"{float(r['klom_p95']):.4f} "
                f"({float(r['klom_p95_low']):.4f}-{float(r['klom_p95_high']):.4f})"
            )
            for r in rows
            if r["forget_set"] == forget_set
        }
        lines.append(f"{forget_set:<11}" + "".join(f"{cells[split]:>26}" for split in SPLITS))
    return rows, "\n".join(lines)
