"""Scoring models against the oracles: KLOM per split, summarised (SPEC §2, §7)."""

from __future__ import annotations

import logging

import numpy as np

from klomflow.easydub import EasyDUBLayout
from klomflow.klom import klom_scores, summarize_klom
from klomflow.margins import EpochMargins
from klomflow.progress import progress
from klomflow.splits import SPLITS

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ["klom_mean", "klom_p95", "klom_p05"]
BASELINE_COLUMNS = ["baseline", "split", "n_models", *SUMMARY_COLUMNS]
EPOCH_COLUMNS = ["epoch", "compute_pct", "split", *SUMMARY_COLUMNS, "accuracy"]


def score_epochs(
    recorded: EpochMargins, oracle: dict[str, np.ndarray], n_threads: int | None = None
) -> list[dict]:
    """KLOM of models recorded after several epochs, one row per (epoch, split).

    ``oracle[split]`` is ``(N, n_samples)``. Accuracy is the share of
    (model, sample) pairs with a positive margin.
    """
    log.info(
        "scoring from the first epoch (scoring keeps no resume state: a stopped run starts over)"
    )
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
                    **summarize_klom(scores),
                    "accuracy": float(np.mean(margins > 0)),
                }
            )
    return rows


def score_baselines(
    layout: EasyDUBLayout, forget_set: int, n_models: int, n_threads: int | None = None
) -> list[dict]:
    """The two reference points of every figure, one row per (baseline, split).

    ``pretrain``: the N pretrain models, trained on the forget set, against
    oracles 0..N-1 (what doing nothing scores). ``oracle_floor``: oracles
    0..N-1 against the disjoint oracles N..2N-1 (the best an unlearning
    method can hope for with N models).
    """
    first, second = range(n_models), range(n_models, 2 * n_models)
    rows = []
    for split in SPLITS:
        oracle = layout.oracle_margins(forget_set, split, first)
        candidates = {
            "pretrain": layout.pretrain_margins(split, forget_set, first),
            "oracle_floor": layout.oracle_margins(forget_set, split, second),
        }
        for baseline, margins in candidates.items():
            scores = klom_scores(margins, oracle, n_threads=n_threads)
            rows.append(
                {
                    "baseline": baseline,
                    "split": split,
                    "n_models": n_models,
                    **summarize_klom(scores),
                }
            )
    return rows


GRID_COLUMNS = ["noise", "seed", "epoch", "compute_pct", "split", *SUMMARY_COLUMNS]


def label_rows(tables: list[list[dict]], labels: list[dict]) -> list[dict]:
    """One table from several: every row of ``tables[i]`` prefixed with the columns ``labels[i]``.

    E.g. the grid's cells labelled with their noise and seed, or the methods'
    tables with their entry name.
    """
    if len(tables) != len(labels):
        raise ValueError(f"{len(tables)} tables for {len(labels)} labels")
    return [{**label, **row} for label, rows in zip(labels, tables) for row in rows]


METHOD_COLUMNS = [
    "method",
    "epoch",
    "split",
    "n_models",
    *SUMMARY_COLUMNS,
    "accuracy",
    "compute_pct",
]


PRETRAIN_COLUMNS = ["split", "n_models", "klom_p95"]


def pretrain_table(baselines: list[dict]) -> tuple[list[dict], str]:
    """The pretrain-vs-oracle P95 KLOM per split (EasyDUB's eval_pretrain), as rows and as text."""
    rows = [
        {column: r[column] for column in PRETRAIN_COLUMNS}
        for r in baselines
        if r["baseline"] == "pretrain"
    ]
    lines = [f"{'split':<8} {'P95 KLOM':>10}   (pretrain vs oracle, N = {rows[0]['n_models']})"]
    lines += [f"{r['split']:<8} {float(r['klom_p95']):>10.4f}" for r in rows]
    return rows, "\n".join(lines)
