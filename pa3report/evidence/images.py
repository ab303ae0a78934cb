"""Images: fixed test images through each run, activation galleries, and the palette."""

from __future__ import annotations

from pathlib import Path

from .. import data as data_mod
from .. import figures, mosaics
from ..fsutil import sha256_bytes
from ..models import BLOCKS
from ..outline import Evidence, Question
from ..page import Item, Page
from . import piece
from .training import label


@piece("samples")
def samples(page: Page, q: Question, ev: Evidence) -> list[Item]:
    runs, items = page.split(ev.tags, ev.sort)
    if not runs:
        return items

    def draw(path: Path) -> None:
        first = runs[0].samples()
        rows = [("input", first["input"]), ("ground truth", first["truth"])]
        rows += [(label(r, ev), r.samples()["prediction"]) for r in runs]
        bilinear = next((r.samples()["bilinear"] for r in runs if "bilinear" in r.samples()), None)
        if bilinear is not None:
            rows.append(("bilinear", bilinear))
            rows.append(("bicubic", data_mod.bicubic_baseline(first["truth"].float())))
        mosaics.sample_grid(path, rows)

    has_bilinear = any(r.experiment.task == "super_resolution" for r in runs)
    items.append(page.maker.make(
        f"img/{q.anchor}-samples.png", {"runs": [(r.name, r.fingerprint) for r in runs],
                                         "labels": [label(r, ev) for r in runs]},
        draw, alt=f"Fixed test images: input, ground truth and the predictions of "
                  f"{', '.join(r.name for r in runs)}",
        caption="The same fixed test images in every row: input, ground truth, then each run's "
                "prediction" + (", then bilinear and bicubic upsampling of the small input."
                                if has_bilinear else ".")))
    return items


@piece("gallery")
def gallery(page: Page, q: Question, ev: Evidence) -> list[Item]:
    """Every block's output channels of the first tagged run, one page of tiles per test image."""
    runs, items = page.split(ev.tags, ev.sort)
    if not runs:
        return items
    run = runs[0]
    order = list(BLOCKS)
    figs = []
    for i in range(data_mod.GALLERY_COUNT):
        def draw(path: Path, i: int = i) -> None:
            smp = run.samples()
            acts = smp["activations"]
            blocks = [(name, acts[name][i]) for name in order if name in acts]
            mosaics.activation_gallery(
                path, f"{run.name} ({run.experiment.model}, {run.experiment.task}), test image {i}",
                [("input", smp["input"][i]), ("ground truth", smp["truth"][i]),
                 ("output", smp["prediction"][i])], blocks)

        figs.append(page.maker.make(
            f"activations/{run.name}/act{i}.png", {"run": (run.name, run.fingerprint), "image": i}, draw,
            alt=f"Activations of every block of {run.name} for test image {i}",
            caption=f"Test image {i}: input, ground truth, output, then each block's channels "
                    "(one tile per channel, each scaled to its own range; flat purple = constant)."))
        figs[-1]["file"] = f"act{i}.png"
    items.append({"kind": "gallery", "run": run.name, "figures": figs,
                  "index": f"activations/{run.name}/index.html"})
    return items


@piece("palette_swatch")
def palette_swatch(page: Page, q: Question, ev: Evidence) -> list[Item]:
    return [page.maker.make(
        "img/palette.png", {"palette": sha256_bytes(page.palette.tobytes())},
        lambda p: figures.palette_swatch(p, page.palette),
        alt=f"The {len(page.palette)} palette colours",
        caption=f"The {len(page.palette)} class colours (k-means centres of training pixels): "
                "the classifier picks one of these per pixel.")]
