"""The compute-vs-KLOM figure (SPEC §7)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on clusters and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from klomflow.splits import SPLITS  # noqa: E402
from klomflow.files import atomic_path  # noqa: E402


def plot_compute_vs_klom(
    curves: list[dict], baselines: list[dict], path: str | Path, title: str = ""
) -> None:
    """One panel per split: P95 KLOM of the retrained models against compute.

    ``curves``: rows of ``compute_vs_klom.tsv`` (noise, seed, epoch,
    compute_pct, split, klom_p95, ...); each noise level is drawn as the mean
    over seeds with the range of seeds shaded. ``baselines``: rows of
    ``baselines.tsv``; pretrain is a dashed line, the oracle floor a marker at
    100 % compute.
    """
    noise_levels = sorted({float(r["noise"]) for r in curves})
    colours = plt.cm.viridis(np.linspace(0, 0.9, max(len(noise_levels), 1)))
    fig, axes = plt.subplots(1, len(SPLITS), figsize=(5 * len(SPLITS), 4.5), sharex=True)
    for ax, split in zip(axes, SPLITS):
        for noise, colour in zip(noise_levels, colours):
            by_epoch = defaultdict(list)
            for r in curves:
                if r["split"] == split and float(r["noise"]) == noise:
                    by_epoch[float(r["compute_pct"])].append(float(r["klom_p95"]))
            x = np.array(sorted(by_epoch))
            per_seed = [np.array(by_epoch[k]) for k in x]
            mean = np.array([v.mean() for v in per_seed])
            ax.plot(x, mean, marker="o", ms=3, color=colour, label=f"retrain, noise σ={noise:g}")
            ax.fill_between(
                x, [v.min() for v in per_seed], [v.max() for v in per_seed], color=colour, alpha=0.2
            )
        for r in baselines:
            if r["split"] != split:
                continue
            if r["baseline"] == "pretrain":
                ax.axhline(float(r["klom_p95"]), color="black", ls="--", label="pretrain (do nothing)")
            elif r["baseline"] == "oracle_floor":
                ax.plot(
                    100, float(r["klom_p95"]), marker="*", ms=14, color="crimson", ls="none",
                    label="oracle vs disjoint oracle (floor)",
                )
        ax.set_title(split)
        ax.set_xlabel("compute (% of a full retrain)")
        ax.set_yscale("symlog", linthresh=0.01)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("KLOM, 95th percentile over samples\n(lower is better)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=150, format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)
