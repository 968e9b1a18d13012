"""The figures: compute against KLOM for the retraining grid, and for the methods.

Both put compute (% of a full retrain) on x and the 95th percentile of KLOM
over samples on y, one panel per split, with the same two reference points:
pretrain (doing nothing) as a dashed line and the oracle floor as a star at
100 %.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on clusters and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter, SymmetricalLogLocator  # noqa: E402

from klomflow.files import atomic_path  # noqa: E402
from klomflow.splits import SPLITS  # noqa: E402


def plot_compute_vs_klom(
    curves: list[dict], baselines: list[dict], path: str | Path, title: str = ""
) -> None:
    """One panel per split: P95 KLOM of the retrained models against compute.

    ``curves``: rows of ``compute_vs_klom.tsv`` (noise, seed, epoch,
    compute_pct, split, klom_p95, ...); each noise level is drawn as the mean
    over seeds with the range of seeds shaded. ``baselines``: rows of
    ``baselines.tsv``.
    """
    noise_levels = sorted({float(r["noise"]) for r in curves})
    colours = plt.cm.viridis(np.linspace(0, 0.9, max(len(noise_levels), 1)))
    fig, axes = plt.subplots(1, len(SPLITS), figsize=(5 * len(SPLITS), 4.5), sharex=True)
    for ax, split in zip(axes, SPLITS):
        for noise, colour in zip(noise_levels, colours):
            _draw_retraining(ax, curves, split, noise, colour, f"retrain, noise σ={noise:g}")
        _draw_baselines(ax, baselines, split)
        _label_klom_axes(ax, split)
    _finish(fig, axes, path, title, legend_rows=1)


def plot_methods(
    methods: list[dict],
    baselines: list[dict],
    curves: list[dict],
    path: str | Path,
    title: str = "",
) -> None:
    """P95 KLOM (top) and accuracy (bottom) of every method entry against its compute.

    ``methods``: rows of ``methods.tsv``; each entry is a line through its
    recorded epochs, each point labelled with its epoch. The retraining grid's
    lowest noise level (mean over seeds) is drawn in grey for comparison, on
    the same compute axis.
    """
    entries = list(dict.fromkeys(r["method"] for r in methods))
    colours = plt.cm.tab10(np.arange(len(entries)) % 10)
    lowest_noise = min((float(r["noise"]) for r in curves), default=None)
    fig, axes = plt.subplots(2, len(SPLITS), figsize=(5 * len(SPLITS), 8), sharex=True)
    for column, split in enumerate(SPLITS):
        klom_ax, accuracy_ax = axes[0, column], axes[1, column]
        if lowest_noise is not None:
            _draw_retraining(
                klom_ax,
                curves,
                split,
                lowest_noise,
                "0.6",
                f"retrain from scratch, noise σ={lowest_noise:g}",
            )
        for entry, colour in zip(entries, colours):
            rows = sorted(
                (r for r in methods if r["method"] == entry and r["split"] == split),
                key=lambda r: int(r["epoch"]),
            )
            x = [float(r["compute_pct"]) for r in rows]
            for ax, column_name in ((klom_ax, "klom_p95"), (accuracy_ax, "accuracy")):
                y = [float(r[column_name]) for r in rows]
                ax.plot(x, y, marker="o", ms=4, color=colour, label=entry)
                for r, xi, yi in zip(rows, x, y):
                    ax.annotate(
                        r["epoch"],
                        (xi, yi),
                        textcoords="offset points",
                        xytext=(3, 3),
                        fontsize=7,
                        color=colour,
                    )
        _draw_baselines(klom_ax, baselines, split)
        _label_klom_axes(klom_ax, split)
        klom_ax.set_xlabel("")  # the accuracy panel below carries the shared axis
        accuracy_ax.set_xlabel("compute (% of a full retrain)")
        accuracy_ax.grid(alpha=0.3)
    axes[1, 0].set_ylabel("accuracy (share of positive margins)")
    _finish(fig, axes[0], path, title, legend_rows=2)


def _draw_retraining(ax, curves, split, noise, colour, label):
    """Mean P95 KLOM over seeds of one noise level, the seeds' range shaded."""
    by_compute = defaultdict(list)
    for r in curves:
        if r["split"] == split and float(r["noise"]) == noise:
            by_compute[float(r["compute_pct"])].append(float(r["klom_p95"]))
    x = np.array(sorted(by_compute))
    per_seed = [np.array(by_compute[k]) for k in x]
    ax.plot(x, [v.mean() for v in per_seed], marker="o", ms=3, color=colour, label=label)
    ax.fill_between(
        x, [v.min() for v in per_seed], [v.max() for v in per_seed], color=colour, alpha=0.2
    )


def _draw_baselines(ax, baselines, split):
    for r in baselines:
        if r["split"] != split:
            continue
        if r["baseline"] == "pretrain":
            ax.axhline(float(r["klom_p95"]), color="black", ls="--", label="pretrain (do nothing)")
        elif r["baseline"] == "oracle_floor":
            ax.plot(
                100,
                float(r["klom_p95"]),
                marker="*",
                ms=14,
                color="crimson",
                ls="none",
                label="oracle vs disjoint oracle (floor)",
            )


def _label_klom_axes(ax, split):
    ax.set_title(split)
    ax.set_xlabel("compute (% of a full retrain)")
    # symlog: a score of 0 (identical histograms) must still have a place.
    ax.set_yscale("symlog", linthresh=0.01)
    # Label 1-2-5 steps: a decade or two of plain log labels leaves a reader
    # guessing what the curves between 10^0 and 10^1 read.
    ax.yaxis.set_major_locator(SymmetricalLogLocator(base=10, linthresh=0.01, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.grid(alpha=0.3)


def _finish(fig, klom_axes, path, title, legend_rows):
    klom_axes[0].set_ylabel("KLOM, 95th percentile over samples\n(lower is better)")
    handles, labels = klom_axes[0].get_legend_handles_labels()
    ncol = -(-len(labels) // legend_rows)
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.03 * legend_rows + 0.03, 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=150, format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)
