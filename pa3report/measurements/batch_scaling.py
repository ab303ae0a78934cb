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
from ..config import Experiment
from ..fields import Fields
from ..page import Item, Page, cell, table
from . import Bench, Measurement, Network, Reads, register, seeded_rows, spread

HANDOUT = Experiment("", "UNet", "colourization")  # the handout's batch size and learning rate
METRICS = ("val_acc", "val_loss", "train_loss", "overfit")


def batch_run(e: Experiment) -> bool:
    """A run of 3.3: the handout's UNet colourizing, with its own batch size and learning rate."""
    return "3.3" in e.questions and e.model == "UNet" and e.task == "colourization" and e.handout_network


def fixed(e: Experiment) -> bool:
    """Trained with the handout's learning rate (else with one scaled to its batch)."""
    return e.learn_rate == HANDOUT.learn_rate


def baseline(e: Experiment) -> bool:
    """The run the figures draw the others against: the handout's batch size and learning rate."""
    return fixed(e) and e.batch_size == HANDOUT.batch_size


# the batch sizes with the handout's learning rate, then those with it scaled, each by batch size
BATCH_RUNS = Reads(pick=batch_run, order=lambda e: (not fixed(e), e.batch_size),
                   what="the UNet colourization entries of question 3.3")


def final(history) -> dict[str, float]:
    last = history.iloc[-1]
    return {"val_acc": float(last["val_acc"]), "val_loss": float(last["val_loss"]),
            "train_loss": float(last["train_loss"]), "overfit": float(last["val_loss"] - last["train_loss"])}


def compute(bench: Bench) -> dict[str, Any]:
    found = bench.over_networks(lambda r: final(r.result.history))  # type: ignore[union-attr]
    for base, row in found.items():
        e = bench.entry(base)[0].experiment
        row.update(batch_size=e.batch_size, learn_rate=e.learn_rate)
    return found


def view(found: dict[str, Any] | None, networks: tuple[Network, ...]) -> Fields:
    return Fields("analysis.batch_scaling", seeded_rows("analysis.batch_scaling", found, networks, METRICS))


def show(page: Page, found: dict[str, Any], v: Fields, networks: tuple[Network, ...]) -> list[Item]:
    shown = [n.name for n in networks if n.name in found]
    rows = [[cell(base), cell(found[base]["batch_size"], numeric=True),
             cell(f"{found[base]['learn_rate']:g}", numeric=True), cell(v[base]["seeds"], numeric=True)]
            + [spread(v[base], m, "val_loss" if m == "overfit" else None) for m in METRICS] for base in shown]
    scaled = ("and with the learning rate scaled with the batch (lr × batch / 100)"
              if _scaled(found, networks) else "")
    items: list[Item] = [table(
        f"The batch-size runs at their last epoch, with the handout's learning rate {scaled}; train–val gap: "
        "validation minus training loss. Mean ± standard deviation over seeds",
        ["Run", ("Batch", True), ("Learning rate", True), ("Seeds", True), ("Val accuracy", True),
         ("Val loss", True), ("Train loss", True), ("Train–val gap", True)], rows)]
    base = next((n.name for n in networks if baseline(n.experiment)), None)
    if base in found:
        items.extend(_figures(page, found, v, networks, base))
    return items


def _scaled(found: dict[str, Any], networks: tuple[Network, ...]) -> bool:
    """Whether any run with the learning rate scaled to its batch is measured (else its panel is left out)."""
    return any(n.name in found for n in networks if not fixed(n.experiment))


def _figures(page: Page, found: dict[str, Any], v: Fields, networks: tuple[Network, ...],
             baseline_run: str) -> list[Item]:
    def points(bases: tuple[str, ...], metric: str) -> list[figures.SweepPoint]:
        return [figures.SweepPoint(str(found[b]["batch_size"]), v[b][metric], v[b][f"{metric}_sd"],
                                   b == baseline_run) for b in bases if b in found]

    held = tuple(n.name for n in networks if fixed(n.experiment))
    scaled = tuple(sorted((*(n.name for n in networks if not fixed(n.experiment)), baseline_run),
                          key=lambda b: found.get(b, {}).get("batch_size", math.inf)))
    both = _scaled(found, networks)
    lr, batch = f"{HANDOUT.learn_rate:g}", f"{HANDOUT.batch_size}"
    acc = [(f"learning rate {lr} for every batch", points(held, "val_acc")),
           (f"learning rate × batch / {batch}", points(scaled, "val_acc"))][:2 if both else 1]
    gap = [(f"learning rate {lr} for every batch", points(held, "overfit")),
           (f"learning rate × batch / {batch}", points(scaled, "overfit"))][:2 if both else 1]
    panels = ("with the handout's learning rate (left) and with the learning rate scaled with the batch "
              "(right)") if both else "with the handout's learning rate"
    base = v[baseline_run]

    def draw(path) -> None:
        figures.sweep(path, acc, figures.SweepPoint(batch, base["val_acc"], base["val_acc_sd"], True),
                      "val accuracy at the last epoch (%)")

    def draw_gap(path) -> None:
        figures.sweep(path, gap, figures.SweepPoint(batch, base["overfit"], base["overfit_sd"], True),
                      "validation − training loss")

    key = {n.name: found[n.name] for n in networks if n.name in found}
    common = (f"x axis: batch size; grey point, dashed line and band: batch {batch} with learning rate {lr} "
              "(mean ± one standard deviation over seeds); error bars: ± one standard deviation.")
    return [page.maker.make("img/q3-3-batch-lr.png", {"rows": key}, draw,
                            alt="validation accuracy against batch size, learning rate fixed or scaled",
                            caption=f"Validation accuracy at the last epoch by batch size, {panels}; {common}"),
            page.maker.make("img/q3-3-batch-gap.png", {"rows": key}, draw_gap,
                            alt="train-validation loss gap against batch size",
                            caption=f"Validation minus training loss at the last epoch by batch size, "
                                    f"{panels}; {common}")]


MEASUREMENT = register(Measurement("batch_scaling", compute, view, show, reads=BATCH_RUNS,
                                   needs_data=False, cache=False))
