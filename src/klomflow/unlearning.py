"""Unlearning methods, all N models at once (SPEC §8).

A method is a generator function with this signature::

    def my_method(models: ModelStack, data: UnlearningData, *, my_param=..., ...):
        ...                      # set up: optimisers, a frozen teacher, ...
        while True:
            ...                  # one epoch of unlearning, in place on `models`
            yield models         # the unlearned models after this epoch

``models`` are the N pretrain models of the benchmark, stacked
(:class:`klomflow.training.ModelStack`); ``data`` serves per-model shuffled
batches of the retain and forget splits and counts the compute they cost.
Keyword-only parameters are the method's hyper-parameters, set per entry in
config (``methods:``); those without a default are required. The caller asks
for as many epochs as the entry lists and records the models' margins after
each listed epoch.

Built-in methods are registered in :data:`METHODS`; a method of your own is
named ``path/to/file.py:function`` or ``package.module:function`` in config.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from klomflow.datasets import ImageDataset
from klomflow.easydub import EasyDUBLayout
from klomflow.margins import EpochMargins
from klomflow.splits import SPLITS
from klomflow.training import (
    ModelStack,
    PerModelBatches,
    add_gradient_noise,
    derive_seed,
    stacked_cross_entropy,
)

log = logging.getLogger(__name__)

# Forward-pass equivalents of one training step on one sample: forward plus
# a backward that costs about two forwards.
STEP_COST = 3

# The keys of a config entry that are not the method's own parameters.
ENTRY_KEYS = ("method", "epochs", "seed")

# Random streams of an unlearning run, each its own SeedSequence key.
_BATCHES, _NOISE = 11, 12


@dataclass
class UnlearningData:
    """The splits an unlearning method may use, on the models' device.

    ``retain`` and ``forget`` are (images, labels). Every batch served by
    :meth:`batches` is charged to :attr:`compute`, in forward-pass
    equivalents per model, so that methods are placed on the compute axis
    without knowing how they spend it.
    """

    retain: tuple[torch.Tensor, torch.Tensor]
    forget: tuple[torch.Tensor, torch.Tensor]
    n_models: int
    seed: int
    compute: float = 0.0
    _orders: dict = field(default_factory=dict, repr=False)

    def batches(self, split: str, batch_size: int, cost: float = STEP_COST):
        """One epoch of ``split`` ("retain" or "forget"): (images ``(N, B, ...)``, labels ``(N, B)``).

        Each model sees its own order, fixed by the run seed and the model;
        ``cost`` is charged per sample served (default: one training step).
        """
        images, labels = {"retain": self.retain, "forget": self.forget}[split]
        key = (SPLITS.index(split), batch_size)
        if key not in self._orders:
            seeds = [derive_seed(self.seed, m, _BATCHES, *key) for m in range(self.n_models)]
            self._orders[key] = PerModelBatches(len(labels), batch_size, seeds, images.device)
        for index in self._orders[key].epoch():
            self.compute += cost * index.shape[1]
            yield images[index], labels[index]

    def generator(self, stream: int = 0) -> torch.Generator:
        """A random generator on the models' device for the method's own noise."""
        return torch.Generator(self.retain[0].device).manual_seed(
            derive_seed(self.seed, _NOISE, stream)
        )


def _sgd(models: ModelStack, lr: float, momentum: float, weight_decay: float):
    return torch.optim.SGD(models.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)


def _step(optimizer, loss: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def do_nothing(models: ModelStack, data: UnlearningData) -> Iterator[ModelStack]:
    """The pretrain models unchanged: the baseline every method must beat."""
    while True:
        yield models


def ascent_forget(
    models: ModelStack,
    data: UnlearningData,
    *,
    lr: float = 0.001,
    forget_batch_size: int = 32,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> Iterator[ModelStack]:
    """Gradient ascent on the forget set: minimise -CE, one pass per epoch."""
    optimizer = _sgd(models, lr, momentum, weight_decay)
    models.train()
    while True:
        for images, labels in data.batches("forget", forget_batch_size):
            _step(optimizer, -stacked_cross_entropy(models.logits(images), labels))
        yield models


def ascent_descent(
    models: ModelStack,
    data: UnlearningData,
    *,
    lr: float = 0.001,
    ascent_epochs: int = 3,
    forget_batch_size: int = 32,
    batch_size: int = 64,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> Iterator[ModelStack]:
    """Each epoch: a pass of ascent on the forget set (first ``ascent_epochs`` only), then descent on retain."""
    optimizer = _sgd(models, lr, momentum, weight_decay)
    models.train()
    epoch = 0
    while True:
        epoch += 1
        if epoch <= ascent_epochs:
            for images, labels in data.batches("forget", forget_batch_size):
                _step(optimizer, -stacked_cross_entropy(models.logits(images), labels))
        for images, labels in data.batches("retain", batch_size):
            _step(optimizer, stacked_cross_entropy(models.logits(images), labels))
        yield models


def noisy_descent(
    models: ModelStack,
    data: UnlearningData,
    *,
    lr: float = 0.001,
    batch_size: int = 64,
    noise: float = 0.01,
    clip_norm: float = 1.0,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> Iterator[ModelStack]:
    """Descent on the retain set; each step clips every model's gradient norm, then adds N(0, noise^2)."""
    optimizer = _sgd(models, lr, momentum, weight_decay)
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


