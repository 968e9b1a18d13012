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

import functools
import importlib
import importlib.util
import inspect
import itertools
import logging
import math
import re
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Union, get_args, get_origin, get_type_hints

import numpy as np
import torch
import torch.nn.functional as F

from klomflow.datasets import ImageDataset
from klomflow.easydub import ReferenceFormat
from klomflow.margins import EpochMargins, check_finite, describe_setting
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

# The keys of a config entry, and of a setting expanded from it (entry,
# swept), that are not the method's own parameters.
ENTRY_KEYS = ("method", "epochs", "seed", "sweep", "entry", "swept")

# Random streams of an unlearning run, each its own SeedSequence key.
_BATCHES, _NOISE = 11, 12


@dataclass(frozen=True)
class Range:
    """The values a method parameter may take, as ``Annotated[float, Range(gt=0)]``.

    Config values are checked against it (and the type) before anything runs;
    ``gt``/``ge`` are exclusive/inclusive lower bounds, ``le`` an upper bound.
    """

    gt: float | None = None
    ge: float | None = None
    le: float | None = None

    def __str__(self) -> str:
        bounds = [("> ", self.gt), (">= ", self.ge), ("<= ", self.le)]
        return " and ".join(f"{op}{bound:g}" for op, bound in bounds if bound is not None)

    def contains(self, value) -> bool:
        return (
            (self.gt is None or value > self.gt)
            and (self.ge is None or value >= self.ge)
            and (self.le is None or value <= self.le)
        )


# The parameter types of the built-in methods; a method of your own may use them.
PositiveFloat = Annotated[float, Range(gt=0)]  # learning rates, temperatures, norms
NonNegativeFloat = Annotated[float, Range(ge=0)]  # noise, weights, weight decay
Momentum = Annotated[float, Range(ge=0, le=1)]  # SGD momentum; above 1 it diverges
BatchSize = Annotated[int, Range(ge=1)]  # samples per step, per model
Epochs = Annotated[int, Range(ge=0)]  # a count of epochs, or an epoch number


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
    lr: PositiveFloat = 0.001,
    forget_batch_size: BatchSize = 32,
    momentum: Momentum = 0.0,
    weight_decay: NonNegativeFloat = 0.0,
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
    lr: PositiveFloat = 0.001,
    ascent_epochs: Epochs = 3,
    forget_batch_size: BatchSize = 32,
    batch_size: BatchSize = 64,
    momentum: Momentum = 0.0,
    weight_decay: NonNegativeFloat = 0.0,
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
    lr: PositiveFloat = 0.001,
    batch_size: BatchSize = 64,
    noise: NonNegativeFloat = 0.01,
    clip_norm: PositiveFloat = 1.0,
    momentum: Momentum = 0.0,
    weight_decay: NonNegativeFloat = 0.0,
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
    lr: PositiveFloat = 0.001,
    ascent_epochs: Epochs = 3,
    forget_batch_size: BatchSize = 32,
    batch_size: BatchSize = 64,
    temperature: PositiveFloat = 4.0,
    ce_weight: NonNegativeFloat = 0.99,
    kl_weight: NonNegativeFloat = 0.1,
    lr_decay_epochs: tuple[Epochs, ...] = (3, 5, 9),
    momentum: Momentum = 0.0,
    weight_decay: NonNegativeFloat = 0.0,
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


# Once per process: the workflow checks the config's methods and then expands
# their settings, and a user's file should run once, not once per look.
@functools.cache
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


def check_parameters(method, params: dict, entry: str = "method", partial: bool = False) -> None:
    """ValueError naming ``entry`` if ``params`` are not exactly the method's keyword parameters.

    ``partial``: ``params`` are only some of them (a sweep sets the others).
    """
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
    if missing and not partial:
        raise ValueError(f"{entry}: missing required parameter {missing[0]!r} of {method.__name__}")
    hints = _type_hints(method)
    for name, value in params.items():
        problem = _problem(value, hints.get(name))
        if problem:
            raise ValueError(f"{entry}.{name}: {problem}")


def _type_hints(method) -> dict:
    """The method's annotations, resolved; none if they cannot be (then types go unchecked)."""
    try:
        return get_type_hints(method, include_extras=True)
    except Exception:  # a user's annotation naming what their module never imports
        return {}


def _problem(value, hint) -> str | None:
    """What is wrong with ``value`` as a ``hint`` (a type, Annotated with Range), or None.

    Types it does not know (a class of the user's, Any) are not checked.
    """
    if hint is None:
        return None
    origin, args = get_origin(hint), get_args(hint)
    if origin is Annotated:
        problem = _problem(value, args[0])
        if problem:
            return problem
        for bound in (a for a in args[1:] if isinstance(a, Range)):
            if not bound.contains(value):
                return f"{value!r} is out of range: it must be {bound}"
        return None
    if origin in (Union, types.UnionType):
        problems = [_problem(value, arm) for arm in args]
        return None if None in problems else problems[0]
    if hint is type(None):
        return None if value is None else f"{value!r} is not null"
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return f"{value!r} is not a list"
        items = args[:1] * len(value) if origin is list or args[-1:] == (...,) else args
        if len(items) != len(value):
            return f"{value!r} is not a list of {len(items)} items"
        for i, (item, item_hint) in enumerate(zip(value, items)):
            problem = _problem(item, item_hint)
            if problem:
                return f"{value!r}: item {i}: {problem}"
        return None
    return _scalar_problem(value, hint)


