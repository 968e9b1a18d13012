"""N copies of one architecture as a single network.

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

import torch
from torch import nn

from klomflow.models import Mul, Residual

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
