"""The 6.1 sweep: one hyper-parameter changed at a time from the handout's UNet, read at the
sweep's epoch count (its shortest run's; longer ones are read on their way), against the
baseline and the longer runs of the same network."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from .. import figures
from .. import seeds as seed_stats
from ..config import Experiment
from ..fields import Fields
from ..compare import ALPHA, Comparison, compare, holm
from ..formats import mean_sd, p_value
from ..page import Item, Page, cell, note, table
from ..runs import RunInfo, Runs, seeds_of, tagged
from . import NAN, Bench, Measurement, register

SWEEP = ("6.1",)  # the sweep's own runs
BASELINE = "3.2"  # the unchanged run, read at the sweep's epoch
REFERENCE = ("3.2", "3.3")  # longer runs of the same network read at that epoch too
# The settings a sweep point may change, in the order its label lists them.
FIELDS = ("optimizer", "learn_rate", "num_filters", "kernel", "weight_decay", "batch_size", "loss", "skips")
SETTING_NAMES = {"optimizer": "optimizer", "learn_rate": "learning rate", "num_filters": "filters",
                 "kernel": "kernel size", "weight_decay": "weight decay", "batch_size": "batch size",
                 "loss": "loss", "skips": "skip connections"}


@dataclass(frozen=True)
class Plan:
    """Which runs the sweep compares: the baseline, the sweep points, the longer references."""

    base: RunInfo | None
    points: tuple[RunInfo, ...]
    epoch: int

    @classmethod
    def of(cls, runs: Runs) -> "Plan":
        refs = tagged(runs, REFERENCE)
        base = next((r for r in refs if BASELINE in r.experiment.questions and r.experiment.handout_network), None)
        sweep = [r for r in tagged(runs, SWEEP) if r is not base]  # the baseline is shown under 6.1 too
        if not sweep or base is None:
            return cls(None, (), 0)
        epoch = min(r.spec.epochs for r in sweep)
        same = [r for r in refs if r is not base and r.spec.epochs >= epoch and only_batch_differs(r, base)]
        return cls(base, (*sweep, *same), epoch)


def only_batch_differs(run: RunInfo, base: RunInfo) -> bool:
    """A longer run that is the baseline with another batch size: a sweep point of its own. Other
    runs tagged with the same questions (ablations that rewire or retrain the network) are not."""
    a, b = run.spec.hyper(with_epochs=False), base.spec.hyper(with_epochs=False)
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)} <= {"batch_size"}


class SweepReads:
    """The baseline, the sweep points and the references (each with every seed of its entry)."""

    @staticmethod
    def select(runs: Runs) -> list[RunInfo]:
        plan = Plan.of(runs)
        return [plan.base, *plan.points] if plan.base else []

    @staticmethod
    def ready(runs: Runs) -> bool:
        return True  # the view names every sweep point even before anything is cached


@dataclass(frozen=True)
class Row:
    """One run of the sweep read at the sweep's epoch (over its available seeds)."""

    run: RunInfo
    changed: tuple[str, ...]  # settings that differ from the baseline's
    value: str  # their values, e.g. "sgd, 0.05"
    val_acc: float
    val_acc_sd: float  # NaN with one seed
    val_loss: float
    seeds: int
    values: tuple[float, ...] = ()  # per-seed accuracy at the epoch, by seed
    seed_ids: tuple[int, ...] = ()
    against_base: Comparison | None = None  # this point − the baseline
    p_holm: float = NAN  # its p-value corrected for every comparison of the sweep


def _short(value: Any) -> str:
    if isinstance(value, tuple):  # skips
        return "+".join(value) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _values(e: Experiment, fields: tuple[str, ...]) -> str:
    return ", ".join(_short(getattr(e, f)) for f in fields)


def _order(e: Experiment, fields: tuple[str, ...]) -> tuple:
    """Sort key: numbers by value, words alphabetically."""
    return tuple((1, _short(v)) if isinstance(v, (str, tuple)) else (0, v) for v in (getattr(e, f) for f in fields))


