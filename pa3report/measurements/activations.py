"""What the blocks of the gallery networks compute, in numbers (5.1, 5.2, 5.3).

For each block of the first seed of p2_cnn, p3_unet and p4_sr_unet, over the first test
images: the share of activations that are exactly zero (the ReLU is off), the share of
channels that are zero on every image (never used here), and how much of the maps'
variation is fine detail: the share of spectral power at periods shorter than 16 pixels of the
input image, each map's mean removed. The cut is on the input's scale, not the map's, so maps of
different sizes compare (a unit of an 8×8 map of a 32×32 image stands for 4×4 input pixels), and
even the coarsest map (8×8) can hold such periods.
"""

from __future__ import annotations

from typing import Any

import torch

from .. import data as data_mod
from ..fields import Fields
from ..page import Item, Page, cell, table
from . import NAN, Bench, Measurement, Reads, register

RUNS = ("p2_cnn", "p3_unet", "p4_sr_unet")
BLOCKS = ("downconv1", "downconv2", "rfconv", "upconv1", "upconv2", "finalconv")
IMAGES = 200
FINE_PERIOD = 16  # input pixels: shorter periods count as fine detail
METRICS = ("zero", "dead", "fine", "size")


def fine_share(maps: torch.Tensor, image_size: int) -> float:
    """Share (%) of the spectral power of (N, C, H, W) maps of an image_size-wide input at periods
    shorter than FINE_PERIOD input pixels."""
    x = maps.float() - maps.float().mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(x).abs().pow(2)
    # fftfreq with d = input pixels per map unit: frequencies in cycles per input pixel
    fy = torch.fft.fftfreq(x.shape[-2], d=image_size / x.shape[-2])[:, None]
    fx = torch.fft.fftfreq(x.shape[-1], d=image_size / x.shape[-1])[None, :]
    high = (fy.pow(2) + fx.pow(2)).sqrt() > 1.0 / FINE_PERIOD
    total = power.sum()
    return 100.0 * float(power[..., high].sum() / total) if total > 0 else NAN


def block_stats(acts: dict[str, torch.Tensor], image_size: int) -> dict[str, dict[str, float]]:
    out = {}
    for name in BLOCKS:
        a = acts[name].float()
        out[name] = {"zero": 100.0 * float((a == 0).float().mean()),
                     "dead": 100.0 * float((a.amax(dim=(0, 2, 3)) == 0).float().mean()),
                     "fine": fine_share(a, image_size), "size": float(a.shape[-1])}
    return out


@torch.inference_mode()
def compute(bench: Bench) -> dict[str, Any]:
    truth = bench.truth[:IMAGES]
    out: dict[str, Any] = {}
    for name in RUNS:
        run = bench.run(name)
        x = data_mod.super_resolution_input(truth) if run.experiment.task == "super_resolution" \
            else data_mod.greyscale(truth)
        out[name] = block_stats(bench.model(run).activations(x), x.shape[-1])
    return out


def view(found: dict[str, Any] | None) -> Fields:
    found = found or {}
    return Fields("analysis.activations", {"images": IMAGES if found else 0, **{run: Fields(f"analysis.activations.{run}", {
        block: Fields(f"analysis.activations.{run}.{block}",
                      {m: float(found[run][block][m]) if run in found else NAN for m in METRICS})
        for block in BLOCKS}) for run in RUNS}})


def show(page: Page, found: dict[str, Any], v: Fields) -> list[Item]:
    rows = []
    for run in RUNS:
        for block in BLOCKS:
            s = v[run][block]
            rows.append([cell(run), cell(block), cell(f"{int(s['size'])}×{int(s['size'])}", numeric=True),
                         cell(f"{s['zero']:.0f}%", numeric=True), cell(f"{s['dead']:.0f}%", numeric=True),
                         cell(f"{s['fine']:.1f}%", numeric=True)])
    return [table(
        f"Block outputs of the gallery networks over the first {IMAGES} test images: activations that are "
        "exactly zero, channels that are zero on every image, and the share of each map's variation that is "
        f"fine detail (spectral power at periods shorter than {FINE_PERIOD} pixels of the input image, the same "
        "scale for every map size; map means removed)",
        ["Network", "Block", ("Map size", True), ("Zero activations", True), ("Channels never active", True),
         ("Fine detail", True)], rows)]


MEASUREMENT = register(Measurement("activations", compute, view, show, reads=Reads(runs=RUNS)))
