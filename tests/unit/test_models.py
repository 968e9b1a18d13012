"""The architectures (docs/recipe.md)."""

import pytest
import torch

from klomflow.layout import strip_state_dict_prefix
from klomflow.models import build_model


def conv_bn_params(c_in, c_out, k):
    return c_in * c_out * k * k + 2 * c_out  # bias-free conv, BatchNorm weight and bias


RESNET9_PARAMETERS = (
    conv_bn_params(3, 64, 3)
    + conv_bn_params(64, 128, 5)
    + 2 * conv_bn_params(128, 128, 3)
    + conv_bn_params(128, 256, 3)
    + 2 * conv_bn_params(256, 256, 3)
    + conv_bn_params(256, 128, 3)
    + 128 * 10  # bias-free linear head
)


def test_resnet9_maps_cifar_images_to_ten_logits():
    model = build_model("resnet9").eval()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_resnet9_parameter_count():
    model = build_model("resnet9")
    assert sum(p.numel() for p in model.parameters()) == RESNET9_PARAMETERS == 2_274_880


def test_resnet9_logits_are_scaled_by_one_fifth():
    model = build_model("resnet9").eval()
    x = torch.randn(1, 3, 32, 32)
    features = model[:-2](x)
    torch.testing.assert_close(model(x), model[-2](features) * 0.2)


def test_resnet9_loads_prefixed_checkpoints_strictly():
    source = build_model("resnet9")
    checkpoint = {f"module.{k}": v for k, v in source.state_dict().items()}
    target = build_model("resnet9")
    target.load_state_dict(strip_state_dict_prefix(checkpoint), strict=True)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)


def test_digits_cnn_maps_digit_images_to_ten_logits():
    model = build_model("digits_cnn").eval()
    assert model(torch.randn(5, 1, 8, 8)).shape == (5, 10)


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="unknown model 'resnet18'"):
        build_model("resnet18")
