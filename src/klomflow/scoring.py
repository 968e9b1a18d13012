"""Scoring models against the oracles: KLOM per split, summarised (SPEC §2, §7)."""

from __future__ import annotations

import numpy as np

from klomflow.splits import SPLITS
from klomflow.easydub import EasyDUBLayout
from klomflow.klom import klom_scores, summarize_klom

SUMMARY_COLUMNS = ["klom_mean", "klom_p95", "klom_p05"]
BASELINE_COLUMNS = ["baseline", "split", "n_models", *SUMMARY_COLUMNS]
EPOCH_COLUMNS = ["epoch", "compute_pct", "split", *SUMMARY_COLUMNS]


def compute_pct(epoch: int, n_epochs: int, n_retain: int, n_train: int) -> float:
    """Compute spent after ``epoch`` of ``n_epochs`` on the retain split, as % of a full retrain.

    SPEC §7: ``epoch * (n_retain / n_train) * (100 / n_epochs)``.
    """
    return epoch * (n_retain / n_train) * (100 / n_epochs)


def score_epochs(
    margins: dict[str, np.ndarray],
    oracle: dict[str, np.ndarray],
    *,
    n_train: int,
    n_threads: int | None = None,
) -> list[dict]:
    """KLOM of models recorded after every epoch, one row per (epoch, split).

    ``margins[split]`` is ``(n_epochs, N, n_samples)``, ``oracle[split]``
    ``(N, n_samples)``. The compute axis counts the epochs as passes over
    the retain split.
    """
    n_epochs = margins["retain"].shape[0]
    rows = []
    for epoch in range(1, n_epochs + 1):
        pct = compute_pct(epoch, n_epochs, margins["retain"].shape[2], n_train)
        for split in SPLITS:
            scores = klom_scores(margins[split][epoch - 1], oracle[split], n_threads=n_threads)
            rows.append({"epoch": epoch, "compute_pct": pct, "split": split, **summarize_klom(scores)})
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
                {"baseline": baseline, "split": split, "n_models": n_models, **summarize_klom(scores)}
            )
    return rows


GRID_COLUMNS = ["noise", "seed", *EPOCH_COLUMNS]


def collect_grid(tables: list[list[dict]], cells: list[tuple]) -> list[dict]:
    """One table of the whole grid from the per-cell tables, each row labelled with its cell.

    ``tables[i]`` holds the rows of cell ``cells[i] = (noise, seed)``.
    """
    if len(tables) != len(cells):
        raise ValueError(f"{len(tables)} tables for {len(cells)} grid cells")
    return [
        {"noise": noise, "seed": seed, **row}
        for (noise, seed), rows in zip(cells, tables)
        for row in rows
    ]
