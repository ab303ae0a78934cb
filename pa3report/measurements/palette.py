"""RGB distance against perceived difference (CIEDE2000) for every pair of palette colours (1.4)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import figures
from ..fields import Fields
from ..fsutil import content_key
from ..page import Item, Page
from . import NAN, Bench, Measurement, register

BAND = 0.05  # RGB distances this close to the median count as "about the same"


def palette_distances(palette: np.ndarray) -> dict[str, Any]:
    from skimage.color import deltaE_ciede2000, rgb2lab

    lab = rgb2lab(palette[None].astype(np.float64))[0]
    i, j = np.triu_indices(len(palette), 1)
    rgb_d = np.linalg.norm(palette[i] - palette[j], axis=1)
    de = deltaE_ciede2000(lab[i], lab[j])
    return {"rgb": rgb_d.tolist(), "delta_e": de.tolist(), "correlation": float(np.corrcoef(rgb_d, de)[0, 1])}


def compute(bench: Bench) -> dict[str, Any]:
    return palette_distances(bench.palette_np)


def view(found: dict[str, Any] | None) -> Fields:
    """The correlation, plus how much ΔE varies among pairs of about the median RGB distance."""
    out = {"correlation": NAN, "pairs": 0, "band_rgb": NAN, "band_count": 0, "band_delta_e_min": NAN,
           "band_delta_e_max": NAN}
    if found and found["rgb"]:
        rgb, de = np.asarray(found["rgb"]), np.asarray(found["delta_e"])
        centre = float(np.median(rgb))
        band = np.abs(rgb - centre) <= BAND
        out.update(correlation=float(found["correlation"]), pairs=len(rgb), band_rgb=centre,
                   band_count=int(band.sum()), band_delta_e_min=float(de[band].min()),
                   band_delta_e_max=float(de[band].max()))
    return Fields("analysis.palette", out)


def show(page: Page, found: dict[str, Any], p: Fields) -> list[Item]:
    return [page.maker.make(
        "img/palette-distances.png", {"palette": content_key(found)},
        lambda path: figures.distance_scatter(path, found["rgb"], found["delta_e"], found["correlation"]),
        alt="Perceived difference against RGB distance for every pair of palette colours",
        caption=f"All {p['pairs']} pairs of the {len(page.palette)} palette colours. The "
                f"{p['band_count']} pairs about {p['band_rgb']:.2f} apart in RGB (the median distance, "
                f"±{BAND:g}) range from ΔE {p['band_delta_e_min']:.0f} to {p['band_delta_e_max']:.0f}: "
                f"RGB distance follows the broad trend (r = {p['correlation']:.2f}), but at one RGB distance "
                "the perceived difference can still differ by a factor of "
                f"{p['band_delta_e_max'] / p['band_delta_e_min']:.1f}.")]


MEASUREMENT = register(Measurement("palette", compute, view, show))
