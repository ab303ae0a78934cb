import numpy as np
import torch
import torch.nn as nn

from pa3report import analysis
from pa3report.models import CNN, RegressionCNN, UNet


def test_swapping_relu_and_maxpool_changes_nothing_but_order():
    torch.manual_seed(0)
    model = RegressionCNN(3, 8).eval()
    swapped = analysis.swap_relu_maxpool(model)
    assert [type(l) for l in swapped.downconv1][2:] == [nn.MaxPool2d, nn.ReLU]
    assert [type(l) for l in model.downconv1][2:] == [nn.ReLU, nn.MaxPool2d]  # original untouched
    res = analysis.relu_maxpool_order(model, torch.rand(4, 1, 32, 32), repeats=1)
    assert res["max_abs_diff_eval"] == 0.0 and res["max_abs_diff_train"] == 0.0
    assert res["relu_then_pool_forward_ms"] > 0


def test_colour_pairs_equal_in_rgb_differ_perceptually():
    rows = analysis.colour_pairs()
    assert len({round(r["rgb_distance"], 9) for r in rows}) == 1
    de = [r["delta_e"] for r in rows]
    assert max(de) > 2 * min(de)


def test_palette_distances():
    pal = np.random.default_rng(0).random((6, 3)).astype(np.float32)
    d = analysis.palette_distances(pal)
    assert len(d["rgb"]) == 15 and -1 <= d["correlation"] <= 1


def test_image_quality_perfect_and_worse():
    g = torch.Generator().manual_seed(0)
    truth = torch.rand(3, 3, 16, 16, generator=g)
    palette = torch.rand(8, 3, generator=g)
    perfect = analysis.image_quality(truth, truth, palette)
    assert perfect["ssim"] > 0.999 and perfect["palette_acc"] == 100.0 and perfect["psnr"] > 90
    noisy = analysis.image_quality((truth + 0.1).clamp(0, 1), truth, palette)
    assert noisy["psnr"] < 25 and noisy["ssim"] < perfect["ssim"]


def test_colourfulness_of_grey_is_zero():
    grey = torch.full((2, 3, 8, 8), 0.4)
    c = analysis.colourfulness(grey)
    assert c["chroma"] < 0.01 and c["saturation"] < 1e-6 and c["vivid"] == 0.0
    red = torch.zeros(1, 3, 8, 8)
    red[:, 0] = 0.9
    assert analysis.colourfulness(red)["saturation"] > 0.99 and analysis.colourfulness(red)["vivid"] == 100.0
    tint = torch.full((1, 3, 8, 8), 0.5)
    tint[:, 0] = 0.6  # a faint warm cast: some chroma, nothing clearly coloured
    assert 0 < analysis.colourfulness(tint)["chroma"] < analysis.VIVID_CHROMA
    assert analysis.colourfulness(tint)["vivid"] == 0.0


def test_receptive_field_grows_with_kernel():
    torch.manual_seed(0)
    small = analysis.receptive_field(CNN(3, 4), 1, size=96)
    large = analysis.receptive_field(CNN(5, 4), 1, size=96)
    assert 10 < small < large <= 96


def test_colourize_large_and_photos():
    torch.manual_seed(0)
    palette = torch.rand(24, 3)
    photos = analysis.sample_photos(64)
    assert photos.shape == (2, 3, 64, 64) and 0 <= photos.min() and photos.max() <= 1
    res = analysis.colourize_large(UNet(3, 4).eval(), photos, palette)
    assert res["direct"].shape == (2, 3, 64, 64) and res["via32"].shape == (2, 3, 64, 64)
    assert 0 <= res["acc_direct"] <= 100
