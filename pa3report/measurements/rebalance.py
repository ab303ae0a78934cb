"""Rare colours: the UNet trained with class-rebalanced cross-entropy against the plain one (6.1).

Most pixels of the horse images are browns, greens and greys, so plain cross-entropy can score
well while rarely painting the rare, strong colours. Rebalancing weighs each colour's loss by
its smoothed inverse frequency in the training targets (Zhang, Isola and Efros, ECCV 2016). It
should trade some overall accuracy for more accuracy on rare colours and more vivid output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .. import data as data_mod
from .. import mosaics
from ..fields import Fields
from ..fsutil import content_key
from ..page import Item, Page, cell, table
from ..trained import predict_rgb
from . import Bench, Measurement, Network, Reads, register, seeded_rows, spread
from .colourfulness import judged

# the networks: the entries whose `measured` table names rebalance (the plain and the rebalanced
# loss), every seed read
METRICS = ("palette_acc", "balanced_acc", "rare_acc", "vivid", "chroma", "delta_e")
SHOWN = 8


def rare(counts: torch.Tensor) -> torch.Tensor:
    """The colours that occur, each on fewer than an even share (1 / colours) of the pixels."""
    return (counts > 0) & (counts / counts.sum() < 1.0 / len(counts))


def class_accuracy(pred: torch.Tensor, truth: torch.Tensor, colours: int) -> dict[str, float]:
    """Pixel accuracy (%), its mean over the colours present (balanced), and the accuracy on the
    pixels whose true colour is rare: less frequent than an even share (1 / colours) of the pixels."""
    pred, truth = pred.reshape(-1), truth.reshape(-1)
    counts = torch.bincount(truth, minlength=colours).double()
    hits = torch.bincount(truth[pred == truth], minlength=colours).double()
    present = counts > 0
    scarce = rare(counts)
    return {"palette_acc": 100.0 * float(hits.sum() / counts.sum()),
            "balanced_acc": 100.0 * float((hits[present] / counts[present]).mean()),
            "rare_acc": 100.0 * float(hits[scarce].sum() / counts[scarce].sum()) if scarce.any() else float("nan")}


def compute(bench: Bench) -> dict[str, Any]:
    truth, palette = bench.truth, bench.palette
    truth_cls = data_mod.quantize(truth, palette)
    shown: dict[str, Any] = {}

    def measure(run) -> dict[str, float]:
        rgb = predict_rgb(bench.model(run), run.experiment.head, bench.grey, palette)
        if run.experiment.base not in shown:
            shown[run.experiment.base] = {"run": run.name, "rgb": rgb[:SHOWN].half()}
        return {**class_accuracy(data_mod.quantize(rgb, palette), truth_cls, len(palette)), **judged(rgb, truth)}

    out: dict[str, Any] = {"test_images": len(truth), **bench.over_networks(measure)}
    counts = torch.bincount(truth_cls.reshape(-1), minlength=len(palette)).double()
    out["rare_colours"] = int(rare(counts).sum())
    out["rare_share"] = 100.0 * float(counts[rare(counts)].sum() / counts.sum())
    out["shown"] = shown
    out["images"] = {"grey": bench.grey[:SHOWN].half(), "truth": truth[:SHOWN].half()}
    return out


def view(found: dict[str, Any] | None, networks: tuple[Network, ...]) -> Fields:
    found = found or {}
    return Fields("analysis.rebalance", {
        "rare_colours": found.get("rare_colours", 0), "rare_share": found.get("rare_share", float("nan")),
        **seeded_rows("analysis.rebalance", found, networks, METRICS)})


def show(page: Page, found: dict[str, Any], v: Fields, networks: tuple[Network, ...]) -> list[Item]:
    nets = [(n.name, n.label) for n in networks if n.name in found]
    if not nets:
        return []
    rows = [[cell(label), cell(v[b]["seeds"], numeric=True)]
            + [spread(v[b], m, "val_acc" if m.endswith("acc") else None) for m in METRICS] for b, label in nets]
    items: list[Item] = [table(
        f"Plain against class-rebalanced cross-entropy over all {found['test_images']:,} test images (mean ± "
        f"standard deviation over seeds). Balanced accuracy: the mean of the per-colour accuracies; rare "
        f"colours: the {v['rare_colours']} palette colours each under 1/{data_mod.NUM_COLOURS} of the test "
        f"pixels ({v['rare_share']:.1f}% of all pixels together); clearly coloured: CIELAB chroma above 20",
        ["Training loss", ("Seeds", True), ("Pixel accuracy", True), ("Balanced accuracy", True),
         ("Accuracy on rare colours", True), ("Clearly coloured pixels", True), ("Mean chroma", True),
         ("ΔE2000", True)], rows)]
    if len(nets) == len(networks):
        def draw(path: Path) -> None:
            mosaics.sample_grid(path, [("grey input", found["images"]["grey"].float()),
                                       ("ground truth", found["images"]["truth"].float()),
                                       *((label, found["shown"][b]["rgb"].float()) for b, label in nets)])
        runs = " and ".join(found["shown"][b]["run"] for b, _ in nets)
        items.append(page.maker.make(
            "img/q6-1-rebalanced.png",
            {"rebalance": content_key({"shown": found["shown"], "images": found["images"]}), "rows": nets},
            draw, alt="the UNet trained with plain and with class-rebalanced cross-entropy on the same test images",
            caption=f"The first {SHOWN} test images colourized by {runs} (seed 0 of each)."))
    return items


MEASUREMENT = register(Measurement("rebalance", compute, view, show, reads=Reads()))
