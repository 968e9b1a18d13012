"""Training N independent models at once, in one process (SPEC §7).

The N models share an architecture but nothing else: weights, BatchNorm
statistics, initialisation and the order in which each sees the data are
its own. They run as one stacked network built from the single model's
architecture (:mod:`klomflow.stacking`: N convolutions become one grouped
convolution), the same code path for every registered architecture, and on
a GPU one kernel launch per layer instead of N.

The recipe is EasyDUB's: SGD with momentum and weight decay under a linear
OneCycle schedule stepped per batch, optional Gaussian gradient noise, bf16
autocast on CUDA only, margins in float32 after every epoch.

Reproducibility: model m of a run with seed s draws its initial weights and
its data order from generators seeded by (s, m) only, so it is the same
model whatever N is; the gradient noise comes from one generator seeded by s
for the whole stack. On the CPU two runs with the same arguments give
bit-identical models and margins.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from klomflow.files import atomic_torch_save
from klomflow.margins import Diverged, check_finite, describe_setting, margins_from_logits
from klomflow.models import build_model
from klomflow.progress import progress
from klomflow.stacking import load_models, stack_architecture, unstack_models

log = logging.getLogger(__name__)

# Samples per forward pass when computing margins, shared by all N models;
# larger batches spill the (N, batch, ...) activations out of the CPU caches.
EVAL_BATCH_SIZE = 256


@dataclass(frozen=True)
class TrainingRecipe:
    """How the models are trained; the workflow fills it from config ``training``."""

    epochs: int  # passes over the training split
    batch_size: int  # samples per step, per model
    lr: float  # peak learning rate of the OneCycle schedule
    momentum: float  # SGD momentum (its peak, if cycle_momentum)
    weight_decay: float  # L2 penalty on every parameter, BatchNorm included
    peak_epoch: float  # epoch at which the learning rate peaks
    div_factor: float  # initial lr = lr / div_factor
    final_div_factor: float  # final lr = initial lr / final_div_factor
    # Momentum moves opposite to the learning rate, between 0.85 and the
    # momentum above: torch's OneCycleLR default, which EasyDUB's code runs.
    cycle_momentum: bool

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"training.{name} must be at least 1, got {getattr(self, name)}")


def derive_seed(*key: int) -> int:
    """A 63-bit seed from a tuple of non-negative integers (e.g. run seed, model index)."""
    return int(np.random.SeedSequence(list(key)).generate_state(1, np.uint64)[0] >> 1)


# Streams of randomness derived from one run seed; each is its own SeedSequence key.
_INIT, _DATA_ORDER, _NOISE = 0, 1, 2


class ModelStack:
    """N models of one architecture, run as one stacked network (see :mod:`klomflow.stacking`)."""

    def __init__(self, model_name: str, state_dicts: list[dict], device: torch.device | str):
        if not state_dicts:
            raise ValueError("a model stack needs at least one model")
        self.model_name = model_name
        self.device = torch.device(device)
        self.n_models = len(state_dicts)
        template = build_model(model_name)
        template.load_state_dict(state_dicts[0], strict=True)  # names the mismatch, if any
        self._template_state = template.state_dict()
        self.network = stack_architecture(template, self.n_models)
        load_models(self.network, state_dicts)
        # Channels-last makes the grouped convolutions and pooling 3-4x faster
        # on the CPU (oneDNN); on an H100 it neither helps nor hurts.
        self.network.to(self.device, memory_format=torch.channels_last)

    @classmethod
    def initialised(cls, model_name: str, n_models: int, seed: int, device, first_model: int = 0):
        """Fresh models ``first_model .. first_model + n_models - 1`` of run ``seed``."""
        states = []
        for m in range(first_model, first_model + n_models):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(derive_seed(seed, m, _INIT))
                states.append(build_model(model_name).state_dict())
        return cls(model_name, states, device)

    def __len__(self) -> int:
        return self.n_models

    def parameters(self) -> list[torch.Tensor]:
        return list(self.network.parameters())

    def per_model(self, tensor: torch.Tensor) -> torch.Tensor:
        """A view of a stacked parameter (or its gradient) with the model first: ``[m]`` is model m's."""
        return tensor.unflatten(0, (self.n_models, -1))

    def state_dicts(self) -> list[dict[str, torch.Tensor]]:
        """One ordinary state dict per model, on the CPU."""
        return unstack_models(self.network, self._template_state, self.n_models)

    def train(self, mode: bool = True) -> ModelStack:
        self.network.train(mode)
        return self

    def eval(self) -> ModelStack:
        return self.train(False)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, B, n_classes)``.

        ``images`` is ``(N, B, C, H, W)`` (each model its own batch) or
        ``(B, C, H, W)`` (the same batch for every model).
        """
        if images.dim() == 4:
            batch = images.repeat(1, self.n_models, 1, 1)
        else:
            batch = images.transpose(0, 1).flatten(1, 2)  # (B, N * C, H, W), model-major
        batch = batch.contiguous(memory_format=torch.channels_last)
        with _autocast(self.device):
            logits = self.network(batch)
        return logits.transpose(0, 1)

    @torch.no_grad()
    def margins(self, images: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
        """Margins ``(N, n_samples)`` float32 of every model, in eval mode."""
        was_training = self.network.training
        self.eval()
        chunks = [
            margins_from_logits(
                self.logits(images[i : i + EVAL_BATCH_SIZE]), labels[i : i + EVAL_BATCH_SIZE]
            )
            for i in range(0, len(labels), EVAL_BATCH_SIZE)
        ]
        self.train(was_training)
        return torch.cat(chunks, dim=1).cpu().numpy()


def _autocast(device: torch.device):
    # bf16 only on CUDA: on the CPU it is slow and would change the numbers the
    # tests pin down.
    use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)


class PerModelBatches:
    """Index batches ``(N, batch)`` in which every model has its own shuffled order."""

    def __init__(self, n_samples: int, batch_size: int, seeds: list[int], device):
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.device = device
        self.generators = [torch.Generator().manual_seed(s) for s in seeds]

    def __len__(self) -> int:
        # A last batch of one sample would break BatchNorm in training mode, so
        # that sample waits for the next epoch's order.
        full, rest = divmod(self.n_samples, self.batch_size)
        return full + (rest > 1)

    def epoch(self):
        """The batches of one epoch; draws each model's next permutation."""
        # Drawn on the CPU so that CPU and GPU runs see the same order.
        order = torch.stack([torch.randperm(self.n_samples, generator=g) for g in self.generators])
        order = order.to(self.device)
        for step in range(len(self)):
            yield order[:, step * self.batch_size : (step + 1) * self.batch_size]

    def state_dict(self) -> list[torch.Tensor]:
        return [g.get_state() for g in self.generators]

    def load_state_dict(self, states: list[torch.Tensor]) -> None:
        for g, s in zip(self.generators, states):
            g.set_state(s)


