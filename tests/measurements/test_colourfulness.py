"""Colourfulness: chroma, saturation and the share of vivid pixels, on images with known colours."""

import math

import torch

from pa3report.measurements import colourfulness as cf

from ..runkit import run, runs


def measured(label: str) -> tuple[tuple[str, str], ...]:
    return (("colourfulness", label),)


REGRESSION = {"model": "RegressionCNN", "task": "regression"}


def test_known_colours():
    grey = torch.full((2, 3, 8, 8), 0.4)
    c = cf.colourfulness(grey)
    assert c["chroma"] < 0.01 and c["saturation"] < 1e-6 and c["vivid"] == 0.0
    red = torch.zeros(1, 3, 8, 8)
    red[:, 0] = 1.0
    c = cf.colourfulness(red)
    assert math.isclose(c["chroma"], 104.55, abs_tol=0.05)  # sRGB red in CIELAB: a* 80.1, b* 67.2
    assert c["saturation"] == 1.0 and c["vivid"] == 100.0
    half = grey[:1].clone()
    half[:, :, :4] = red[:, :, :4]  # top half red, bottom half grey
    assert cf.colourfulness(half)["vivid"] == 50.0


def test_a_faint_tint_has_chroma_but_no_vivid_pixels():
    tint = torch.full((1, 3, 8, 8), 0.5)
    tint[:, 0] = 0.6
    c = cf.colourfulness(tint)
    assert 0 < c["chroma"] < cf.VIVID_CHROMA and c["vivid"] == 0.0


def test_view_rows_over_seeds_and_references():
    rs = runs(run("p2_cnn", model="CNN", measured=measured("classification CNN")),
              run("p3_unet", measured=measured("classification UNet")), run("p3_unet_bs20", batch_size=20))
    v = cf.view({"truth": {"chroma": 20.0, "saturation": 0.3, "vivid": 26.0},
                 "p3_unet": {"chroma": [10.0, 12.0], "saturation": [0.2, 0.2], "vivid": [20.0, 22.0]}},
                cf.MEASUREMENT.networks(rs))
    assert v["truth"]["chroma_sd"] == 0.0 and v["truth"]["seeds"] == 0
    unet = v["p3_unet"]
    assert unet["chroma"] == 11.0 and math.isclose(unet["sd"]["chroma"], math.sqrt(2)) and unet["seeds"] == 2
    assert set(v) == {"truth", "palette", "p2_cnn", "p3_unet"}
    assert not v["p2_cnn"]["available"] and math.isnan(v["p2_cnn"]["vivid"])


def test_the_networks_are_the_entries_that_name_it_regression_first_by_loss_and_length():
    rs = runs(run("unet", measured=measured("UNet")), run("reg", **REGRESSION, epochs=25, measured=measured("")),
              run("reg_lab", **REGRESSION, loss="lab", measured=measured("in CIELAB")),
              run("reg_short", **REGRESSION, epochs=5, measured=measured("short")),
              run("cnn", model="CNN", measured=(("edges", "CNN"),)))
    nets = cf.MEASUREMENT.networks(rs)
    assert [(n.name, n.label) for n in nets] == [("reg_short", "short"), ("reg", "reg"), ("reg_lab", "in CIELAB"),
                                                 ("unet", "UNet")]


def test_colour_difference_from_the_truth():
    grey = torch.full((1, 3, 8, 8), 0.4)
    red = torch.zeros(1, 3, 8, 8)
    red[:, 0] = 1.0
    assert cf.judged(red, red)["delta_e"] == 0.0
    # sRGB red against a mid grey: CIEDE2000 about 33, far above a clearly different 10
    assert 30 < cf.judged(grey, red)["delta_e"] < 36
