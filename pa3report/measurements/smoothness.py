"""How smooth the training curves of the batch-size runs are (3.3).

A curve's roughness is the mean absolute second difference of its per-epoch values
(|v[e+1] − 2·v[e] + v[e−1]|): zero for any straight or gently bending curve, large when
the value jumps up and down from one epoch to the next. It is read from the recorded
histories, per seed, for the validation accuracy and the training loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..fields import Fields
from ..page import Item, Page, cell, table
from . import Bench, Measurement, Network, register, seeded_rows, spread
from .batch_scaling import BATCH_RUNS

METRICS = ("val_acc", "train_loss")


def roughness(values: np.ndarray) -> float:
    """Mean absolute second difference of a curve (NaN for fewer than three points)."""
    v = np.asarray(values, float)
    return float(np.abs(np.diff(v, 2)).mean()) if len(v) >= 3 else float("nan")


def compute(bench: Bench) -> dict[str, Any]:
    found = bench.over_networks(lambda r: {m: roughness(r.result.history[m].to_numpy())  # type: ignore[union-attr]
                                                 for m in METRICS})
    settings = {base: bench.entry(base)[0].experiment for base in found}
    return {base: {"batch_size": settings[base].batch_size, "learn_rate": settings[base].learn_rate, **v}
            for base, v in found.items()}


def view(found: dict[str, Any] | None, networks: tuple[Network, ...]) -> Fields:
    return Fields("analysis.smoothness", seeded_rows("analysis.smoothness", found, networks, METRICS))


def show(page: Page, found: dict[str, Any], v: Fields, networks: tuple[Network, ...]) -> list[Item]:
    rows = [[cell(base), cell(found[base]["batch_size"], numeric=True),
             cell(f'{found[base]["learn_rate"]:g}', numeric=True), cell(v[base]["seeds"], numeric=True),
             spread(v[base], "val_acc", digits=2), spread(v[base], "train_loss", digits=4)]
            for base in (n.name for n in networks) if base in found]
    return [table(
        "How much each curve jumps from epoch to epoch: roughness, the mean absolute second difference of the "
        "per-epoch values (0 for a straight or gently bending curve); mean ± standard deviation over seeds",
        ["Run", ("Batch", True), ("Learning rate", True), ("Seeds", True), ("Roughness of val accuracy (points)", True),
         ("Roughness of train loss", True)], rows)]


MEASUREMENT = register(Measurement("smoothness", compute, view, show, reads=BATCH_RUNS,
                                   needs_data=False, cache=False))
