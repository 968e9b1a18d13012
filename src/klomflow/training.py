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

import contextlib
import copy
import ctypes
import ctypes.util
import functools
import hashlib
import json
import logging
import math
import signal
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from klomflow import __version__
from klomflow.files import atomic_torch_save
from klomflow.joblog import one_line
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
        keep_freed_memory()
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


@functools.cache
def keep_freed_memory() -> None:
    """Let glibc keep freed memory for reuse instead of returning it to the kernel.

    Every step of N stacked models allocates and frees activations of tens of
    megabytes; by default glibc maps each afresh and unmaps it when freed, and
    touching the new pages costs a page fault each. On the 2-core CPU this was a
    fifth of a digits retraining cell's time (1.26 million minor faults, 2.9 s
    of system time in 15 s); kept, 0.13 million and 0.4 s. Elsewhere than
    glibc, nothing changes.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024)  # glibc's largest: larger blocks are mapped
    mallopt(M_TRIM_THRESHOLD, 2**31 - 1)


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

    def epoch(self, skip: int = 0):
        """The batches of one epoch, less its first ``skip``; draws each model's next permutation."""
        # Drawn on the CPU so that CPU and GPU runs see the same order.
        order = torch.stack([torch.randperm(self.n_samples, generator=g) for g in self.generators])
        order = order.to(self.device)
        for step in range(skip, len(self)):
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
            [derive_seed(seed, m, _DATA_ORDER) for m in model_ids],
            stack.device,
        )
        # The data-order generators as they were before this epoch's draw, so
        # that an epoch stopped part-way draws the same order when resumed.
        self._order_state = self.batches.state_dict()
        self._loss = torch.zeros((), device=stack.device)  # summed over this epoch's steps
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
            add_gradient_noise(self.stack, self.grad_noise, self.noise)
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
            "noise": self.noise.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.step = state["epoch"], state["step"]
        self._loss = state["loss"].to(self.stack.device)
        self.stack.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self._order_state = state["data_order"]
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
            run that finds one written by the same arguments continues from
            it, to the same result as an uninterrupted run; one it cannot use
            is removed with a warning. On SIGTERM the run saves its state
            after the current step and exits with status 143. The file is
            removed once the last epoch is done.
        label: names the run (e.g. a grid cell) when its margins are not finite.

    Raises :class:`klomflow.margins.Diverged` (a ValueError) as soon as the
    margins or the training loss are not finite: nothing is returned to save.
    """
    if n_models < 1:
        raise ValueError(f"n_models must be at least 1, got {n_models}")
    device = torch.device(device)

    def start() -> Trainer:
        stack = ModelStack.initialised(model_name, n_models, seed, device, first_model)
        return Trainer(
            stack, *train, recipe, seed=seed, grad_noise=grad_noise, first_model=first_model
        )

    trainer = start()
    eval_splits = {k: (x.to(device), y.to(device)) for k, (x, y) in eval_splits.items()}
    recorded: dict[str, list[np.ndarray]] = {split: [] for split in eval_splits}
    resume = None
    if resume_file is not None:
        run_key = _run_key(
            model_name,
            recipe,
            n_models,
            seed,
            grad_noise,
            first_model,
            train,
            eval_splits,
            every_epoch,
        )
        resume = ResumeFile(resume_file, run_key)
        saved = resume.load()
        if saved is not None:
            try:
                recorded = _saved_margins(saved, eval_splits, every_epoch)
                trainer.load_state_dict(saved["trainer"])
            except Exception as error:  # a resume file is a cache: never worth failing a run over
                resume.set_aside(f"does not fit this run ({_short(error)})")
                trainer, recorded = start(), {split: [] for split in eval_splits}
            else:
                log.info("resuming after %s from %s", _position(trainer, recipe), resume)
        if trainer.epoch == trainer.step == 0:
            log.info("starting from epoch 1: no resume state in %s", resume)
    epochs = progress(
        range(trainer.epoch + 1, recipe.epochs + 1),
        initial=trainer.epoch,
        total=recipe.epochs,
        desc=f"training {n_models} models",
        unit="epoch",
    )
    setting = describe_setting({"training.lr": recipe.lr, "noise": grad_noise})
    try:
        with _stop_on_sigterm(enabled=resume is not None) as stopping:
            for epoch in epochs:
                loss = trainer.train_epoch(stop=stopping.is_set)
                if loss is None:
                    resume.save(trainer.state_dict(), recorded)
                    log.warning(
                        "SIGTERM: stopped after %s; state saved to %s, run again to resume",
                        _position(trainer, recipe),
                        resume,
                    )
                    raise SystemExit(SIGTERM_EXIT_STATUS)
                log.info("epoch %d/%d: mean training loss %.4f", epoch, recipe.epochs, loss)
                record = every_epoch or epoch == recipe.epochs
                # A loss that is not finite stops the run now, not epochs later.
                if record or not math.isfinite(loss):
                    now = {
                        split: trainer.stack.margins(x, y) for split, (x, y) in eval_splits.items()
                    }
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
    return TrainingRun(trainer.stack, margins)


# What a job stopped by SIGTERM exits with, as if the signal had ended it.
SIGTERM_EXIT_STATUS = 128 + signal.SIGTERM


@contextlib.contextmanager
def _stop_on_sigterm(enabled: bool):
    """An event that SIGTERM sets while the block runs, instead of ending the process.

    Schedulers (SLURM on preemption or at the time limit) send SIGTERM and,
    some seconds later, SIGKILL; the training loop checks the event before
    every step, so its state is saved within one step.
    """
    stopping = threading.Event()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield stopping  # only the main thread may handle signals
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    try:
        yield stopping
    finally:
        signal.signal(signal.SIGTERM, previous)


def _position(trainer: Trainer, recipe: TrainingRecipe) -> str:
    where = f"epoch {trainer.epoch} of {recipe.epochs}"
    if trainer.step:
        where += f" and {trainer.step} of {len(trainer.batches)} steps of epoch {trainer.epoch + 1}"
    return where


def _run_key(
    model_name, recipe, n_models, seed, grad_noise, first_model, train, eval_splits, every_epoch
) -> str:
    """What a resume file must have been written by: klomflow's version, the run's arguments and data."""

    def digest(labels: torch.Tensor) -> str:
        return hashlib.sha256(labels.cpu().numpy().tobytes()).hexdigest()

    arguments = [
        __version__,
        model_name,
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


def _short(error: BaseException, limit: int = 200) -> str:
    text = one_line(error) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ResumeFile:
    """A run's training state and margins so far, rewritten atomically after every epoch.

    A cache, never worth failing a run over: a file this run cannot use
    (written by other arguments or another klomflow version, truncated,
    unreadable, missing keys) is removed with a one-line warning, and the run
    starts from epoch 1.
    """

    def __init__(self, path: str | Path, run_key: str):
        self.path = Path(path)
        self.run_key = run_key

    def __str__(self) -> str:
        return str(self.path)

    def save(self, trainer_state: dict, recorded: dict[str, list[np.ndarray]]) -> None:
        # Lists, empty ones included: a run that records margins only after
        # its last epoch has none to save, and must still find its splits.
        margins = {split: [torch.from_numpy(m) for m in ms] for split, ms in recorded.items()}
        state = {"run_key": self.run_key, "trainer": trainer_state, "margins": margins}
        atomic_torch_save(self.path, state)

    def load(self) -> dict | None:
        """The saved state, or None when there is none or it is not this run's (then set aside)."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as error:  # truncated, or not a torch file at all
            self.set_aside(f"unreadable ({_short(error)})")
            return None
        if not isinstance(state, dict) or state.get("run_key") != self.run_key:
            self.set_aside("written by another run's arguments or klomflow version")
            return None
        return state

    def set_aside(self, reason: str) -> None:
        log.warning("%s: %s; removed, starting from epoch 1", self.path, reason)
        self.remove()

    def remove(self) -> None:
        """Delete the file, and the temporary copies of it that a job killed mid-write left."""
        self.path.unlink(missing_ok=True)
        for partial in self.path.parent.glob(f".{self.path.name}.*"):  # see klomflow.files
            partial.unlink(missing_ok=True)


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
