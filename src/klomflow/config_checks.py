"""Checks of the config that JSON Schema cannot make, run before any job starts.

The workflow validates its config against ``workflow/schemas/config.schema.yaml``
(which fills in defaults), then calls :func:`check_config`. A mistake found
here stops the run before Snakemake deletes the outputs a job would replace;
found inside a job, it would cost them. Each error is one ValueError line
``config: <key>: <what is wrong>``.

What the schema misses: jsonschema takes ``100.0`` for an integer; numbers
may be ``.inf`` or ``.nan``; ranges that depend on other keys (a batch larger
than the split it batches); two noise levels that name the same cell; the
method entries' own parameters and sweeps (checked against each method's signature).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import yaml

from klomflow.benchmarks import get_benchmark

# Fewer models than this and KLOM measures mostly the sampling noise of its
# 20-bin histograms: two sets of N models drawn from the same distribution
# (N(0, 1) margins, 4,000 samples) score P95 KLOM 0.65 at N = 100, 1.67 at
# 50, 4.95 at 20 and 8.45 at 10, against a ceiling of ln(1 / eps) = 11.5.
MIN_MODELS_FOR_KLOM = 50


def schema_defaults(schema_file: str | Path, key: str) -> dict:
    """What config ``key`` holds when config.yaml leaves it out: the schema's defaults.

    The schema is the one place the defaults are written; e.g. the benchmark's
    training recipe is ``TrainingRecipe(**schema_defaults(schema_file, "training"))``.
    """
    properties = yaml.safe_load(Path(schema_file).read_text())["properties"][key]["properties"]
    return {name: spec["default"] for name, spec in properties.items() if "default" in spec}


def check_config(config: dict, schema: dict) -> list[str]:
    """ValueError naming the first key at fault; returns warnings (one line each).

    ``config``: validated against ``schema`` with its defaults filled in.
    Forget sets are read from ``forget_sets`` and ``retrain.forget_sets``.
    """
    check_types(config, schema)
    n_models = config["n_models"]
    if n_models < 2:
        # With one model per side, the model that is not below the oracle
        # sits on the last bin edge and scores 0: doing nothing "wins".
        raise ValueError(f"config: n_models: {n_models} is less than 2; KLOM compares histograms")
    check_noise_levels(config["retrain"]["noise_levels"])
    sizes = split_sizes(config["benchmark"], config.get("split_sizes", {}))
    check_batch_size(
        config["training"]["batch_size"], config["benchmark"], forget_sets_of(config), sizes
    )
    check_methods(config.get("methods", {}))
    check_hub_revisions(config.get("hub", {}))
    warnings = []
    if n_models < MIN_MODELS_FOR_KLOM:
        warnings.append(
            f"config: n_models: {n_models} models per side leave KLOM's 20-bin histograms "
            f"mostly noise (below {MIN_MODELS_FOR_KLOM}; EasyDUB uses 100); "
            "read the scores as a smoke test"
        )
    return warnings


def check_types(config, schema: dict) -> None:
    """Integers are integers and numbers finite, wherever the schema has them.

    jsonschema counts 100.0 as an integer; the jobs then fail on it (after
    Snakemake deleted their outputs), so it is refused here.
    """
    _check_value(config, schema, schema, "")


def _check_value(value, schema: dict, root: dict, key: str) -> None:
    schema = _resolve(schema, root)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"config: {key or 'top level'}: {value} is not a finite number")
    if isinstance(value, float) and "integer" in _types(schema):
        hint = f" (write {int(value)})" if value.is_integer() else ""
        raise ValueError(f"config: {key}: {value!r} is not an integer{hint}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            sub = properties.get(name, extra if isinstance(extra, dict) else {})
            _check_value(item, sub, root, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        items = schema.get("items", {})
        for i, item in enumerate(value):
            _check_value(item, items, root, f"{key}.{i}")


def _resolve(schema: dict, root: dict) -> dict:
    while "$ref" in schema:
        node = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _types(schema: dict) -> list[str]:
    kind = schema.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def noise_label(noise) -> str:
    """A noise level as it appears in paths: 0.001 -> '0.001', 1e-05 -> '1e-05'."""
    return format(float(noise), "g")


def check_noise_levels(levels: list) -> None:
    """Two levels that format to the same path would share one cell and double its rows."""
    seen = {}
    for level in levels:
        label = noise_label(level)
        if label in seen:
            raise ValueError(
                f"config: retrain.noise_levels: {seen[label]!r} and {level!r} both name the "
                f"cell noise_{label} (levels are named with 6 significant digits)"
            )
        seen[label] = level


def forget_sets_of(config: dict) -> list[int]:
    """Every forget set the config runs: ``forget_sets`` and the grid's."""
    return sorted({*config["forget_sets"], *config.get("retrain", {}).get("forget_sets", [])})


