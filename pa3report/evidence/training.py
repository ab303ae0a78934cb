"""Training evidence: the settings of a question's runs, their per-epoch curves and final metrics."""

from __future__ import annotations

import math

from .. import figures, seeds
from ..formats import duration, mean_sd
from ..outline import Evidence, Question
from ..page import Item, Page, cell, table
from ..runs import RunInfo, seeds_of
from . import piece

# (column, header, which value is best)
METRIC_COLUMNS = (("train_loss", "Train loss", "min"), ("val_loss", "Val loss", "min"),
                  ("val_acc", "Val accuracy", "max"), ("val_mse", "Val MSE (RGB)", "min"))
LOSS_NAMES = {"mse": "RGB squared error", "lab": "CIELAB squared error", "ce": "cross-entropy",
              "rebalanced": "class-rebalanced cross-entropy"}


def label(run: RunInfo, ev: Evidence) -> str:
    """How a run is named in a legend or a row: by what the evidence varies."""
    if ev.sort == "epochs":
        return f"{run.name} ({run.spec.epochs} epochs)"
    if ev.sort == "batch_size":
        return f"{run.name} (batch {run.experiment.batch_size})"
    return f"{run.name} ({run.experiment.model})"


@piece("settings")
def settings(page: Page, q: Question, ev: Evidence) -> list[Item]:
    items = page.split(ev.tags, ev.sort)[1]
    rows = []
    tagged = page.tagged(ev.tags, ev.sort)
    stats = seeds.by_entry(o for r in tagged for o in seeds_of(page.runs, r))
    multi = bool(len(stats)) and bool((stats["seeds"] > 1).any())
    for r in tagged:
        e, s = r.experiment, r.spec
        images = "all" if s.train_images is None else str(s.train_images)
        # the metrics tables' training time (median over seeds), per epoch
        per_epoch = stats.loc[e.base, "seconds"] / s.epochs if e.base in stats.index else math.nan
        rows.append([cell(r.name), cell(s.epochs, numeric=True), cell(e.batch_size, numeric=True),
                     cell(e.learn_rate, numeric=True), cell(e.optimizer), cell(images, numeric=True),
                     cell(duration(per_epoch), numeric=True)])
    items.append(table("Training settings", ["Run", ("Epochs", True), ("Batch", True), ("Learning rate", True),
                                             "Optimizer", ("Training images", True),
                                             ("Time per epoch (median over seeds)" if multi else "Time per epoch", True)],
                       rows))
    return items


@piece("curves")
def curves(page: Page, q: Question, ev: Evidence) -> list[Item]:
    runs, items = page.split(ev.tags, ev.sort)
    if not runs:
        return items
    series = [figures.Series(label(r, ev), r.result.history,  # type: ignore[union-attr]
                             tuple(o.result.history for o in seeds_of(page.runs, r)[1:]))  # type: ignore[union-attr]
              for r in runs]
    key = {"runs": [[(o.name, o.fingerprint) for o in seeds_of(page.runs, r)] for r in runs],
           "panels": ev.panels, "labels": [s.label for s in series]}
    has_bands = any(s.others for s in series)
    what = ", ".join(figures.PANELS[p][1] for p in ev.panels)
    items.append(page.maker.make(
        f"img/{q.anchor}-curves.png", key, lambda p: figures.curves(p, series, ev.panels),
        alt=f"Per-epoch {what} of {', '.join(r.name for r in runs)}",
        caption=f"Per-epoch curves ({what}); a dot marks the last epoch of each run"
                + ("; a run with several seeds is drawn as their mean, with the range of its seeds shaded "
                   "around the validation curve." if has_bands else ".")))
    return items


@piece("metrics")
def metrics(page: Page, q: Question, ev: Evidence) -> list[Item]:
    """Final-epoch metrics per entry: mean ± sd over seeds, the best of each comparable column marked."""
    runs, items = page.split(ev.tags, ev.sort)
    if not runs:
        return items
    stats = seeds.by_entry(r for run in runs for r in seeds_of(page.runs, run))
    rows = [stats.loc[r.experiment.base] for r in runs]
    same_loss = len({r.experiment.loss for r in runs}) == 1
    best: dict[str, int] = {}
    for column, _, goal in METRIC_COLUMNS:
        values = [row[f"{column}_mean"] for row in rows]
        finite = [(v, i) for i, v in enumerate(values) if math.isfinite(v)]
        if (same_loss or column in ("val_acc", "val_mse")) and len(rows) > 1 and finite:
            best[column] = (min(finite) if goal == "min" else max(finite, key=lambda t: (t[0], -t[1])))[1]
    multi = any(row["seeds"] > 1 for row in rows)
    cells = []
    for i, (r, row) in enumerate(zip(runs, rows)):
        line = [cell(r.name), cell(r.spec.epochs, numeric=True), cell(r.experiment.batch_size, numeric=True)]
        if multi:
            line.append(cell(int(row["seeds"]), numeric=True))
        for c, _, _ in METRIC_COLUMNS:
            line.append(cell(mean_sd(row[f"{c}_mean"], row[f"{c}_sd"], c), best=best.get(c) == i, numeric=True))
        line.append(cell(duration(row["seconds"]), numeric=True))
        cells.append(line)
    caption = ("Final-epoch metrics; the best value of each comparable column is highlighted; Val MSE (RGB) is of "
               "the output as shown, decoded and clipped to [0, 1] (so a regression's can sit just below its val "
               "loss, the squared error of its raw output)")
    if multi:
        caption += "; with several seeds: mean ± standard deviation over the seeds"
    if not same_loss:
        kinds = dict.fromkeys(LOSS_NAMES.get(r.experiment.loss, r.experiment.loss) for r in runs)
        caption += f" (losses of different kinds are not comparable: {', '.join(kinds)})"
    columns: list[str | tuple[str, bool]] = ["Run", ("Epochs", True), ("Batch", True)]
    if multi:
        columns.append(("Seeds", True))
    columns += [(header, True) for _, header, _ in METRIC_COLUMNS]
    columns.append(("Training time (median over seeds)" if multi else "Training time", True))
    items.append(table(caption, columns, cells, css="metrics"))
    return items
