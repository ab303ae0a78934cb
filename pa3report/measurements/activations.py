"""What the blocks of the gallery networks compute, in numbers (5.1, 5.2, 5.3).

For each block of the first seed of the gallery networks (the entries whose `measured` table
names activations), over the first test images: the share of activations that are exactly
zero (the ReLU is off), the share of channels that are zero on every image (never used here),
and how much of the maps' variation is detail, in two bands on the input's scale (periods in
input pixels along either axis, not in map units, so maps of different sizes compare):

- fine: among periods longer than 8 input pixels (what an 8×8 map of a 32×32 image, one unit per
  4×4 input pixels, holds in full), the share at periods shorter than 16. Every map holds this band,
  so it compares encoder blocks of any size (the decoder's nearest-neighbour upsampling damps this
  band and adds block edges below it, so up blocks compare only with up blocks made the same way);
- finest: the share of all variation at periods shorter than 8 input pixels, detail that only the
  16×16 and 32×32 maps can hold (0 for an 8×8 map by construction). A period of exactly 8, an 8×8
  map's Nyquist frequency, is in neither band.
"""

from __future__ import annotations

from typing import Any

import torch

from .. import data as data_mod
from ..fields import Fields
from ..page import Item, Page, cell, table
from . import NAN, Bench, Measurement, Network, Reads, register

BLOCKS = ("downconv1", "downconv2", "rfconv", "upconv1", "upconv2", "finalconv")
IMAGES = 200
FINE_PERIOD = 16  # input pixels: shorter periods count as fine detail...
SHORTEST_PERIOD = 8  # ...down to this one, the shortest an 8×8 map of a 32×32 image holds
METRICS = ("zero", "dead", "fine", "finest", "size")


def detail_shares(maps: torch.Tensor, image_size: int) -> tuple[float, float]:
    """(fine, finest) shares (%) of the spectral power of (N, C, H, W) maps of an image_size-wide
    input, each map's mean removed; NaN where a band's reference power is zero."""
    x = maps.float() - maps.float().mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(x).abs().pow(2)
    # fftfreq with d = input pixels per map unit: frequencies in cycles per input pixel
    fy = torch.fft.fftfreq(x.shape[-2], d=image_size / x.shape[-2]).abs()[:, None]
    fx = torch.fft.fftfreq(x.shape[-1], d=image_size / x.shape[-1]).abs()[None, :]
    freq = torch.maximum(fy, fx)  # the shorter period of the two axes
    edge = 1.0 / SHORTEST_PERIOD  # an 8×8 map's Nyquist frequency: held only in part, so in neither band
    common = freq < edge - 1e-9
    fine = common & (freq > 1.0 / FINE_PERIOD)
    in_band, total = power[..., common].sum(), power.sum()
    return (100.0 * float(power[..., fine].sum() / in_band) if in_band > 0 else NAN,
            100.0 * float(power[..., freq > edge + 1e-9].sum() / total) if total > 0 else NAN)


def block_stats(acts: dict[str, torch.Tensor], image_size: int) -> dict[str, dict[str, float]]:
    out = {}
    for name in BLOCKS:
        a = acts[name].float()
        fine, finest = detail_shares(a, image_size)
        out[name] = {"zero": 100.0 * float((a == 0).float().mean()),
                     "dead": 100.0 * float((a.amax(dim=(0, 2, 3)) == 0).float().mean()),
                     "fine": fine, "finest": finest, "size": float(a.shape[-1])}
    return out


@torch.inference_mode()
def compute(bench: Bench) -> dict[str, Any]:
    truth = bench.truth[:IMAGES]
    out: dict[str, Any] = {}
    for net in bench.networks:
        name, run = net.name, bench.run(net.name)
        x = data_mod.super_resolution_input(truth) if run.experiment.task == "super_resolution" \
            else data_mod.greyscale(truth)
        out[name] = block_stats(bench.model(run).activations(x), x.shape[-1])
    return out


def view(found: dict[str, Any] | None, networks: tuple[Network, ...]) -> Fields:
    found = found or {}
    return Fields("analysis.activations", {"images": IMAGES if found else 0, **{run: Fields(f"analysis.activations.{run}", {
        block: Fields(f"analysis.activations.{run}.{block}",
                      {m: float(found[run][block][m]) if run in found else NAN for m in METRICS})
        for block in BLOCKS}) for run in (n.name for n in networks)}})


def show(page: Page, found: dict[str, Any], v: Fields, networks: tuple[Network, ...]) -> list[Item]:
    rows = []
    for run in (n.name for n in networks):
        for block in BLOCKS:
            s = v[run][block]
            rows.append([cell(run), cell(block), cell(f"{int(s['size'])}×{int(s['size'])}", numeric=True),
                         cell(f"{s['zero']:.0f}%", numeric=True), cell(f"{s['dead']:.0f}%", numeric=True),
                         cell(f"{s['fine']:.1f}%", numeric=True), cell(f"{s['finest']:.1f}%", numeric=True)])
    return [table(
        f"Block outputs of the gallery networks over the first {IMAGES} test images (seed 0 of each): activations "
        "that are exactly zero, channels that are zero on every image, and how much of each map's variation "
        "(map means removed) is detail, with periods counted in pixels of the input image: fine detail, of the "
        f"variation at periods longer than {SHORTEST_PERIOD} input pixels (what an 8×8 map holds, so every block "
        f"compares), the share at periods shorter than {FINE_PERIOD}; finer still, the share of all variation at "
        f"periods shorter than {SHORTEST_PERIOD} (only 16×16 and 32×32 maps can hold it)",
        ["Network", "Block", ("Map size", True), ("Zero activations", True), ("Channels never active", True),
         ("Fine detail", True), (f"Finer than {SHORTEST_PERIOD} pixels", True)], rows)]


MEASUREMENT = register(Measurement("activations", compute, view, show, reads=Reads(first_seeds=True)))
