"""The repository stands on its own: every file it points a reader to is in it."""

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Built from parts, so that this file does not cite what it forbids.
FORBIDDEN_SOURCE = re.compile(r"\b" + "SP" + r"EC\b")
MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
DOCS_MENTION = re.compile(r"(?<![\w/.-])docs/[\w.-]+\.md(?:#[\w-]+)?")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def repository_text_files() -> list[Path]:
    """Tracked files and new ones git does not ignore, that read as text."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    files = []
    for name in listed:
        path = REPO / name
        if not path.is_file():
            continue  # deleted in the work tree, not yet in the index
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        files.append(path)
    return files


def markdown_pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def anchors(page: Path) -> set[str]:
    """The fragment GitHub gives each heading of ``page``."""
    slugs = set()
    for heading in HEADING.findall(page.read_text(encoding="utf-8")):
        text = re.sub(r"[`*_]", "", heading).lower()
        slugs.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return slugs


def unresolved(target: str, base: Path) -> str | None:
    """Why a relative link ``target`` from a file in ``base`` does not resolve, or None."""
    path, _, fragment = target.partition("#")
    page = (base / path).resolve() if path else None
    if page is not None and not page.exists():
        return f"no file {path}"
    if fragment and page is not None and page.suffix == ".md":
        if fragment not in anchors(page):
            return f"no heading #{fragment} in {path}"
    return None


def test_the_docs_pages_exist():
    for name in ("klom.md", "sources.md", "recipe.md", "methods.md"):
        assert (REPO / "docs" / name).is_file(), name


def test_the_readme_links_every_docs_page_and_the_measured_figures():
    linked = {
        (REPO / target.partition("#")[0]).resolve()
        for target in MARKDOWN_LINK.findall((REPO / "README.md").read_text(encoding="utf-8"))
    }
    pages = {*(REPO / "docs").glob("*.md"), REPO / "bench/RESULTS.md"}
    assert not pages - linked, f"not linked from the README: {sorted(pages - linked)}"


def test_the_readme_is_short():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move the rest into docs/"


def test_no_file_cites_a_specification_the_repository_lacks():
    citing = [
        f"{path.relative_to(REPO)}:{number}"
        for path in repository_text_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if FORBIDDEN_SOURCE.search(line)
    ]
    assert not citing, f"cites a file the repository does not ship: {citing}"


def test_every_relative_markdown_link_resolves():
    broken = []
    for page in markdown_pages():
        text = page.read_text(encoding="utf-8")
        for target in MARKDOWN_LINK.findall(text):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):
                continue  # https:, mailto: ...: not the repository's
            if target.startswith("#"):
                problem = unresolved(page.name + target, page.parent)
            else:
                problem = unresolved(target, page.parent)
            if problem:
                broken.append(f"{page.relative_to(REPO)}: ({target}): {problem}")
    assert not broken, broken


def test_every_docs_page_mentioned_anywhere_exists():
    broken = [
        f"{path.relative_to(REPO)}: {mention}: {problem}"
        for path in repository_text_files()
        for mention in DOCS_MENTION.findall(path.read_text(encoding="utf-8"))
        if (problem := unresolved(mention, REPO))
    ]
    assert not broken, broken


def test_the_example_of_scoring_your_own_models_runs(tmp_path, monkeypatch, capsys):
    """docs/sources.md's example, on a small reference set in the EasyDUB layout."""
    import numpy as np

    from klomflow.layout import EasyDUBLayout

    text = (REPO / "docs/sources.md").read_text(encoding="utf-8")
    example = text.split("## Scoring your own models")[1].split("```python\n")[1].split("```")[0]
    monkeypatch.chdir(tmp_path)
    layout = EasyDUBLayout.for_benchmark("resources/cifar10/easydub", "cifar10", "resnet9", 23)
    rng = np.random.default_rng(0)
    layout.write_forget_set(2, np.sort(rng.choice(50_000, 100, replace=False)))
    oracle = rng.normal(size=(8, 100)).astype(np.float32)
    layout.write_margins(layout.oracle_dir(2, "forget"), oracle)
    np.save("my_forget_margins.npy", oracle[4:] + 1)
    exec(compile(example, "docs/sources.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "'klom_p95'" in printed and "0 degenerate samples" in printed


def test_the_measured_figures_page_is_rendered_from_the_bench_results():
    """bench/RESULTS.md is what bench/record.py makes of bench/results/*.json, not hand-edited."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("record", REPO / "bench/record.py")
    record = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(record)
    rendered = record.render(REPO / "bench/results")
    assert (REPO / "bench/RESULTS.md").read_text(encoding="utf-8") == rendered, (
        "bench/RESULTS.md differs from bench/results/*.json: run python bench/record.py"
    )