def _scalar_problem(value, hint) -> str | None:
    if hint is bool:
        return None if isinstance(value, bool) else f"{value!r} is not true or false"
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return None
        return f"{value!r} is not an integer"
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return None if math.isfinite(value) else f"{value!r} is not a finite number"
        if isinstance(value, str) and _reads_as_float(value):
            # YAML 1.1 (PyYAML) reads 1e-3 as text; 1.0e-3 is a number.
            return f"{value!r} is text, not a number (write it with a dot, e.g. 1.0e-3)"
        return f"{value!r} is not a number"
    if hint is str:
        return None if isinstance(value, str) else f"{value!r} is not text"
    return None


def _reads_as_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def method_module_file(name: str) -> str | None:
    """The file of the user's module that defines method ``name``, or None for a built-in.

    A workflow makes it an input of the method's jobs, so that editing the
    method re-runs them (and only them). ``file.py:function`` gives the path
    as written (relative to the working directory); ``package.module:function``
    the module's file wherever it is found. Only that one file: modules it
    imports are not followed.
    """
    if name in METHODS or ":" not in name:
        return None
    module_name = name.partition(":")[0]
    if module_name.endswith(".py"):
        return module_name
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.has_location or spec.origin is None:
        raise ValueError(f"method {name!r}: no file found for module {module_name!r}")
    return spec.origin


def check_method_entry(name: str, entry: dict, partial: bool = False):
    """The method of config entry ``methods.<name>``, its parameters checked; ValueError naming the entry."""
    label = f"methods.{name}"
    method = resolve_method(entry["method"], label)
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
            if key != "seed":
                for value in values:
                    check_parameters(method, {key: value}, where, partial=True)
            labels = [_value_label(v) for v in values]
            if len(set(labels)) < len(labels):
                twin = next(v for v in labels if labels.count(v) > 1)
                raise ValueError(f"{where}: two values share the name {twin!r}")
        keys = sorted(sweep)
        for combination in itertools.product(*(sweep[k] for k in keys)):
            swept = dict(zip(keys, combination))
            name = _SETTING_SEPARATOR.join(
                [entry_name, *(f"{k}-{_value_label(v)}" for k, v in swept.items())]
            )
            if name in settings:
                raise ValueError(f"{label}: its setting {name} has the name of another setting")
            setting = {**fixed, **swept}
            check_method_entry(entry_name, setting)
            settings[name] = {**setting, "entry": entry_name, "swept": swept}
    return settings


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
    from scratch, the 100 % of the compute axis. Raises
    :class:`klomflow.margins.Diverged` (naming ``entry``, ``params`` and the
    epoch) if recorded margins are not finite.
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
            now = {split: result.margins(*splits[split]) for split in SPLITS}
            check_finite(now, entry, describe_setting(params), epoch)
            for split in SPLITS:
                recorded[split].append(now[split])
            compute.append(100 * data.compute / full_retrain_cost)
        log.info("%s: epoch %d/%d done", entry, epoch, max(epochs))
    return EpochMargins({s: np.stack(m) for s, m in recorded.items()}, epochs, compute)


def unlearn(
    reference: ReferenceFormat,
    dataset: ImageDataset,
    forget_set_file: Path,
    checkpoint_dir: Path,
    setting_name: str,
    setting: dict,
    *,
    n_models: int,
    training_epochs: int,
    device,
) -> EpochMargins:
    """Run one method setting on pretrain models 0..N-1 (the checkpoints in ``checkpoint_dir``).

    ``setting`` holds ``method``, ``epochs``, ``seed`` and the method's own
    parameters (one setting of a config entry of ``methods:``);
    ``training_epochs`` of a full retrain on the whole train split make the
    100 % of the compute axis.
    """
    reference.check_images(dataset)
    method = check_method_entry(setting_name, setting)
    forget_set = reference.read_forget_set(forget_set_file)
    splits = {
        split: (images.to(device), labels.to(device))
        for split, (images, labels) in dataset.splits(forget_set).items()
    }
    models = ModelStack(
        reference.arch, reference.read_checkpoints(checkpoint_dir, range(n_models)), device
    )
    data = UnlearningData(splits["retain"], splits["forget"], n_models, seed=setting["seed"])
    return run_method(
        method,
        models,
        data,
        splits,
        setting["epochs"],
        setting_parameters(setting),
        full_retrain_cost=training_epochs * dataset.n_train * STEP_COST,
        entry=f"methods.{setting_name}",
    )
