"""Do the predicted colours follow the edges of the grey image? (2.2, 3.2, 3.3)

Two measurements on every test image, per network and seed:
- palette accuracy on pixels at strong edges of the grey input (the quarter of each image
  with the largest Sobel gradient) against flat pixels (the half with the smallest);
- where the colour changes: a pixel is a colour boundary when its palette colour differs
  from its right or lower neighbour. Boundary precision is the share of predicted
  boundaries within one pixel of a true one (a colour change that bleeds into a flat
  region lowers it), recall the share of true boundaries the prediction reproduces
  within one pixel (a colour region that blurs across an object's outline lowers it).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .. import data as data_mod
from ..fields import Fields
from ..formats import mean_sd
from ..page import Item, Page, cell, table
from ..runs import RunInfo
from ..trained import predict_rgb
from . import Bench, Measurement, Reads, register, seeded_row

NETWORKS = (("p1_regression", "regression (RegressionCNN)"), ("p2_cnn", "classification CNN"),
            ("p3_unet", "classification UNet"), ("p3_unet_bs20", "UNet, batch 20"),
            ("p3_unet_bs500", "UNet, batch 500"))
METRICS = ("acc_edge", "acc_flat", "precision", "recall", "f1")
EDGE_SHARE, FLAT_SHARE = 0.25, 0.5


def edge_strength(grey: torch.Tensor) -> torch.Tensor:
    """Sobel gradient magnitude of (N, 1, H, W) images, same size (replicated border)."""
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    k = torch.stack([kx, kx.T])[:, None]
    g = F.conv2d(F.pad(grey.float(), (1, 1, 1, 1), mode="replicate"), k)
    return g.pow(2).sum(1).sqrt()


def masks(grey: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(edge, flat) pixel masks: the strongest EDGE_SHARE and the weakest FLAT_SHARE of each image."""
    s = edge_strength(grey).flatten(1)
    hi = s.quantile(1 - EDGE_SHARE, dim=1, keepdim=True)
    lo = s.quantile(FLAT_SHARE, dim=1, keepdim=True)
    shape = (grey.shape[0], *grey.shape[-2:])
    return (s >= hi).reshape(shape), (s <= lo).reshape(shape)


def boundaries(classes: torch.Tensor) -> torch.Tensor:
    """Pixels whose class differs from the right or the lower neighbour: (N, H, W) bool."""
    b = torch.zeros_like(classes, dtype=torch.bool)
    b[:, :, :-1] |= classes[:, :, :-1] != classes[:, :, 1:]
    b[:, :-1, :] |= classes[:, :-1, :] != classes[:, 1:, :]
    return b


def _near(b: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(b[:, None].float(), 3, stride=1, padding=1)[:, 0] > 0


def follow(pred: torch.Tensor, truth: torch.Tensor, edge: torch.Tensor, flat: torch.Tensor) -> dict[str, float]:
    """Accuracy at edges and in flat regions (%), boundary precision, recall and F1 (%) of class maps."""
    right = pred == truth
    bp, bt = boundaries(pred), boundaries(truth)
    precision = float((bp & _near(bt)).sum() / bp.sum().clamp_min(1))
    recall = float((bt & _near(bp)).sum() / bt.sum().clamp_min(1))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"acc_edge": 100.0 * float(right[edge].float().mean()), "acc_flat": 100.0 * float(right[flat].float().mean()),
            "precision": 100.0 * precision, "recall": 100.0 * recall, "f1": 100.0 * f1}


def compute(bench: Bench) -> dict[str, Any]:
    truth = data_mod.quantize(bench.truth, bench.palette).reshape(bench.truth.shape[0], *bench.truth.shape[-2:])
    edge, flat = masks(bench.grey)
    out: dict[str, Any] = {"test_images": len(truth)}

    def measure(run: RunInfo) -> dict[str, float]:
        rgb = predict_rgb(bench.model(run), run.experiment.task, bench.grey, bench.palette)
        return follow(data_mod.quantize(rgb, bench.palette).reshape(truth.shape), truth, edge, flat)

    out.update(bench.over_seeds((base for base, _ in NETWORKS), measure))
    return out


def view(found: dict[str, Any] | None) -> Fields:
    found = found or {}
    return Fields("analysis.edges", {name: seeded_row(f"analysis.edges.{name}", found.get(name), METRICS)
                                     for name, _ in NETWORKS})


def show(page: Page, found: dict[str, Any], v: Fields) -> list[Item]:
    rows = [[cell(label), cell(v[name]["seeds"], numeric=True)]
            + [cell(mean_sd(v[name][m], v[name][f"{m}_sd"], "val_acc"), numeric=True) for m in METRICS]
            for name, label in NETWORKS if name in found]
    return [table(
        f"Do the colours follow the grey image's edges? Over all {found['test_images']:,} test images, output "
        f"and truth snapped to the palette: accuracy on the {EDGE_SHARE:.0%} of pixels with the strongest "
        f"edges and on the flattest {FLAT_SHARE:.0%}; colour boundaries (a change of palette colour between "
        "neighbours) of the output within one pixel of a true one (precision) and true boundaries the output "
        "reproduces (recall); mean ± standard deviation over seeds",
        ["Network", ("Seeds", True), ("Accuracy at edges", True), ("Accuracy in flat regions", True),
         ("Boundary precision", True), ("Boundary recall", True), ("Boundary F1", True)], rows)]


MEASUREMENT = register(Measurement(
    "edges", compute, view, show, reads=Reads(entries=tuple(base for base, _ in NETWORKS))))
