"""The one home of the measured figures: bench/results/*.json, rendered into bench/RESULTS.md.

Usage: python bench/record.py        (writes bench/RESULTS.md again from the JSON files)

Every bench script ends with ``save(...)``: it writes its figures, with the
machine, date, versions and command that produced them, to one JSON file under
bench/results/ and renders bench/RESULTS.md from all of them. The JSON files
are committed (they are small); so is RESULTS.md, which the README and docs
point to instead of restating numbers. An entry with a ``source`` was copied
from an earlier text, not measured by a script; it says so in RESULTS.md.
"""

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS_DIR = BENCH / "results"
RESULTS_MD = BENCH / "RESULTS.md"
# The packages whose version bears on a figure, when the script imported them.
VERSIONED = ("numpy", "torch", "klomflow")


def describe_machine() -> str:
    """Architecture, CPU count and CPU model, e.g. ``x86_64, 2 CPUs, AMD EPYC``."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass  # not Linux: platform's answer stands
    return f"{platform.machine()}, {os.cpu_count()} CPUs, {model}"


def versions() -> dict[str, str]:
    """Python's, the imported packages', CUDA's and its driver's, and the checkout's commit."""
    found = {"python": platform.python_version()}
    for name in VERSIONED:
        if name in sys.modules:
            found[name] = sys.modules[name].__version__
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        found["cuda"] = torch.version.cuda
        found["driver"] = _nvidia_driver()
    commit = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if commit:
        found["commit"] = commit
    return found


def _nvidia_driver() -> str:
    query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
    try:
        listed = subprocess.run(query, capture_output=True, text=True).stdout.split()
    except OSError:
        listed = []  # no nvidia-smi on the path
    return listed[0] if listed else "unknown"


def command_line() -> str:
    """The command that is running, as typed from the repository root."""
    script = Path(sys.argv[0]).resolve()
    if script.is_relative_to(REPO):
        script = script.relative_to(REPO)
    return shlex.join(["python", str(script), *sys.argv[1:]])


def save(what: str, figures: dict, out: Path, gpu: str | None = None) -> None:
    """Write one measurement to ``out`` (JSON) and render RESULTS.md again.

    ``what`` is the one-line description RESULTS.md heads the entry with;
    ``figures`` the measured values (seconds end in ``_s``).
    """
    entry = {
        "what": what,
        "command": command_line(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": describe_machine(),
        # Other work on the machine slows a measurement down: say how busy it was.
        "load_average": round(os.getloadavg()[0], 2),
        "gpu": gpu,
        "versions": versions(),
        "figures": figures,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(entry, indent=2) + "\n")
    print(f"written to {out}")
    if out.resolve().parent == RESULTS_DIR:
        RESULTS_MD.write_text(render(RESULTS_DIR))
        print(f"{RESULTS_MD.relative_to(REPO)} rendered again")


def flatten(figures: dict, prefix: str = "") -> list[tuple[str, object]]:
    """Nested figures as (dotted name, value) rows, in the order they were recorded."""
    rows = []
    for key, value in figures.items():
        if isinstance(value, dict):
            rows += flatten(value, f"{prefix}{key}.")
        else:
            rows.append((prefix + key, value))
    return rows


def shown(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return ", ".join(map(shown, value))
    return "–" if value is None else str(value)


def render(results_dir: Path) -> str:
    """RESULTS.md: one section per JSON file of ``results_dir``, in file-name order."""
    lines = [
        "# Measured figures",
        "",
        "Every time, speed and size klomflow quotes, with where, when and how it was",
        "measured. Written by `bench/record.py` from `bench/results/*.json`; do not",
        "edit by hand: run a bench script (it saves its JSON and renders this page) or",
        "`python bench/record.py`. Seconds end in `_s`. An entry with a *source* was",
        "copied from an earlier text and not re-measured by a script.",
    ]
    for path in sorted(results_dir.glob("*.json")):
        entry = json.loads(path.read_text())
        lines += ["", f"## `{path.stem}`: {entry['what'].rstrip('.')}", ""]
        lines.append(f"- file: `bench/results/{path.name}`")
        lines.append(f"- command: `{entry['command']}`")
        lines.append(f"- date: {entry['date']}")
        machine = entry["machine"]
        if entry.get("load_average") is not None:
            machine += f" (1-minute load average {entry['load_average']} when saved)"
        lines.append(f"- machine: {machine}")
        if entry.get("gpu"):
            lines.append(f"- GPU: {entry['gpu']}")
        listed = ", ".join(f"{k} {v}" for k, v in entry["versions"].items())
        lines.append(f"- versions: {listed or 'not recorded'}")
        if entry.get("source"):
            lines.append(f"- source: {entry['source']}")
        if entry.get("note"):
            lines.append(f"- note: {entry['note']}")
        lines += ["", "| figure | value |", "|---|---:|"]
        lines += [f"| `{name}` | {shown(value)} |" for name, value in flatten(entry["figures"])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    RESULTS_MD.write_text(render(RESULTS_DIR))
    print(f"{RESULTS_MD.relative_to(REPO)} written from {RESULTS_DIR.relative_to(REPO)}/*.json")
