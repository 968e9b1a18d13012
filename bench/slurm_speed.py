"""SLURM speed: the digits benchmark through profiles/slurm, beside the same run on this machine.

Usage: python bench/slurm_speed.py [--workdir DIR] [--cores 8]

Needs a SLURM whose jobs run where this machine's files are (`.ci/slurm/up`
starts a one-node one here). In two fresh copies of the repository, one run
locally and one through the profile, one after the other, it times:

1. the main target, `results/compute_vs_klom.png`, from nothing (cold);
2. the rest of the default target (methods, leaderboard), untimed;
3. the default target again after one method entry's `lr` changed in
   config.yaml: the one-entry change a researcher makes most.

and saves both columns and their ratios (bench/results/slurm_speed.json, and
bench/RESULTS.md). Run it on an otherwise idle machine: the local run and the
SLURM jobs compete for the same cores with whatever else runs.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from record import REPO, RESULTS_DIR, save

MAIN_TARGET = "results/compute_vs_klom.png"
# The entry whose learning rate changes, and to what.
CHANGED_ENTRY, NEW_LR = "ascent_forget", 0.02


def fresh_copy(destination: Path) -> Path:
    """The repository's files as a clone has them (tracked and new, not ignored)."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def timed(directory: Path, how: list[str], *targets: str) -> float:
    command = [sys.executable, "-m", "snakemake", *how, *targets]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=directory, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    log = directory / "bench_runs.log"
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n{result.stdout}{result.stderr}\n")
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed in {directory}; see {log}")
    if "Unable to guess SLURM account" in result.stderr:
        print(f"warning: the account warning is back; see {log}")
    return seconds


def change_one_entry(directory: Path) -> None:
    config_file = directory / "config.yaml"
    config = yaml.safe_load(config_file.read_text())
    entry = config["methods"][CHANGED_ENTRY]
    if entry.get("lr") == NEW_LR:
        sys.exit(f"config.yaml's {CHANGED_ENTRY} already has lr {NEW_LR}: pick another")
    entry["lr"] = NEW_LR
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))


def measure(directory: Path, how: list[str]) -> dict[str, float]:
    figures = {"main_target_cold_s": timed(directory, how, MAIN_TARGET)}
    timed(directory, how)  # the rest of the default target
    change_one_entry(directory)
    figures["one_entry_change_s"] = timed(directory, how)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary one")
    parser.add_argument("--cores", type=int, default=8, help="the README's --cores")
    args = parser.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="slurm_speed_"))
    runs = {
        "local": ["--cores", str(args.cores)],
        "slurm": ["--profile", "profiles/slurm"],
    }
    figures = {}
    for name, how in runs.items():
        directory = workdir / name
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        figures[name] = measure(fresh_copy(directory), how)
        print(name, figures[name])
    figures["ratio"] = {
        key: figures["slurm"][key] / figures["local"][key] for key in figures["local"]
    }
    print("slurm / local:", figures["ratio"])
    save(__doc__.splitlines()[0], figures, RESULTS_DIR / "slurm_speed.json")


if __name__ == "__main__":
    main()