def compute(bench: Bench) -> dict[str, Any]:
    """The rows (baseline first, cached runs only), the epoch, and the names of every sweep
    point answers may quote (the sweep's runs, then the longer references)."""
    runs = bench.all_runs
    plan = Plan.of(runs)
    names = [r.name for r in tagged(runs, SWEEP) if r is not plan.base]
    names += [r.name for r in plan.points if r.name not in names]
    out: dict[str, Any] = {"rows": [], "epoch": plan.epoch, "names": names, "planned": plan.base is not None}
    if plan.base is None or not plan.base.available:
        return out
    b = plan.base.experiment
    base = Row(plan.base, (), "", **seed_stats.at_epoch(seeds_of(runs, plan.base), plan.epoch))
    points = []
    for r in plan.points:
        if r.available:
            changed = tuple(f for f in FIELDS if getattr(r.experiment, f) != getattr(b, f))
            row = Row(r, changed, _values(r.experiment, changed), **seed_stats.at_epoch(seeds_of(runs, r), plan.epoch))
            # Same seeds on both sides: same initial random stream and data order, so paired.
            paired = len(row.seed_ids) >= 2 and row.seed_ids == base.seed_ids
            points.append(dataclasses.replace(row, against_base=compare(row.values, base.values, paired=paired)))
    adjusted = holm([p.against_base.p for p in points])  # type: ignore[union-attr]
    out["rows"] = [base, *(dataclasses.replace(p, p_holm=a) for p, a in zip(points, adjusted))]
    return out


def _point(owner: str, row: Row | None) -> Fields:
    """One sweep point as answers see it; NaN-filled while the run (or the baseline) is missing."""
    c = row.against_base if row else None
    real = bool(c and c.known and row.p_holm < ALPHA)  # type: ignore[union-attr]
    return Fields(owner, {
        "run": row.run.name if row else "n/a",
        "setting": " + ".join(SETTING_NAMES.get(f, f) for f in row.changed) if row else "n/a",
        "value": row.value if row else "n/a", "epochs": row.run.spec.epochs if row else 0,
        "val_acc": row.val_acc if row else NAN,
        "val_acc_sd": row.val_acc_sd if row else NAN, "val_loss": row.val_loss if row else NAN,
        "seeds": row.seeds if row else 0, "delta": c.delta if c else NAN, "low": c.low if c else NAN,
        "high": c.high if c else NAN, "p": c.p if c else NAN, "p_holm": row.p_holm if row else NAN,
        "test": (c.test or "no test (too few seeds)") if c else "n/a", "significant": real})


def view(found: dict[str, Any] | None) -> Fields:
    """What answers see as `sweep`: the epoch, the baseline and every sweep point by run name
    (NaN while a run is missing), plus the best and worst point and how many beat the noise."""
    rows: list[Row] = found["rows"] if found else []
    names: list[str] = found.get("names", []) if found else []
    base = rows[0] if rows else None
    by_name = {r.run.name: r for r in rows[1:]}
    points = {name: _point(f"sweep.points.{name}", by_name.get(name)) for name in names}
    ranked = sorted((p for p in points.values() if math.isfinite(p["val_acc"])), key=lambda p: -p["val_acc"])
    return Fields("sweep", {
        "epoch": found["epoch"] if found else 0, "count": len(ranked),
        "significant_count": sum(p["significant"] for p in ranked),
        "tested_count": sum(math.isfinite(p["p_holm"]) for p in ranked),
        "fewest_seeds": min((p["seeds"] for p in ranked), default=0),
        "baseline": Fields("sweep.baseline", {
            "run": base.run.name if base else "n/a", "val_acc": base.val_acc if base else NAN,
            "val_acc_sd": base.val_acc_sd if base else NAN, "seeds": base.seeds if base else 0}),
        "points": Fields("sweep.points", points),
        "best": ranked[0] if ranked else _point("sweep.best", None),
        "worst": ranked[-1] if ranked else _point("sweep.worst", None),
    })


def _acc_text(row: Row) -> str:
    return mean_sd(row.val_acc, row.val_acc_sd, "val_acc")


def show(page: Page, found: dict[str, Any], v: Fields) -> list[Item]:
    if not found["planned"]:
        return [note(f"The sweep needs runs tagged with question(s) {', '.join(SWEEP)} and a baseline "
                     f"tagged {BASELINE}.")]
    rows: list[Row] = found["rows"]
    if not rows:
        return []
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in rows[1:]:
        groups.setdefault(row.changed, []).append(row)
    for changed, group in groups.items():
        group.sort(key=lambda r: _order(r.run.experiment, changed))
    return [_table(rows, groups, found["epoch"]), _plot(page, rows, groups, found["epoch"])]


