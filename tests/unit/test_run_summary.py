"""The run summary: what a run could not score, and why, read from its gathered tables."""

from klomflow.run_summary import run_summary, write_run_summary
from klomflow.scoring import BASELINE_COLUMNS, GRID_COLUMNS, METHOD_COLUMNS
from klomflow.tables import write_tsv


def curve(forget_set, noise, epoch, compute, status="ok", n_degenerate=0, seed=0):
    numbers = {
        "klom_mean": 1.0,
        "klom_p95": 2.0,
        "klom_p95_low": 1.5,
        "klom_p95_high": 2.5,
        "klom_p05": 0.1,
        "n_degenerate": n_degenerate,
    }
    return {
        "benchmark": "digits",
        "forget_set": str(forget_set),
        "noise": str(noise),
        "seed": str(seed),
        "epoch": str(epoch),
        "compute_pct": "" if status == "diverged" else str(compute),
        "split": "forget",
        "status": status,
        **(
            {k: "" for k in numbers}
            if status == "diverged"
            else {k: str(v) for k, v in numbers.items()}
        ),
    }


def method(forget_set, setting, epoch, compute, status="ok", n_degenerate=0):
    row = curve(forget_set, 0, epoch, compute, status, n_degenerate)
    del row["noise"], row["seed"]
    ok = status == "ok"
    return {
        **row,
        "method": setting.split("__")[0],
        "setting": setting,
        "params": "",
        "n_models": "4",
        "share_above_half": "0.5" if ok else "",
    }


def baseline(forget_set, name, n_degenerate=0):
    return {
        "benchmark": "digits",
        "forget_set": str(forget_set),
        "baseline": name,
        "split": "forget",
        "n_models": "4",
        "klom_mean": "1",
        "klom_p95": "2",
        "klom_p95_low": "1.5",
        "klom_p95_high": "2.5",
        "klom_p05": "0",
        "n_degenerate": str(n_degenerate),
    }


GRID = [curve(1, 0, 1, 50.0), curve(1, 0, 2, 100.0)]
BASELINES = [baseline(1, "pretrain"), baseline(1, "oracle_floor")]


def test_a_run_with_nothing_missing_says_so():
    text = run_summary(GRID, BASELINES, [method(1, "ga", 1, 60.0)])
    assert text.startswith("Everything was scored")


def test_diverged_cells_and_settings_are_named_per_forget_set_from_their_first_epoch():
    grid = GRID + [curve(1, 1e38, e, 0, "diverged") for e in (1, 2)]
    methods = [
        method(1, "late", 1, 60.0),
        method(1, "late", 2, 0, "diverged"),
        method(1, "late", 3, 0, "diverged"),
    ]
    lines = run_summary(grid, BASELINES, methods).splitlines()
    assert "  forget set 1: noise 1e+38, seed 0 from epoch 1" in lines
    assert "  forget set 1: late from epoch 2" in lines


def test_without_noise_0_every_setting_lacks_retraining_at_its_compute():
    grid = [curve(1, 0.01, 1, 50.0), curve(1, 0.01, 2, 100.0)]
    text = run_summary(grid, BASELINES, [method(1, "ga", 1, 60.0)])
    assert (
        "  all of them: retrain.noise_levels has no 0, and only retraining without noise is compared"
        in text
    )


def test_each_setting_without_retraining_at_its_compute_is_named_with_why():
    grid = GRID + [curve(2, 0, 1, 0, "diverged")]
    methods = [
        method(1, "do_nothing", 1, 0.0),
        method(1, "ga", 1, 60.0),
        method(2, "ga", 1, 60.0),
        method(3, "ga", 1, 60.0),
    ]
    lines = run_summary(grid, BASELINES, methods).splitlines()
    assert (
        "  forget set 1: compute outside the 50-100 % its noise-0 grid spans: do_nothing epoch 1 (0 %)"
        in lines
    )
    assert "  forget set 2: every noise-0 retraining cell diverged: ga epoch 1 (60 %)" in lines
    assert (
        "  forget set 3 has no retraining grid (see retrain.forget_sets): ga epoch 1 (60 %)"
        in lines
    )
    assert not any(line.startswith("  forget set 1") and "ga epoch" in line for line in lines)


def test_rows_with_degenerate_samples_are_counted_and_a_few_named():
    grid = [curve(1, 0, 1, 50.0, n_degenerate=2), curve(1, 0, 2, 100.0, n_degenerate=3)]
    grid += [curve(1, 0, e, 100.0, n_degenerate=1, seed=s) for s in (1, 2) for e in (1, 2)]
    text = run_summary(
        grid,
        [baseline(1, "pretrain", 4)],
        [method(1, "ga", 1, 60.0)],
        names={"curves": "c.tsv", "baselines": "b.tsv", "methods": "m.tsv"},
    )
    assert "  b.tsv: 1 rows, 4 samples; forget set 1, pretrain, forget: 4" in text
    assert (
        "  c.tsv: 6 rows, 9 samples; forget set 1, noise 0, seed 0, epoch 1, forget: 2; "
        "forget set 1, noise 0, seed 0, epoch 2, forget: 3; "
        "forget set 1, noise 0, seed 1, epoch 1, forget: 1; and 3 more rows"
    ) in text
    assert "m.tsv" not in text


def test_the_summary_is_written_from_the_gathered_tables(tmp_path):
    write_tsv(tmp_path / "c.tsv", GRID + [curve(1, 5, 1, 0, "diverged")], GRID_COLUMNS)
    write_tsv(tmp_path / "b.tsv", BASELINES, BASELINE_COLUMNS)
    write_tsv(tmp_path / "m.tsv", [method(1, "ga", 1, 60.0)], METHOD_COLUMNS)
    text = write_run_summary(
        tmp_path / "s.txt", tmp_path / "c.tsv", tmp_path / "b.tsv", tmp_path / "m.tsv"
    )
    assert (tmp_path / "s.txt").read_text() == text
    assert "  forget set 1: noise 5, seed 0 from epoch 1" in text
    text = write_run_summary(tmp_path / "s.txt", tmp_path / "c.tsv", tmp_path / "b.tsv", None)
    assert "noise 5" in text
