"""Batch size with the learning rate held or scaled with it (3.3).

With a fixed learning rate, a larger batch takes fewer optimizer steps per epoch, so after the
same epochs it has moved less. Scaling the learning rate with the batch (lr × batch / 100, the
linear rule) gives every step a size in proportion to the data it averages: if small batches
still win after that, their advantage is not only the number of updates. Read from the run
histories at the last epoch; the train–val gap is validation loss minus training loss (the
training loss is the mean over the epoch's batches, in training mode).
"""

from __future__ import annotations

import math
from typing import Any

from .. import figures
from ..fields import Fields
from ..formats import mean_sd
from ..page import Item, Page, cell, table
from . import Bench, Measurement, Reads, register, seeded_row

BASELINE = "p3_unet"
FIXED = ("p3_unet_bs20", "p3_unet_bs50", "p3_unet", "p3_unet_bs250", "p3_unet_bs500")
SCALED = ("p3_unet_bs20_lr", "p3_unet_bs500_lr")
ENTRIES = FIXED + SCALED
METRICS = ("val_acc", "val_loss", "train_loss", "overfit")


def final(history) -> dict[str, float]:
    last = history.iloc[-1]
    return {"val_acc": float(last["val_acc"]), "val_loss": float(last["val_loss"]),
            "train_loss": float(last["train_loss"]), "overfit": float(last["val_loss"] - last["train_loss"])}


def compute(bench: Bench) -> dict[str, Any]:
    found = bench.over_seeds(ENTRIES, lambda r: final(r.result.history))  # type: ignore[union-attr]
    for base, row in found.items():
        e = bench.entry(base)[0].experiment
        row.update(batch_size=e.batch_size, learn_rate=e.learn_rate)
    return found


def view(found: dict[str, Any] | None) -> Fields:
    found = found or {}
    return Fields("analysis.batch_scaling", {
        base: seeded_row(f"analysis.batch_scaling.{base}", found.get(base), METRICS) for base in ENTRIES})


def show(page: Page, found: dict[str, Any], v: Fields) -> list[Item]:
    shown = [b for b in ENTRIES if b in found]
    rows = [[cell(base), cell(found[base]["batch_size"], numeric=True),
             cell(f"{found[base]['learn_rate']:g}", numeric=True), cell(v[base]["seeds"], numeric=True)]
            + [cell(mean_sd(v[base][m], v[base][f"{m}_sd"], "val_loss" if m == "overfit" else m), numeric=True)
               for m in METRICS] for base in shown]
    scaled = "and with the learning rate scaled with the batch (lr × batch / 100)" if _scaled(found) else ""
    items: list[Item] = [table(
        f"The batch-size runs at their last epoch, with the handout's learning rate {scaled}; train–val gap: "
        "validation minus training loss. Mean ± standard deviation over seeds",
        ["Run", ("Batch", True), ("Learning rate", True), ("Seeds", True), ("Val accuracy", True),
         ("Val loss", True), ("Train loss", True), ("Train–val gap", True)], rows)]
    if BASELINE in found:
        items.extend(_figures(page, found, v))
    return items


def _scaled(found: dict[str, Any]) -> bool:
    """Whether any run with the learning rate scaled to its batch is measured (else its panel is left out)."""
    return any(b in found for b in SCALED)


def _figures(page: Page, found: dict[str, Any], v: Fields) -> list[Item]:
    def points(bases: tuple[str, ...], metric: str) -> list[figures.SweepPoint]:
        return [figures.SweepPoint(str(found[b]["batch_size"]), v[b][metric], v[b][f"{metric}_sd"], b == BASELINE)
                for b in bases if b in found]

    scaled = tuple(sorted((*SCALED, BASELINE), key=lambda b: found.get(b, {}).get("batch_size", math.inf)))
    both = _scaled(found)
    acc = [("learning rate 0.001 for every batch", points(FIXED, "val_acc")),
           ("learning rate × batch / 100", points(scaled, "val_acc"))][:2 if both else 1]
    gap = [("learning rate 0.001 for every batch", points(FIXED, "overfit")),
           ("learning rate × batch / 100", points(scaled, "overfit"))][:2 if both else 1]
    panels = ("with the handout's learning rate (left) and with the learning rate scaled with the batch "
              "(right)") if both else "with the handout's learning rate"
    base = v[BASELINE]

    def draw(path) -> None:
        figures.sweep(path, acc, figures.SweepPoint("100", base["val_acc"], base["val_acc_sd"], True),
                      "val accuracy at the last epoch (%)")

    def draw_gap(path) -> None:
        figures.sweep(path, gap, figures.SweepPoint("100", base["overfit"], base["overfit_sd"], True),
                      "validation − training loss")

    key = {b: found[b] for b in ENTRIES if b in found}
    common = ("x axis: batch size; grey point, dashed line and band: batch 100 with learning rate 0.001 "
              "(mean ± one standard deviation over seeds); error bars: ± one standard deviation.")
    return [page.maker.make("img/q3-3-batch-lr.png", {"rows": key}, draw,
                            alt="validation accuracy against batch size, learning rate fixed or scaled",
                            caption=f"Validation accuracy at the last epoch by batch size, {panels}; {common}"),
            page.maker.make("img/q3-3-batch-gap.png", {"rows": key}, draw_gap,
                            alt="train-validation loss gap against batch size",
                            caption=f"Validation minus training loss at the last epoch by batch size, "
                                    f"{panels}; {common}")]


MEASUREMENT = register(Measurement("batch_scaling", compute, view, show, reads=Reads(entries=ENTRIES),
                                   needs_data=False, cache=False))
