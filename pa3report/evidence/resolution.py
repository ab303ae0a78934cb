"""The super-resolution data: what the transform does to one image, computed by running it."""

from __future__ import annotations

from pathlib import Path

import torch

from .. import data as data_mod
from .. import mosaics
from ..outline import Evidence, Question
from ..page import Item, Page, cell, note, table
from . import piece


def sr_shapes() -> dict[str, tuple[int, ...]]:
    """Shapes that the super-resolution transform produces for one 32×32 image."""
    x = torch.zeros(1, 3, 32, 32)
    return {"target": tuple(x.shape[1:]), "small": tuple(data_mod.downsample(x).shape[1:]),
            "input": tuple(data_mod.super_resolution_input(x).shape[1:])}


@piece("resolution")
def resolution(page: Page, q: Question, ev: Evidence) -> list[Item]:
    shapes = sr_shapes()
    t, s, i = shapes["target"], shapes["small"], shapes["input"]
    factor = t[-1] // s[-1]
    rows = [
        [cell("ground truth (the target)"), cell("×".join(map(str, t)), numeric=True),
         cell(f"{t[1] * t[2]:,}", numeric=True)],
        [cell("downsampled: 2×2 average pooling, twice"), cell("×".join(map(str, s)), numeric=True),
         cell(f"{s[1] * s[2]:,}", numeric=True)],
        [cell("network input: nearest-neighbour ×2, twice"), cell("×".join(map(str, i)), numeric=True),
         cell(f"{i[1] * i[2]:,} ({s[1] * s[2]} distinct)", numeric=True)],
    ]
    items = [table("What the super-resolution transform does to one image (computed by running it)",
                   ["Stage", ("Tensor C×H×W", True), ("Pixels per channel", True)], rows),
             note(f"The information in the input is {s[1]}×{s[2]}; the output is {t[1]}×{t[2]}: "
                  f"{factor}× more pixels per side, {factor * factor}× more in total.")]
    runs, waiting = page.split(ev.tags, ev.sort)
    items += waiting
    if runs:
        run = runs[0]

        def draw(path: Path) -> None:
            smp = run.samples()
            truth = smp["truth"][:1].float()
            stages = [(f"ground truth {t[1]}×{t[2]}", truth[0]),
                      (f"downsampled {s[1]}×{s[2]}", data_mod.downsample(truth)[0]),
                      (f"network input {i[1]}×{i[2]}", data_mod.super_resolution_input(truth)[0]),
                      (f"{run.experiment.model} output", smp["prediction"][0])]
            if "bilinear" in smp:
                stages.append(("bilinear", smp["bilinear"][0]))
            mosaics.resolution_stages(path, stages)

        items.append(page.maker.make(
            f"img/{q.anchor}-stages.png", {"run": (run.name, run.fingerprint)}, draw,
            alt="One test image at each stage of the super-resolution pipeline",
            caption="One test image through the pipeline, every stage drawn at the same size."))
    return items