def stacked_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of logits ``(N, B, C)`` for labels ``(N, B)``: each model's mean, summed.

    Summing over models gives every model exactly the gradient it would get
    if trained alone.
    """
    n_models = logits.shape[0]
    return F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten()) * n_models


def add_gradient_noise(stack: ModelStack, sigma: float, generator: torch.Generator) -> None:
    """Add N(0, sigma^2) to every gradient element of every model (nothing if sigma is 0)."""
    if sigma > 0:
        for p in stack.parameters():
            p.grad.add_(torch.randn(p.shape, generator=generator, device=p.device), alpha=sigma)


class Trainer:
    """Trains a :class:`ModelStack` on one split, one epoch at a time.

    Everything that decides the next epoch lives in :meth:`state_dict`, so a
    run restored from it continues exactly where it stopped.
    """

    def __init__(
        self,
        stack: ModelStack,
        images: torch.Tensor,
        labels: torch.Tensor,
        recipe: TrainingRecipe,
        *,
        seed: int,
        grad_noise: float = 0.0,
        first_model: int = 0,
    ):
        if not grad_noise >= 0 or not math.isfinite(grad_noise):
            raise ValueError(f"gradient noise must be finite and >= 0, got {grad_noise}")
        if recipe.batch_size > len(labels):
            # One step per epoch: the models would end where they started, at chance.
            raise ValueError(
                f"training.batch_size: {recipe.batch_size} is larger than the "
                f"{len(labels)} samples it batches"
            )
        self.stack = stack
        self.images = images.to(stack.device)
        self.labels = labels.to(stack.device)
        self.recipe = recipe
        self.grad_noise = grad_noise
        self.epoch = 0
        model_ids = range(first_model, first_model + len(stack))
        self.batches = PerModelBatches(
            len(labels),
            recipe.batch_size,
            [derive_seed(seed, m, _DATA_ORDER) for m in model_ids],
            stack.device,
        )
        self.noise = torch.Generator(stack.device).manual_seed(derive_seed(seed, _NOISE))
        self.optimizer = torch.optim.SGD(
            stack.parameters(),
            lr=recipe.lr,
            momentum=recipe.momentum,
            weight_decay=recipe.weight_decay,
        )
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer,
            max_lr=recipe.lr,
            total_steps=recipe.epochs * len(self.batches),
            pct_start=min(recipe.peak_epoch / recipe.epochs, 0.5),
            anneal_strategy="linear",
            div_factor=recipe.div_factor,
            final_div_factor=recipe.final_div_factor,
            cycle_momentum=recipe.cycle_momentum,
            max_momentum=recipe.momentum,
        )

    def train_epoch(self) -> float:
        """One pass over the split; returns the mean training loss per model."""
        self.stack.train()
        total = torch.zeros((), device=self.stack.device)
        for index in self.batches.epoch():
            loss = stacked_cross_entropy(self.stack.logits(self.images[index]), self.labels[index])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            add_gradient_noise(self.stack, self.grad_noise, self.noise)
            self.optimizer.step()
            self.scheduler.step()
            total += loss.detach()
        self.epoch += 1
        # One host synchronisation per epoch, not per step.
        return total.item() / (len(self.batches) * len(self.stack))

    def state_dict(self) -> dict:
        """A snapshot (copies, not views) of everything the next epoch depends on."""
        return {
            "epoch": self.epoch,
            "network": copy.deepcopy(self.stack.network.state_dict()),
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "scheduler": copy.deepcopy(self.scheduler.state_dict()),
            "data_order": self.batches.state_dict(),
            "noise": self.noise.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.epoch = state["epoch"]
        self.stack.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.batches.load_state_dict(state["data_order"])
        self.noise.set_state(state["noise"])


@dataclass
class TrainingRun:
    """The trained models and their margins.

    ``margins[split]`` is ``(epochs, N, n_samples)`` float32 when margins were
    recorded after every epoch, else ``(N, n_samples)`` after the last.
    """

    stack: ModelStack
    margins: dict[str, np.ndarray]


def train_models(
    model_name: str,
    train: tuple[torch.Tensor, torch.Tensor],
    recipe: TrainingRecipe,
    *,
    n_models: int,
    seed: int,
    eval_splits: dict[str, tuple[torch.Tensor, torch.Tensor]],
    grad_noise: float = 0.0,
    every_epoch: bool = False,
    first_model: int = 0,
    device: str | torch.device = "cpu",
    resume_file: str | Path | None = None,
    label: str = "training",
) -> TrainingRun:
    """Train models ``first_model ..`` ``first_model + n_models - 1`` of run ``seed`` from scratch.

    Args:
        train: images ``(n, C, H, W)`` float32 and labels ``(n,)`` to train on.
        eval_splits: name -> (images, labels) on which margins are recorded.
        every_epoch: record margins after every epoch, not only the last.
        first_model: index of the first model, so that oracle models N..2N-1
            can be trained in their own run and still be the same models.
        resume_file: where to keep the training state after every epoch. A
            run that finds one written by the same arguments continues after
            its epoch, to the same result as an uninterrupted run; the file
            is removed once the last epoch is done.
        label: names the run (e.g. a grid cell) when its margins are not finite.

    Raises :class:`klomflow.margins.Diverged` (a ValueError) as soon as the
    margins or the training loss are not finite: nothing is returned to save.
    """
    if n_models < 1:
        raise ValueError(f"n_models must be at least 1, got {n_models}")
    device = torch.device(device)
    stack = ModelStack.initialised(model_name, n_models, seed, device, first_model)
    trainer = Trainer(
        stack, *train, recipe, seed=seed, grad_noise=grad_noise, first_model=first_model
    )
    eval_splits = {k: (x.to(device), y.to(device)) for k, (x, y) in eval_splits.items()}
    recorded: dict[str, list[np.ndarray]] = {split: [] for split in eval_splits}
    resume = None
    if resume_file is not None:
        run_key = _run_key(model_name, recipe, n_models, seed, grad_noise, first_model, train)
        resume = ResumeFile(resume_file, run_key)
        saved = resume.load()
        if saved is not None:
            trainer.load_state_dict(saved["trainer"])
            recorded = {split: list(saved["margins"][split].numpy()) for split in eval_splits}
            log.info("resuming after epoch %d of %d from %s", trainer.epoch, recipe.epochs, resume)
    epochs = progress(
        range(trainer.epoch + 1, recipe.epochs + 1),
        initial=trainer.epoch,
        total=recipe.epochs,
        desc=f"training {n_models} models",
        unit="epoch",
    )
    setting = describe_setting({"training.lr": recipe.lr, "noise": grad_noise})
    try:
        for epoch in epochs:
            loss = trainer.train_epoch()
            log.info("epoch %d/%d: mean training loss %.4f", epoch, recipe.epochs, loss)
            record = every_epoch or epoch == recipe.epochs
            # A loss that is not finite stops the run now, not epochs later.
            if record or not math.isfinite(loss):
                now = {split: stack.margins(x, y) for split, (x, y) in eval_splits.items()}
                check_finite(now, label, setting, epoch)
            if record:
                for split in eval_splits:
                    recorded[split].append(now[split])
            if resume is not None and epoch < recipe.epochs:
                resume.save(trainer.state_dict(), recorded)
    except Diverged:
        if resume is not None:
            resume.remove()  # resuming would only diverge again
        raise
    epochs.close()
    if resume is not None:
        resume.remove()
    margins = {
        split: np.stack(per_epoch) if every_epoch else per_epoch[-1]
        for split, per_epoch in recorded.items()
    }
    return TrainingRun(stack, margins)


def _run_key(model_name, recipe, n_models, seed, grad_noise, first_model, train) -> str:
    """What a resume file must have been written by: the run's arguments and training labels."""
    labels = hashlib.sha256(train[1].cpu().numpy().tobytes()).hexdigest()
    arguments = [model_name, asdict(recipe), n_models, seed, grad_noise, first_model, labels]
    return json.dumps(arguments, sort_keys=True)


class ResumeFile:
    """A run's training state and margins so far, rewritten atomically after every epoch."""

    def __init__(self, path: str | Path, run_key: str):
        self.path = Path(path)
        self.run_key = run_key

    def __str__(self) -> str:
        return str(self.path)

    def save(self, trainer_state: dict, recorded: dict[str, list[np.ndarray]]) -> None:
        margins = {split: torch.from_numpy(np.stack(m)) for split, m in recorded.items() if m}
        state = {"run_key": self.run_key, "trainer": trainer_state, "margins": margins}
        atomic_torch_save(self.path, state)

    def load(self) -> dict | None:
        """The saved state, or None when there is none or another run wrote it."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as error:  # a resume file is a cache: never worth failing a run over
            log.warning("%s: unreadable (%s); starting from scratch", self.path, error)
            return None
        if state.get("run_key") != self.run_key:
            log.warning("%s: written by another run's arguments; starting from scratch", self.path)
            return None
        return state

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else the CPU; otherwise the named device."""
    if name == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(name)
    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    # The record of where the models were trained: tables' provenance cannot know it.
    log.info("device: %s -> %s%s, torch %s", name, device, gpu, torch.__version__)
    return device
