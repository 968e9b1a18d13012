"""A method's parameters: the types that bound them, and checking config values against them.

A built-in method annotates each keyword parameter, e.g. ``lr:
PositiveFloat``; a value from config that is the wrong type or out of its
:class:`Range` stops the run before anything starts, with one line naming
the config key. A method of your own may use the same types; parameters it
does not annotate, or annotates with its own classes, are not checked.
"""

from __future__ import annotations

import inspect
import math
import types
from dataclasses import dataclass
from typing import Annotated, Union, Unpack, get_args, get_origin, get_type_hints


@dataclass(frozen=True)
class Range:
    """The values a method parameter may take, as ``Annotated[float, Range(gt=0)]``.

    Config values are checked against it (and the type) before anything runs;
    ``gt``/``ge`` are exclusive/inclusive lower bounds, ``le`` an upper bound.
    """

    gt: float | None = None
    ge: float | None = None
    le: float | None = None

    def __str__(self) -> str:
        bounds = [("> ", self.gt), (">= ", self.ge), ("<= ", self.le)]
        return " and ".join(f"{op}{bound:g}" for op, bound in bounds if bound is not None)

    def contains(self, value) -> bool:
        return (
            (self.gt is None or value > self.gt)
            and (self.ge is None or value >= self.ge)
            and (self.le is None or value <= self.le)
        )


# The parameter types of the built-in methods; a method of your own may use them.
PositiveFloat = Annotated[float, Range(gt=0)]  # learning rates, temperatures, norms
NonNegativeFloat = Annotated[float, Range(ge=0)]  # noise, weights, weight decay
Momentum = Annotated[float, Range(ge=0, le=1)]  # SGD momentum; above 1 it diverges
BatchSize = Annotated[int, Range(ge=1)]  # samples per step, per model
Epochs = Annotated[int, Range(ge=0)]  # a count of epochs, or an epoch number


def check_parameters(method, params: dict, entry: str = "method", partial: bool = False) -> None:
    """ValueError naming ``entry`` if ``params`` are not exactly the method's keyword parameters.

    ``partial``: ``params`` are only some of them (a sweep sets the others).
    """
    accepted, hints = _config_parameters(method)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"{entry}: unknown parameter {unknown[0]!r} for {method.__name__}; "
            f"it takes {', '.join(accepted) or 'none'}"
        )
    if not partial:
        check_required_parameters(method, params, entry)
    for name, value in params.items():
        problem = _problem(value, hints.get(name))
        if problem:
            raise ValueError(f"{entry}.{name}: {problem}")


def check_required_parameters(method, names, entry: str = "method") -> None:
    """ValueError naming ``entry`` if ``names`` leave out a parameter the method requires."""
    accepted, _ = _config_parameters(method)
    missing = [name for name, required in accepted.items() if required and name not in names]
    if missing:
        raise ValueError(f"{entry}: missing required parameter {missing[0]!r} of {method.__name__}")


def _config_parameters(method) -> tuple[dict[str, bool], dict]:
    """The names config may set, each with whether it is required; and their types.

    Keyword-only parameters, and the keys of ``**settings: Unpack[SomeTypedDict]``
    (required where the TypedDict says so; the built-ins' ``SGD`` has none).
    """
    hints = _type_hints(method)
    accepted, types = {}, dict(hints)
    for name, p in inspect.signature(method).parameters.items():
        if p.kind is inspect.Parameter.KEYWORD_ONLY:
            accepted[name] = p.default is inspect.Parameter.empty
        elif p.kind is inspect.Parameter.VAR_KEYWORD and get_origin(hints.get(name)) is Unpack:
            settings = get_args(hints[name])[0]
            types.update(_type_hints(settings))
            for key in settings.__annotations__:
                accepted[key] = key in settings.__required_keys__
    return accepted, types


def _type_hints(annotated) -> dict:
    """A method's (or TypedDict's) annotations, resolved; none if they cannot be (then types go unchecked)."""
    try:
        return get_type_hints(annotated, include_extras=True)
    except Exception:  # a user's annotation naming what their module never imports
        return {}


def _problem(value, hint) -> str | None:
    """What is wrong with ``value`` as a ``hint`` (a type, Annotated with Range), or None.

    Types it does not know (a class of the user's, Any) are not checked.
    """
    if hint is None:
        return None
    origin, args = get_origin(hint), get_args(hint)
    if origin is Annotated:
        problem = _problem(value, args[0])
        if problem:
            return problem
        for bound in (a for a in args[1:] if isinstance(a, Range)):
            if not bound.contains(value):
                return f"{value!r} is out of range: it must be {bound}"
        return None
    if origin in (Union, types.UnionType):
        problems = [_problem(value, arm) for arm in args]
        return None if None in problems else problems[0]
    if hint is type(None):
        return None if value is None else f"{value!r} is not null"
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return f"{value!r} is not a list"
        items = args[:1] * len(value) if origin is list or args[-1:] == (...,) else args
        if len(items) != len(value):
            return f"{value!r} is not a list of {len(items)} items"
        for i, (item, item_hint) in enumerate(zip(value, items)):
            problem = _problem(item, item_hint)
            if problem:
                return f"{value!r}: item {i}: {problem}"
        return None
    return _scalar_problem(value, hint)


def _scalar_problem(value, hint) -> str | None:
    if hint is bool:
        return None if isinstance(value, bool) else f"{value!r} is not true or false"
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return None
        return f"{value!r} is not an integer"
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return None if math.isfinite(value) else f"{value!r} is not a finite number"
        if isinstance(value, str) and _reads_as_float(value):
            # YAML 1.1 (PyYAML) reads 1e-3 as text; 1.0e-3 is a number.
            return f"{value!r} is text, not a number (write it with a dot, e.g. 1.0e-3)"
        return f"{value!r} is not a number"
    if hint is str:
        return None if isinstance(value, str) else f"{value!r} is not text"
    return None


def _reads_as_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
