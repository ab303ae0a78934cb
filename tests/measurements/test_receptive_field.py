"""Receptive fields: derived from the layers, measured by backpropagation, and effective."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from pa3report.measurements import receptive_field as rf
from pa3report.models import CNN, build_model

from ..runkit import run, runs


def convs(*kernels: int) -> nn.Sequential:
    return nn.Sequential(*(nn.Conv2d(1, 1, k, padding=k // 2) for k in kernels))


def exact(net: nn.Module) -> tuple[int, int]:
    _, track = rf.derive(net)
    return min(track.sizes()), max(track.sizes())


class Wired(nn.Module):
    """A network of named blocks whose inputs are concatenated, like the UNet."""

    def __init__(self, wiring: dict[str, tuple[str, ...]], **blocks: nn.Module) -> None:
        super().__init__()
        self.wiring = wiring
        for name, block in blocks.items():
            setattr(self, name, block)
        self.in_channels = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = {"input": x}
        for name, sources in self.wiring.items():
            outs[name] = getattr(self, name)(torch.cat([outs[s] for s in sources], 1))
        return outs[name]


def test_stacked_convolutions_add_their_kernels():
    assert exact(convs(3)) == (3, 3)
    assert exact(convs(3, 3)) == (5, 5)
    assert exact(convs(3, 3, 3)) == (7, 7)
    assert exact(convs(5, 3)) == (7, 7)


def test_pooling_doubles_the_steps_of_what_follows():
    # conv3 at full size (3), pool 2 (+1), conv3 at half size (2 pixels per step: +4)
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3, padding=1))
    rows, track = rf.derive(net)
    assert [(r["layer"], r["jump"], r["standard"], r["high"]) for r in rows] == [
        ("conv 3×3", 1, 3, 3), ("max-pool 2", 2, 4, 4), ("conv 3×3", 2, 8, 8)]
    assert (track.start(5), track.end(5)) == (7, 14)  # half-grid units 4-6 are pixels 8-13, then ± 1
    assert exact(nn.Sequential(*net, nn.Upsample(scale_factor=2))) == (8, 8)


def test_a_concatenation_follows_every_input():
    # the skip reads the input through a 7×7 convolution, the main path through a 3×3 one
    skip = Wired({"main": ("input",), "side": ("input",), "out": ("main", "side")},
                 main=nn.Conv2d(1, 1, 3, padding=1), side=nn.Conv2d(1, 1, 7, padding=3),
                 out=nn.Conv2d(2, 1, 3, padding=1))
    rows, _ = rf.derive(skip)
    assert [r["layer"] for r in rows][-2:] == ["concatenation of main + side", "conv 3×3"]
    assert exact(skip) == (9, 9)  # 7 + 2, not 3 + 2
    # a small UNet: pool and upsample around a convolution, the input skipped to the end
    unet = Wired({"down": ("input",), "up": ("down",), "out": ("up", "input")},
                 down=nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(2)),
                 up=nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Upsample(scale_factor=2)),
                 out=nn.Conv2d(2, 1, 3, padding=1))
    assert exact(unet) == (10, 10)
    m = rf.measure(unet, size=32)
    assert set(m["widths"]) == set(m["heights"]) == {10}


def test_the_networks_as_built_derive_layer_by_layer():
    rows, track = rf.derive(build_model("CNN", 3, 32, 1, 24))
    assert [(r["block"], r["jump"], r["standard"], r["low"], r["high"]) for r in rows] == [
        ("downconv1", 1, 3, 3, 3), ("downconv1", 2, 4, 4, 4), ("downconv2", 2, 8, 8, 8),
        ("downconv2", 4, 10, 10, 10), ("rfconv", 4, 18, 18, 18), ("upconv1", 4, 26, 26, 26),
        ("upconv1", 2, 26, 26, 26), ("upconv2", 2, 30, 30, 30), ("upconv2", 1, 30, 30, 30),
        ("finalconv", 1, 32, 30, 34)]
    assert track.period == 4 and track.sizes() == [30, 34, 34, 30]
    unet, _ = rf.derive(build_model("UNet", 3, 32, 1, 24))
    assert [r["layer"] for r in unet if r["layer"].startswith("concat")] == [
        "concatenation of rfconv + downconv2", "concatenation of upconv1 + downconv1",
        "concatenation of upconv2 + input"]
    assert (unet[-1]["low"], unet[-1]["high"]) == (30, 34)


@pytest.mark.parametrize("skips", [("input",), ("downconv2", "downconv1"), ()])
def test_a_unet_with_fewer_skips_derives_and_measures_alike(skips):
    net = build_model("UNet", 3, 4, 1, 24, skips=skips)
    rows, track = rf.derive(net)
    joined = [r["layer"] for r in rows if r["layer"].startswith("concat")]
    into = {"downconv2": "rfconv + downconv2", "downconv1": "upconv1 + downconv1", "input": "upconv2 + input"}
    assert joined == [f"concatenation of {into[s]}" for s in skips]
    m = rf.measure(net, size=64)
    assert m["left"] == [track.start(x) for x in m["x"]] and m["right"] == [track.end(x) for x in m["x"]]


@pytest.mark.parametrize("model,kernel,filters,size", [("CNN", 3, 32, 64), ("UNet", 3, 32, 64), ("CNN", 5, 2, 80)])
def test_measurement_matches_the_derivation_at_every_position(model, kernel, filters, size):
    net = build_model(model, kernel, filters, 1, 24)
    _, track = rf.derive(net)
    m = rf.measure(net, size=size)
    assert m["block"] == 4 and len(m["widths"]) == 16
    assert m["left"] == [track.start(x) for x in m["x"]] and m["right"] == [track.end(x) for x in m["x"]]
    assert m["top"] == [track.start(y) for y in m["y"]] and m["bottom"] == [track.end(y) for y in m["y"]]
    assert max(m["widths"]) == max(track.sizes()) and min(m["heights"]) == min(track.sizes())
    assert m["widths"][:4] * 4 == m["widths"]  # widths follow x only, with the period of the pooling
    if kernel == 3:  # 3 neighbours after two upsamplings reach 2 or 3 units of the 8×8 grid
        assert min(m["widths"]) < max(m["widths"])
    else:  # 5 neighbours always reach 3 of them: the same field everywhere, the textbook 60
        assert set(m["widths"]) == set(track.sizes()) == {60}


def test_the_measuring_copy_passes_gradient_everywhere_and_leaves_the_model_alone():
    net = CNN(3, 4).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    copy = rf.architectural_copy(net)
    assert not any(isinstance(m, (nn.ReLU, nn.BatchNorm2d, nn.MaxPool2d)) for m in copy.modules())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    with pytest.raises(ValueError, match="too small"):
        rf.measure(net, size=32)


def test_layers_without_a_rule_are_refused():
    with pytest.raises(ValueError, match="stride-1"):
        rf.derive(nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1)))
    with pytest.raises(ValueError, match="no receptive field rule"):
        rf.derive(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Flatten()))


def test_the_erf_of_one_averaging_convolution_is_uniform_over_its_kernel():
    conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight[0].fill_(1 / 9)
        conv.weight[1].fill_(-1 / 9)
    e = rf.effective(conv, torch.rand(20, 1, 16, 16), batch=7)
    share = e["share"]
    assert e["centre"] == [8, 8] and e["images"] == 20
    assert torch.allclose(share[7:10, 7:10], torch.full((3, 3), 1 / 9))
    assert math.isclose(float(share.sum()), 1.0, rel_tol=1e-6) and float(share[7:10, 7:10].sum()) > 0.999999
    assert e["erf50"] == e["erf90"] == 1


def test_radius_holding_counts_squares_around_the_centre():
    share = torch.zeros(9, 9)
    share[4, 4], share[4, 6], share[0, 4] = 0.4, 0.2, 0.4
    assert rf.radius_holding(share, (4, 4), 0.4) == 0
    assert rf.radius_holding(share, (4, 4), 0.5) == 2
    assert rf.radius_holding(share, (4, 4), 0.9) == 4


def test_view_names_every_field_and_reads_a_result():
    rs = runs(run("p2_cnn", model="CNN", measured=(("receptive_field", "CNN"),)),
              run("p3_unet", measured=(("receptive_field", "UNet"),)))
    nets = rf.MEASUREMENT.networks(rs)
    empty = rf.view(None, nets)
    assert math.isnan(empty["p3_unet"]) and math.isnan(empty["nets"]["p2_cnn"]["erf90"])
    assert set(empty["nets"]["p3_unet"]["blocks"]) == set(CNN(3, 2).wiring)
    net = build_model("CNN", 3, 2, 1, 24)
    found = {"p2_cnn": rf.analyse(net, torch.rand(3, 1, 32, 32))}
    v = rf.view(found, nets)["nets"]["p2_cnn"]
    assert (v["theory_min"], v["theory"], v["standard"], v["period"]) == (30, 34, 32, 4)
    assert (v["measured_min"], v["measured_max"]) == (30, 34) and rf.view(found, nets)["p2_cnn"] == 34
    assert v["blocks"]["rfconv"] == 18 and v["images"] == 3 and 0 <= v["erf50"] <= v["erf90"] <= 32
    assert found["p2_cnn"]["box"] == [1, 30, 1, 30]  # pixel 16 of 32: the short field, inside the image
