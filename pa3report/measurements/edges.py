"""Do the predicted colours follow the edges of the grey image? (2.2, 3.2, 3.3)

Palette accuracy (output and truth snapped to the palette) on the pixels at strong edges of
the grey input (the quarter of each image with the largest Sobel gradient) and on flat
pixels (the half with the smallest), per network and seed. Colour that bleeds across an
object's outline, or boundaries placed a few pixels off, cost accuracy at edges far more
than in flat regions, so the edge penalty (flat minus edge accuracy, in points) says how
much worse a network is where the image changes than where it does not.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .. import data as data_mod
from ..fields import Fields
from ..page import Item, Page, cell, table
from ..runs import RunInfo
from ..trained import predict_rgb
from . import Bench, Measurement, Network, Reads, register, seeded_rows, spread

# the networks: the entries whose `measured` table names edges, every seed read
METRICS = ("acc_edge", "acc_flat", "edge_penalty")
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


def follow(pred: torch.Tensor, truth: torch.Tensor, edge: torch.Tensor, flat: torch.Tensor) -> dict[str, float]:
    """Accuracy (%) of class maps at edges and in flat regions, and the edge penalty (points)."""
    right = pred == truth
    acc_edge = 100.0 * float(right[edge].float().mean())
    acc_flat = 100.0 * float(right[flat].float().mean())
    return {"acc_edge": acc_edge, "acc_flat": acc_flat, "edge_penalty": acc_flat - acc_edge}


def compute(bench: Bench) -> dict[str, Any]:
    truth = data_mod.quantize(bench.truth, bench.palette).reshape(bench.truth.shape[0], *bench.truth.shape[-2:])
    edge, flat = masks(bench.grey)
    out: dict[str, Any] = {"test_images": len(truth)}

    def measure(run: RunInfo) -> dict[str, float]:
        rgb = predict_rgb(bench.model(run), run.experiment.head, bench.grey, bench.palette)
        return follow(data_mod.quantize(rgb, bench.palette).reshape(truth.shape), truth, edge, flat)

    out.update(bench.over_networks(measure))
    return out


def view(found: dict[str, Any] | None, networks: tuple[Network, ...]) -> Fields:
    return Fields("analysis.edges", seeded_rows("analysis.edges", found, networks, METRICS))


def show(page: Page, found: dict[str, Any], v: Fields, networks: tuple[Network, ...]) -> list[Item]:
    rows = [[cell(n.label), cell(v[n.name]["seeds"], numeric=True)] + [spread(v[n.name], m) for m in METRICS]
            for n in networks if n.name in found]
    return [table(
        f"Do the colours follow the grey image's edges? Over all {found['test_images']:,} test images, output "
        f"and truth snapped to the palette: accuracy on the {EDGE_SHARE:.0%} of pixels with the strongest "
        f"edges of the grey image and on the flattest {FLAT_SHARE:.0%}, and the edge penalty (flat minus edge "
        "accuracy: how much worse the colours are where the image changes); mean ± standard deviation over seeds",
        ["Network", ("Seeds", True), ("Accuracy at edges", True), ("Accuracy in flat regions", True),
         ("Edge penalty (points)", True)], rows)]


MEASUREMENT = register(Measurement("edges", compute, view, show, reads=Reads()))
