"""The analysis measurements (analysis.py) as the report uses them.

`measure` runs them once per report over exactly the cached runs they read, so a run that
no measurement reads (a sweep point, say) never invalidates their cache. `view` turns the
outcome into the plain, always complete structure that answers quote and tables print:
every name exists even while a run is missing (its numbers are then NaN, shown as n/a),
so `check` can validate an answer before anything is computed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np

from . import analysis
from .answers import Fields

if TYPE_CHECKING:  # evidence imports this module
    from .evidence import RunInfo
    from .runner import Inputs
    from .store import RunResult

ANALYSIS_DIR = "analysis"  # under the build folder
NAN = float("nan")

# (key in the analysis output, name in answers, label in tables), in table order.
COLOURFULNESS_ROWS = (
    ("ground truth", "truth", "ground truth"),
    ("ground truth on the palette", "palette", "ground truth snapped to the palette"),
    ("p1_regression", "p1_regression", "regression (RegressionCNN, squared error)"),
    ("p2_cnn", "p2_cnn", "classification CNN"),
    ("p3_unet", "p3_unet", "classification UNet"),
)
SR_ROWS = (
    ("p4_sr_cnn", "p4_sr_cnn", "CNN"),
    ("p4_sr_unet", "p4_sr_unet", "UNet"),
    ("bicubic", "bicubic", "bicubic interpolation"),
    ("bilinear", "bilinear", "bilinear interpolation"),
    ("nearest (network input)", "nearest", "nearest neighbour (the network's input)"),
    ("palette ceiling", "ceiling", "ground truth snapped to the palette"),
)
SR_METRICS = ("psnr", "ssim", "palette_acc")
COLOURFULNESS_METRICS = ("chroma", "saturation", "vivid")
LARGE_KEYS = ("horses_32", "horses_64", "horses_128", "photos_128", "photos_256")
RELU_FIELDS = ("max_abs_diff_eval", "max_abs_diff_train", "relu_then_pool_forward_ms",
               "pool_then_relu_forward_ms", "relu_then_pool_train_step_ms", "pool_then_relu_train_step_ms")


# --------------------------------------------------------------------------- running


def needed(runs: Mapping[str, RunInfo], what: str) -> list[RunInfo]:
    """The runs of the list that one measurement reads (every seed of a group, or one run)."""
    groups = analysis.GROUPS_READ.get(what, ())
    names = analysis.RUNS_READ.get(what, ())
    return [r for r in runs.values() if r.experiment.base in groups or r.name in names]


def results_read(runs: Mapping[str, RunInfo]) -> dict[str, RunResult]:
    """The available results that any measurement reads, by run name."""
    wanted = {r.name for what in (*analysis.GROUPS_READ, *analysis.RUNS_READ) for r in needed(runs, what)}
    return {n: runs[n].result for n in sorted(wanted) if runs[n].result is not None}  # type: ignore[misc]


def measure(runs: Mapping[str, RunInfo], inputs: Inputs | None, palette: np.ndarray, build: Path,
            compute: bool = True) -> dict[str, Any] | None:
    """The analysis of these runs: computed (reading the test images) or, with compute=False,
    only what is already stored. None without data (nothing to measure on)."""
    if inputs is None:
        return None
    results = results_read(runs)
    cache = build / ANALYSIS_DIR
    if not compute:
        return analysis.cached(results, inputs.identity, palette, cache)
    return analysis.compute(results, inputs.identity, lambda: inputs.horses.test, palette, cache)


# --------------------------------------------------------------------------- the view


def _entry(owner: str, values: Mapping[str, Any] | None, metrics: Iterable[str]) -> Fields:
    """One row: each metric's mean (also under .mean) and standard deviation (.sd, and m_sd).

    A measurement over seeds stores (mean, sd); one seed says nothing about the spread (NaN).
    A deterministic one (an interpolation, the ground truth) stores a number: its sd is 0.
    """
    seeds = int(values.get("seeds", 0)) if values else 0
    means, sds = {}, {}
    for m in metrics:
        v = values.get(m, NAN) if values else NAN
        if isinstance(v, (tuple, list)):
            means[m], sds[m] = float(v[0]), float(v[1]) if seeds > 1 else NAN
        else:
            means[m], sds[m] = float(v), 0.0 if values else NAN
    return Fields(owner, {**means, **{f"{m}_sd": s for m, s in sds.items()}, "seeds": seeds,
                          "available": values is not None,
                          "mean": Fields(f"{owner}.mean", means), "sd": Fields(f"{owner}.sd", sds)})


def _rows(owner: str, found: Mapping[str, Any], rows: Iterable[tuple[str, str, str]],
          metrics: tuple[str, ...]) -> Fields:
    return Fields(owner, {name: _entry(f"{owner}.{name}", found.get(key), metrics) for key, name, _ in rows})


def _pairs(found: list[dict[str, Any]]) -> Fields:
    de = [p["delta_e"] for p in found]
    lo, hi = (int(np.argmin(de)), int(np.argmax(de))) if de else (None, None)
    return Fields("analysis.pairs", {
        "count": len(found),
        "rgb_distance": float(found[0]["rgb_distance"]) if found else NAN,
        "delta_e_min": de[lo] if lo is not None else NAN, "delta_e_max": de[hi] if hi is not None else NAN,
        "least_visible": found[lo]["pair"] if lo is not None else "n/a",
        "most_visible": found[hi]["pair"] if hi is not None else "n/a"})


def _palette(found: Mapping[str, Any] | None) -> Fields:
    """The correlation, plus how much ΔE varies among palette pairs of about the median RGB distance."""
    out = {"correlation": NAN, "pairs": 0, "band_rgb": NAN, "band_count": 0, "band_delta_e_min": NAN,
           "band_delta_e_max": NAN}
    if found and found["rgb"]:
        rgb, de = np.asarray(found["rgb"]), np.asarray(found["delta_e"])
        centre = float(np.median(rgb))
        band = np.abs(rgb - centre) <= 0.05
        out.update(correlation=float(found["correlation"]), pairs=len(rgb), band_rgb=centre,
                   band_count=int(band.sum()), band_delta_e_min=float(de[band].min()),
                   band_delta_e_max=float(de[band].max()))
    return Fields("analysis.palette", out)


def _large(found: Mapping[str, Any]) -> Fields:
    out = {}
    for key in LARGE_KEYS:
        v = found.get(key)
        out[key] = Fields(f"analysis.large.{key}", {
            "size": int(key.rsplit("_", 1)[1]), "images": int(v["grey"].shape[0]) if v else 0,
            "acc_direct": float(v["acc_direct"]) if v else NAN, "acc_via32": float(v["acc_via32"]) if v else NAN})
    return Fields("analysis.large", out)


def view(found: Mapping[str, Any] | None) -> Fields:
    """What answers see as `analysis`: every measurement with NaN where it is not available."""
    found = found or {}
    relu = found.get("relu_maxpool", {})
    rf = found.get("receptive_field", {})
    return Fields("analysis", {
        "available": bool(found),
        "pairs": _pairs(found.get("colour_pairs", [])),
        "palette": _palette(found.get("palette_distances")),
        "colourfulness": _rows("analysis.colourfulness", found.get("colourfulness", {}), COLOURFULNESS_ROWS,
                               COLOURFULNESS_METRICS),
        "sr_quality": _rows("analysis.sr_quality", found.get("sr_quality", {}), SR_ROWS, SR_METRICS),
        "relu_maxpool": Fields("analysis.relu_maxpool", {k: float(relu.get(k, NAN)) for k in RELU_FIELDS}),
        "receptive_field": Fields("analysis.receptive_field", {
            name: float(rf[name]) if name in rf else NAN for name in analysis.RUNS_READ["receptive_field"]}),
        "large": _large(found.get("large", {})),
    })
