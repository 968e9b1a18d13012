"""What each rule runs, read from the rule files and the code without running either.

``rules()``: every rule's conda environment and script, as Snakemake resolves
them (relative to the rule's own file). ``imports_of(script)``: the modules a
script can import, following klomflow's modules to the third-party ones, in
every branch (imports inside functions too): what an environment that runs
the script must hold.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from conftest import REPO

SOURCE = REPO / "src"
_RULE = re.compile(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", re.M)
_DIRECTIVE = r"^    {}:\n\s+\"([^\"]+)\""


@dataclass(frozen=True)
class Rule:
    name: str
    conda: Path | None  # the environment file it names, resolved
    script: Path | None


def rules() -> list[Rule]:
    found = []
    for smk in sorted((REPO / "workflow/rules").glob("*.smk")):
        for name, body in _RULE.findall(smk.read_text()):
            paths = {}
            for directive in ("conda", "script"):
                match = re.search(_DIRECTIVE.format(directive), body, re.M)
                paths[directive] = (smk.parent / match.group(1)).resolve() if match else None
            found.append(Rule(name, **paths))
    assert found, "no rules found under workflow/rules"
    return found


@dataclass(frozen=True)
class Imports:
    klomflow: frozenset[str]  # klomflow modules, packages included
    third_party: frozenset[str]  # top-level names, as imported (``sklearn``, ``yaml``)


def imports_of(script: Path) -> Imports:
    """Every module ``script`` imports, directly or through the klomflow modules it imports."""
    visited: set[str] = set()
    third_party: set[str] = set()
    pending = [(script, "")]
    while pending:
        path, package = pending.pop()
        for name in _imported_names(path, package):
            top = name.split(".")[0]
            if top != "klomflow":
                if top not in sys.stdlib_module_names and top != "__future__":
                    third_party.add(top)
                continue
            parts = name.split(".")
            # Importing klomflow.a.b runs klomflow/__init__ and klomflow/a/__init__ first.
            for end in range(1, len(parts) + 1):
                module = ".".join(parts[:end])
                file = _module_file(module)
                if file is not None and module not in visited:
                    visited.add(module)
                    is_package = file.name == "__init__.py"
                    pending.append((file, module if is_package else module.rpartition(".")[0]))
    return Imports(frozenset(visited), frozenset(third_party))


def _imported_names(path: Path, package: str) -> set[str]:
    """Absolute names of what ``path`` imports; ``from a import b`` gives ``a`` and ``a.b``
    (``b`` may be a module)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*parent, module] if module else parent)
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


def _module_file(module: str) -> Path | None:
    base = SOURCE.joinpath(*module.split("."))
    for file in (base.with_suffix(".py"), base / "__init__.py"):
        if file.is_file():
            return file
    return None
