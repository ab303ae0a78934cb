"""Seed statistics: every mean, standard deviation and seed count in the report comes from here.

An experiment entry with `seeds = [...]` trains once per seed; the report shows the entry as
the mean over its available seeds, the sample standard deviation (NaN with one seed: one
run says nothing about the spread) and the median training time (one seed slowed down by
other work on the machine should not set it).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import pandas as pd

from .runs import RunInfo

METRICS = ("train_loss", "val_loss", "val_acc", "val_mse")
NAN = float("nan")


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation of per-seed values; (NaN, NaN) for none, sd NaN for one."""
    s = pd.Series(values, dtype="float64")
    return (float(s.mean()) if len(s) else NAN), (float(s.std(ddof=1)) if len(s) > 1 else NAN)


def finals(runs: Iterable[RunInfo]) -> pd.DataFrame:
    """One row per available run: its entry, seed, final metrics and training seconds."""
    rows = [{"entry": r.experiment.base, "name": r.name, "seed": r.experiment.seed,
             **{m: float(r.result.final.get(m, NAN)) for m in METRICS},
             "seconds": r.result.meta.seconds}
            for r in runs if r.result is not None]
    return pd.DataFrame(rows, columns=["entry", "name", "seed", *METRICS, "seconds"])


def by_entry(runs: Iterable[RunInfo]) -> pd.DataFrame:
    """Per experiment entry: <metric>_mean, <metric>_sd, seeds and the median of seconds."""
    frame = finals(runs)
    grouped = frame.groupby("entry", sort=False)
    out = pd.DataFrame({"seeds": grouped.size()})
    for m in METRICS:
        out[f"{m}_mean"] = grouped[m].mean()
        out[f"{m}_sd"] = grouped[m].std(ddof=1)  # NaN for a single seed
    out["seconds"] = grouped["seconds"].median()
    return out


def entry_stats(runs: Iterable[RunInfo], entry: str) -> dict[str, float]:
    """The by_entry row of one entry as a dict (NaN everywhere, 0 seeds, when none is available)."""
    table = by_entry(runs)
    if entry in table.index:
        row = table.loc[entry]
        return {k: (int(v) if k == "seeds" else float(v)) for k, v in row.items()}
    return {"seeds": 0, **{f"{m}_{s}": NAN for m in METRICS for s in ("mean", "sd")}, "seconds": NAN}


def at_epoch(runs: Iterable[RunInfo], epoch: int) -> dict[str, Any]:
    """Validation accuracy and loss of available runs (seeds of one entry) read at one epoch:
    mean, sd and count, plus the per-seed accuracies ordered by seed (for paired comparisons)."""
    found = []
    for r in runs:
        if r.result is None:
            continue
        h = r.result.history
        row = h[h["epoch"] == epoch]
        if len(row):
            found.append((r.experiment.seed, float(row["val_acc"].iloc[0]), float(row["val_loss"].iloc[0])))
    found.sort()
    acc = [a for _, a, _ in found]
    acc_mean, acc_sd = mean_sd(acc)
    return {"val_acc": acc_mean, "val_acc_sd": acc_sd, "val_loss": mean_sd([x for _, _, x in found])[0],
            "seeds": len(acc), "values": tuple(acc), "seed_ids": tuple(s for s, _, _ in found)}


def per_seed(runs: Iterable[RunInfo], metric: str) -> tuple[list[int], list[float]]:
    """The seeds of the available runs (sorted) and each one's final value of a metric."""
    pairs = sorted((r.experiment.seed, float(r.result.final.get(metric, NAN))) for r in runs if r.result is not None)
    return [s for s, _ in pairs], [v for _, v in pairs]
