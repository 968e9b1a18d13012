"""Config ``methods:``: entries, their sweeps, and the settings they expand to.

An entry names a method and sets its parameters, the epochs after which its
models are scored, and a seed; a ``sweep`` makes it several settings, one per
combination of the swept values. Every setting is checked against its method
before anything runs.
"""

from __future__ import annotations

import itertools
import re

from klomflow.unlearning.parameters import check_parameters, check_required_parameters
from klomflow.unlearning.registry import check_generator_function, resolve_method

# The keys of a config entry, and of a setting expanded from it (entry,
# swept), that are not the method's own parameters.
ENTRY_KEYS = ("method", "epochs", "seed", "sweep", "entry", "swept")
# What a setting holds for an entry key that neither its entry nor its sweep
# sets. Not defaults in the config schema: validation would write them into
# every entry before its sweep expands, and a swept seed would then look set
# twice, in the entry and in the sweep.
ENTRY_DEFAULTS = {"seed": 0}


def check_method_entry(name: str, entry: dict, partial: bool = False):
    """The method of config entry ``methods.<name>``, its parameters checked; ValueError naming the entry."""
    label = f"methods.{name}"
    method = resolve_method(entry["method"], label)
    check_generator_function(method, entry["method"], f"{label}.method")
    check_parameters(method, setting_parameters(entry), label, partial)
    return method


# Joins an entry's name and each swept value into a setting's name.
_SETTING_SEPARATOR = "__"


def method_settings(methods: dict[str, dict]) -> dict[str, dict]:
    """Every setting of config ``methods:``, by name, each checked like an entry.

    An entry without ``sweep`` is one setting, named after the entry. An
    entry's ``sweep`` (parameter -> list of values) expands to one setting per
    combination, named ``<entry>__<param>-<value>__...`` with the parameters in
    alphabetical order: the name depends only on the setting's own values, so
    adding a value never renames (or re-runs) a setting that existed. Each
    setting is the entry's keys plus its swept values, and ``entry`` and
    ``swept`` (the swept values) for the tables.
    """
    settings = {}
    for entry_name, entry in methods.items():
        fixed = {k: v for k, v in entry.items() if k != "sweep"}
        sweep = entry.get("sweep", {})
        _check_entry_and_sweep(entry_name, fixed, sweep)
        keys = sorted(sweep)
        for combination in itertools.product(*(sweep[k] for k in keys)):
            swept = dict(zip(keys, combination))
            name = _SETTING_SEPARATOR.join(
                [entry_name, *(f"{k}-{_value_label(v)}" for k, v in swept.items())]
            )
            if name in settings:
                raise ValueError(
                    f"methods.{entry_name}: its setting {name} has the name of another setting"
                )
            # The defaults after the entry's keys, where validation used to put
            # them: Snakemake compares a job's params as text, and a setting
            # whose text changed would run again.
            defaults = {k: v for k, v in ENTRY_DEFAULTS.items() if k not in fixed}
            setting = {**fixed, **defaults, **swept}
            settings[name] = {**setting, "entry": entry_name, "swept": swept}
    return settings


def _check_entry_and_sweep(entry_name: str, fixed: dict, sweep: dict) -> None:
    """Every value of an entry and of its sweep, checked once against its method.

    A swept parameter's values are checked one by one, and the entry's own
    once: every setting holds the same parameters, so the settings need no
    check of their own.
    """
    label = f"methods.{entry_name}"
    method = check_method_entry(entry_name, fixed, partial=bool(sweep))
    for key, values in sweep.items():
        where = f"{label}.sweep.{key}"
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}: expected a non-empty list of values, got {values!r}")
        if key in fixed:
            raise ValueError(f"{where}: {key} is also set in the entry; set it in one place")
        if key in ENTRY_KEYS and key != "seed":
            raise ValueError(f"{where}: {key} cannot be swept (only seed and parameters)")
        if key == "seed":
            _check_seeds(values, where)
        else:
            for value in values:
                check_parameters(method, {key: value}, where, partial=True)
        labels = [_value_label(v) for v in values]
        if len(set(labels)) < len(labels):
            twin = next(v for v in labels if labels.count(v) > 1)
            raise ValueError(f"{where}: two values share the name {twin!r}")
    if sweep:
        check_required_parameters(method, [*setting_parameters(fixed), *sweep], label)


def _check_seeds(values: list, where: str) -> None:
    """Swept seeds are what the schema asks of an entry's seed: integers from 0."""
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{where}: {value!r} is not a seed (an integer from 0)")


def setting_parameters(setting: dict) -> dict:
    """The method's own keyword parameters of a config entry or one of its settings."""
    return {k: v for k, v in setting.items() if k not in ENTRY_KEYS}


def swept_values(setting: dict) -> str:
    """A setting's swept values as the tables show them: ``ascent_epochs=1 lr=0.001``."""
    return " ".join(f"{k}={_value_label(v)}" for k, v in setting["swept"].items())


def _value_label(value) -> str:
    """A swept value as it appears in a setting's name: 0.001 -> '0.001', [3, 5] -> '3_5'."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, (list, tuple)):
        return "_".join(_value_label(v) for v in value)
    return re.sub(r"[^A-Za-z0-9.+-]", "_", str(value))
