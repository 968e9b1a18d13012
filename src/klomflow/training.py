"""Training N independent models at once, in one process (docs/recipe.md).

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

from klomflow import __version__
from klomflow.batches import PerModelBatches
from klomflow.margins import Diverged, check_finite, describe_setting
from klomflow.progress import progress
from klomflow.resume import SIGTERM_EXIT_STATUS, ResumeFile, short_reason, stop_on_sigterm
from klomflow.seeds import DATA_ORDER, TRAINING_NOISE, derive_seed
from klomflow.stacking import ModelStack, add_gradient_noise, stacked_cross_entropy

log = logging.getLogger(__name__)


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
        # The schema's minimums: a batch of one sample would break BatchNorm
        # in training mode (see klomflow.batches).
        for name, least in (("epochs", 1), ("batch_size", 2)):
            if getattr(self, name) < least:
                raise ValueError(
                    f"training.{name} must be at least {least}, got {getattr(self, name)}"
                )


class Trainer:
    """Trains a :class:`ModelStack` on one split, one epoch at a time.

    Everything that decides the next step lives in :meth:`state_dict`, so a
    run restored from it continues exactly where it stopped, between two
    epochs or inside one.
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
        self.epoch = 0  # epochs done
        self.step = 0  # steps done of the current epoch
        model_ids = range(first_model, first_model + len(stack))
        self.batches = PerModelBatches(
            len(labels),
            recipe.batch_size,
            [derive_seed(seed, m, DATA_ORDER) for m in model_ids],
            stack.device,
        )
        # The data-order generators as they were before this epoch's draw, so
        # that an epoch stopped part-way draws the same order when resumed.
        self._order_state = self.batches.state_dict()
        self._loss = torch.zeros((), device=stack.device)  # summed over this epoch's steps
        # Draws the gradient noise (its scale is recipe.grad_noise), apart from the data order.
        self.noise_generator = torch.Generator(stack.device).manual_seed(
            derive_seed(seed, TRAINING_NOISE)
        )
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

    def train_epoch(self, stop=None) -> float | None:
        """The (rest of the) current epoch; returns the mean training loss per model.

        ``stop``: asked before every step; when it answers True the epoch is
        left part-way, to be continued by the next call (or after
        :meth:`load_state_dict`), and None is returned.
        """
        self.stack.train()
        self.batches.load_state_dict(self._order_state)
        for index in self.batches.epoch(skip=self.step):
            if stop is not None and stop():
                return None
            loss = stacked_cross_entropy(self.stack.logits(self.images[index]), self.labels[index])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            add_gradient_noise(self.stack, self.grad_noise, self.noise_generator)
            self.optimizer.step()
            self.scheduler.step()
            self._loss += loss.detach()
            self.step += 1
        self.epoch, self.step = self.epoch + 1, 0
        self._order_state = self.batches.state_dict()
        # One host synchronisation per epoch, not per step.
        total, self._loss = self._loss.item(), torch.zeros_like(self._loss)
        return total / (len(self.batches) * len(self.stack))

    def state_dict(self) -> dict:
        """A snapshot (copies, not views) of everything the next step depends on."""
        return {
            "epoch": self.epoch,
            "step": self.step,
            "loss": self._loss.cpu().clone(),
            "network": copy.deepcopy(self.stack.network.state_dict()),
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "scheduler": copy.deepcopy(self.scheduler.state_dict()),
            "data_order": [s.clone() for s in self._order_state],
            "noise": self.noise_generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.step = state["epoch"], state["step"]
        self._loss = state["loss"].to(self.stack.device)
        self.stack.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self._order_state = state["data_order"]
        self.batches.load_state_dict(state["data_order"])
        self.noise_generator.set_state(state["noise"])


@dataclass
class TrainingRun:
    """The trained models and their margins.

    ``margins[split]`` is ``(epochs, N, n_samples)`` float32 when margins were
    recorded after every epoch, else ``(N, n_samples)`` after the last.
    """

    stack: ModelStack
    margins: dict[str, np.ndarray]


def train_models(
    model: str,
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
            run that finds one written by the same arguments continues from
            it, to the same result as an uninterrupted run; one it cannot use
            is removed with a warning. On SIGTERM the run saves its state
            after the current step and exits with status 143. The file is
            removed once the last epoch is done.
        label: names the run (e.g. a grid cell) when its margins are not finite.

    Raises :class:`klomflow.margins.Diverged` (a ValueError) as soon as the
    margins or the training loss are not finite, holding the margins of the
    epochs recorded before (with ``every_epoch``): nothing else is returned.
    """
    if n_models < 1:
        raise ValueError(f"n_models must be at least 1, got {n_models}")
    device = torch.device(device)

    def start() -> Trainer:
        stack = ModelStack.initialised(model, n_models, seed, device, first_model)
        return Trainer(
            stack, *train, recipe, seed=seed, grad_noise=grad_noise, first_model=first_model
        )

    trainer = start()
    eval_splits = {k: (x.to(device), y.to(device)) for k, (x, y) in eval_splits.items()}
    resume = None
    if resume_file is not None:
        run_key = _run_key(
            model, recipe, n_models, seed, grad_noise, first_model, train, eval_splits, every_epoch
        )
        resume = ResumeFile(resume_file, run_key)
    trainer, recorded = _resume(trainer, resume, start, eval_splits, every_epoch, recipe)
    recorder = _MarginRecorder(eval_splits, recorded, every_epoch, recipe, label, grad_noise)
    _train_remaining_epochs(trainer, recipe, recorder, resume, n_models)
    return TrainingRun(trainer.stack, recorder.result())


def _resume(
    trainer: Trainer,
    resume: ResumeFile | None,
    start,
    eval_splits: dict,
    every_epoch: bool,
    recipe: TrainingRecipe,
) -> tuple[Trainer, dict[str, list[np.ndarray]]]:
    """``trainer`` restored from ``resume`` when it holds this run's state, and the margins so far.

    ``start()`` makes a fresh trainer, for a resume file that turns out not to fit.
    """
    recorded: dict[str, list[np.ndarray]] = {split: [] for split in eval_splits}
    if resume is None:
        return trainer, recorded
    saved = resume.load()
    if saved is not None:
        try:
            recorded = _saved_margins(saved, eval_splits, every_epoch)
            trainer.load_state_dict(saved["trainer"])
        except Exception as error:  # a resume file is a cache: never worth failing a run over
            resume.set_aside(f"does not fit this run ({short_reason(error)})")
            trainer, recorded = start(), {split: [] for split in eval_splits}
        else:
            log.info("resuming after %s from %s", _position(trainer, recipe), resume)
    if trainer.epoch == trainer.step == 0:
        log.info("starting from epoch 1: no resume state in %s", resume)
    return trainer, recorded


def _train_remaining_epochs(
    trainer: Trainer,
    recipe: TrainingRecipe,
    recorder: _MarginRecorder,
    resume: ResumeFile | None,
    n_models: int,
) -> None:
    """Train from where ``trainer`` stands to the last epoch, recording margins as asked.

    With a resume file, the state is saved after every epoch but the last,
    SIGTERM saves it and exits, and the file is removed once the run is done
    or has diverged.
    """
    epochs = progress(
        range(trainer.epoch + 1, recipe.epochs + 1),
        initial=trainer.epoch,
        total=recipe.epochs,
        desc=f"training {n_models} models",
        unit="epoch",
    )
    try:
        with stop_on_sigterm(enabled=resume is not None) as stopping:
            for epoch in epochs:
                loss = trainer.train_epoch(stop=stopping.is_set)
                if loss is None:
                    _save_and_exit(trainer, recipe, resume, recorder.recorded)
                log.info("epoch %d/%d: mean training loss %.4f", epoch, recipe.epochs, loss)
                recorder.after_epoch(trainer.stack, epoch, loss)
                if resume is not None and epoch < recipe.epochs:
                    resume.save(trainer.state_dict(), recorder.recorded)
    except Diverged as error:
        if resume is not None:
            resume.remove()  # resuming would only diverge again
        if recorder.every_epoch:  # the epochs recorded before were finite: keep them
            error.margins = recorder.stacked()
        raise
    epochs.close()
    if resume is not None:
        resume.remove()


def _save_and_exit(trainer: Trainer, recipe: TrainingRecipe, resume: ResumeFile, recorded) -> None:
    """SIGTERM stopped the epoch part-way: keep the state for the next run, exit as SIGTERM would."""
    saved = resume.save(trainer.state_dict(), recorded)
    log.warning(
        "SIGTERM: stopped after %s; %s",
        _position(trainer, recipe),
        f"state saved to {resume}, run again to resume"
        if saved
        else "no state saved, a new run starts from epoch 1",
    )
    raise SystemExit(SIGTERM_EXIT_STATUS)


class _MarginRecorder:
    """The margins a run keeps: after every epoch, or after the last one only.

    ``recorded[split]`` lists them, one ``(N, n_samples)`` array per recorded
    epoch; a resumed run starts from the list its resume file kept.
    """

    def __init__(self, eval_splits, recorded, every_epoch, recipe, label, grad_noise):
        self.eval_splits, self.recorded = eval_splits, recorded
        self.every_epoch, self.last_epoch = every_epoch, recipe.epochs
        # What a Diverged error names: the run, and the settings that drove it.
        self.label = label
        self.setting = describe_setting({"training.lr": recipe.lr, "noise": grad_noise})

    def after_epoch(self, stack: ModelStack, epoch: int, loss: float) -> None:
        """Record this epoch's margins if asked; Diverged if they are not finite."""
        record = self.every_epoch or epoch == self.last_epoch
        # A loss that is not finite stops the run now, not epochs later.
        if record or not math.isfinite(loss):
            now = {split: stack.margins(x, y) for split, (x, y) in self.eval_splits.items()}
            check_finite(now, self.label, self.setting, epoch)
        if record:
            for split in self.eval_splits:
                self.recorded[split].append(now[split])

    def stacked(self) -> dict[str, np.ndarray]:
        """``(epochs recorded, N, n_samples)`` per split that has any."""
        return {split: np.stack(m) for split, m in self.recorded.items() if m}

    def result(self) -> dict[str, np.ndarray]:
        """What :class:`TrainingRun` holds: every epoch's margins, or the last epoch's."""
        return {
            split: np.stack(per_epoch) if self.every_epoch else per_epoch[-1]
            for split, per_epoch in self.recorded.items()
        }


def _position(trainer: Trainer, recipe: TrainingRecipe) -> str:
    where = f"epoch {trainer.epoch} of {recipe.epochs}"
    if trainer.step:
        where += f" and {trainer.step} of {len(trainer.batches)} steps of epoch {trainer.epoch + 1}"
    return where


def _run_key(
    model, recipe, n_models, seed, grad_noise, first_model, train, eval_splits, every_epoch
) -> str:
    """What a resume file must have been written by: klomflow's version, the run's arguments and data."""

    def digest(labels: torch.Tensor) -> str:
        return hashlib.sha256(labels.cpu().numpy().tobytes()).hexdigest()

    arguments = [
        __version__,
        model,
        asdict(recipe),
        n_models,
        seed,
        grad_noise,
        first_model,
        digest(train[1]),
        {split: digest(labels) for split, (_, labels) in eval_splits.items()},
        every_epoch,
    ]
    return json.dumps(arguments, sort_keys=True)


def _saved_margins(saved: dict, eval_splits: dict, every_epoch: bool) -> dict[str, list]:
    """The margins recorded before the run stopped, checked against its epochs and splits."""
    margins, epoch = saved["margins"], saved["trainer"]["epoch"]
    expected = epoch if every_epoch else 0  # otherwise recorded after the last epoch only
    if set(margins) != set(eval_splits):
        raise ValueError(f"margins of splits {sorted(margins)}, expected {sorted(eval_splits)}")
    for split, per_epoch in margins.items():
        if len(per_epoch) != expected:
            raise ValueError(f"{len(per_epoch)} epochs of {split} margins after epoch {epoch}")
    return {split: [m.numpy() for m in per_epoch] for split, per_epoch in margins.items()}
