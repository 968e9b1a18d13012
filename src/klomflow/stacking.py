"""N copies of one architecture as a single network: :class:`ModelStack`.

:class:`ModelStack` is how the rest of klomflow holds N models: the trainer,
the unlearning methods and the reference builders all call it, and
:func:`stacked_cross_entropy` gives each model the gradient it would get
alone. Below it, the network is built from the single model's layers.

Model m's convolution becomes group m of one grouped convolution, its
BatchNorm channels a slice of one wide BatchNorm, its linear layer a slice of
one batched matrix product. Inside the convolutional part a batch is laid out
``(B, N * C, H, W)``, model-major along the channels; after ``Flatten`` it is
``(B, N, features)``. This runs N small models as a few large kernels, and
unlike ``torch.func.vmap`` it keeps cuDNN's mixed-precision BatchNorm under
bf16 autocast (vmap's batch-norm backward rejects bf16 inputs with float32
statistics) and uses a third of the memory.

Every stacked tensor has the model as its slowest dimension:
``t.unflatten(0, (N, -1))[m]`` is model m's tensor. Scalar buffers (BatchNorm's batch counter) are
shared, since the models always take the same steps.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from klomflow.devices import autocast, keep_freed_memory
from klomflow.margins import margins_from_logits
from klomflow.models import Mul, Residual, build_model
from klomflow.seeds import INIT, derive_seed

# Samples per forward pass when computing margins, shared by all N models;
# larger batches spill the (N, batch, ...) activations out of the CPU caches.
EVAL_BATCH_SIZE = 256

# Layers that act on each channel (or each value) alone work unchanged on the
# stacked layout.
_CHANNELWISE = (nn.ReLU, nn.MaxPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool2d, nn.Identity, Mul)


class StackedFlatten(nn.Module):
    """``(B, N * C, H, W)`` -> ``(B, N, C * H * W)``: each model's features flattened."""

    def __init__(self, n_models: int):
        super().__init__()
        self.n_models = n_models

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], self.n_models, -1)


class StackedLinear(nn.Module):
    """N linear layers: ``(B, N, in)`` -> ``(B, N, out)``."""

    def __init__(self, n_models: int, in_features: int, out_features: int, bias: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_models, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(n_models, out_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.einsum("bni,noi->bno", x, self.weight)
        return out if self.bias is None else out + self.bias


def stack_architecture(template: nn.Module, n_models: int) -> nn.Module:
    """An uninitialised network holding ``n_models`` copies of ``template``'s architecture.

    Submodule names are kept, so model m's state dict has the same keys as
    the stacked network's. Raises TypeError for a layer it cannot stack.
    """
    n = n_models
    if isinstance(template, nn.Sequential):
        return nn.Sequential(*(stack_architecture(child, n) for child in template))
    if isinstance(template, Residual):
        return Residual(stack_architecture(template.module, n))
    if isinstance(template, nn.Conv2d):
        t = template
        return nn.Conv2d(
            n * t.in_channels,
            n * t.out_channels,
            t.kernel_size,
            stride=t.stride,
            padding=t.padding,
            dilation=t.dilation,
            groups=n * t.groups,
            bias=t.bias is not None,
            padding_mode=t.padding_mode,
        )
    if isinstance(template, nn.BatchNorm2d):
        t = template
        return nn.BatchNorm2d(
            n * t.num_features, t.eps, t.momentum, t.affine, t.track_running_stats
        )
    if isinstance(template, nn.Flatten):
        return StackedFlatten(n)
    if isinstance(template, nn.Linear):
        return StackedLinear(
            n, template.in_features, template.out_features, template.bias is not None
        )
    if isinstance(template, _CHANNELWISE):
        return copy.deepcopy(template)
    raise TypeError(
        f"cannot stack a {type(template).__name__}: klomflow.stacking knows no rule for it"
    )


def load_models(stacked: nn.Module, state_dicts: list[dict[str, torch.Tensor]]) -> None:
    """Copy model m's ``state_dicts[m]`` into the stacked network."""
    with torch.no_grad():
        for key, tensor in stacked.state_dict().items():
            values = [state[key] for state in state_dicts]
            if tensor.dim() == 0:
                tensor.copy_(values[0])
            else:
                tensor.copy_(torch.stack(values).view_as(tensor))


def unstack_models(stacked: nn.Module, template_state: dict[str, torch.Tensor], n_models: int):
    """One state dict per model, shaped like ``template_state``, on the CPU."""
    states = [{} for _ in range(n_models)]
    for key, tensor in stacked.state_dict().items():
        shape = template_state[key].shape
        tensor = tensor.detach().cpu()
        for m, state in enumerate(states):
            if tensor.dim() == 0:
                state[key] = tensor.clone()
            else:
                model_m = tensor.unflatten(0, (n_models, -1))[m].reshape(shape)
                state[key] = model_m.clone(memory_format=torch.contiguous_format)
    return states


class ModelStack:
    """N models of one architecture, run as one stacked network built by :func:`stack_architecture`."""

    def __init__(self, model: str, state_dicts: list[dict], device: torch.device | str):
        if not state_dicts:
            raise ValueError("a model stack needs at least one model")
        self.model = model
        self.device = torch.device(device)
        self.n_models = len(state_dicts)
        keep_freed_memory()
        template = build_model(model)
        template.load_state_dict(state_dicts[0], strict=True)  # names the mismatch, if any
        self._template_state = template.state_dict()
        self.network = stack_architecture(template, self.n_models)
        load_models(self.network, state_dicts)
        # Channels-last makes the grouped convolutions and pooling 3-4x faster
        # on the CPU (oneDNN); on an H100 it neither helps nor hurts.
        self.network.to(self.device, memory_format=torch.channels_last)

    @classmethod
    def initialised(cls, model: str, n_models: int, seed: int, device, first_model: int = 0):
        """Fresh models ``first_model .. first_model + n_models - 1`` of run ``seed``."""
        states = []
        for m in range(first_model, first_model + n_models):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(derive_seed(seed, m, INIT))
                states.append(build_model(model).state_dict())
        return cls(model, states, device)

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
        with autocast(self.device):
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
