"""Colourizing images larger than the 32×32 training images (6.3), three ways: the whole image
at once (direct); shrunk to 32×32, colourized and enlarged back (via 32×32); and colourized at
32×32 with only its colour (CIELAB a*b*) enlarged and put under the full-size grey image's own
lightness (chroma only): if colour is a low-frequency signal, the last keeps every detail.

It reads the first seed of the entry whose `measured` table names large (the first such entry,
should several name it)."""

from __future__ import annotations

import warnings
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
from ..trained import delta_e2000, lab
from . import NAN, Bench, Measurement, Network, Reads, register

KEYS = ("horses_32", "horses_64", "horses_128", "photos_128", "photos_256")
HORSES = 4  # test horses enlarged to each size
SHOWN = 2  # images per size in the figures (the table counts them all)
IMAGES = ("grey", "truth", "direct", "via32", "chroma")
PATHS = ("direct", "via32", "chroma")


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


def chroma_under_lightness(grey: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    """The a*b* of a (smaller) colour image, enlarged bilinearly, with the lightness of the full-size
    grey image: (N, 1, H, W) grey and (N, 3, h, w) colour -> (N, 3, H, W) RGB."""
    from skimage.color import lab2rgb

    size = grey.shape[-2:]
    ab = torch.from_numpy(lab(colour)[..., 1:]).permute(0, 3, 1, 2).float()
    ab = F.interpolate(ab, size=size, mode="bilinear", align_corners=False)
    lightness = torch.from_numpy(lab(grey.expand(-1, 3, -1, -1))[..., :1]).permute(0, 3, 1, 2).float()
    out = torch.cat([lightness, ab], dim=1).permute(0, 2, 3, 1).double().numpy()
    with warnings.catch_warnings():  # colours outside the sRGB gamut are clipped to it, as intended
        warnings.simplefilter("ignore", UserWarning)
        rgb = lab2rgb(out)
    return torch.from_numpy(rgb).permute(0, 3, 1, 2).float()


@torch.inference_mode()
def colourize_large(model: nn.Module, rgb: torch.Tensor, palette: torch.Tensor) -> dict[str, Any]:
    """Greyscale in, colours out at the image's own size, and the 32x32 detour for comparison."""
    grey = data_mod.greyscale(rgb)
    direct = data_mod.decode(model(grey).argmax(1), palette)
    size = rgb.shape[-1]
    small = F.interpolate(grey, size=(32, 32), mode="area")
    colour32 = data_mod.decode(model(small).argmax(1), palette)
    via32 = F.interpolate(colour32, size=(size, size), mode="nearest")
    chroma = chroma_under_lightness(grey, colour32)
    truth_cls = data_mod.quantize(rgb, palette)
    acc = lambda img: 100.0 * float((data_mod.quantize(img, palette) == truth_cls).float().mean())
    out: dict[str, Any] = {"grey": grey, "truth": rgb, "direct": direct, "via32": via32, "chroma": chroma}
    for path in PATHS:
        out[f"acc_{path}"], out[f"de_{path}"] = acc(out[path]), delta_e2000(out[path], rgb)
    return out


def compute(bench: Bench) -> dict[str, Any]:
    model = bench.model(bench.networks[0].name)
    horses = bench.truth[:HORSES]
    found: dict[str, Any] = {}
    for size in (32, 64, 128):
        up = horses if size == 32 else F.interpolate(horses, size=(size, size), mode="bicubic",
                                                     align_corners=False).clamp(0, 1)
        found[f"horses_{size}"] = colourize_large(model, up, bench.palette)
    for size in (128, 256):
        found[f"photos_{size}"] = colourize_large(model, sample_photos(size), bench.palette)
    return {name: {**v, **{t: v[t].half() for t in IMAGES}} for name, v in found.items()}


def view(found: dict[str, Any] | None, networks: tuple[Network, ...]) -> Fields:
    """Each size's numbers, and the run they are of."""
    found = found or {}
    sizes = {key: Fields(f"analysis.large.{key}", {
        "size": int(key.rsplit("_", 1)[1]), "images": int(found[key]["grey"].shape[0]) if key in found else 0,
        **{f"{m}_{path}": float(found[key][f"{m}_{path}"]) if key in found else NAN
           for m in ("acc", "de") for path in PATHS}}) for key in KEYS}
    return Fields("analysis.large", {"run": networks[0].name if networks else "n/a", **sizes})


def show(page: Page, found: dict[str, Any], v: Fields, networks: tuple[Network, ...]) -> list[Item]:
    run = networks[0].name
    columns = ["grey input", "direct (whole image)", "via 32×32 and back", "chroma only", "ground truth"]
    items: list[Item] = []
    for kind, label, what in (("horses", "horse", "test horses enlarged from 32×32 (bicubic)"),
                              ("photos", "photo", "the photographs that scikit-learn ships")):
        keys = [k for k in KEYS if k.startswith(kind) and k in found]
        if not keys:
            continue

        def draw(path: Path, keys: list[str] = keys, label: str = label) -> None:
            rows = [(f"{label} {i + 1}, {found[k]['grey'].shape[-1]}×{found[k]['grey'].shape[-1]}",
                     [found[k][t][i].float() for t in ("grey", "direct", "via32", "chroma", "truth")])
                    for i in range(SHOWN) for k in keys if i < len(found[k]["grey"])]
            mosaics.image_table(path, rows, columns)

        items.append(page.maker.make(
            f"img/q6-3-{kind}.png", {"large": content_key({k: found[k] for k in keys}), "shown": SHOWN},
            draw, alt=f"{run} colourizing {what} at several sizes",
            caption=f"{run}, trained on 32×32 images, on {what}: the grey image goes in whole "
                    "(direct), or is shrunk to 32×32, colourized, and its colours enlarged back (via 32×32), or "
                    "only its colour (CIELAB a*b*) is enlarged and put under the full-size lightness (chroma "
                    "only). Every image is drawn at about the same size."))
    rows = []
    for key in (k for k in KEYS if k in found):
        e = v[key]
        best_acc = max(PATHS, key=lambda p: e[f"acc_{p}"])
        best_de = min(PATHS, key=lambda p: e[f"de_{p}"])
        rows.append([cell(key.split("_")[0]), cell(f"{e['size']}×{e['size']}", numeric=True),
                     cell(e["images"], numeric=True)]
                    + [cell(f"{e[f'acc_{p}']:.1f}%", numeric=True, best=p == best_acc) for p in PATHS]
                    + [cell(f"{e[f'de_{p}']:.2f}", numeric=True, best=p == best_de) for p in PATHS])
    items.append(table("The three ways against the ground truth: palette accuracy (against the truth snapped to "
                       "the palette; higher is better) and mean CIEDE2000 colour difference per pixel (ΔE2000, "
                       "lower is better); the best way for each size is highlighted",
                       ["Images", ("Size", True), ("Count", True), ("Accuracy: direct", True),
                        ("via 32×32", True), ("chroma only", True), ("ΔE2000: direct", True),
                        ("via 32×32", True), ("chroma only", True)], rows))
    return items


MEASUREMENT = register(Measurement("large", compute, view, show, reads=Reads(first_seeds=True)))