def _table(rows: list[Row], groups: dict[tuple[str, ...], list[Row]], epoch: int) -> Item:
    base = rows[0]
    best_acc = max(rows, key=lambda r: r.val_acc if math.isfinite(r.val_acc) else -math.inf)
    best_loss = min(rows, key=lambda r: r.val_loss if math.isfinite(r.val_loss) else math.inf)
    cells = [[cell("none: the handout's settings (baseline)"), cell(""), cell(base.run.name),
              cell(base.seeds, numeric=True), cell(_acc_text(base), best=base is best_acc, numeric=True),
              cell("–", numeric=True), cell("–", numeric=True), cell("–", numeric=True), cell("–"),
              cell(f"{base.val_loss:.3f}", best=base is best_loss, numeric=True)]]
    for changed, group in groups.items():
        for row in group:
            point = _point(row.run.name, row)
            known = math.isfinite(point["p_holm"])
            cells.append([cell(point["setting"]), cell(f"{row.value} (was {_values(base.run.experiment, changed)})"),
                          cell(row.run.name), cell(row.seeds, numeric=True),
                          cell(_acc_text(row), best=row is best_acc, numeric=True),
                          cell(f"{point['delta']:+.1f}", numeric=True),
                          cell(f"{point['low']:+.1f} to {point['high']:+.1f}" if known else "n/a", numeric=True),
                          cell(p_value(point["p_holm"], named=False) if known else "n/a", numeric=True),
                          cell(("yes" if point["significant"] else "no") if known else "n/a"),
                          cell(f"{row.val_loss:.3f}", best=row is best_loss, numeric=True)])
    tests = sorted({r.against_base.test for r in rows[1:] if r.against_base and r.against_base.test})
    return table(
        f"One change at a time from the handout's UNet, everything read at epoch {epoch} (mean ± standard "
        "deviation over seeds). Each change is compared with the baseline "
        f"({', '.join(tests) or 'no test: one seed'}; seed s of a change is paired with seed s of the "
        "baseline, started from the same random seed); the 95% confidence interval is "
        "of the change in accuracy, for that comparison alone (an interval that misses 0 can still be "
        f"not real once all are read together), and the p-values are corrected for the {sum(1 for r in rows[1:] if r.against_base and r.against_base.known)} "
        "comparisons together with Holm's method. “Real” means p < 0.05 after that correction",
        ["Setting changed", "Value", "Run", ("Seeds", True), (f"Val accuracy, epoch {epoch}", True),
         ("Change (points)", True), ("95% CI (points)", True), ("p (Holm)", True), "Real",
         (f"Val loss, epoch {epoch}", True)], cells)


def _plot(page: Page, rows: list[Row], groups: dict[tuple[str, ...], list[Row]], epoch: int) -> Item:
    """One panel per changed setting, the baseline placed among the values it was changed from."""
    base = rows[0]
    panels = []
    for changed, group in groups.items():
        as_point = Row(base.run, changed, _values(base.run.experiment, changed), base.val_acc,
                       base.val_acc_sd, base.val_loss, base.seeds)
        entries = sorted([*group, as_point], key=lambda r: _order(r.run.experiment, changed))
        panels.append((" + ".join(SETTING_NAMES.get(f, f) for f in changed),
                       [figures.SweepPoint(r.value, r.val_acc, r.val_acc_sd, r is as_point) for r in entries]))
    key = [(r.run.name, [o.fingerprint for o in seeds_of(page.runs, r.run)]) for r in rows]
    return page.maker.make(
        "img/q6-1-sweep.png", {"rows": key, "epoch": epoch},
        lambda path: figures.sweep(path, panels, figures.SweepPoint(
            "baseline", base.val_acc, base.val_acc_sd, True), f"val accuracy at epoch {epoch} (%)"),
        alt=f"Validation accuracy at epoch {epoch} for each value of each hyper-parameter",
        caption=f"Validation accuracy at epoch {epoch}, one panel per setting; the grey point, dashed line "
                f"and band are the baseline ({base.run.name}: mean ± one standard deviation over "
                f"{base.seeds} seed{'s' if base.seeds != 1 else ''}). Error bars: runs with several seeds.")


MEASUREMENT = register(Measurement("sweep", compute, view, show, reads=SweepReads(), needs_data=False,
                                   cache=False, context=""))
