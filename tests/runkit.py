"""Runs made by hand for the tests of what reads results: no training, known numbers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pa3report.config import Experiment, RunSpec
from pa3report.measurements import Bench, Measurement
from pa3report.runs import RunInfo, Runs
from pa3report.store import RunMeta, RunResult


def history(val_acc: list[float], val_loss: list[float] | None = None, seconds: float = 1.0) -> pd.DataFrame:
    n = len(val_acc)
    loss = val_loss or [1.0] * n
    return pd.DataFrame({"epoch": range(1, n + 1), "train_loss": loss, "val_loss": loss, "val_acc": val_acc,
                         "val_mse": [0.01] * n, "epoch_seconds": [seconds] * n})


def run(name: str, *, group: str = "", seed: int = 0, questions: tuple[str, ...] = (), epochs: int = 3,
        val_acc: list[float] | None = None, val_loss: list[float] | None = None, seconds: float = 1.0,
        available: bool = True, trajectory: str | None = None, **settings) -> RunInfo:
    """A run of a UNet colourization entry; `val_acc` per epoch (its length sets the epochs run)."""
    e = Experiment(name=name, model=settings.pop("model", "UNet"), task=settings.pop("task", "colourization"),
                   seed=seed, group=group, questions=questions, epochs=epochs, **settings)
    if not available:
        return RunInfo(RunSpec(e), None, "missing")
    h = history(val_acc or [10.0 * (i + 1) for i in range(epochs)], val_loss, seconds=seconds)
    final = {k: float(v) for k, v in h.iloc[-1].items()}
    meta = RunMeta(name=name, fingerprint=f"fp-{name}", final=final, seconds=float(h["epoch_seconds"].sum()),
                   trajectory=trajectory or name)
    return RunInfo(RunSpec(e), RunResult(name, f"fp-{name}", meta, h, Path("/nonexistent")), "cached")


def runs(*infos: RunInfo) -> dict[str, RunInfo]:
    return {r.name: r for r in infos}


def bench(m: Measurement, rs: Runs, palette=(), test_images=None) -> Bench:
    """What `measure` gives a measurement's compute in this list: the cached runs it reads and
    the networks it reads, in its order."""
    return Bench([r for r in m.select(rs) if r.available], palette, test_images, rs, m.networks(rs) or ())
