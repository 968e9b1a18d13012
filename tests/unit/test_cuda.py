"""The CUDA path: N stacked models trained in bf16 autocast with channels-last tensors.

The rest of the suite runs on the CPU, where autocast is off; this runs
wherever torch finds a CUDA device (``pytest -m gpu``) and skips elsewhere.
"""

import pytest
import torch
from conftest import TINY_RECIPE

from klomflow.devices import resolve_device
from klomflow.training import TrainingRecipe, train_models

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason=f"needs a CUDA device; torch {torch.__version__} finds none on this machine",
    ),
]

# An image of each architecture's benchmark: digits 1x8x8, CIFAR-10 3x32x32.
SHAPES = {"digits_cnn": (1, 8, 8), "resnet9": (3, 32, 32)}


@pytest.mark.parametrize("model", SHAPES)
def test_two_models_train_an_epoch_on_cuda_in_bf16_and_channels_last(model):
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(64, *SHAPES[model], generator=generator)
    labels = torch.randint(0, 10, (64,), generator=generator)
    recipe = TrainingRecipe(**{**TINY_RECIPE, "epochs": 1, "peak_epoch": 0.5})

    run = train_models(
        model,
        (images, labels),
        recipe,
        n_models=2,
        seed=0,
        eval_splits={"train": (images, labels)},
        device=resolve_device("auto"),
    )

    network = run.stack.network
    assert {p.device.type for p in network.parameters()} == {"cuda"}
    for weight in (p for p in network.parameters() if p.dim() == 4):
        assert weight.is_contiguous(memory_format=torch.channels_last)
    convolutions = [m for m in network.modules() if isinstance(m, torch.nn.Conv2d)]
    seen = []
    hook = convolutions[0].register_forward_hook(lambda m, i, out: seen.append(out))
    try:
        run.stack.logits(images[:4].cuda())
    finally:
        hook.remove()
    # klomflow.devices.autocast: bf16 where the GPU has it (every one since Ampere).
    assert seen[0].dtype == (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32)
    margins = run.margins["train"]
    assert margins.shape == (2, 64) and margins.dtype == "float32"
    assert torch.isfinite(torch.from_numpy(margins)).all()
