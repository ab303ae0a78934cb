"""How colourful each objective's predictions are, against the ground truth (1.5, 2.2)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .. import data as data_mod
from ..config import LOSSES, MODELS, Experiment
from ..fields import Fields
from ..page import Item, Page, cell, table
from ..trained import delta_e2000, lab, predict_rgb
from . import Bench, Measurement, Network, Reads, register, seeded_row, seeded_rows, spread

# CIELAB chroma above which a pixel reads as clearly coloured rather than greyish or tinted.
VIVID_CHROMA = 20.0
METRICS = ("chroma", "saturation", "vivid", "delta_e")
# (name in answers, label in the table); the networks are the entries whose `measured` table
# names colourfulness, every seed read.
REFERENCES = (("truth", "ground truth"), ("palette", "ground truth snapped to the palette"))


def network_order(e: Experiment) -> tuple[int, int, int]:
    """Regression first, by loss then length of training, then the classifiers."""
    return MODELS.index(e.model), list(LOSSES).index(e.loss), e.epochs


def colourfulness(rgb: torch.Tensor) -> dict[str, float]:
    """Mean CIELAB chroma and HSV saturation: how vivid a set of images is; and the share (%) of
    clearly coloured pixels, which tells a mild tint everywhere (the regression's sepia) from
    strong colours where they belong: both can have the same mean chroma."""
    lab_ = lab(rgb)
    chroma = np.hypot(lab_[..., 1], lab_[..., 2])
    mx, mn = rgb.max(dim=1).values, rgb.min(dim=1).values
    saturation = torch.where(mx > 0, (mx - mn) / mx.clamp_min(1e-8), torch.zeros_like(mx))
    return {"chroma": float(chroma.mean()), "saturation": float(saturation.mean()),
            "vivid": 100.0 * float((chroma > VIVID_CHROMA).mean())}


def judged(rgb: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """How colourful the images are, and how far (CIEDE2000) their colours are from the truth."""
    return {**colourfulness(rgb), "delta_e": delta_e2000(rgb, truth)}


def compute(bench: Bench) -> dict[str, Any]:
    truth = bench.truth
    out: dict[str, Any] = {
        "test_images": len(truth), "truth": judged(truth, truth),
        "palette": judged(data_mod.decode(data_mod.quantize(truth, bench.palette), bench.palette), truth)}
    out.update(bench.over_networks(lambda r: judged(
        predict_rgb(bench.model(r), r.experiment.head, bench.grey, bench.palette), truth)))
    return out


def view(found: dict[str, Any] | None, networks: tuple[Network, ...]) -> Fields:
    found = found or {}
    return Fields("analysis.colourfulness", {
        **{name: seeded_row(f"analysis.colourfulness.{name}", found.get(name), METRICS) for name, _ in REFERENCES},
        **seeded_rows("analysis.colourfulness", found, networks, METRICS)})


def show(page: Page, found: dict[str, Any], v: Fields, networks: tuple[Network, ...]) -> list[Item]:
    truth = v["truth"]["chroma"]
    rows = []
    for name, label in (*REFERENCES, *((n.name, n.label) for n in networks)):
        if name not in found:
            continue
        row = v[name]
        rows.append([cell(label), cell(row["seeds"] or "–", numeric=True), spread(row, "chroma"),
                     cell(f"{100 * row['chroma'] / truth:.0f}%" if truth > 0 else "n/a", numeric=True),
                     spread(row, "saturation"), spread(row, "vivid"), spread(row, "delta_e")])
    return [table(
        f"How colourful the images are, over all {found['test_images']:,} test images: mean CIELAB chroma "
        f"(0 = grey), mean HSV saturation, and the share of clearly coloured pixels (chroma above "
        f"{VIVID_CHROMA:g}), and the mean CIEDE2000 colour difference from the ground truth per pixel "
        f"(ΔE2000: about 1 is just noticeable, above 10 a clearly different colour); networks: mean ± "
        "standard deviation over their seeds",
        ["Images", ("Seeds", True), ("Mean chroma", True), ("… share of the ground truth's", True),
         ("Mean saturation", True), ("Clearly coloured pixels", True), ("ΔE2000 to the truth", True)], rows)]


MEASUREMENT = register(Measurement("colourfulness", compute, view, show, reads=Reads(order=network_order)))
