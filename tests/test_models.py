import math

import pytest
import torch
import torch.nn as nn

from pa3report.models import CNN, MyConv2d, RegressionCNN, UNet, build_model


def test_myconv2d_parameters_and_init():
    torch.manual_seed(0)
    conv = MyConv2d(5, 7, 3)
    assert conv.weight.shape == (7, 5, 3, 3) and conv.bias.shape == (7,)
    bound = 1 / math.sqrt(5 * 3 * 3)
    assert conv.weight.abs().max() <= bound and conv.bias.abs().max() <= bound
    assert conv.weight.abs().max() > 0.8 * bound  # uniform over the whole range
    x = torch.randn(2, 5, 9, 9)
    ref = nn.functional.conv2d(x, conv.weight, conv.bias, padding=1)
    assert torch.equal(conv(x), ref) and conv(x).shape == (2, 7, 9, 9)


@pytest.mark.parametrize("cls", [CNN, UNet])
@pytest.mark.parametrize("cin", [1, 3])
@pytest.mark.parametrize("size", [32, 64])
def test_classifier_shapes(cls, cin, size):
    model = cls(3, 8, cin, 24)
    assert model(torch.rand(2, cin, size, size)).shape == (2, 24, size, size)


@pytest.mark.parametrize("size", [32, 64])
def test_regression_shapes(size):
    assert RegressionCNN(3, 8)(torch.rand(2, 1, size, size)).shape == (2, 3, size, size)


def test_regression_uses_native_convs_and_cnn_only_myconv():
    reg, cnn = RegressionCNN(3, 8), CNN(3, 8)
    assert sum(isinstance(m, nn.Conv2d) for m in reg.modules()) == 5
    assert isinstance(reg.finalconv, MyConv2d)
    assert not any(isinstance(m, nn.Conv2d) for m in cnn.modules())
    assert sum(isinstance(m, MyConv2d) for m in cnn.modules()) == 6


def test_layer_order_and_widths():
    m = CNN(kernel=5, num_filters=16, in_channels=1, num_colours=24)
    kinds = [type(l).__name__ for l in m.downconv1]
    assert kinds == ["MyConv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
    assert [type(l).__name__ for l in m.upconv1] == ["MyConv2d", "BatchNorm2d", "ReLU", "Upsample"]
    assert [type(l).__name__ for l in m.rfconv] == ["MyConv2d", "BatchNorm2d", "ReLU"]
    widths = [(getattr(m, b)[0].in_channels, getattr(m, b)[0].out_channels)
              for b in ("downconv1", "downconv2", "rfconv", "upconv1", "upconv2")]
    assert widths == [(1, 16), (16, 32), (32, 32), (32, 16), (16, 24)]
    assert m.downconv1[0].kernel_size == 5 and (m.finalconv.in_channels, m.finalconv.out_channels) == (24, 24)


def test_unet_skip_wiring():
    m = UNet(3, 8, 3, 24)
    assert (m.upconv1[0].in_channels, m.upconv2[0].in_channels, m.finalconv.in_channels) == (32, 16, 27)
    # The skip really carries information: changing the input changes the final
    # convolution's input even when every upstream block is frozen at zero output.
    x = torch.rand(1, 3, 32, 32)
    seen = {}
    m.finalconv.register_forward_hook(lambda mod, inp, out: seen.setdefault("in", inp[0]))
    m.eval()
    m(x)
    assert torch.equal(seen["in"][:, 24:], x)


def test_activations_by_block_not_kept_in_training():
    m = UNet(3, 8, 1, 24)
    x = torch.rand(2, 1, 32, 32)
    acts = m.activations(x)
    assert list(acts) == ["downconv1", "downconv2", "rfconv", "upconv1", "upconv2", "finalconv"]
    assert acts["downconv1"].shape == (2, 8, 16, 16) and acts["rfconv"].shape == (2, 16, 8, 8)
    assert not acts["finalconv"].requires_grad
    m.train()
    out = m(x)
    assert out.grad_fn is not None and not hasattr(m, "_activations")


def test_rejects_size_not_divisible_by_4():
    with pytest.raises(ValueError, match="divisible by 4"):
        CNN(3, 4)(torch.rand(1, 1, 30, 30))


def test_build_model():
    assert isinstance(build_model("UNet", 3, 8, 3), UNet)
    assert build_model("RegressionCNN", 3, 8, 1).out_channels == 3
