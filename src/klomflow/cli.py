"""The ``klomflow`` command: KLOM for margins computed by your own code.

klomflow score UNLEARNED.npy ORACLE.npy [--out SCORES.npy]
klomflow validate-dataset DIR [--n-train N --n-val N]
klomflow --version
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

import klomflow
from klomflow.files import atomic_save_npy, load_npy
from klomflow.joblog import EXPECTED_ERRORS, one_line
from klomflow.klom import BINS, CLIP, EPS, MAX_BINS, degenerate_samples, klom_scores, summarize_klom
from klomflow.layout import validate_dataset
from klomflow.margins import check_margins
from klomflow.uncertainty import klom_p95_interval


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (``klomflow score: error: ...``), exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _integer_at_least(minimum: int, maximum: int | None = None, why: str = ""):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is less than {minimum}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{value} is more than {maximum}{why}")
        return value

    return parse


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number > 0")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="klomflow", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"klomflow {klomflow.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    score = commands.add_parser(
        "score",
        help="KLOM of unlearned against oracle margins, each an (n_models, n_samples) .npy file",
    )
    score.add_argument("unlearned", type=Path, help="margins of the unlearned models (.npy)")
    score.add_argument("oracle", type=Path, help="margins of the oracle models (.npy)")
    score.add_argument("--out", type=Path, help="write the per-sample scores here (.npy)")
    score.add_argument(
        "--bins",
        type=_integer_at_least(1, MAX_BINS, " (the most bins a KLOM histogram may have)"),
        default=BINS,
        help=f"histogram bins, 1 to {MAX_BINS}",
    )
    score.add_argument(
        "--clip", type=_positive_number, default=CLIP, help="margins are clipped to ±CLIP"
    )
    score.add_argument(
        "--eps", type=_positive_number, default=EPS, help="floor of oracle bin probabilities"
    )
    score.set_defaults(run=_score)

    validate = commands.add_parser(
        "validate-dataset",
        help="check a directory in the EasyDUB layout (downloaded or built): files, shapes, values",
    )
    validate.add_argument("directory", type=Path)
    validate.add_argument(
        "--n-train", type=_integer_at_least(2), help="train split size (default: the benchmark's)"
    )
    validate.add_argument(
        "--n-val", type=_integer_at_least(1), help="val split size (default: the benchmark's)"
    )
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
    if unlearned.shape[0] < 2:
        # One model per side: the model that is not below the oracle sits on
        # the last bin edge and scores 0, a meaningless "perfect" score.
        raise ValueError(
            f"{args.unlearned} and {args.oracle} hold margins of {unlearned.shape[0]} model each; "
            "KLOM compares histograms and needs at least 2 models per side"
        )
    scores = klom_scores(unlearned, oracle, bins=args.bins, clip=args.clip, eps=args.eps)
    summary = summarize_klom(scores)
    degenerate = degenerate_samples(unlearned, oracle, clip=args.clip)
    if (args.bins, args.clip, args.eps) == (BINS, CLIP, EPS):
        # The replicates score with the reference options; other options have no interval.
        low, high = klom_p95_interval(unlearned, oracle)
        summary |= {"klom_p95_low": low, "klom_p95_high": high}
    print(f"samples {scores.size}, models {unlearned.shape[0]}")
    for name, value in summary.items():
        print(f"{name}\t{value:.6g}")
    print(f"n_degenerate\t{np.count_nonzero(degenerate)}")
    if degenerate.any():
        print(
            f"warning: {np.count_nonzero(degenerate)} samples score 0 only because every "
            "unlearned margin sits on the top bin edge, which KLOM's binning drops; "
            f"the first is sample {np.flatnonzero(degenerate)[0]}",
            file=sys.stderr,
        )
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
    check_margins(margins, f"{path}: margins")
    return margins