def split_sizes(benchmark: str, overrides: dict) -> dict[str, int]:
    """``n_train`` and ``n_val`` of the benchmark, or of the reduced copy ``split_sizes`` names.

    The digits images are built from scikit-learn's bundle the same way
    every time, so other sizes cannot fit them; a CIFAR-10 copy may be
    smaller than the full set, never larger.
    """
    sizes = get_benchmark(benchmark)
    full = {"n_train": sizes.n_train, "n_val": sizes.n_val}
    for name, value in overrides.items():
        if benchmark == "digits" and value != full[name]:
            raise ValueError(
                f"config: split_sizes.{name}: {value}, but the digits images always have "
                f"{full[name]} (split_sizes is for a reduced copy of cifar10)"
            )
        if value > full[name]:
            raise ValueError(
                f"config: split_sizes.{name}: {value} is more than {benchmark} has ({full[name]})"
            )
    return {**full, **overrides}


def check_batch_size(
    batch_size: int, benchmark: str, forget_sets: list[int], sizes: dict[str, int]
) -> None:
    """The training batch must fit the smallest split it batches: the retain split.

    A larger batch makes one step per epoch and trains every model to chance.
    The digits forget sets' sizes are known before the data exist; CIFAR-10's
    come with the download, so only the train split bounds the batch here and
    the training job checks the retain split itself before it trains.
    """
    n_train = sizes["n_train"]
    smallest, split = n_train, f"the {n_train} train samples"
    if benchmark == "digits":
        from klomflow.datasets import DIGITS_FORGET_SET_PICKERS, digits_forget_set_size

        # An unknown forget set is reported by the check of forget sets.
        forget_sets = [f for f in forget_sets if f in DIGITS_FORGET_SET_PICKERS]
    if benchmark == "digits" and forget_sets:
        largest = max(forget_sets, key=digits_forget_set_size)
        smallest = n_train - digits_forget_set_size(largest)
        split = f"the {smallest} retain samples of forget set {largest}"
    if batch_size > smallest:
        raise ValueError(
            f"config: training.batch_size: {batch_size} is larger than {split} it batches "
            "(one step per epoch leaves the models at chance)"
        )


def check_methods(methods: dict) -> None:
    """Every setting of ``methods:`` (entries, sweeps): the method imports, its parameters fit
    its signature."""
    from klomflow.unlearning.settings import method_settings

    try:
        method_settings(methods)
    except ValueError as error:
        raise ValueError(f"config: {error}") from None


# What git (and so the hub) accepts as a branch or tag name, which a
# 40-character commit also is: no spaces, control characters or ~^:?*[\, no
# "..", "@{" or "//", not starting or ending with "/" or ".", not ".lock" at the end.
_REVISION = re.compile(r"(?!.*(?:\.\.|@\{|//|\.lock$))(?![/.])[^\x00-\x20\x7f~^:?*\[\\]+(?<![/.])")


def check_hub_revisions(hub: dict) -> None:
    """Every ``hub.<source>.revision`` is a branch, tag or commit name, as the hub could have it."""
    for source, settings in hub.items():
        if isinstance(settings, dict) and not _REVISION.fullmatch(settings["revision"]):
            raise ValueError(
                f"config: hub.{source}.revision: {settings['revision']!r} is not a branch, tag "
                "or commit name (e.g. main, v1.0 or a 40-character commit; no spaces)"
            )


def check_device(name: str) -> None:
    """Config ``device`` is one this machine has; run where the jobs run, before any starts.

    Found by the first training job instead, it would cost the outputs
    Snakemake deletes before running the jobs a changed ``device`` re-plans.
    """
    from klomflow.devices import device_unavailable

    reason = device_unavailable(name)
    if reason:
        raise ValueError(f"config: device: {reason}")
