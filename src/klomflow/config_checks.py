"""Checks of the config that JSON Schema cannot make, run before any job starts.

The workflow validates its config against ``workflow/schemas/config.schema.yaml``
(which fills in defaults), then calls :func:`check_config`, the one place
after the schema: it checks the rest, and works out once what the rules are
handed (the benchmark, its split sizes, the method settings). A mistake found
here stops the run before Snakemake deletes the outputs a job would replace;
found inside a job, it would cost them. Each error is one :class:`ConfigError`
line ``config: <key>: <what is wrong>``.

What the schema misses: jsonschema takes ``100.0`` for an integer; numbers
may be ``.inf`` or ``.nan``; what depends on the benchmark (its forget sets,
model, reference sources and split sizes); ranges that depend on other keys
(a batch larger than the split it batches); two noise levels that name the
same cell; the method entries' own parameters and sweeps (checked against
each method's signature).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from klomflow.benchmarks import Benchmark, get_benchmark

# Fewer models than this and KLOM measures mostly the sampling noise of its
# 20-bin histograms: two sets of N models drawn from the same distribution
# (N(0, 1) margins, 4,000 samples) score P95 KLOM 0.65 at N = 100, 1.67 at
# 50, 4.95 at 20 and 8.45 at 10, against a ceiling of ln(1 / eps) = 11.5.
MIN_MODELS_FOR_KLOM = 50


class ConfigError(ValueError):
    """A mistake in the config: one line, ``config: <key>: <what is wrong>``."""

    def __init__(self, message: str):
        super().__init__(f"config: {message}")

    @classmethod
    def of_schema(cls, error) -> ConfigError:
        """The line for a jsonschema ValidationError: its key, not the whole schema."""
        key = ".".join(str(p) for p in error.absolute_path) or "top level"
        return cls(f"{key}: {error.message}")


@dataclass(frozen=True)
class CheckedConfig:
    """What :func:`check_config` worked out, once, for the rules.

    ``split_sizes``: ``n_train`` and ``n_val`` every file is checked against;
    ``recipe``: config ``training`` in the schema's order of its keys, so
    that a config's own order never changes a job's params (Snakemake
    compares them as text, and would run the job again);
    ``retrain_forget_sets``: the forget sets that get the grid;
    ``method_settings``: every setting of ``methods:`` by name
    (:func:`klomflow.unlearning.settings.method_settings`); ``warnings``: one line each.
    """

    benchmark: Benchmark
    split_sizes: dict[str, int]
    recipe: dict
    retrain_forget_sets: list[int]
    method_settings: dict[str, dict]
    warnings: list[str]


def schema_defaults(schema_file: str | Path, key: str) -> dict:
    """What config ``key`` holds when config.yaml leaves it out: the schema's defaults.

    The schema is the one place the defaults are written; e.g. the benchmark's
    training recipe is ``TrainingRecipe(**schema_defaults(schema_file, "training"))``.
    """
    properties = yaml.safe_load(Path(schema_file).read_text())["properties"][key]["properties"]
    return {name: spec["default"] for name, spec in properties.items() if "default" in spec}


def check_config(config: dict, schema: dict) -> CheckedConfig:
    """ConfigError naming the first key at fault; else what the rules are handed.

    ``config``: validated against ``schema`` with its defaults filled in.
    Fills in ``retrain.forget_sets`` (all of ``forget_sets``) where it is left
    out: a default the schema cannot write, as it names another key.
    """
    check_types(config, schema)
    benchmark = get_benchmark(config["benchmark"])
    retrain_forget_sets = config["retrain"].setdefault("forget_sets", list(config["forget_sets"]))
    check_forget_sets(benchmark, config["forget_sets"], retrain_forget_sets)
    check_reference(benchmark, config)
    n_models = config["n_models"]
    if n_models < 2:
        # With one model per side, the model that is not below the oracle
        # sits on the last bin edge and scores 0: doing nothing "wins".
        raise ConfigError(f"n_models: {n_models} is less than 2; KLOM compares histograms")
    check_noise_levels(config["retrain"]["noise_levels"])
    sizes = split_sizes(benchmark, config["split_sizes"])
    check_batch_size(config["training"]["batch_size"], benchmark, forget_sets_of(config), sizes)
    settings = check_methods(config["methods"])
    check_hub_revisions(config["hub"])
    warnings = []
    if n_models < MIN_MODELS_FOR_KLOM:
        warnings.append(
            f"config: n_models: {n_models} models per side leave KLOM's 20-bin histograms "
            f"mostly noise (below {MIN_MODELS_FOR_KLOM}; EasyDUB uses 100); "
            "read the scores as a smoke test"
        )
    recipe = {
        name: config["training"][name] for name in schema["properties"]["training"]["properties"]
    }
    return CheckedConfig(benchmark, sizes, recipe, retrain_forget_sets, settings, warnings)


def check_forget_sets(benchmark: Benchmark, forget_sets: list, retrain_forget_sets: list) -> None:
    """Every forget set is one of the benchmark's; the grid's are among ``forget_sets``."""
    for key, numbers in (
        ("forget_sets", forget_sets),
        ("retrain.forget_sets", retrain_forget_sets),
    ):
        unknown = [number for number in numbers if number not in benchmark.forget_sets]
        if unknown:
            raise ConfigError(
                f"{key}: {unknown[0]} is not a forget set of the {benchmark.name} benchmark "
                f"(it has {', '.join(map(str, benchmark.forget_sets))})"
            )
    extra = sorted(set(retrain_forget_sets) - set(forget_sets))
    if extra:
        raise ConfigError(f"retrain.forget_sets: {extra[0]} is not among forget_sets {forget_sets}")


def check_reference(benchmark: Benchmark, config: dict) -> None:
    """The model takes the benchmark's images; the reference source serves it, with N models."""
    if config["model"] != benchmark.model:
        raise ConfigError(
            f"model: {config['model']} does not take {benchmark.name} images "
            f"(the {benchmark.name} benchmark's model is {benchmark.model})"
        )
    source = config["reference"]["source"]
    if source not in benchmark.sources:
        raise ConfigError(
            f"reference.source: {source} does not serve the {benchmark.name} benchmark "
            f"(it has {', '.join(benchmark.sources)})"
        )
    if benchmark.sources[source].hub_key:
        from klomflow.hub.client import check_model_count

        try:
            check_model_count(config["n_models"])
        except ValueError as error:
            raise ConfigError(str(error)) from None


