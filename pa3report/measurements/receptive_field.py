"""The input region that can change one output pixel, measured by backpropagation (6.3)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ..fields import Fields
from ..page import Item, Page, note
from . import NAN, Bench, Measurement, Reads, register

RUNS = ("p2_cnn", "p3_unet")


def receptive_field(model: nn.Module, in_channels: int, size: int = 96) -> int:
    """Width of the input region that can change the centre output pixel (measured)."""
    x = torch.randn(1, in_channels, size, size, requires_grad=True)
    model.eval()
    out = model(x)
    out[0, :, size // 2, size // 2].sum().backward()
    cols = torch.nonzero(x.grad[0].abs().sum(0).sum(0))
    return int(cols.max() - cols.min() + 1) if len(cols) else 0


def compute(bench: Bench) -> dict[str, int]:
    return {name: receptive_field(bench.model(name), 1) for name in RUNS}


def view(found: dict[str, Any] | None) -> Fields:
    found = found or {}
    return Fields("analysis.receptive_field", {name: float(found[name]) if name in found else NAN for name in RUNS})


def show(page: Page, found: dict[str, int], v: Fields) -> list[Item]:
    text = " and ".join(f"{name} {int(px)}×{int(px)}" for name, px in found.items())
    px = max(found.values())
    return [note(f"Measured receptive field (the input pixels that can change one output pixel, "
                 f"found by backpropagating from one output pixel): {text} pixels. That is "
                 f"{min(px / 32, 1):.0%} of the width of a 32×32 training image, but only "
                 f"{px / 128:.0%} of a 128-pixel and {px / 256:.0%} of a 256-pixel image.")]


MEASUREMENT = register(Measurement("receptive_field", compute, view, show, reads=Reads(runs=RUNS)))
