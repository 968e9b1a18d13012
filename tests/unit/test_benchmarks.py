"""The benchmark registry is the one home of a benchmark's facts: the schema and the code follow it."""

import re

import pytest
import yaml
from conftest import REPO

import klomflow.datasets
from klomflow.benchmarks import BENCHMARKS, HUB_SOURCES, REFERENCE_SOURCES
from klomflow.datasets import DIGITS_FORGET_SET_PICKERS, build_digits, digits_forget_set
from klomflow.hub import SOURCES

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())["properties"]


def test_the_schemas_benchmarks_models_and_sources_are_the_registrys():
    assert SCHEMA["benchmark"]["enum"] == list(BENCHMARKS)
    assert SCHEMA["model"]["enum"] == [benchmark.model for benchmark in BENCHMARKS.values()]
    assert SCHEMA["reference"]["properties"]["source"]["enum"] == list(REFERENCE_SOURCES)


def test_the_schemas_hub_keys_and_repositories_are_the_registrys():
    hub = {key: spec for key, spec in SCHEMA["hub"]["properties"].items() if key != "cache_dir"}
    assert {key: spec["properties"]["repo_id"]["default"] for key, spec in hub.items()} == {
        source.hub_key: source.repo_id for source in HUB_SOURCES.values()
    }


def test_every_hub_source_of_the_registry_can_be_fetched():
    assert sorted(SOURCES) == sorted(HUB_SOURCES)


def test_every_benchmarks_sources_and_loader_exist():
    for benchmark in BENCHMARKS.values():
        assert set(benchmark.sources.values()) <= set(REFERENCE_SOURCES.values())
        assert callable(getattr(klomflow.datasets, benchmark.loader))
        assert set(benchmark.forget_set_sizes) <= set(benchmark.forget_sets)


def test_the_digits_forget_sets_have_the_registrys_sizes():
    dataset, _ = build_digits()
    sizes = BENCHMARKS["digits"].forget_set_sizes
    assert sorted(DIGITS_FORGET_SET_PICKERS) == sorted(sizes)
    for forget_set, size in sizes.items():
        assert len(digits_forget_set(forget_set, dataset)) == size


@pytest.mark.parametrize("root", ["src", "workflow"])
def test_no_code_branches_on_a_benchmarks_or_sources_name(root):
    names = "|".join(map(re.escape, [*BENCHMARKS, *REFERENCE_SOURCES]))
    branch = re.compile(rf"""(==|!=|\bin)\s*\(?["']({names})["']""")
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sorted((REPO / root).rglob("*"))
        if path.suffix in (".py", ".smk")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if branch.search(line)
    ]
    assert found == []
