"""The figures: compute against KLOM for the retraining grid and the methods, and P95 against N.

The compute figures put compute (% of a full retrain) on x and the 95th
percentile of KLOM over samples on y, one panel per split, with the same
reference points: pretrain (doing nothing) as a dashed line and the oracle
floor as a star at 100 %. What every figure shares:

- Every P95 is drawn with its 95 % interval (:mod:`klomflow.uncertainty`): a
  band around a curve, a bar on a point. A curve or point that is the mean of
  several rows (forget sets, seeds) gets the interval of that mean, computed
  replicate by replicate from the rows' bootstrap replicates, so the tables
  must be read with their replicates (:func:`klomflow.scoring.read_scored`).
- The largest KLOM a sample can score, ``log(1/eps)``, is drawn as the
  "KLOM ceiling": a P95 near it means the unlearned margins sit where the
  oracles have (almost) none.
- A run that diverged is not drawn (its rows have no numbers, and a mean over
  the forget sets it survived would not be comparable); it is named in a line
  under the axes.

``figure_*`` build a figure and return it (the tests inspect its axes);
``plot_*`` save it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on clusters and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import (  # noqa: E402
    FixedLocator,
    FuncFormatter,
    NullLocator,
    SymmetricalLogLocator,
)

from klomflow.files import atomic_path  # noqa: E402
from klomflow.klom import EPS  # noqa: E402
from klomflow.splits import SPLITS  # noqa: E402
from klomflow.uncertainty import CONFIDENCE, Estimate, mean  # noqa: E402

# KL(p || q) with q floored at eps is at most log(1/eps): all of a sample's
# unlearned mass in bins where the oracles have none.
KLOM_CEILING = float(np.log(1 / EPS))
INTERVAL_LABEL = f"{CONFIDENCE:.0%} interval of the P95 (band, bar)"
SHARE_LABEL = "share of margins > 0\n(true class p > 1/2)"
# The columns of n_models.tsv that make a point and its bar.
_INTERVAL_COLUMNS = ("klom_p95", "klom_p95_low", "klom_p95_high")
# One marker per method entry; its settings differ by colour.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")


def plot_compute_vs_klom(
    curves: list[dict], baselines: list[dict], path: str | Path, title: str = ""
) -> None:
    """Save :func:`figure_compute_vs_klom` at ``path``."""
    _save(figure_compute_vs_klom(curves, baselines, title), path)


def figure_compute_vs_klom(curves: list[dict], baselines: list[dict], title: str = ""):
    """One panel per split: P95 KLOM of the retrained models against compute.

    ``curves``: rows of ``compute_vs_klom.tsv`` with their replicates; each
    noise level is drawn as the mean over its cells (forget sets and seeds)
    with the interval of that mean as a band. ``baselines``: rows of
    ``baselines.tsv`` with their replicates; only those of the grid's forget
    sets are drawn (a config may run the grid on fewer forget sets).
    """
    grid_forget_sets = {r["forget_set"] for r in curves}
    baselines = [r for r in baselines if r["forget_set"] in grid_forget_sets]
    noise_levels = sorted({float(r["noise"]) for r in curves})
    diverged = _diverged(curves, _noise_name)
    colours = dict(zip(noise_levels, plt.cm.viridis(np.linspace(0, 0.9, len(noise_levels) or 1))))
    fig, axes = plt.subplots(
        1, len(SPLITS), figsize=(5 * len(SPLITS), 4.5), sharex=True, layout="constrained"
    )
    for ax, split in zip(axes, SPLITS):
        for noise in noise_levels:
            if _noise_name(noise) not in diverged:
                _draw_retraining(ax, curves, split, noise, colours[noise])
        _draw_baselines(ax, baselines, split)
        _label_klom_axes(ax, split)
    _finish(fig, axes, title, diverged=diverged)
    return fig


def plot_methods(
    methods: list[dict],
    baselines: list[dict],
    curves: list[dict],
    path: str | Path,
    title: str = "",
) -> str:
    """Save :func:`figure_methods` at ``path``; returns the line naming what diverged, or ``""``.

    The workflow puts that line in the figure's caption too.
    """
    _save(figure_methods(methods, baselines, curves, title), path)
    return _diverged_line(_methods_diverged(methods, curves))


def figure_methods(methods: list[dict], baselines: list[dict], curves: list[dict], title=""):
    """P95 KLOM (top) and the share of positive margins (bottom) of every setting against compute.

    ``methods``: rows of ``methods.tsv`` with their replicates; each setting
    is a line through its recorded epochs (left to right: compute grows with
    epochs), each point the mean over forget sets with the interval of that
    mean as a bar. Every setting has its own colour, every entry its own
    marker. Settings that diverged on any forget set shown are left out and
    named under the axes. The retraining grid's lowest noise level
    (``curves``, may be empty) is drawn in grey for comparison.
    """
    diverged = _methods_diverged(methods, curves)
    shown = [r for r in methods if r["setting"] not in diverged]
    entries = list(dict.fromkeys(r["method"] for r in shown))
    settings = list(dict.fromkeys((r["method"], r["setting"]) for r in shown))
    palette = plt.cm.tab10 if len(settings) <= 10 else plt.cm.tab20
    styles = {
        setting: {"color": palette(i % palette.N), "marker": MARKERS[entries.index(entry) % 10]}
        for i, (entry, setting) in enumerate(settings)
    }
    lowest_noise = min((float(r["noise"]) for r in curves), default=None)
    fig, axes = plt.subplots(
        2, len(SPLITS), figsize=(5 * len(SPLITS), 8.5), sharex=True, layout="constrained"
    )
    for column, split in enumerate(SPLITS):
        klom_ax, share_ax = axes[0, column], axes[1, column]
        if lowest_noise is not None and _noise_name(lowest_noise) not in diverged:
            label = f"retrain from scratch, noise σ={lowest_noise:g}"
            _draw_retraining(klom_ax, curves, split, lowest_noise, "0.6", label)
        for setting, style in styles.items():
            rows = [r for r in shown if r["setting"] == setting and r["split"] == split]
            _draw_setting(klom_ax, share_ax, rows, setting, style)
        _draw_baselines(klom_ax, baselines, split)
        _label_klom_axes(klom_ax, split)
        klom_ax.set_xlabel("")  # the panel below carries the shared axis
        share_ax.set_xlabel("compute (% of a full retrain)")
        share_ax.set_ylim(0, 1)
        share_ax.grid(alpha=0.3)
    axes[1, 0].set_ylabel(SHARE_LABEL)
    _finish(fig, axes[0], title, diverged=diverged)
    return fig


def plot_n_models(rows: list[dict], path: str | Path, title: str = "") -> None:
    """Save :func:`figure_n_models` at ``path``."""
    _save(figure_n_models(rows, title), path)


def figure_n_models(rows: list[dict], title: str = ""):
    """One panel per split: the baselines' P95 KLOM against the number of models, with intervals.

    ``rows``: rows of ``n_models.tsv`` (:mod:`klomflow.model_counts`); one
    colour per forget set, pretrain as circles on a solid line, the oracle
    floor as stars on a dashed one, each point with its interval as a bar.
    The forget sets' points are set a little apart so their bars do not hide
    one another.
    """
    forget_sets = list(dict.fromkeys(int(r["forget_set"]) for r in rows))
    sizes = sorted({int(r["n_models"]) for r in rows})
    colours = plt.cm.tab10(np.arange(len(forget_sets)) % 10)
    styles = {"pretrain": ("o", "-"), "oracle_floor": ("*", "--")}
    names = {"pretrain": "pretrain", "oracle_floor": "oracle floor"}
    fig, axes = plt.subplots(
        1, len(SPLITS), figsize=(5 * len(SPLITS), 4.5), sharex=True, layout="constrained"
    )
    for ax, split in zip(axes, SPLITS):
        for i, (forget_set, colour) in enumerate(zip(forget_sets, colours)):
            dodge = 1 + 0.04 * (i - (len(forget_sets) - 1) / 2)
            for baseline, (marker, line) in styles.items():
                points = sorted(
                    (int(r["n_models"]), *(float(r[c]) for c in _INTERVAL_COLUMNS))
                    for r in rows
                    if r["split"] == split
                    and r["baseline"] == baseline
                    and int(r["forget_set"]) == forget_set
                )
                n, y, low, high = np.array(points).T
                ax.errorbar(
                    n * dodge,
                    y,
                    yerr=[y - low, high - y],
                    marker=marker,
                    ls=line,
                    ms=5,
                    capsize=2,
                    color=colour,
                    label=f"{names[baseline]}, forget set {forget_set}",
                )
        _label_klom_axes(ax, split, xlabel="models per side (first n of the N)")
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(sizes))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    _finish(fig, axes, title)
    return fig


def _draw_setting(klom_ax, share_ax, rows, label, style):
    """One setting: P95 with interval bars (top), share of positive margins (bottom)."""
    x, estimates = _mean_curve(rows)
    low, high = np.transpose([e.interval() for e in estimates])
    y = np.array([e.point for e in estimates])
    klom_ax.errorbar(x, y, yerr=[y - low, high - y], ms=4, capsize=2, label=label, **style)
    by_epoch = _by_epoch(rows)
    share = [np.mean([float(r["share_above_half"]) for r in by_epoch[e]]) for e in by_epoch]
    # Unclipped: shares near 1 would otherwise hide in the top of the frame.
    share_ax.plot(x, share, ms=4, clip_on=False, **style)


def _draw_retraining(ax, curves, split, noise, colour, label=None):
    """P95 KLOM of one noise level: the mean over its cells, the interval of that mean as a band."""
    rows = [r for r in curves if r["split"] == split and float(r["noise"]) == noise]
    x, estimates = _mean_curve(rows)
    low, high = np.transpose([e.interval() for e in estimates])
    label = label or f"retrain, noise σ={noise:g}"
    ax.plot(x, [e.point for e in estimates], marker="o", ms=3, color=colour, label=label)
    ax.fill_between(x, low, high, color=colour, alpha=0.2, linewidth=0)


def _draw_baselines(ax, baselines, split):
    """Pretrain as a dashed line, the oracle floor as a star at 100 %, each with its interval.

    Over several forget sets both are means with the interval of the mean;
    the pretrain's range over forget sets, which is no interval, is drawn
    as two dotted lines and labelled so.
    """
    for name in ("pretrain", "oracle_floor"):
        rows = [r for r in baselines if r["split"] == split and r["baseline"] == name]
        if not rows:
            continue
        estimate = mean([Estimate.of(r) for r in rows])
        low, high = estimate.interval()
        if name == "pretrain":
            ax.axhline(estimate.point, color="black", ls="--", lw=1, label="pretrain (do nothing)")
            ax.axhspan(low, high, color="black", alpha=0.12, linewidth=0)
            if len(rows) > 1:
                p95 = [float(r["klom_p95"]) for r in rows]
                for value, label in (
                    (min(p95), "pretrain, range over forget sets"),
                    (max(p95), None),
                ):
                    ax.axhline(value, color="black", ls=":", lw=0.8, label=label)
        else:
            ax.errorbar(
                100,
                estimate.point,
                yerr=[[estimate.point - low], [high - estimate.point]],
                marker="*",
                ms=14,
                capsize=3,
                color="crimson",
                ls="none",
                label="oracle vs disjoint oracle (floor)",
            )


def _mean_curve(rows: list[dict]) -> tuple[list[float], list[Estimate]]:
    """Per epoch, in order: the mean compute and the mean P95 estimate of ``rows``."""
    by_epoch = _by_epoch(rows)
    x = [float(np.mean([float(r["compute_pct"]) for r in by_epoch[e]])) for e in by_epoch]
    return x, [mean([Estimate.of(r) for r in by_epoch[e]]) for e in by_epoch]


def _by_epoch(rows: list[dict]) -> dict[int, list[dict]]:
    by_epoch = defaultdict(list)
    for r in rows:
        by_epoch[int(r["epoch"])].append(r)
    return dict(sorted(by_epoch.items()))


def _noise_name(row_or_noise) -> str:
    noise = row_or_noise["noise"] if isinstance(row_or_noise, dict) else row_or_noise
    return f"retrain, noise σ={float(noise):g}"


def _methods_diverged(methods: list[dict], curves: list[dict]) -> dict[str, list[int]]:
    """The settings that diverged, and the grid's lowest noise level if it did."""
    lowest_noise = min((float(r["noise"]) for r in curves), default=None)
    grid = [r for r in curves if float(r["noise"]) == lowest_noise]
    return {**_diverged(grid, _noise_name), **_diverged(methods, lambda r: r["setting"])}


