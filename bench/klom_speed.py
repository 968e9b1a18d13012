"""KLOM speed: all samples at once (klom_scores) against the per-sample loop.

Usage: python bench/klom_speed.py [--models 100] [--samples 20000] [--out FILE]

Times both on the same random float32 margins (the best of --repeats runs
for the vectorised version, one run of the loop), checks that they agree to
1e-12, prints both times and the ratio, and writes them with the machine's
description to --out (JSON, by default bench/results/klom_speed.json, from which
bench/RESULTS.md is rendered).
"""

import argparse
import time
from pathlib import Path

import numpy as np
from record import RESULTS_DIR, describe_machine, save

from klomflow import klom_scores, klom_scores_loop


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "klom_speed.json")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    unlearned = rng.normal(0.0, 3.0, size=(args.models, args.samples)).astype(np.float32)
    oracle = rng.normal(0.5, 3.0, size=(args.models, args.samples)).astype(np.float32)

    klom_scores(unlearned[:, :100], oracle[:, :100])  # warm up thread pool and imports
    vectorised = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        fast = klom_scores(unlearned, oracle)
        vectorised.append(time.perf_counter() - start)
    start = time.perf_counter()
    slow = klom_scores_loop(unlearned, oracle)
    loop = time.perf_counter() - start

    difference = float(np.max(np.abs(fast - slow)))
    assert difference <= 1e-12, f"vectorised and loop differ by {difference}"
    figures = {
        "n_models": args.models,
        "n_samples": args.samples,
        "vectorised_s": min(vectorised),
        "loop_s": loop,
        "speedup": loop / min(vectorised),
        "loop_samples_per_s": args.samples / loop,
        "max_abs_difference": difference,
    }
    print(f"KLOM of {args.models} models x {args.samples} samples on {describe_machine()}")
    print(f"  per-sample loop : {loop:8.3f} s  ({figures['loop_samples_per_s']:.0f} samples/s)")
    print(f"  klom_scores     : {min(vectorised):8.3f} s  (best of {args.repeats})")
    print(f"  speed-up        : {figures['speedup']:8.1f}x   (max |difference| {difference:.1e})")
    save(__doc__.splitlines()[0], figures, args.out)


if __name__ == "__main__":
    main()
