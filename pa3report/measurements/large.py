"""Colourizing images larger than the 32×32 training images, whole or via 32×32 (6.3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import data as data_mod
from .. import mosaics
from ..fields import Fields
from ..fsutil import content_key
from ..page import Item, Page, cell, table
from . import NAN, Bench, Measurement, Reads, register

RUN = "p3_unet"
KEYS = ("horses_32", "horses_64", "horses_128", "photos_128", "photos_256")
HORSES = 4  # test horses enlarged to each size
SHOWN = 2  # images per size in the figures (the table counts them all)
IMAGES = ("grey", "truth", "direct", "via32")


def sample_photos(size: int) -> torch.Tensor:
    """Square centre crops of the photographs scikit-learn ships, resized to `size`."""
    from sklearn.datasets import load_sample_images

    photos = []
    for image in load_sample_images().images:
        t = torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255.0
        side = min(t.shape[1:])
        top, left = (t.shape[1] - side) // 2, (t.shape[2] - side) // 2
        crop = t[:, top:top + side, left:left + side][None]
        photos.append(F.interpolate(crop, size=(size, size), mode="area")[0])
    return torch.stack(photos)


@torch.inference_mode()
def colourize_large(model: nn.Module, rgb: torch.Tensor, palette: torch.Tensor) -> dict[str, Any]:
    """Greyscale in, colours out at the image's own size, and the 32x32 detour for comparison."""
    grey = data_mod.greyscale(rgb)
    direct = data_mod.decode(model(grey).argmax(1), palette)
    size = rgb.shape[-1]
    small = F.interpolate(grey, size=(32, 32), mode="area")
    via32 = F.interpolate(data_mod.decode(model(small).argmax(1), palette), size=(size, size), mode="nearest")
    truth_cls = data_mod.quantize(rgb, palette)
    acc = lambda img: 100.0 * float((data_mod.quantize(img, palette) == truth_cls).float().mean())
    return {"grey": grey, "truth": rgb, "direct": direct, "via32": via32,
            "acc_direct": acc(direct), "acc_via32": acc(via32)}


def compute(bench: Bench) -> dict[str, Any]:
    model = bench.model(RUN)
    horses = bench.truth[:HORSES]
    found: dict[str, Any] = {}
    for size in (32, 64, 128):
        up = horses if size == 32 else F.interpolate(horses, size=(size, size), mode="bicubic",
                                                     align_corners=False).clamp(0, 1)
        found[f"horses_{size}"] = colourize_large(model, up, bench.palette)
    for size in (128, 256):
        found[f"photos_{size}"] = colourize_large(model, sample_photos(size), bench.palette)
    return {name: {**v, **{t: v[t].half() for t in IMAGES}} for name, v in found.items()}


def view(found: dict[str, Any] | None) -> Fields:
    found = found or {}
    return Fields("analysis.large", {key: Fields(f"analysis.large.{key}", {
        "size": int(key.rsplit("_", 1)[1]), "images": int(found[key]["grey"].shape[0]) if key in found else 0,
        "acc_direct": float(found[key]["acc_direct"]) if key in found else NAN,
        "acc_via32": float(found[key]["acc_via32"]) if key in found else NAN}) for key in KEYS})


def show(page: Page, found: dict[str, Any], v: Fields) -> list[Item]:
    columns = ["grey input", "direct (whole image)", "via 32×32 and back", "ground truth"]
    items: list[Item] = []
    for kind, label, what in (("horses", "horse", "test horses enlarged from 32×32 (bicubic)"),
                              ("photos", "photo", "the photographs that scikit-learn ships")):
        keys = [k for k in KEYS if k.startswith(kind) and k in found]
        if not keys:
            continue

        def draw(path: Path, keys: list[str] = keys, label: str = label) -> None:
            rows = [(f"{label} {i + 1}, {found[k]['grey'].shape[-1]}×{found[k]['grey'].shape[-1]}",
                     [found[k][t][i].float() for t in ("grey", "direct", "via32", "truth")])
                    for i in range(SHOWN) for k in keys if i < len(found[k]["grey"])]
            mosaics.image_table(path, rows, columns)

        items.append(page.maker.make(
            f"img/q6-3-{kind}.png", {"large": content_key({k: found[k] for k in keys}), "shown": SHOWN},
            draw, alt=f"{RUN} colourizing {what} at several sizes",
            caption=f"{RUN}, trained on 32×32 images, on {what}: the grey image goes in whole "
                    "(direct), or is shrunk to 32×32, colourized, and its colours enlarged back (via 32×32). "
                    "Every image is drawn at about the same size."))
    rows = []
    for key in (k for k in KEYS if k in found):
        e = v[key]
        rows.append([cell(key.split("_")[0]), cell(f"{e['size']}×{e['size']}", numeric=True),
                     cell(e["images"], numeric=True),
                     cell(f"{e['acc_direct']:.1f}%", numeric=True, best=e["acc_direct"] > e["acc_via32"]),
                     cell(f"{e['acc_via32']:.1f}%", numeric=True, best=e["acc_via32"] > e["acc_direct"])])
    items.append(table("Palette accuracy of both ways against the ground truth snapped to the palette "
                       "(the better one for each size is highlighted)",
                       ["Images", ("Size", True), ("Count", True), ("Direct", True), ("Via 32×32", True)], rows))
    return items


MEASUREMENT = register(Measurement("large", compute, view, show, reads=Reads(runs=(RUN,))))
