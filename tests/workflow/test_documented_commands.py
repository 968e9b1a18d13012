"""Every `snakemake` command in the README, docs/ and the configs' and profiles' comments plans.

Each is run exactly as written, plus ``-n`` (a dry run: planning needs no
network and no GPU), in a fresh copy of the repository, so that the
documentation cannot drift from Snakemake's command line again.
"""

import re
import shlex
import shutil
import subprocess
import sys

import pytest
from conftest import REPO

DOCUMENTS = [
    "README.md",
    "config.yaml",
    *sorted(p.relative_to(REPO).as_posix() for p in (REPO / "docs").glob("*.md")),
    *sorted(p.relative_to(REPO).as_posix() for p in (REPO / "config").glob("*.yaml")),
    *sorted(p.relative_to(REPO).as_posix() for p in (REPO / "profiles").glob("*/config.yaml")),
]
# A report is drawn from a finished run, which a fresh copy has not had
# (tests/system/test_report.py runs it for real).
NEEDS_A_FINISHED_RUN = "--report"


def documented_commands(text: str) -> list[str]:
    """The `snakemake ...` commands in ``text``: in code blocks, `#` comments and inline code."""
    lines = [re.sub(r"^\s*#?\s*", "", line) for line in text.splitlines()]
    commands = []
    joined = ""
    for line in lines:
        joined = f"{joined} {line}".strip() if joined else line
        if joined.endswith("\\"):
            joined = joined[:-1].rstrip()
            continue
        start = joined.find("snakemake ")
        if joined.startswith("snakemake ") or "&& snakemake " in joined:
            command = joined[start:]
            commands.append(command.split("  #")[0].strip())
        joined = ""
    commands += re.findall(r"`(snakemake(?: [^`]*)?)`", text)
    return list(dict.fromkeys(commands))


COMMANDS = [
    (document, command)
    for document in DOCUMENTS
    for command in documented_commands((REPO / document).read_text())
]


@pytest.fixture(scope="module")
def fresh_copy(tmp_path_factory):
    """The repository's files (tracked, and new ones not ignored), as a fresh clone has them."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    directory = tmp_path_factory.mktemp("clone")
    for name in filter(None, listed.decode().split("\0")):
        if (REPO / name).is_file():
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, directory / name)
    return directory


def test_the_documents_hold_the_main_commands():
    commands = {command for _, command in COMMANDS}
    assert "snakemake --cores 8 results/compute_vs_klom.png" in commands
    assert any("--configfile config/easydub-cifar10.yaml" in c for c in commands)
    assert any("--profile profiles/slurm" in c for c in commands)


@pytest.mark.parametrize("document, command", COMMANDS, ids=[f"{d}: {c}" for d, c in COMMANDS])
def test_a_documented_command_plans(fresh_copy, document, command):
    if NEEDS_A_FINISHED_RUN in command:
        pytest.skip("a report needs a finished run; tests/system/test_report.py makes one")
    args = shlex.split(command)[1:]
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", *args, "-n"],
        cwd=fresh_copy,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"{document}: {command}\n{result.stderr[-3000:]}"


def collected(*paths: str) -> list[str]:
    """The test ids ``pytest --collect-only`` finds under ``paths`` (the whole suite without)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *paths],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_the_documented_test_groups_hold_every_test_once():
    groups = list(
        dict.fromkeys(
            re.findall(r"`pytest (tests/\w+)`", (REPO / "docs/development.md").read_text())
        )
    )
    assert groups == ["tests/unit", "tests/workflow", "tests/system"]
    in_groups = [test for group in groups for test in collected(group)]
    assert len(in_groups) == len(set(in_groups))
    assert sorted(in_groups) == sorted(collected())
