"""Super-resolution quality: PSNR, SSIM and palette accuracy on hand-made image pairs."""

import math

import torch

from pa3report.measurements import sr_quality

from ..runkit import run, runs

SR = {"task": "super_resolution"}


def networks():
    rs = runs(run("p4_sr_cnn", model="CNN", **SR, measured=(("sr_quality", "CNN"),)),
              run("p4_sr_unet", **SR, measured=(("sr_quality", "UNet"),)),
              run("p4_sr_unet_rgb", **SR, loss="mse", measured=(("sr_quality", "UNet, RGB"),)))
    return sr_quality.MEASUREMENT.networks(rs)


def test_known_psnr_ssim_and_palette_accuracy():
    truth = torch.full((2, 3, 16, 16), 0.5)
    palette = torch.tensor([[0.5, 0.5, 0.5], [0.9, 0.9, 0.9]])
    off = sr_quality.image_quality(truth + 0.1, truth, palette)
    assert math.isclose(off["psnr"], 20.0, abs_tol=1e-4)  # MSE 0.01: 10·log10(1/0.01)
    assert off["palette_acc"] == 100.0  # 0.6 is still nearest to 0.5
    same = sr_quality.image_quality(truth, truth, palette)
    assert math.isclose(same["ssim"], 1.0) and same["palette_acc"] == 100.0
    far = sr_quality.image_quality(torch.full_like(truth, 0.9), truth, palette)
    assert far["palette_acc"] == 0.0 and math.isclose(far["psnr"], -10 * math.log10(0.16), abs_tol=1e-4)


def test_view_has_every_method_and_the_ceiling():
    v = sr_quality.view({"bicubic": {"psnr": 20.0, "ssim": 0.6, "palette_acc": 42.0},
                         "p4_sr_unet": {"psnr": [21.0, 22.0], "ssim": [0.7, 0.7], "palette_acc": [45.0, 46.0]}},
                        networks())
    assert [name for name in v] == ["p4_sr_cnn", "p4_sr_unet", "p4_sr_unet_rgb", "bicubic", "bilinear", "nearest",
                                    "ceiling"]
    assert v["bicubic"]["sd"]["psnr"] == 0.0 and v["p4_sr_unet"]["psnr"] == 21.5 and v["p4_sr_unet"]["seeds"] == 2
    assert math.isnan(v["p4_sr_cnn"]["psnr"]) and v["p4_sr_cnn"]["seeds"] == 0


def test_colour_difference_is_zero_for_the_truth_and_grows_with_the_error():
    truth = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    palette = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    same = sr_quality.image_quality(truth, truth, palette)["delta_e"]
    near = sr_quality.image_quality((truth + 0.02).clamp(0, 1), truth, palette)["delta_e"]
    far = sr_quality.image_quality((truth + 0.2).clamp(0, 1), truth, palette)["delta_e"]
    assert same == 0.0 and 0.0 < near < far


def test_the_lowest_colour_difference_is_the_best():
    from pa3report.page import Page
    found = {"test_images": 4,
             "bicubic": {"psnr": 20.0, "ssim": 0.6, "palette_acc": 42.0, "delta_e": 9.0},
             "p4_sr_unet": {"psnr": [21.0, 22.0], "ssim": [0.7, 0.7], "palette_acc": [45.0, 46.0],
                            "delta_e": [7.0, 7.5]},
             "ceiling": {"psnr": 25.0, "ssim": 0.9, "palette_acc": 100.0, "delta_e": 3.0}}
    nets = networks()
    (table,) = sr_quality.show(Page.__new__(Page), found, sr_quality.view(found, nets), nets)
    rows = {row[0]["text"]: row for row in table["rows"]}
    assert rows["UNet"][-1]["best"] and not rows["bicubic interpolation"][-1]["best"]
