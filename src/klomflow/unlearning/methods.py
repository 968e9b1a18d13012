"""The built-in unlearning methods (docs/methods.md), each an example of a method of your own.

A method is a generator function::

    def my_method(models: ModelStack, data: UnlearningData, *, my_param=..., ...):
        ...                      # set up: optimisers, a frozen teacher, ...
        while True:
            ...                  # one epoch of unlearning, in place on `models`
            yield models         # the unlearned models after this epoch

``models`` are the N pretrain models of the benchmark, stacked
(:class:`klomflow.stacking.ModelStack`); ``data`` serves per-model shuffled
batches of the retain and forget splits and counts the compute they cost
(:class:`klomflow.unlearning.UnlearningData`). Keyword-only parameters are
the method's hyper-parameters, set per entry in config (``methods:``); those
without a default are required, and their annotations
(:mod:`klomflow.unlearning.parameters`) bound the values config may give.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import TypedDict, Unpack

import torch
import torch.nn.functional as F

from klomflow.stacking import ModelStack, add_gradient_noise, stacked_cross_entropy
from klomflow.unlearning.data import STEP_COST, UnlearningData
from klomflow.unlearning.parameters import (
    BatchSize,
    Epochs,
    Momentum,
    NonNegativeFloat,
    PositiveFloat,
)


class SGD(TypedDict, total=False):
    """The optimiser settings every built-in method that takes steps accepts, as ``**sgd``.

    Defaults (:data:`SGD_DEFAULTS`) are the reference example's: lr 0.001, no
    momentum, no weight decay.
    """

    lr: PositiveFloat
    momentum: Momentum
    weight_decay: NonNegativeFloat


SGD_DEFAULTS = SGD(lr=0.001, momentum=0.0, weight_decay=0.0)


def _sgd(models: ModelStack, settings: SGD) -> torch.optim.SGD:
    return torch.optim.SGD(models.parameters(), **{**SGD_DEFAULTS, **settings})


def _step(optimizer, loss: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def do_nothing(models: ModelStack, data: UnlearningData) -> Iterator[ModelStack]:
    """The pretrain models unchanged: the baseline every method must beat."""
    while True:
        yield models


def _ascent_pass(models: ModelStack, data: UnlearningData, optimizer, batch_size: int) -> None:
    """One pass of gradient ascent on the forget set: steps that minimise -CE."""
    for images, labels in data.batches("forget", batch_size):
        _step(optimizer, -stacked_cross_entropy(models.logits(images), labels))


def ascent_forget(
    models: ModelStack,
    data: UnlearningData,
    *,
    forget_batch_size: BatchSize = 32,
    **sgd: Unpack[SGD],
) -> Iterator[ModelStack]:
    """Gradient ascent on the forget set, one pass per epoch."""
    optimizer = _sgd(models, sgd)
    models.train()
    while True:
        _ascent_pass(models, data, optimizer, forget_batch_size)
        yield models


def ascent_descent(
    models: ModelStack,
    data: UnlearningData,
    *,
    ascent_epochs: Epochs = 3,
    forget_batch_size: BatchSize = 32,
    batch_size: BatchSize = 64,
    **sgd: Unpack[SGD],
) -> Iterator[ModelStack]:
    """Each epoch: a pass of ascent on the forget set (first ``ascent_epochs`` only), then descent on retain."""
    optimizer = _sgd(models, sgd)
    models.train()
    for epoch in itertools.count(1):
        if epoch <= ascent_epochs:
            _ascent_pass(models, data, optimizer, forget_batch_size)
        for images, labels in data.batches("retain", batch_size):
            _step(optimizer, stacked_cross_entropy(models.logits(images), labels))
        yield models


def clip_gradient_norm(models: ModelStack, max_norm: float) -> None:
    """Scale each model's gradient so that its global norm is at most ``max_norm``."""
    grads = [models.per_model(p.grad) for p in models.parameters()]
    norms = torch.sqrt(sum(g.float().pow(2).flatten(1).sum(dim=1) for g in grads))
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *[1] * (g.dim() - 1)).to(g.dtype))


