"""Super-resolution quality on the whole test set: the networks against interpolation (4.2)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .. import data as data_mod
from ..fields import Fields
from ..formats import mean_sd
from ..page import Item, Page, cell, table
from ..trained import delta_e2000, predict_rgb, psnr
from . import Bench, Measurement, Reads, register, seeded_row

METRICS = ("psnr", "ssim", "palette_acc", "delta_e")
NETWORKS = (("p4_sr_cnn", "CNN"), ("p4_sr_unet", "UNet"),
            ("p4_sr_unet_rgb", "UNet with an RGB output (squared error)"))
# (name in answers, label); the ceiling is a reference, not a method.
METHODS = (("bicubic", "bicubic interpolation"), ("bilinear", "bilinear interpolation"),
           ("nearest", "nearest neighbour (the network's input)"))
CEILING = ("ceiling", "ground truth snapped to the palette")
LOWER_IS_BETTER = ("delta_e",)


def image_quality(pred: torch.Tensor, truth: torch.Tensor, palette: torch.Tensor) -> dict[str, float]:
    """PSNR, SSIM and mean CIEDE2000 of decoded colours against the originals, and palette accuracy (%)."""
    from skimage.metrics import structural_similarity

    p, t = pred.permute(0, 2, 3, 1).numpy(), truth.permute(0, 2, 3, 1).numpy()
    ssim = np.mean([structural_similarity(a, b, channel_axis=2, data_range=1.0) for a, b in zip(p, t)])
    acc = (data_mod.quantize(pred, palette) == data_mod.quantize(truth, palette)).float().mean()
    return {"psnr": psnr(pred, truth), "ssim": float(ssim), "palette_acc": 100.0 * float(acc),
            "delta_e": delta_e2000(pred, truth)}


def compute(bench: Bench) -> dict[str, Any]:
    truth, palette = bench.truth, bench.palette
    small = data_mod.super_resolution_input(truth)
    out: dict[str, Any] = {
        "test_images": len(truth),
        "nearest": image_quality(small, truth, palette),
        "bilinear": image_quality(data_mod.bilinear_baseline(truth).clamp(0, 1), truth, palette),
        "bicubic": image_quality(data_mod.bicubic_baseline(truth), truth, palette),
        "ceiling": image_quality(data_mod.decode(data_mod.quantize(truth, palette), palette), truth, palette),
    }
    out.update(bench.over_seeds((base for base, _ in NETWORKS), lambda r: image_quality(
        predict_rgb(bench.model(r), r.experiment.head, small, palette), truth, palette)))
    return out


def view(found: dict[str, Any] | None) -> Fields:
    found = found or {}
    return Fields("analysis.sr_quality", {
        name: seeded_row(f"analysis.sr_quality.{name}", found.get(name), METRICS)
        for name, _ in (*NETWORKS, *METHODS, CEILING)})


def show(page: Page, found: dict[str, Any], v: Fields) -> list[Item]:
    shown = [(name, label) for name, label in (*NETWORKS, *METHODS) if name in found]
    best = {m: (min if m in LOWER_IS_BETTER else max)((name for name, _ in shown), key=lambda n: v[n][m])
            for m in METRICS}
    rows = []
    for name, label in (*shown, CEILING):
        row = v[name]
        if name == CEILING[0]:
            label += " (nearest colour in RGB: the highest palette accuracy and PSNR a palette output can reach)"
        rows.append([cell(label), cell(row["seeds"] or "–", numeric=True)]
                    + [cell(mean_sd(row[m], row[f"{m}_sd"], m), best=best[m] == name, numeric=True)
                       for m in METRICS])
    return [table(
        f"Super-resolution quality over all {found['test_images']:,} test images, against the original "
        "32×32 images (ΔE2000: mean CIEDE2000 colour difference per pixel, lower is better); networks: "
        "mean ± standard deviation over their seeds. The best method in each "
        "column is highlighted (the palette ceiling is a reference, not a method)",
        ["Method", ("Seeds", True), ("PSNR", True), ("SSIM", True), ("Palette accuracy", True),
         ("ΔE2000", True)], rows)]


MEASUREMENT = register(Measurement(
    "sr_quality", compute, view, show, reads=Reads(entries=tuple(base for base, _ in NETWORKS))))
