"""Sweeps over a method entry's keys: where the config's defaults and a sweep meet."""

import pytest
import yaml
from conftest import REPO

from klomflow.unlearning.settings import ENTRY_KEYS, method_settings


def test_a_seed_sweep_makes_one_setting_per_seed():
    settings = method_settings(
        {"g": {"method": "do_nothing", "epochs": [1], "sweep": {"seed": [0, 1]}}}
    )
    assert {name: s["seed"] for name, s in settings.items()} == {"g__seed-0": 0, "g__seed-1": 1}


def test_an_entry_without_seed_gets_seed_0_after_its_own_keys():
    settings = method_settings({"g": {"method": "do_nothing", "epochs": [1]}})
    assert settings["g"]["seed"] == 0
    # As the schema's default stood before: a setting whose params read differently re-runs.
    assert list(settings["g"]) == ["method", "epochs", "seed", "entry", "swept"]


def test_a_seed_set_in_the_entry_and_swept_is_named():
    entry = {"method": "do_nothing", "epochs": [1], "seed": 3, "sweep": {"seed": [0, 1]}}
    with pytest.raises(ValueError) as error:
        method_settings({"g": entry})
    assert (
        str(error.value)
        == "methods.g.sweep.seed: seed is also set in the entry; set it in one place"
    )


@pytest.mark.parametrize("seed", [-1, 1.5, "a", True])
def test_a_swept_seed_that_is_not_a_seed_is_named(seed):
    entry = {"method": "do_nothing", "epochs": [1], "sweep": {"seed": [0, seed]}}
    with pytest.raises(ValueError) as error:
        method_settings({"g": entry})
    assert str(error.value) == f"methods.g.sweep.seed: {seed!r} is not a seed (an integer from 0)"


def test_no_key_a_sweep_may_set_has_a_schema_default():
    # Validation writes a schema default into every entry before its sweep
    # expands; a sweep over that key would then look set twice.
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    entry = schema["properties"]["methods"]["additionalProperties"]["properties"]
    defaulted = {key for key, spec in entry.items() if "default" in spec}
    unsweepable = {"method", "epochs", "sweep"}
    assert unsweepable <= set(ENTRY_KEYS)
    assert defaulted <= unsweepable, defaulted - unsweepable