def _diverged(rows: list[dict], name) -> dict[str, list[int]]:
    """What diverged (``name(row)``), with the forget sets where it did."""
    diverged = defaultdict(set)
    for r in rows:
        if r.get("status", "ok") == "diverged":
            diverged[name(r)].add(int(r.get("forget_set", 0)))
    return {key: sorted(forget_sets) for key, forget_sets in diverged.items()}


def _diverged_line(diverged: dict[str, list[int]]) -> str:
    if not diverged:
        return ""
    named = []
    for key, forget_sets in diverged.items():
        which = "forget set" if len(forget_sets) == 1 else "forget sets"
        named.append(f"{key} ({which} {', '.join(map(str, forget_sets))})")
    return "diverged, not shown: " + "; ".join(named)


def _label_klom_axes(ax, title, xlabel="compute (% of a full retrain)"):
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.axhline(KLOM_CEILING, color="firebrick", lw=0.7, alpha=0.7, label="KLOM ceiling, log(1/ε)")
    # symlog: a score of 0 (identical histograms) must still have a place.
    ax.set_yscale("symlog", linthresh=0.01)
    # Label 1-2-3-5-7 steps: a decade or two of plain log labels leaves a reader
    # guessing what the curves between 10^0 and 10^1 read, and scores that all
    # lie between 5 and the ceiling would get only two labels with 1-2-5.
    ax.yaxis.set_major_locator(
        SymmetricalLogLocator(base=10, linthresh=0.01, subs=(1.0, 2.0, 3.0, 5.0, 7.0))
    )
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.grid(alpha=0.3)


def _finish(fig, klom_axes, title, diverged=None):
    """Shared y label, one legend beside the panels, the runs that diverged under them."""
    klom_axes[0].set_ylabel("KLOM, 95th percentile over samples\n(lower is better)")
    handles, labels = klom_axes[0].get_legend_handles_labels()
    # The reference lines last, whichever order they were drawn in.
    order = sorted(range(len(labels)), key=lambda i: "ceiling" in labels[i])
    handles = [handles[i] for i in order] + [Patch(color="0.5", alpha=0.3, linewidth=0)]
    labels = [labels[i] for i in order] + [INTERVAL_LABEL]
    fig.legend(handles, labels, loc="outside right upper", fontsize=8)
    note = _diverged_line(diverged or {})
    if note:
        fig.supxlabel(note, fontsize=8, color="0.3")
    if title:
        fig.suptitle(title)


def _save(fig, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=150, format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)
