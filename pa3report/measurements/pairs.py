"""Colour pairs the same RGB distance apart whose perceived difference (CIEDE2000) is not (1.4)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import figures
from ..fields import Fields
from ..fsutil import content_key
from ..page import Item, Page, cell, table
from . import NAN, Bench, Measurement, register

STEP = 0.15  # how far one channel moves
PAIRS = (
    ("dark grey, +blue", (0.1, 0.1, 0.1), (0.1, 0.1, 0.1 + STEP)),
    ("dark grey, +green", (0.1, 0.1, 0.1), (0.1, 0.1 + STEP, 0.1)),
    ("mid grey, +blue", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5 + STEP)),
    ("mid grey, +green", (0.5, 0.5, 0.5), (0.5, 0.5 + STEP, 0.5)),
    ("light grey, −blue", (0.85, 0.85, 0.85), (0.85, 0.85, 0.85 - STEP)),
    ("brown, +red", (0.45, 0.3, 0.15), (0.45 + STEP, 0.3, 0.15)),
    ("brown, +green", (0.45, 0.3, 0.15), (0.45, 0.3 + STEP, 0.15)),
    ("sky blue, +red", (0.4, 0.6, 0.85), (0.4 + STEP, 0.6, 0.85)),
)


def colour_pairs(pairs: Sequence[tuple[str, Sequence[float], Sequence[float]]] = PAIRS) -> list[dict[str, Any]]:
    """RGB distance and CIEDE2000 difference of each pair."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    rows = []
    for label, a, b in pairs:
        la, lb = (rgb2lab(np.array([[c]], dtype=np.float64))[0, 0] for c in (a, b))
        rows.append({"pair": label, "rgb_a": tuple(a), "rgb_b": tuple(b),
                     "rgb_distance": float(np.linalg.norm(np.subtract(a, b))),
                     "delta_e": float(deltaE_ciede2000(la, lb))})
    return rows


def compute(bench: Bench) -> list[dict[str, Any]]:
    return colour_pairs()


def view(found: list[dict[str, Any]] | None) -> Fields:
    found = found or []
    de = [p["delta_e"] for p in found]
    lo, hi = (int(np.argmin(de)), int(np.argmax(de))) if de else (None, None)
    return Fields("analysis.pairs", {
        "count": len(found),
        "rgb_distance": float(found[0]["rgb_distance"]) if found else NAN,
        "delta_e_min": de[lo] if lo is not None else NAN, "delta_e_max": de[hi] if hi is not None else NAN,
        "least_visible": found[lo]["pair"] if lo is not None else "n/a",
        "most_visible": found[hi]["pair"] if hi is not None else "n/a"})


def _rgb_text(rgb: Sequence[float]) -> str:
    return "(" + ", ".join(f"{c:.2f}" for c in rgb) + ")"


def show(page: Page, pairs: list[dict[str, Any]], v: Fields) -> list[Item]:
    rows = [[cell(p["pair"]), cell(f"{_rgb_text(p['rgb_a'])} → {_rgb_text(p['rgb_b'])}"),
             cell(f"{p['rgb_distance']:.2f}", numeric=True),
             cell(f"{p['delta_e']:.1f}", numeric=True, best=p["delta_e"] == v["delta_e_max"])]
            for p in pairs]
    return [
        page.maker.make(
            "img/colour-pairs.png", {"pairs": content_key(pairs)},
            lambda path: figures.colour_pairs(
                path, [(f"{p['pair']}\nΔE {p['delta_e']:.1f}", p["rgb_a"], p["rgb_b"]) for p in pairs]),
            alt="Colour pairs that are equally far apart in RGB, with their perceived difference",
            caption=f"Every pair is {v['rgb_distance']:.2f} apart in RGB (one channel moved); the perceived "
                    "difference ΔE (CIEDE2000) under each pair is not."),
        table("Same RGB distance, different perceived difference (ΔE: CIEDE2000, computed in CIELAB; about 1 "
              "is just noticeable); the most visible change is highlighted",
              ["Pair", "RGB values", ("RGB distance", True), ("ΔE (CIEDE2000)", True)], rows),
    ]


MEASUREMENT = register(Measurement("pairs", compute, view, show))
