"""Interval speed: one epoch's P95 intervals at CIFAR-10 size, beside the point estimate.

Usage: python bench/interval_speed.py [--models 100] [--out FILE]

Scores one epoch of a retraining cell at the size of the EasyDUB CIFAR-10
benchmark (N models against N oracles on the three splits: 49,900 retain,
100 forget, 10,000 val samples) on random float32 margins, as a scoring job
does: the point estimates alone (``klom_scores`` and the summary), then the
same with the P95 intervals (``scoring.summarize_split``: point, degenerate
samples and the bootstrap replicates). Prints both times, the ratio, and
writes them with the machine's description to --out (JSON, by default
bench/results/interval_speed.json, from which bench/RESULTS.md is rendered).
"""

import argparse
import time
from pathlib import Path

import numpy as np
from record import RESULTS_DIR, describe_machine, save

from klomflow.klom import klom_scores, summarize_klom
from klomflow.scoring import summarize_split
from klomflow.uncertainty import N_REPLICATES, Replicates

SPLIT_SIZES = {"retain": 49_900, "forget": 100, "val": 10_000}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "interval_speed.json")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    margins = {
        split: (
            rng.normal(0.0, 3.0, (args.models, n)).astype(np.float32),
            rng.normal(0.5, 3.0, (args.models, n)).astype(np.float32),
        )
        for split, n in SPLIT_SIZES.items()
    }
    klom_scores(*(m[:, :100] for m in margins["forget"]))  # warm up thread pool and imports

    start = time.perf_counter()
    for unlearned, oracle in margins.values():
        summarize_klom(klom_scores(unlearned, oracle))
    point = time.perf_counter() - start

    replicates = Replicates(args.models)
    start = time.perf_counter()
    for unlearned, oracle in margins.values():
        summarize_split(unlearned, oracle, replicates)
    with_intervals = time.perf_counter() - start

    figures = {
        "n_models": args.models,
        "split_sizes": SPLIT_SIZES,
        "n_replicates": N_REPLICATES,
        "point_s": point,
        "with_intervals_s": with_intervals,
        "ratio": with_intervals / point,
    }
    samples = sum(SPLIT_SIZES.values())
    print(f"One epoch, {args.models} models x {samples} samples, on {describe_machine()}")
    print(f"  point estimates      : {point:8.2f} s")
    print(f"  with P95 intervals   : {with_intervals:8.2f} s  ({N_REPLICATES} replicates)")
    print(f"  ratio                : {figures['ratio']:8.1f}x")
    save(__doc__.splitlines()[0], figures, args.out)


if __name__ == "__main__":
    main()