def noisy_descent(
    models: ModelStack,
    data: UnlearningData,
    *,
    batch_size: BatchSize = 64,
    noise: NonNegativeFloat = 0.01,
    clip_norm: PositiveFloat = 1.0,
    **sgd: Unpack[SGD],
) -> Iterator[ModelStack]:
    """Descent on the retain set; each step clips every model's gradient norm, then adds N(0, noise^2)."""
    optimizer = _sgd(models, sgd)
    generator = data.generator()
    models.train()
    while True:
        for images, labels in data.batches("retain", batch_size):
            optimizer.zero_grad(set_to_none=True)
            stacked_cross_entropy(models.logits(images), labels).backward()
            clip_gradient_norm(models, clip_norm)
            add_gradient_noise(models, noise, generator)
            optimizer.step()
        yield models


def distillation_kl(
    student: torch.Tensor, teacher: torch.Tensor, temperature: float
) -> torch.Tensor:
    """KL(teacher || student) of logits ``(N, B, C)`` softened by ``temperature``, times T^2.

    The mean over each model's batch, summed over models (like the cross-entropy).
    """
    n_models, batch = student.shape[:2]
    log_student = F.log_softmax(student.float() / temperature, dim=-1)
    log_teacher = F.log_softmax(teacher.float() / temperature, dim=-1)
    kl = F.kl_div(log_student, log_teacher, log_target=True, reduction="sum")
    return kl * temperature**2 / batch


def scrub(
    models: ModelStack,
    data: UnlearningData,
    *,
    ascent_epochs: Epochs = 3,
    forget_batch_size: BatchSize = 32,
    batch_size: BatchSize = 64,
    temperature: PositiveFloat = 4.0,
    ce_weight: NonNegativeFloat = 0.99,
    kl_weight: NonNegativeFloat = 0.1,
    lr_decay_epochs: tuple[Epochs, ...] = (3, 5, 9),
    **sgd: Unpack[SGD],
) -> Iterator[ModelStack]:
    """SCRUB: the student (the pretrain models) moves away from the teacher on the forget set
    and stays close to it, and right, on the retain set.

    Per epoch: the learning rate is multiplied by 0.1 after each of
    ``lr_decay_epochs``; while epoch <= ``ascent_epochs``, a max-step on the
    forget set (loss -KL(teacher || student) T^2); then a min-step on the retain
    set (``ce_weight`` CE + ``kl_weight`` KL T^2).
    """
    teacher = ModelStack(models.model, models.state_dicts(), models.device).eval()
    optimizer = _sgd(models, sgd)
    models.train()
    teacher_cost = 1  # the teacher's forward pass on every sample served
    for epoch in itertools.count(1):
        for group in optimizer.param_groups:
            group["lr"] = optimizer.defaults["lr"] * 0.1 ** sum(epoch > e for e in lr_decay_epochs)
        if epoch <= ascent_epochs:
            for images, _labels in data.batches(
                "forget", forget_batch_size, STEP_COST + teacher_cost
            ):
                _step(
                    optimizer,
                    -distillation_kl(models.logits(images), _frozen(teacher, images), temperature),
                )
        for images, labels in data.batches("retain", batch_size, STEP_COST + teacher_cost):
            student = models.logits(images)
            loss = ce_weight * stacked_cross_entropy(student, labels)
            loss = loss + kl_weight * distillation_kl(
                student, _frozen(teacher, images), temperature
            )
            _step(optimizer, loss)
        yield models


def _frozen(teacher: ModelStack, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return teacher.logits(images)


METHODS: dict[str, Callable[..., Iterator[ModelStack]]] = {
    "do_nothing": do_nothing,
    "ascent_forget": ascent_forget,
    "ascent_descent": ascent_descent,
    "noisy_descent": noisy_descent,
    "scrub": scrub,
}
