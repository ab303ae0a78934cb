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


def conv_params(cin: int, cout: int, k: int) -> int:
    return cin * cout * k * k + cout


@pytest.mark.parametrize("skips", [(), ("input",), ("downconv1", "downconv2"), ("downconv2", "downconv1", "input")])
def test_unet_skip_set_decides_fan_ins_and_parameter_count(skips):
    nf, k, cin, q = 4, 3, 1, 24
    m = build_model("UNet", k, nf, cin, q, skips=skips)
    fan_in = {"upconv1": 2 * nf + (2 * nf if "downconv2" in skips else 0),
              "upconv2": nf + (nf if "downconv1" in skips else 0),
              "finalconv": q + (cin if "input" in skips else 0)}
    assert (m.upconv1[0].in_channels, m.upconv2[0].in_channels, m.finalconv.in_channels) == \
        (fan_in["upconv1"], fan_in["upconv2"], fan_in["finalconv"])
    # each block: its convolution, plus batch norm's scale and shift per output channel
    expected = (conv_params(cin, nf, k) + 2 * nf
                + conv_params(nf, 2 * nf, k) + 2 * 2 * nf
                + conv_params(2 * nf, 2 * nf, k) + 2 * 2 * nf
                + conv_params(fan_in["upconv1"], nf, k) + 2 * nf
                + conv_params(fan_in["upconv2"], q, k) + 2 * q
                + conv_params(fan_in["finalconv"], q, k))
    assert sum(p.numel() for p in m.parameters()) == expected
    assert m(torch.rand(2, cin, 16, 16)).shape == (2, q, 16, 16)


def test_default_unet_keeps_the_handouts_wiring():
    handout = {"downconv1": ("input",), "downconv2": ("downconv1",), "rfconv": ("downconv2",),
               "upconv1": ("rfconv", "downconv2"), "upconv2": ("upconv1", "downconv1"),
               "finalconv": ("upconv2", "input")}
    assert UNet(3, 8).wiring == build_model("UNet", 3, 8, 1, skips=None).wiring == handout
    assert UNet(3, 8, skips=("input", "downconv2", "downconv1")).wiring == handout  # order does not matter
    assert build_model("CNN", 3, 8, 1, skips=()).wiring == {b: s[:1] for b, s in handout.items()}
    assert build_model("UNet", 3, 8, 1, skips=()).wiring == build_model("CNN", 3, 8, 1).wiring


def test_a_kept_skip_carries_the_input_and_a_dropped_one_does_not():
    m = build_model("UNet", 3, 4, 1, 24, skips=("input",)).eval()
    seen = {}
    m.finalconv.register_forward_pre_hook(lambda mod, inp: seen.setdefault("final", inp[0]))
    m.upconv1.register_forward_pre_hook(lambda mod, inp: seen.setdefault("up1", inp[0]))
    x = torch.rand(1, 1, 16, 16)
    m(x)
    assert torch.equal(seen["final"][:, 24:], x) and seen["up1"].shape[1] == 8  # rfconv only


def test_skips_are_checked():
    with pytest.raises(ValueError, match="unknown skip 'downconv3'"):
        build_model("UNet", 3, 4, 1, skips=("downconv3",))
    with pytest.raises(ValueError, match="only the UNet has skips"):
        build_model("CNN", 3, 4, 1, skips=("input",))


def test_rgb_head_outputs_three_channels():
    for model in ("CNN", "UNet"):
        m = build_model(model, 3, 4, 3, 24, head="rgb")
        assert m(torch.rand(2, 3, 16, 16)).shape == (2, 3, 16, 16) and m.finalconv.out_channels == 3
        assert not any(isinstance(x, nn.Conv2d) for x in m.modules())  # still built from MyConv2d
    assert build_model("UNet", 3, 4, 3, 24, head="rgb").finalconv.in_channels == 3 + 3
    with pytest.raises(ValueError, match="rgb head"):
        build_model("RegressionCNN", 3, 4, 1, head="palette")


def test_skip_names_agree_with_the_experiment_list():
    from pa3report import config, models
    assert config.SKIPS == models.SKIPS
    assert set(models.SKIPS.values()) <= set(models.BLOCKS) and set(models.SKIPS) - {"input"} <= set(models.BLOCKS)
