"""The figures say what they show: intervals, the ceiling, what diverged, the share axis."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PolyCollection

from klomflow.klom import EPS
from klomflow.plotting import (
    KLOM_CEILING,
    SHARE_LABEL,
    figure_compute_vs_klom,
    figure_methods,
    figure_n_models,
    plot_methods,
    plot_n_models,
)
from klomflow.splits import SPLITS
from klomflow.uncertainty import Estimate, mean

N_REPLICATES = 100


def scored_row(p95: float, rng, spread: float = 0.1, **columns) -> dict:
    """A table row as scoring.read_scored returns it: strings from the TSV, replicates as an array."""
    replicates = p95 + spread * rng.standard_normal(N_REPLICATES)
    return {
        **{k: str(v) for k, v in columns.items()},
        "status": "ok",
        "klom_p95": str(p95),
        "p95_replicates": replicates,
    }


def diverged_row(**columns) -> dict:
    return {
        **{k: str(v) for k, v in columns.items()},
        "status": "diverged",
        "klom_p95": "",
        "p95_replicates": np.full(N_REPLICATES, np.nan),
    }


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def baselines(rng):
    return [
        scored_row(p95, rng, benchmark="digits", forget_set=k, baseline=name, split=split)
        for k in (1, 2)
        for split in SPLITS
        for name, p95 in (("pretrain", 5.0 + k), ("oracle_floor", 0.2 * k))
    ]


@pytest.fixture(scope="module")
def curves(rng):
    """Two forget sets, two seeds, two noise levels, three epochs."""
    return [
        scored_row(
            6.0 / epoch + noise + 0.1 * seed + 0.5 * k,
            rng,
            forget_set=k,
            noise=noise,
            seed=seed,
            epoch=epoch,
            compute_pct=10 * epoch + k,
            split=split,
        )
        for k in (1, 2)
        for noise in (0.0, 0.1)
        for seed in (0, 1)
        for epoch in (1, 2, 3)
        for split in SPLITS
    ]


def method_rows(rng, setting, method, forget_sets=(1, 2), diverged_on=(), epochs=(1, 2)):
    rows = []
    for k in forget_sets:
        for epoch in epochs:
            for split in SPLITS:
                columns = dict(
                    forget_set=k,
                    method=method,
                    setting=setting,
                    epoch=epoch,
                    split=split,
                    compute_pct=5 * epoch,
                )
                if k in diverged_on:
                    rows.append(diverged_row(**columns))
                else:
                    rows.append(scored_row(3.0 / epoch + k, rng, share_above_half=0.999, **columns))
    return rows


@pytest.fixture(scope="module")
def methods(rng):
    return [
        *method_rows(rng, "scrub", "scrub"),
        *method_rows(rng, "ga_sweep__lr-0.01", "ga_sweep"),
        *method_rows(rng, "ga_sweep__lr-0.1", "ga_sweep"),
        *method_rows(rng, "ga_sweep__lr-1e+06", "ga_sweep", diverged_on=(2,)),
    ]


# Figures are slow to build: each is built once and inspected by several tests.
@pytest.fixture(scope="module")
def compute_figure(curves, baselines):
    fig = figure_compute_vs_klom(curves, baselines)
    yield fig
    plt.close(fig)


@pytest.fixture(scope="module")
def methods_figure(methods, baselines, curves):
    fig = figure_methods(methods, baselines, curves)
    yield fig
    plt.close(fig)


def interval_of_mean(rows):
    return mean([Estimate.of(r) for r in rows]).interval()


def bands(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def band_bounds(band) -> tuple[np.ndarray, np.ndarray]:
    """The lower and upper edge of a fill_between band, from left to right."""
    vertices = band.get_paths()[0].vertices
    # fill_between's path: the upper edge left to right, the lower right to left,
    # closed; the first point is the (x0, lower) start.
    xs = np.unique(vertices[:, 0])
    low = np.array([vertices[vertices[:, 0] == x, 1].min() for x in xs])
    high = np.array([vertices[vertices[:, 0] == x, 1].max() for x in xs])
    return low, high


def test_every_retraining_curve_has_a_band_that_is_the_interval_of_its_mean(curves, compute_figure):
    forget_ax = compute_figure.axes[SPLITS.index("forget")]
    noise_bands = bands(forget_ax)
    lines = [line for line in forget_ax.get_lines() if line.get_label().startswith("retrain")]
    assert len(lines) == 2
    # One band per curve: the pretrain's band is an axhspan (a Rectangle), not a PolyCollection.
    assert len(noise_bands) == 2
    for noise, band in zip((0.0, 0.1), noise_bands):
        low, high = band_bounds(band)
        expected = [
            interval_of_mean(
                [
                    r
                    for r in curves
                    if r["split"] == "forget"
                    and float(r["noise"]) == noise
                    and r["epoch"] == str(e)
                ]
            )
            for e in (1, 2, 3)
        ]
        np.testing.assert_allclose(low, [e[0] for e in expected])
        np.testing.assert_allclose(high, [e[1] for e in expected])


def test_the_pretrain_band_is_its_interval_and_the_forget_set_range_is_labelled(curves, baselines):
    fig = figure_compute_vs_klom(curves, baselines)
    ax = fig.axes[SPLITS.index("val")]
    pretrain = [r for r in baselines if r["split"] == "val" and r["baseline"] == "pretrain"]
    low, high = interval_of_mean(pretrain)
    (span,) = [p for p in ax.patches if p.get_height() > 0 and p.get_width() == 1]
    assert span.get_y() == pytest.approx(low)
    assert span.get_y() + span.get_height() == pytest.approx(high)
    labels = fig.legends[0].get_texts()
    assert "pretrain, range over forget sets" in [t.get_text() for t in labels]


def test_the_oracle_floor_star_has_the_interval_of_its_mean_as_a_bar(baselines, compute_figure):
    ax = compute_figure.axes[SPLITS.index("retain")]
    floor = [r for r in baselines if r["split"] == "retain" and r["baseline"] == "oracle_floor"]
    low, high = interval_of_mean(floor)
    (bar,) = [c for c in ax.containers if c.get_label().startswith("oracle")]
    segment = bar.lines[2][0].get_segments()[0]
    np.testing.assert_allclose(sorted(segment[:, 1]), [low, high])


def test_every_klom_panel_draws_the_ceiling(compute_figure, methods_figure):
    assert KLOM_CEILING == pytest.approx(np.log(1 / EPS)) and 11.5 < KLOM_CEILING < 11.52
    for ax in compute_figure.axes + methods_figure.axes[:3]:
        ceilings = [line for line in ax.get_lines() if "ceiling" in line.get_label()]
        assert len(ceilings) == 1
        assert ceilings[0].get_ydata()[0] == pytest.approx(KLOM_CEILING)


def test_a_setting_diverged_on_one_forget_set_is_not_drawn_and_is_named(
    methods, baselines, curves, methods_figure, tmp_path
):
    fig = methods_figure
    drawn = {c.get_label() for ax in fig.axes for c in ax.containers}
    assert {"scrub", "ga_sweep__lr-0.01"} <= drawn
    assert "ga_sweep__lr-1e+06" not in drawn
    texts = [t.get_text() for t in fig.texts]
    assert "diverged, not shown: ga_sweep__lr-1e+06 (forget set 2)" in texts
    note = plot_methods(methods, baselines, curves, tmp_path / "methods.png")
    assert note == "diverged, not shown: ga_sweep__lr-1e+06 (forget set 2)"
    assert (tmp_path / "methods.png").stat().st_size > 0


def test_with_nothing_diverged_there_is_no_note(compute_figure):
    assert not [t.get_text() for t in compute_figure.texts if "diverged" in t.get_text()]


def test_a_diverged_grid_noise_level_is_not_drawn_and_is_named(curves, baselines):
    broken = [
        diverged_row(**{k: r[k] for k in ("forget_set", "noise", "seed", "epoch", "split")})
        if r["noise"] == "0.1" and r["seed"] == "1" and r["forget_set"] == "1"
        else r
        for r in curves
    ]
    fig = figure_compute_vs_klom(broken, baselines)
    labels = {line.get_label() for line in fig.axes[0].get_lines()}
    assert "retrain, noise σ=0" in labels and "retrain, noise σ=0.1" not in labels
    assert "diverged, not shown: retrain, noise σ=0.1 (forget set 1)" in [
        t.get_text() for t in fig.texts
    ]
    plt.close(fig)


def test_each_setting_has_its_own_colour_and_each_entry_its_own_marker(methods_figure):
    bars = {c.get_label(): c.lines[0] for c in methods_figure.axes[0].containers}
    settings = ("scrub", "ga_sweep__lr-0.01", "ga_sweep__lr-0.1")
    assert len({tuple(bars[name].get_color()) for name in settings}) == 3
    assert bars["ga_sweep__lr-0.01"].get_marker() == bars["ga_sweep__lr-0.1"].get_marker()
    assert bars["scrub"].get_marker() != bars["ga_sweep__lr-0.1"].get_marker()


def test_method_points_have_the_interval_of_their_mean_over_forget_sets(methods, baselines, curves):
    fig = figure_methods(methods, baselines, curves)
    ax = fig.axes[SPLITS.index("forget")]
    (bar,) = [c for c in ax.containers if c.get_label() == "scrub"]
    segments = bar.lines[2][0].get_segments()
    for epoch, segment in zip((1, 2), segments):
        rows = [
            r
            for r in methods
            if r["setting"] == "scrub" and r["split"] == "forget" and r["epoch"] == str(epoch)
        ]
        np.testing.assert_allclose(sorted(segment[:, 1]), interval_of_mean(rows))


def test_the_share_panels_run_from_0_to_1_and_say_what_they_show(methods_figure):
    share_axes = methods_figure.axes[3:]
    for ax in share_axes:
        assert ax.get_ylim() == (0, 1)
        assert ax.get_lines(), "the share of positive margins is drawn"
    assert share_axes[0].get_ylabel() == SHARE_LABEL
    assert "margins > 0" in SHARE_LABEL and "1/2" in SHARE_LABEL


def test_the_epoch_labels_are_gone(methods_figure):
    assert not [t for ax in methods_figure.axes for t in ax.texts]


def n_models_rows(forget_sets=(1, 2)):
    return [
        {
            "benchmark": "digits",
            "forget_set": str(k),
            "baseline": baseline,
            "split": split,
            "n_models": str(n),
            "klom_p95": str(p95),
            "klom_p95_low": str(p95 - 1 / n),
            "klom_p95_high": str(p95 + 1 / n),
            "interval_width": str(2 / n),
        }
        for k in forget_sets
        for split in SPLITS
        for baseline, p95 in (("pretrain", 6.0), ("oracle_floor", 0.5))
        for n in (4, 8, 16)
    ]


def test_the_n_models_figure_has_a_bar_per_point_and_a_curve_per_forget_set_and_baseline(
    tmp_path,
):
    rows = n_models_rows()
    fig = figure_n_models(rows)
    assert [ax.get_title() for ax in fig.axes] == list(SPLITS)
    for ax in fig.axes:
        curves = [c for c in ax.containers if c.get_label() != ""]
        assert len(curves) == 4  # 2 forget sets x (pretrain, floor)
        for curve in curves:
            heights = [np.ptp(s[:, 1]) for s in curve.lines[2][0].get_segments()]
            np.testing.assert_allclose(heights, [2 / 4, 2 / 8, 2 / 16])
        assert list(ax.get_xticks()) == [4, 8, 16]
        assert any("ceiling" in line.get_label() for line in ax.get_lines())
    plt.close(fig)
    plot_n_models(rows, tmp_path / "n_models.png", title="digits")
    assert (tmp_path / "n_models.png").stat().st_size > 0


def test_the_grid_figure_draws_the_baselines_of_the_grid_forget_sets_only(rng, baselines, curves):
    grid_on_one = [r for r in curves if r["forget_set"] == "1"]
    fig = figure_compute_vs_klom(grid_on_one, baselines)
    ax = fig.axes[SPLITS.index("forget")]
    (pretrain,) = [line for line in ax.get_lines() if line.get_label() == "pretrain (do nothing)"]
    only_one = [
        r
        for r in baselines
        if r["forget_set"] == "1" and r["split"] == "forget" and r["baseline"] == "pretrain"
    ]
    assert pretrain.get_ydata()[0] == pytest.approx(float(only_one[0]["klom_p95"]))
    assert "pretrain, range over forget sets" not in [line.get_label() for line in ax.get_lines()]
    plt.close(fig)
