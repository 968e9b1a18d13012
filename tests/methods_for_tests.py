"""Unlearning methods of a user's own module, for the tests."""

import numpy as np

from klomflow.stacking import ModelStack


def needs_strength(models, data, *, strength):
    """Scales every parameter by (1 - strength / 100): a valid method with a required parameter."""
    while True:
        for p in models.parameters():
            p.data.mul_(1 - strength / 100)
        yield models


def yields_wrong_thing(models, data):
    while True:
        yield np.zeros((3, 50))


def yields_one_model(models, data):
    while True:
        yield ModelStack(models.model, models.state_dicts()[:1], models.device)


def stops_early(models, data):
    yield models


def poisons(models, data, *, lr: float = 10.0):
    """Diverges at once: every weight becomes NaN, as a far too large lr would make it."""
    while True:
        for p in models.parameters():
            p.data.fill_(float("nan"))
        yield models


def annotated(models, data, *, strength: float, steps: int = 1):
    """Annotated but without ranges: types are checked, values not."""
    while True:
        yield models


def returns_models(models, data):
    """Returns instead of yielding: not a method (it must be a generator function)."""
    return models


def poisons_from(models, data, *, diverge_at: int = 2):
    """Leaves the models as they are before epoch ``diverge_at``, then makes every weight NaN:
    a run that diverges after epochs it recorded finite."""
    epoch = 1
    while True:
        if epoch >= diverge_at:
            for p in models.parameters():
                p.data.fill_(float("nan"))
        yield models
        epoch += 1
