"""Finding a method by the name config gives it: a built-in, or a function of your own."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path

from klomflow.stacking import ModelStack
from klomflow.unlearning.methods import METHODS


def resolve_method(name: str, entry: str = "method") -> Callable[..., Iterator[ModelStack]]:
    """The method called ``name``: a registered one, ``package.module:function`` or
    ``path/to/file.py:function`` (relative to the working directory)."""
    if name in METHODS:
        return METHODS[name]
    if ":" not in name:
        raise ValueError(
            f"{entry}: unknown method {name!r}; known: {', '.join(METHODS)}, "
            "or package.module:function or file.py:function for your own"
        )
    module_name, _, function_name = name.partition(":")
    try:
        module = _import(module_name)
    except Exception as error:  # any import failure is the entry's problem
        raise ValueError(
            f"{entry}: cannot import {module_name!r} ({type(error).__name__}: {error})"
        ) from None
    method = getattr(module, function_name, None)
    if not callable(method):
        raise ValueError(f"{entry}: module {module_name!r} has no function {function_name!r}")
    return method


def check_generator_function(method: Callable, name: str, key: str = "method") -> None:
    """ValueError naming config ``key`` unless ``method`` is a generator function.

    The runner takes the models the method yields after each epoch; a
    function that returns them instead would fail only inside the job.
    """
    if not inspect.isgeneratorfunction(inspect.unwrap(method)):
        raise ValueError(
            f"{key}: {name} is not a generator function (it must yield the models after "
            "every epoch)"
        )


# Once per process: the workflow checks the config's methods and then hashes
# the code of each setting's method, and a user's file should run once, not once per look.
@functools.cache
def _import(module_name: str):
    if not module_name.endswith(".py"):
        return importlib.import_module(module_name)
    path = Path(module_name).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no file {path}")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def method_module_file(name: str) -> str | None:
    """The file of the user's module that defines method ``name``, or None for a built-in.

    A workflow makes it an input of the method's jobs, so that editing the
    method re-runs them (and only them). ``file.py:function`` gives the path
    as written (relative to the working directory); ``package.module:function``
    the module's file wherever it is found. Only that one file: modules it
    imports are not followed.
    """
    if name in METHODS or ":" not in name:
        return None
    module_name = name.partition(":")[0]
    if module_name.endswith(".py"):
        return module_name
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.has_location or spec.origin is None:
        raise ValueError(f"method {name!r}: no file found for module {module_name!r}")
    return spec.origin
