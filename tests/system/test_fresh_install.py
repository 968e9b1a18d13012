"""The README's install, typed into a new virtual environment, runs the documented --report.

A user with nothing but the repository: a fresh venv (no system site
packages, no PYTHONPATH), the install commands of the README's quickstart
block as written there, then the documented ``snakemake --report`` with that
venv's Snakemake on a finished run. What the developers' environment has and
the install forgets (a report-only dependency, say) fails here.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

OPT_IN = "KLOMFLOW_TEST_FRESH_INSTALL"
# Minutes and about 1.4 GB of packages (pip's cache makes the next run faster):
# CI runs it, elsewhere it is asked for.
pytestmark = pytest.mark.skipif(
    os.environ.get("CI") != "true" and not os.environ.get(OPT_IN),
    reason=f"installs klomflow into a new venv (minutes, 1.4 GB): runs in CI, else with {OPT_IN}=1",
)


def code_blocks(markdown: str) -> list[list[str]]:
    """The lines of each code block, fenced or indented by four spaces."""
    blocks, current, fenced = [], [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            if fenced:
                blocks.append(current)
            current, fenced = [], not fenced
        elif fenced:
            current.append(line)
        elif line.startswith("    ") and line.strip():
            current.append(line.strip())
        elif current:
            blocks.append(current)
            current = []
    return blocks + ([current] if current else [])


def quickstart_installs() -> list[str]:
    """The ``pip install`` commands of the quickstart's first block that installs anything.

    A line that goes on to run something (``pip install . && snakemake ...``)
    contributes its install alone.
    """
    readme = (REPO / "README.md").read_text()
    section = re.search(r"^## Quickstart\n(.*?)(?=^## |\Z)", readme, re.M | re.S)
    assert section, "README.md has no '## Quickstart' section"
    for block in code_blocks(section.group(1)):
        installs = [line.split("&&")[0].strip() for line in block if line.startswith("pip install")]
        if installs:
            return installs
    raise AssertionError("no 'pip install' line in a code block of the README's quickstart")


def documented_report_command() -> str:
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        found = re.search(r"`(snakemake --report [^`]+)`", page.read_text())
        if found:
            return found.group(1)
    raise AssertionError("neither README.md nor docs/ shows a `snakemake --report` command")


def copy_of_repository(destination: Path) -> Path:
    """The repository's tracked files, as a fresh clone has them (pip builds in its copy)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, destination / name)
    return destination


def test_the_documented_report_works_after_the_documented_install(tiny_run, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    environment = {
        **{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")},
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        # pip retries an index it cannot reach five times, with back-off, for every
        # package: where the documented CPU index is out of reach (CI has only PyPI),
        # that is waiting, not installing.
        "PIP_RETRIES": "0",
    }

    def run(command: str, cwd: Path) -> None:
        result = subprocess.run(
            ["bash", "-c", command], cwd=cwd, env=environment, capture_output=True, text=True
        )
        assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}{result.stderr[-3000:]}"

    repository = copy_of_repository(tmp_path / "klomflow")
    for command in quickstart_installs():
        run(command, repository)

    # A copy of the finished run: tiny_run's results are compared file by file elsewhere.
    finished = tmp_path / "run"
    shutil.copytree(tiny_run, finished, symlinks=True)
    report = documented_report_command()
    run(f"{report} --configfile test_config.yaml", finished)
    written = finished / report.split()[2]
    assert written.is_file() and "compute_vs_klom.png" in written.read_text()
