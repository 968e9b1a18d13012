"""N models as one stacked network compute what the N models compute alone."""

import pytest
import torch
from torch import nn

from klomflow.models import build_model
from klomflow.stacking import ModelStack, load_models, stack_architecture, unstack_models


@pytest.mark.parametrize("name, shape", [("digits_cnn", (1, 8, 8)), ("resnet9", (3, 32, 32))])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_stacked_logits_equal_each_model_alone(name, shape, mode):
    torch.manual_seed(0)
    models = [build_model(name) for _ in range(3)]
    for model in models:  # non-trivial BatchNorm statistics for eval mode
        model.train()(torch.randn(16, *shape))
    stack = ModelStack(name, [m.state_dict() for m in models], "cpu").train(mode == "train")
    images = torch.randn(3, 4, *shape)
    logits = stack.logits(images)
    assert logits.shape == (3, 4, 10)
    for m, model in enumerate(models):
        torch.testing.assert_close(
            logits[m], model.train(mode == "train")(images[m]), rtol=1e-4, atol=1e-5
        )


def test_shared_batch_goes_to_every_model():
    models = [build_model("digits_cnn").eval() for _ in range(2)]
    stack = ModelStack("digits_cnn", [m.state_dict() for m in models], "cpu").eval()
    images = torch.randn(5, 1, 8, 8)
    for m, model in enumerate(models):
        torch.testing.assert_close(stack.logits(images)[m], model(images), rtol=1e-4, atol=1e-5)


def test_state_dicts_round_trip_through_the_stack():
    states = [build_model("resnet9").state_dict() for _ in range(2)]
    stacked = stack_architecture(build_model("resnet9"), 2)
    load_models(stacked, states)
    for original, back in zip(states, unstack_models(stacked, states[0], 2)):
        assert original.keys() == back.keys()
        for key in original:
            assert torch.equal(original[key], back[key]), key


def test_every_stacked_tensor_is_model_major():
    states = [build_model("digits_cnn").state_dict() for _ in range(3)]
    stack = ModelStack("digits_cnn", states, "cpu")
    for key, tensor in stack.network.named_parameters():
        rows = stack.per_model(tensor)
        for m in range(3):
            assert torch.equal(rows[m].reshape(states[m][key].shape), states[m][key]), key


def test_a_layer_without_a_stacking_rule_is_named():
    with pytest.raises(TypeError, match="cannot stack a LSTM"):
        stack_architecture(nn.Sequential(nn.LSTM(4, 4)), 2)