def check_types(config, schema: dict) -> None:
    """Integers are integers and numbers finite, wherever the schema has them.

    jsonschema counts 100.0 as an integer; the jobs then fail on it (after
    Snakemake deleted their outputs), so it is refused here.
    """
    _check_value(config, schema, schema, "")


def _check_value(value, schema: dict, root: dict, key: str) -> None:
    schema = _resolve(schema, root)
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key or 'top level'}: {value} is not a finite number")
    if isinstance(value, float) and "integer" in _types(schema):
        hint = f" (write {int(value)})" if value.is_integer() else ""
        raise ConfigError(f"{key}: {value!r} is not an integer{hint}")
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
            raise ConfigError(
                f"retrain.noise_levels: {seen[label]!r} and {level!r} both name the "
                f"cell noise_{label} (levels are named with 6 significant digits)"
            )
        seen[label] = level


def forget_sets_of(config: dict) -> list[int]:
    """Every forget set the config runs: ``forget_sets`` and the grid's."""
    return sorted({*config["forget_sets"], *config.get("retrain", {}).get("forget_sets", [])})


def split_sizes(benchmark: Benchmark, overrides: dict) -> dict[str, int]:
    """``n_train`` and ``n_val`` of the benchmark, or of the reduced copy ``split_sizes`` names.

    A benchmark whose images are built the same way every time (digits)
    cannot have other sizes; a downloaded one (CIFAR-10) may be a smaller
    copy, never a larger one.
    """
    full = {"n_train": benchmark.n_train, "n_val": benchmark.n_val}
    for name, value in overrides.items():
        if not benchmark.reducible and value != full[name]:
            raise ConfigError(
                f"split_sizes.{name}: {value}, but the {benchmark.name} images always have "
                f"{full[name]} (split_sizes is for a reduced copy of a downloaded benchmark)"
            )
        if value > full[name]:
            raise ConfigError(
                f"split_sizes.{name}: {value} is more than {benchmark.name} has ({full[name]})"
            )
    return {**full, **overrides}


def check_batch_size(
    batch_size: int, benchmark: Benchmark, forget_sets: list[int], sizes: dict[str, int]
) -> None:
    """The training batch must fit the smallest split it batches: the retain split.

    A larger batch makes one step per epoch and trains every model to chance.
    Where the forget sets' sizes are known before the data exist (digits),
    the largest bounds the batch; where they come with the download
    (CIFAR-10), only the train split bounds it here and the training job
    checks the retain split itself before it trains.
    """
    n_train = sizes["n_train"]
    smallest, split = n_train, f"the {n_train} train samples"
    # An unknown forget set is reported by check_forget_sets.
    known = [f for f in forget_sets if f in benchmark.forget_set_sizes]
    if known:
        largest = max(known, key=benchmark.forget_set_sizes.get)
        smallest = n_train - benchmark.forget_set_sizes[largest]
        split = f"the {smallest} retain samples of forget set {largest}"
    if batch_size > smallest:
        raise ConfigError(
            f"training.batch_size: {batch_size} is larger than {split} it batches "
            "(one step per epoch leaves the models at chance)"
        )


def check_methods(methods: dict) -> dict[str, dict]:
    """Every setting of ``methods:`` (entries, sweeps), by name: the method imports, its
    parameters fit its signature."""
    from klomflow.unlearning.settings import method_settings

    try:
        return method_settings(methods)
    except ValueError as error:
        raise ConfigError(str(error)) from None


# What git (and so the hub) accepts as a branch or tag name, which a
# 40-character commit also is: no spaces, control characters or ~^:?*[\, no
# "..", "@{" or "//", not starting or ending with "/" or ".", not ".lock" at the end.
_REVISION = re.compile(r"(?!.*(?:\.\.|@\{|//|\.lock$))(?![/.])[^\x00-\x20\x7f~^:?*\[\\]+(?<![/.])")


def check_hub_revisions(hub: dict) -> None:
    """Every ``hub.<source>.revision`` is a branch, tag or commit name, as the hub could have it."""
    for source, settings in hub.items():
        if isinstance(settings, dict) and not _REVISION.fullmatch(settings["revision"]):
            raise ConfigError(
                f"hub.{source}.revision: {settings['revision']!r} is not a branch, tag "
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
        raise ConfigError(f"device: {reason}")
