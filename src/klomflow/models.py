"""The model architectures, registered by name.

Every model here is a plain ``nn.Module`` for one model; the trainer stacks N
copies of it (see :mod:`klomflow.stacking`), so a new architecture needs no
multi-model version of its own.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class Mul(nn.Module):
    """Multiply by a constant (ResNet9 scales its logits by 0.2)."""

    def __init__(self, weight: float):
        super().__init__()
        self.weight = weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight


class Residual(nn.Module):
    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.module(x)


def conv_bn(c_in: int, c_out: int, kernel_size: int = 3, stride: int = 1, padding: int = 1):
    """Conv2d without bias, then BatchNorm2d, then ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )


def resnet9(num_classes: int = 10) -> nn.Module:
    """The EasyDUB ResNet9 for 3x32x32 inputs (docs/recipe.md).

    The module tree (plain ``nn.Sequential`` indices, ``Residual.module``) is
    what the published checkpoints' state-dict keys name, so they load with
    ``strict=True``.
    """
    return nn.Sequential(
        conv_bn(3, 64, kernel_size=3, stride=1, padding=1),
        conv_bn(64, 128, kernel_size=5, stride=2, padding=2),
        Residual(nn.Sequential(conv_bn(128, 128), conv_bn(128, 128))),
        conv_bn(128, 256, kernel_size=3, stride=1, padding=1),
        nn.MaxPool2d(2),
        Residual(nn.Sequential(conv_bn(256, 256), conv_bn(256, 256))),
        conv_bn(256, 128, kernel_size=3, stride=1, padding=0),
        nn.AdaptiveMaxPool2d(1),
        nn.Flatten(),
        nn.Linear(128, num_classes, bias=False),
        Mul(0.2),
    )


def digits_cnn(num_classes: int = 10) -> nn.Module:
    """A ResNet9 in miniature for the 1x8x8 digits of the embedded benchmark.

    Two conv-BN-ReLU blocks (8 then 16 channels, the first with stride 2),
    global max pooling, a bias-free linear head scaled by 0.2: the ResNet9
    recipe trains it unchanged. It is this small because the embedded
    benchmark trains about 1,500 of them on a 2-core laptop in minutes.
    """
    return nn.Sequential(
        conv_bn(1, 8, kernel_size=3, stride=2, padding=1),
        conv_bn(8, 16, kernel_size=3, stride=1, padding=1),
        nn.AdaptiveMaxPool2d(1),
        nn.Flatten(),
        nn.Linear(16, num_classes, bias=False),
        Mul(0.2),
    )


MODELS: dict[str, Callable[[], nn.Module]] = {
    "resnet9": resnet9,
    "digits_cnn": digits_cnn,
}


def build_model(name: str) -> nn.Module:
    """A freshly initialised model of the registered architecture ``name``."""
    try:
        return MODELS[name]()
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}") from None
