"""Scoring models against the oracles: KLOM per split, summarised (docs/klom.md, docs/recipe.md)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from klomflow.benchmarks import n_oracles
from klomflow.easydub import ReferenceFormat
from klomflow.klom import degenerate_samples, klom_scores, summarize_klom
from klomflow.margins import EpochMargins
from klomflow.progress import progress
from klomflow.splits import SPLITS

log = logging.getLogger(__name__)

# The columns of each table. One cell's or setting's klom.tsv has
# EPOCH_COLUMNS; the gathered tables say which benchmark and forget set each
# row is of (FORGET_SET_COLUMNS first). n_degenerate: samples whose KLOM of 0
# only means the binning dropped every unlearned margin
# (klom.degenerate_samples); a non-zero count flags the row.
SUMMARY_COLUMNS = ["klom_mean", "klom_p95", "klom_p05", "n_degenerate"]
# status: ok, or diverged (the run's margins were not finite: no numbers, and
# no place in any ranking).
EPOCH_COLUMNS = ["epoch", "compute_pct", "split", "status", *SUMMARY_COLUMNS, "accuracy"]
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
    "accuracy",
    "compute_pct",
]
PRETRAIN_COLUMNS = [*FORGET_SET_COLUMNS, "split", "n_models", "klom_p95", "n_degenerate"]


def score_epochs(
    recorded: EpochMargins, oracle: dict[str, np.ndarray], n_threads: int | None = None
) -> list[dict]:
    """KLOM of models recorded after several epochs, one row per (epoch, split).

    ``oracle[split]`` is ``(N, n_samples)``. Accuracy is the share of
    (model, sample) pairs with a positive margin. A run that diverged gets
    one row per (epoch, split) with status ``diverged`` and no numbers.
    """
    log.info(
        "scoring from the first epoch (scoring keeps no resume state: a stopped run starts over)"
    )
    if recorded.diverged is not None:
        log.warning("not scored: %s", recorded.diverged)
        return [
            {**dict.fromkeys(EPOCH_COLUMNS), "epoch": epoch, "split": split, "status": "diverged"}
            for epoch in recorded.epochs
            for split in SPLITS
        ]
    rows = []
    epochs = progress(
        enumerate(zip(recorded.epochs, recorded.compute_pct)),
        total=len(recorded.epochs),
        desc=f"KLOM of {recorded.margins['retain'].shape[1]} models",
        unit="epoch",
    )
    for i, (epoch, pct) in epochs:
        for split in SPLITS:
            margins = recorded.margins[split][i]
            scores = klom_scores(margins, oracle[split], n_threads=n_threads)
            rows.append(
                {
                    "epoch": epoch,
                    "compute_pct": pct,
                    "split": split,
                    "status": "ok",
                    **summarize_klom(scores),
                    "n_degenerate": count_degenerate(margins, oracle[split]),
                    "accuracy": float(np.mean(margins > 0)),
                }
            )
    return rows


def score_against_oracles(
    reference: ReferenceFormat,
    margins_file: Path,
    oracle_dir: Path,
    forget_set_file: Path,
    n_models: int,
    n_threads: int | None = None,
) -> list[dict]:
    """:func:`score_epochs` of a margins file (a retraining cell's, a method's) against oracles 0..N-1."""
    forget_set = reference.read_forget_set(forget_set_file)
    oracle = reference.read_oracle_margins(oracle_dir, forget_set, range(n_models))
    return score_epochs(EpochMargins.load(margins_file), oracle, n_threads=n_threads)


def score_baselines(
    reference: ReferenceFormat,
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
    forget_set = reference.read_forget_set(forget_set_file)
    oracles = reference.read_oracle_margins(oracle_dir, forget_set, range(n_oracles(n_models)))
    rows = []
    for split in SPLITS:
        oracle = oracles[split][:n_models]
        candidates = {
            "pretrain": reference.read_split_margins(
                pretrain_dirs[split], split, forget_set, range(n_models)
            ),
            "oracle_floor": oracles[split][n_models:],
        }
        for baseline, margins in candidates.items():
            scores = klom_scores(margins, oracle, n_threads=n_threads)
            rows.append(
                {
                    "baseline": baseline,
                    "split": split,
                    "n_models": n_models,
                    **summarize_klom(scores),
                    "n_degenerate": count_degenerate(margins, oracle),
                }
            )
    return rows


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
    lines = [f"pretrain vs oracle, N = {rows[0]['n_models']}, P95 KLOM"]
    lines.append(f"{'forget set':<11}" + "".join(f"{split:>10}" for split in SPLITS))
    for forget_set in dict.fromkeys(r["forget_set"] for r in rows):
        p95 = {r["split"]: float(r["klom_p95"]) for r in rows if r["forget_set"] == forget_set}
        lines.append(f"{forget_set:<11}" + "".join(f"{p95[split]:>10.4f}" for split in SPLITS))
    return rows, "\n".join(lines)
