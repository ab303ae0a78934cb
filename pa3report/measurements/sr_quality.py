"""Super-resolution quality on the whole test set: the networks against interpolation (4.2)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .. import data as data_mod
from ..fields import Fields
from ..page import Item, Page, cell, table
from ..trained import delta_e2000, predict_rgb, psnr
from . import Bench, Measurement, Network, Reads, register, seeded_row, seeded_rows, spread

METRICS = ("psnr", "ssim", "palette_acc", "delta_e")
# The networks are the entries whose `measured` table names sr_quality, every seed read; the
# methods (name in answers, label) are computed here; the ceiling is a reference, not a method.
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
    out.update(bench.over_networks(lambda r: image_quality(
        predict_rgb(bench.model(r), r.experiment.head, small, palette), truth, palette)))
    return out


def view(found: dict[str, Any] | None, networks: tuple[Network, ...]) -> Fields:
    found = found or {}
    methods = {name: seeded_row(f"analysis.sr_quality.{name}", found.get(name), METRICS)
               for name, _ in (*METHODS, CEILING)}
    nets = seeded_rows("analysis.sr_quality", found, networks, METRICS)
    return Fields("analysis.sr_quality", {**nets, **methods})


def show(page: Page, found: dict[str, Any], v: Fields, networks: tuple[Network, ...]) -> list[Item]:
    shown = [(name, label) for name, label in (*((n.name, n.label) for n in networks), *METHODS) if name in found]
    best = {m: (min if m in LOWER_IS_BETTER else max)((name for name, _ in shown), key=lambda n: v[n][m])
            for m in METRICS}
    rows = []
    for name, label in (*shown, CEILING):
        row = v[name]
        if name == CEILING[0]:
            label += " (nearest colour in RGB: the highest palette accuracy and PSNR a palette output can reach)"
        rows.append([cell(label), cell(row["seeds"] or "–", numeric=True)]
                    + [spread(row, m, best=best[m] == name) for m in METRICS])
    return [table(
        f"Super-resolution quality over all {found['test_images']:,} test images, against the original "
        "32×32 images (ΔE2000: mean CIEDE2000 colour difference per pixel, lower is better); networks: "
        "mean ± standard deviation over their seeds. The best method in each "
        "column is highlighted (the palette ceiling is a reference, not a method)",
        ["Method", ("Seeds", True), ("PSNR", True), ("SSIM", True), ("Palette accuracy", True),
         ("ΔE2000", True)], rows)]


MEASUREMENT = register(Measurement("sr_quality", compute, view, show, reads=Reads()))
