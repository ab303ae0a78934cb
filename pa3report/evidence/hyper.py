"""The hyper-parameters the experiment list can set, and which of them this report varies."""

from __future__ import annotations

from ..config import SETTABLE
from ..outline import Evidence, Question
from ..page import Item, Page, cell, table
from . import piece

HYPER_NOTES = {
    "epochs": "passes over the training set",
    "batch_size": "images per gradient step",
    "learn_rate": "step size of the optimizer",
    "num_filters": "width of the first block (later blocks are multiples)",
    "kernel": "side of every convolution filter",
    "seed": "initial weights and data order",
    "optimizer": "update rule (Adam or SGD with momentum)",
    "weight_decay": "L2 penalty on the weights",
    "loss": "what training minimises; also whether the network outputs RGB or palette scores",
}


@piece("hyper")
def hyper(page: Page, q: Question, ev: Evidence) -> list[Item]:
    rows = []
    trained = [r for r in page.runs.values() if r.available]  # a listed run that never trained varies nothing
    for name in SETTABLE:
        values = sorted({getattr(r.experiment, name) for r in trained}, key=lambda v: (isinstance(v, str), v))
        rows.append([cell(name), cell(HYPER_NOTES.get(name, "")), cell(", ".join(str(v) for v in values) or "–"),
                     cell("varied" if len(values) > 1 else "fixed" if values else "–")])
    return [table(f"Hyper-parameters the experiment list can set, and the values used by the "
                  f"{len(trained)} runs trained for this report",
                  ["Setting", "What it controls", "Values used", "In this report"], rows)]
