"""Unlearning methods (docs/methods.md): batched, registered, checked, and run by run_method."""

import numpy as np
import pytest
import torch
from conftest import REPO, TINY_RECIPE

from klomflow.splits import SPLITS
from klomflow.stacking import ModelStack
from klomflow.training import TrainingRecipe, train_models
from klomflow.unlearning import METHODS, STEP_COST, UnlearningData, run_method
from klomflow.unlearning.methods import clip_gradient_norm, distillation_kl
from klomflow.unlearning.registry import resolve_method
from klomflow.unlearning.settings import check_method_entry

N_MODELS = 3
RECIPE = TrainingRecipe(**TINY_RECIPE)


@pytest.fixture(scope="module")
def setup():
    """Tiny pretrained models and splits: 60 train images (10 to forget), 20 val."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(80, 1, 8, 8, generator=generator)
    labels = torch.randint(0, 10, (80,), generator=generator)
    splits = {
        "retain": (images[10:60], labels[10:60]),
        "forget": (images[:10], labels[:10]),
        "val": (images[60:], labels[60:]),
    }
    train = (images[:60], labels[:60])
    pretrained = train_models(
        "digits_cnn", train, RECIPE, n_models=N_MODELS, seed=0, eval_splits={}
    )
    return pretrained.stack.state_dicts(), splits


def run(setup, method, epochs=(1, 2), **params):
    states, splits = setup
    models = ModelStack("digits_cnn", states, "cpu")
    data = UnlearningData(splits["retain"], splits["forget"], N_MODELS, seed=0)
    full_cost = 2 * 60 * STEP_COST
    return run_method(
        resolve_method(method),
        models,
        data,
        splits,
        list(epochs),
        params,
        full_retrain_cost=full_cost,
    )


def test_do_nothing_keeps_the_pretrain_margins(setup):
    states, splits = setup
    recorded = run(setup, "do_nothing")
    pretrain = ModelStack("digits_cnn", states, "cpu")
    for split in SPLITS:
        np.testing.assert_array_equal(recorded.margins[split][0], pretrain.margins(*splits[split]))
    assert recorded.compute_pct == [0.0, 0.0]


@pytest.mark.parametrize("method", ["ascent_forget", "ascent_descent", "noisy_descent", "scrub"])
def test_every_method_changes_the_models_and_records_each_listed_epoch(setup, method):
    recorded = run(setup, method, epochs=(1, 3), lr=0.05)
    assert recorded.epochs == [1, 3]
    assert recorded.margins["forget"].shape == (2, N_MODELS, 10)
    assert recorded.margins["val"].shape == (2, N_MODELS, 20)
    before = run(setup, "do_nothing").margins["forget"][0]
    assert not np.allclose(recorded.margins["forget"][0], before)
    assert 0 < recorded.compute_pct[0] < recorded.compute_pct[1]


def test_ascent_lowers_the_forget_margins(setup):
    before = run(setup, "do_nothing").margins["forget"][0]
    after = run(setup, "ascent_forget", epochs=(3,), lr=0.05).margins["forget"][0]
    assert after.mean() < before.mean()


def test_compute_counts_training_steps_on_the_samples_touched(setup):
    # ascent_forget: one pass over the 10 forget images per epoch; a full
    # retrain is 2 epochs over 60 images.
    recorded = run(setup, "ascent_forget", epochs=(1, 2))
    np.testing.assert_allclose(recorded.compute_pct, [100 * 10 / 120, 100 * 20 / 120])
    # ascent_descent: the forget pass while epoch <= ascent_epochs, then 50 retain images.
    recorded = run(setup, "ascent_descent", epochs=(1, 2), ascent_epochs=1)
    np.testing.assert_allclose(recorded.compute_pct, [100 * 60 / 120, 100 * 110 / 120])


def test_a_method_runs_the_same_twice(setup):
    first = run(setup, "noisy_descent", lr=0.05).margins["retain"]
    second = run(setup, "noisy_descent", lr=0.05).margins["retain"]
    np.testing.assert_array_equal(first, second)


def test_models_in_a_stack_unlearn_independently(setup):
    states, splits = setup
    perturbed = [dict(state) for state in states]
    perturbed[0] = {k: v * 1.5 if v.is_floating_point() else v for k, v in states[0].items()}
    baseline = run(setup, "scrub", epochs=(2,), lr=0.05).margins["val"][0]
    changed = run((perturbed, splits), "scrub", epochs=(2,), lr=0.05).margins["val"][0]
    assert not np.allclose(changed[0], baseline[0])
    np.testing.assert_allclose(changed[1:], baseline[1:], rtol=0, atol=1e-5)


def test_clipping_bounds_each_models_gradient_norm_separately(setup):
    states, splits = setup
    models = ModelStack("digits_cnn", states, "cpu")
    for p in models.parameters():
        p.grad = torch.ones_like(p)
        models.per_model(p.grad)[0] *= 1e-4  # model 0: tiny gradient, left alone
    clip_gradient_norm(models, 1.0)
    norms = torch.sqrt(
        sum(models.per_model(p.grad).pow(2).flatten(1).sum(1) for p in models.parameters())
    )
    assert norms[1].item() == pytest.approx(1.0, rel=1e-4)
    assert norms[0].item() < 1.0


def test_distillation_kl_is_zero_for_equal_logits_and_positive_otherwise():
    logits = torch.randn(2, 5, 10)
    assert distillation_kl(logits, logits, 4.0).item() == pytest.approx(0.0, abs=1e-6)
    assert distillation_kl(logits, torch.randn(2, 5, 10), 4.0).item() > 0


def test_registered_methods_are_the_five_of_the_spec():
    assert set(METHODS) == {
        "do_nothing",
        "ascent_forget",
        "ascent_descent",
        "noisy_descent",
        "scrub",
    }


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"method": "forgetful"}, "methods.e: unknown method 'forgetful'"),
        ({"method": "no_such_module_xyz:f"}, "methods.e: cannot import 'no_such_module_xyz'"),
        ({"method": "math:no_such_function"}, "methods.e: module 'math' has no function"),
        ({"method": "scrub", "learning_rate": 0.1}, "methods.e: unknown parameter 'learning_rate'"),
        (
            {"method": "methods_for_tests:needs_strength"},
            "methods.e: missing required parameter 'strength'",
        ),
    ],
)
def test_bad_method_entries_are_named(entry, message):
    with pytest.raises(ValueError, match=message):
        check_method_entry("e", {"epochs": [1], "seed": 0, **entry})


def test_a_users_method_by_module_and_function(setup):
    recorded = run(setup, "methods_for_tests:needs_strength", epochs=(1,), strength=0.5)
    assert recorded.margins["retain"].shape == (1, N_MODELS, 50)


@pytest.mark.parametrize(
    "method, message",
    [
        ("methods_for_tests:yields_wrong_thing", "yielded ndarray, expected a ModelStack of 3"),
        ("methods_for_tests:yields_one_model", "yielded 1 models, expected a ModelStack of 3"),
        ("methods_for_tests:stops_early", "stopped after 1 epochs, but epochs up to 2"),
    ],
)
def test_a_method_yielding_the_wrong_thing_is_named(setup, method, message):
    with pytest.raises(ValueError, match=f"method: the method {message}"):
        run(setup, method)


def test_the_readme_example_method_runs(setup, tmp_path, monkeypatch):
    readme = (REPO / "README.md").read_text()
    example = readme.split("## Add your method")[1].split("```python\n")[1].split("```")[0]
    (tmp_path / "my_methods.py").write_text(example)
    monkeypatch.chdir(tmp_path)
    entry = {
        "method": "my_methods.py:ascent_then_finetune",
        "lr": 0.005,
        "epochs": [1, 2],
        "seed": 0,
    }
    check_method_entry("mine", entry)
    recorded = run(setup, "my_methods.py:ascent_then_finetune", epochs=(1, 2), lr=0.005)
    assert recorded.margins["forget"].shape == (2, N_MODELS, 10)
    assert recorded.compute_pct[1] > recorded.compute_pct[0] > 0
