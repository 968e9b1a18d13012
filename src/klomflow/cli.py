"""The ``klomflow`` command: KLOM for margins computed by your own code.

klomflow score UNLEARNED.npy ORACLE.npy [--out SCORES.npy]
klomflow validate-dataset DIR [--n-train N --n-val N]
klomflow --version
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import klomflow
from klomflow.easydub import validate_dataset
from klomflow.files import atomic_save_npy, load_npy
from klomflow.joblog import EXPECTED_ERRORS, one_line
from klomflow.klom import BINS, CLIP, EPS, klom_scores, summarize_klom


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="klomflow", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"klomflow {klomflow.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    score = commands.add_parser(
        "score",
        help="KLOM of unlearned against oracle margins, each an (n_models, n_samples) .npy file",
    )
    score.add_argument("unlearned", type=Path, help="margins of the unlearned models (.npy)")
    score.add_argument("oracle", type=Path, help="margins of the oracle models (.npy)")
    score.add_argument("--out", type=Path, help="write the per-sample scores here (.npy)")
    score.add_argument("--bins", type=int, default=BINS)
    score.add_argument("--clip", type=float, default=CLIP)
    score.add_argument("--eps", type=float, default=EPS)
    score.set_defaults(run=_score)

    validate = commands.add_parser(
        "validate-dataset",
        help="check a directory in the EasyDUB layout (downloaded or built): files, shapes, values",
    )
    validate.add_argument("directory", type=Path)
    validate.add_argument("--n-train", type=int, help="train split size (default: the benchmark's)")
    validate.add_argument("--n-val", type=int, help="val split size (default: the benchmark's)")
    validate.set_defaults(run=_validate_dataset)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except EXPECTED_ERRORS as error:
        print(f"klomflow: error: {one_line(error)}", file=sys.stderr)
        return 2


def _score(args) -> int:
    unlearned = _load_margins(args.unlearned)
    oracle = _load_margins(args.oracle)
    if unlearned.shape != oracle.shape:
        raise ValueError(
            f"{args.unlearned} has shape {unlearned.shape} but {args.oracle} has {oracle.shape}; "
            "both must be (n_models, n_samples)"
        )
    scores = klom_scores(unlearned, oracle, bins=args.bins, clip=args.clip, eps=args.eps)
    summary = summarize_klom(scores)
    print(f"samples {scores.size}, models {unlearned.shape[0]}")
    for name, value in summary.items():
        print(f"{name}\t{value:.6g}")
    if args.out:
        atomic_save_npy(args.out, scores)
    return 0


def _validate_dataset(args) -> int:
    for line in validate_dataset(args.directory, n_train=args.n_train, n_val=args.n_val):
        print(line)
    print(f"{args.directory}: valid")
    return 0


def _load_margins(path: Path) -> np.ndarray:
    margins = load_npy(path)
    if margins.ndim != 2:
        raise ValueError(
            f"{path}: margins have shape {margins.shape}, expected (n_models, n_samples)"
        )
    if 0 in margins.shape:
        raise ValueError(f"{path}: margins of shape {margins.shape} are empty")
    if not np.issubdtype(margins.dtype, np.floating):
        raise ValueError(f"{path}: margins have dtype {margins.dtype}, expected a float dtype")
    bad = np.argwhere(~np.isfinite(margins))
    if bad.size:
        m, i = bad[0]
        raise ValueError(f"{path}: margins contain {margins[m, i]} (model {m}, sample {i})")
    return margins