def clip_gradient_norm(models: ModelStack, max_norm: float) -> None:
    """Scale each model's gradient so that its global norm is at most ``max_norm``."""
    grads = [models.per_model(p.grad) for p in models.parameters()]
    norms = torch.sqrt(sum(g.float().pow(2).flatten(1).sum(dim=1) for g in grads))
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *[1] * (g.dim() - 1)).to(g.dtype))


def scrub(
    models: ModelStack,
    data: UnlearningData,
    *,
    lr: float = 0.001,
    ascent_epochs: int = 3,
    forget_batch_size: int = 32,
    batch_size: int = 64,
    temperature: float = 4.0,
    ce_weight: float = 0.99,
    kl_weight: float = 0.1,
    lr_decay_epochs: tuple[int, ...] = (3, 5, 9),
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> Iterator[ModelStack]:
    """SCRUB: the student (the pretrain models) moves away from the teacher on the forget set
    and stays close to it, and right, on the retain set.

    Per epoch: the learning rate is multiplied by 0.1 after each of
    ``lr_decay_epochs``; while epoch <= ``ascent_epochs``, a max-step on the
    forget set (loss -KL(teacher || student) T^2); then a min-step on the retain
    set (``ce_weight`` CE + ``kl_weight`` KL T^2).
    """
    teacher = ModelStack(models.model_name, models.state_dicts(), models.device).eval()
    optimizer = _sgd(models, lr, momentum, weight_decay)
    models.train()
    teacher_cost = 1  # the teacher's forward pass on every sample served
    epoch = 0
    while True:
        epoch += 1
        for group in optimizer.param_groups:
            group["lr"] = lr * 0.1 ** sum(epoch > e for e in lr_decay_epochs)
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


METHODS: dict[str, Callable[..., Iterator[ModelStack]]] = {
    "do_nothing": do_nothing,
    "ascent_forget": ascent_forget,
    "ascent_descent": ascent_descent,
    "noisy_descent": noisy_descent,
    "scrub": scrub,
}


def resolve_method(name: str, entry: str = "method") -> Callable[..., Iterator[ModelStack]]:
    """The method called ``name``: a registered one, ``package.module:function`` or
    ``path/to/file.py:function`` (relative to the working directory)."""
    if name in METHODS:
        return METHODS[name]
    if ":" not in name:
        raise ValueError(
            f"{entry}: unknown method {name!r}; known: {', '.join(METHODS)}, "
            "or package.module:function or file.py:function for your own"
        )
    module_name, _, function_name = name.partition(":")
    try:
        module = _import(module_name)
    except Exception as error:  # any import failure is the entry's problem
        raise ValueError(
            f"{entry}: cannot import {module_name!r} ({type(error).__name__}: {error})"
        ) from None
    method = getattr(module, function_name, None)
    if not callable(method):
        raise ValueError(f"{entry}: module {module_name!r} has no function {function_name!r}")
    return method


def _import(module_name: str):
    if not module_name.endswith(".py"):
        return importlib.import_module(module_name)
    path = Path(module_name).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no file {path}")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_parameters(method, params: dict, entry: str = "method") -> None:
    """ValueError naming ``entry`` if ``params`` are not exactly the method's keyword parameters."""
    signature = inspect.signature(method)
    accepted = {
        name: p
        for name, p in signature.parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"{entry}: unknown parameter {unknown[0]!r} for {method.__name__}; "
            f"it takes {', '.join(accepted) or 'none'}"
        )
    missing = [
        n for n, p in accepted.items() if p.default is inspect.Parameter.empty and n not in params
    ]
    if missing:
        raise ValueError(f"{entry}: missing required parameter {missing[0]!r} of {method.__name__}")


def check_method_entry(name: str, entry: dict):
    """The method of config entry ``methods.<name>``, its parameters checked; ValueError naming the entry."""
    label = f"methods.{name}"
    method = resolve_method(entry["method"], label)
    check_parameters(method, {k: v for k, v in entry.items() if k not in ENTRY_KEYS}, label)
    return method


def run_method(
    method,
    models: ModelStack,
    data: UnlearningData,
    splits: dict[str, tuple[torch.Tensor, torch.Tensor]],
    epochs: list[int],
    params: dict,
    *,
    full_retrain_cost: float,
    entry: str = "method",
) -> EpochMargins:
    """Run ``method`` for ``max(epochs)`` epochs, recording margins after each listed one.

    ``full_retrain_cost``: forward-pass equivalents per model of retraining
    from scratch, the 100 % of the compute axis.
    """
    check_parameters(method, params, entry)
    n_models = len(models)
    epochs = sorted(set(epochs))
    recorded = {split: [] for split in SPLITS}
    compute = []
    # A method's few epochs cost less than saving N models' state after each.
    log.info(
        "%s: starting from epoch 1 (methods keep no resume state: a stopped run starts over)", entry
    )
    unlearned = method(models, data, **params)
    for epoch in range(1, max(epochs) + 1):
        try:
            result = next(unlearned)
        except StopIteration:
            raise ValueError(
                f"{entry}: the method stopped after {epoch - 1} epochs, but epochs up to {max(epochs)} were asked"
            ) from None
        if not isinstance(result, ModelStack) or len(result) != n_models:
            got = (
                f"{len(result)} models" if isinstance(result, ModelStack) else type(result).__name__
            )
            raise ValueError(
                f"{entry}: the method yielded {got}, expected a ModelStack of {n_models} models"
            )
        if epoch in epochs:
            for split in SPLITS:
                recorded[split].append(result.margins(*splits[split]))
            compute.append(100 * data.compute / full_retrain_cost)
        log.info("%s: epoch %d/%d done", entry, epoch, max(epochs))
    return EpochMargins({s: np.stack(m) for s, m in recorded.items()}, epochs, compute)


def unlearn(
    layout: EasyDUBLayout,
    dataset: ImageDataset,
    forget_set: int,
    entry_name: str,
    entry: dict,
    *,
    n_models: int,
    training_epochs: int,
    device,
) -> EpochMargins:
    """Run one config entry of ``methods:`` on the first N pretrain models of ``layout``.

    ``entry`` holds ``method``, ``epochs``, ``seed`` and the method's own
    parameters; ``training_epochs`` of a full retrain on the whole train
    split make the 100 % of the compute axis.
    """
    layout.check_images(dataset)
    method = check_method_entry(entry_name, entry)
    splits = {
        split: (images.to(device), labels.to(device))
        for split, (images, labels) in dataset.splits(layout.read_forget_set(forget_set)).items()
    }
    models = ModelStack(layout.arch, layout.read_checkpoints(range(n_models)), device)
    data = UnlearningData(splits["retain"], splits["forget"], n_models, seed=entry["seed"])
    return run_method(
        method,
        models,
        data,
        splits,
        entry["epochs"],
        {k: v for k, v in entry.items() if k not in ENTRY_KEYS},
        full_retrain_cost=training_epochs * dataset.n_train * STEP_COST,
        entry=f"methods.{entry_name}",
    )
