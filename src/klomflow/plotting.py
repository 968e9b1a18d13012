"""The figures: compute against KLOM for the retraining grid, and for the methods.

Both put compute (% of a full retrain) on x and the 95th percentile of KLOM
over samples on y, one panel per split, with the same two reference points:
pretrain (doing nothing) as a dashed line and the oracle floor as a star at
100 %. The tables may hold several forget sets: each curve is then the mean
over forget sets, and the spread across them is drawn (a band, or bars).
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
from klomflow.scoring import scored  # noqa: E402
from klomflow.splits import SPLITS  # noqa: E402


def plot_compute_vs_klom(
    curves: list[dict], baselines: list[dict], path: str | Path, title: str = ""
) -> None:
    """One panel per split: P95 KLOM of the retrained models against compute.

    ``curves``: rows of ``compute_vs_klom.tsv`` (forget_set, noise, seed,
    epoch, compute_pct, split, klom_p95, ...); each noise level is drawn as
    the mean over its cells (forget sets and seeds) with their range shaded.
    ``baselines``: rows of ``baselines.tsv``.
    """
    curves = scored(curves)
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

    ``methods``: rows of ``methods.tsv``; each setting is a line through its
    recorded epochs (the mean over forget sets, bars from their minimum to
    maximum), each point labelled with its epoch, the settings of one entry
    in one colour. The retraining grid's lowest noise level is drawn in grey
    for comparison, on the same compute axis.
    """
    methods, curves = scored(methods), scored(curves)
    entries = list(dict.fromkeys(r["method"] for r in methods))
    colours = dict(zip(entries, plt.cm.tab10(np.arange(len(entries)) % 10)))
    settings = list(dict.fromkeys((r["method"], r["setting"]) for r in methods))
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
        labelled = set()
        for entry, setting in settings:
            by_epoch = defaultdict(list)
            for r in methods:
                if r["setting"] == setting and r["split"] == split:
                    by_epoch[int(r["epoch"])].append(r)
            epochs = sorted(by_epoch)
            x = [np.mean([float(r["compute_pct"]) for r in by_epoch[e]]) for e in epochs]
            label = None if entry in labelled else entry
            labelled.add(entry)
            for ax, column_name in ((klom_ax, "klom_p95"), (accuracy_ax, "accuracy")):
                values = [np.array([float(r[column_name]) for r in by_epoch[e]]) for e in epochs]
                y = np.array([v.mean() for v in values])
                # The mean can round a hair past a bound of one value.
                spread = np.clip(
                    [y - [v.min() for v in values], [v.max() for v in values] - y], 0, None
                )
                ax.errorbar(
                    x,
                    y,
                    yerr=spread,
                    marker="o",
                    ms=4,
                    capsize=2,
                    color=colours[entry],
                    label=label,
                )
                for epoch, xi, yi in zip(epochs, x, y):
                    ax.annotate(
                        str(epoch),
                        (xi, yi),
                        textcoords="offset points",
                        xytext=(3, 3),
                        fontsize=7,
                        color=colours[entry],
                    )
        _draw_baselines(klom_ax, baselines, split)
        _label_klom_axes(klom_ax, split)
        klom_ax.set_xlabel("")  # the accuracy panel below carries the shared axis
        accuracy_ax.set_xlabel("compute (% of a full retrain)")
        accuracy_ax.grid(alpha=0.3)
    axes[1, 0].set_ylabel("accuracy (share of positive margins)")
    _finish(fig, axes[0], path, title, legend_rows=2)


def _draw_retraining(ax, curves, split, noise, colour, label):
    """Mean P95 KLOM of one noise level over its cells (forget sets, seeds), their range shaded."""
    by_epoch = defaultdict(list)
    for r in curves:
        if r["split"] == split and float(r["noise"]) == noise:
            by_epoch[int(r["epoch"])].append((float(r["compute_pct"]), float(r["klom_p95"])))
    epochs = sorted(by_epoch)
    cells = [np.array(by_epoch[e]) for e in epochs]
    x = [c[:, 0].mean() for c in cells]
    ax.plot(x, [c[:, 1].mean() for c in cells], marker="o", ms=3, color=colour, label=label)
    ax.fill_between(
        x, [c[:, 1].min() for c in cells], [c[:, 1].max() for c in cells], color=colour, alpha=0.2
    )


def _draw_baselines(ax, baselines, split):
    """Pretrain as a dashed line, the oracle floor as a star at 100 %: means over forget sets,
    with their range (a band, a bar) where there are several."""
    for name in ("pretrain", "oracle_floor"):
        p95 = np.array(
            [
                float(r["klom_p95"])
                for r in baselines
                if r["split"] == split and r["baseline"] == name
            ]
        )
        if not p95.size:
            continue
        if name == "pretrain":
            ax.axhline(p95.mean(), color="black", ls="--", label="pretrain (do nothing)")
            if p95.size > 1:
                ax.axhspan(p95.min(), p95.max(), color="black", alpha=0.07)
        else:
            ax.errorbar(
                100,
                p95.mean(),
                yerr=np.clip([[p95.mean() - p95.min()], [p95.max() - p95.mean()]], 0, None),
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
