"""The multi-model trainer (SPEC §7): deterministic, models independent."""

import numpy as np
import pytest
import torch

from klomflow.training import ModelStack, Trainer, TrainingRecipe, train_models

RECIPE = TrainingRecipe(
    epochs=2,
    batch_size=16,
    lr=0.2,
    momentum=0.9,
    weight_decay=5e-4,
    peak_epoch=1,
    div_factor=100.0,
    final_div_factor=100.0,
    cycle_momentum=False,
)


@pytest.fixture(scope="module")
def data():
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(100, 1, 8, 8, generator=generator)
    labels = torch.randint(0, 10, (100,), generator=generator)
    return images, labels


def train(data, **kwargs):
    args = dict(n_models=3, seed=0, eval_splits={"train": data}, every_epoch=True)
    args.update(kwargs)
    return train_models("digits_cnn", data, RECIPE, **args)


def test_margins_are_recorded_per_epoch_model_and_sample(data):
    run = train(data)
    assert run.margins["train"].shape == (2, 3, 100)
    assert run.margins["train"].dtype == np.float32
    final = train(data, every_epoch=False).margins["train"]
    np.testing.assert_array_equal(final, run.margins["train"][-1])


def test_same_seed_gives_bit_identical_models_on_cpu(data):
    first, second = train(data), train(data)
    np.testing.assert_array_equal(first.margins["train"], second.margins["train"])
    for a, b in zip(first.stack.state_dicts(), second.stack.state_dicts()):
        for key in a:
            assert torch.equal(a[key], b[key])


def test_models_in_a_stack_differ_from_each_other(data):
    margins = train(data).margins["train"][-1]
    assert not np.allclose(margins[0], margins[1])
    assert not np.allclose(margins[1], margins[2])


def test_a_model_is_the_same_whatever_stack_it_is_trained_in(data):
    stacked = train(data).margins["train"]
    alone = train(data, n_models=1, first_model=2).margins["train"]
    np.testing.assert_allclose(alone[:, 0], stacked[:, 2], rtol=0, atol=1e-4)


def test_other_seed_gives_other_models(data):
    a = train(data).margins["train"]
    b = train(data, seed=1).margins["train"]
    assert not np.allclose(a, b)


def test_gradient_noise_changes_the_models(data):
    quiet = train(data).margins["train"]
    noisy = train(data, grad_noise=0.1).margins["train"]
    assert not np.allclose(quiet, noisy)
    with pytest.raises(ValueError, match="gradient noise"):
        train(data, grad_noise=-1.0)


def test_schedule_rises_to_the_peak_lr_and_falls_to_lr_over_div_factors(data):
    stack = ModelStack.initialised("digits_cnn", 2, 0, "cpu")
    trainer = Trainer(stack, *data, RECIPE, seed=0)
    lrs = []
    for _ in range(RECIPE.epochs * len(trainer.batches)):
        lrs.append(trainer.optimizer.param_groups[0]["lr"])
        trainer.optimizer.step()  # no gradients: nothing moves but the schedule
        trainer.scheduler.step()
    steps_per_epoch = len(trainer.batches)
    assert lrs[0] == pytest.approx(RECIPE.lr / RECIPE.div_factor)
    assert max(lrs) == pytest.approx(RECIPE.lr)
    assert int(np.argmax(lrs)) == pytest.approx(RECIPE.peak_epoch * steps_per_epoch, abs=1)
    assert lrs[-1] == pytest.approx(RECIPE.lr / RECIPE.div_factor / RECIPE.final_div_factor)


def test_resuming_from_a_state_dict_continues_exactly(data):
    def fresh():
        return Trainer(
            ModelStack.initialised("digits_cnn", 2, 0, "cpu"),
            *data,
            RECIPE,
            seed=0,
            grad_noise=0.01,
        )

    straight = fresh()
    straight.train_epoch()
    saved = straight.state_dict()
    straight.train_epoch()

    resumed = fresh()
    resumed.load_state_dict(saved)
    resumed.train_epoch()
    assert resumed.epoch == straight.epoch == 2
    torch.testing.assert_close(
        resumed.stack.margins(*data), straight.stack.margins(*data), rtol=0, atol=0
    )


def test_a_last_batch_of_one_sample_is_left_for_the_next_epoch(data):
    images, labels = data[0][:33], data[1][:33]
    run = train_models(
        "digits_cnn",
        (images, labels),
        RECIPE,
        n_models=2,
        seed=0,
        eval_splits={"train": (images, labels)},
    )
    assert run.margins["train"].shape == (2, 33)


def test_recipe_rejects_zero_epochs():
    with pytest.raises(ValueError, match="training.epochs must be at least 1"):
        TrainingRecipe(**{**RECIPE.__dict__, "epochs": 0})
