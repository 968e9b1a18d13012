"""The code a method runs, as one hash: what decides whether its settings must run again.

A method's code is its function's source plus, followed recursively, the
source of every top-level definition of the same module it names: a helper
function it calls, a class, a constant assigned at the top of the file. Other
definitions of the module do not count, so adding a function to a user's
``my_methods.py`` changes no other method's hash; neither does code in other
modules (``klomflow.stacking``, a file it imports).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
from pathlib import Path


@functools.cache
def method_code_hash(method) -> str:
    """SHA-256 (hex) of the source of ``method`` and of the definitions of its module it reaches."""
    method = inspect.unwrap(method)
    source_file = inspect.getsourcefile(method)
    if source_file is None:
        raise ValueError(f"method {method.__qualname__}: its source code cannot be found")
    text = Path(source_file).read_text(encoding="utf-8")
    definitions = _top_level_definitions(text)
    if method.__qualname__ not in definitions:
        # Not a plain top-level function (made by a factory, a lambda): its
        # whole module is the only source that surely holds its code.
        return hashlib.sha256(text.encode()).hexdigest()
    reached = _reached(method.__qualname__, definitions)
    digest = hashlib.sha256()
    for name in sorted(reached):
        digest.update(f"{name}\0{definitions[name]}\0".encode())
    return digest.hexdigest()


def _top_level_definitions(text: str) -> dict[str, str]:
    """Name -> source of each function, class and assignment at the top level of a module.

    A name bound more than once keeps every statement that binds it;
    decorators count as part of what they decorate. Definitions nested in
    ``if`` or ``try`` blocks are not seen.
    """
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    definitions: dict[str, str] = {}
    for node in tree.body:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        source = "".join(lines[first - 1 : node.end_lineno])
        for name in _bound_names(node):
            definitions[name] = definitions.get(name, "") + source
    return definitions


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    else:
        return []  # imports: code of other modules, not followed
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _reached(start: str, definitions: dict[str, str]) -> set[str]:
    """``start`` and every top-level definition its source names, transitively."""
    reached, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        for node in ast.walk(ast.parse(definitions[name])):
            if isinstance(node, ast.Name) and node.id in definitions:
                todo.append(node.id)
    return reached
