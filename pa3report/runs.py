"""The runs of one report: each experiment of the list with its cached result, if any.

This is how everything after the runner reads results: by run, by experiment entry (the
seeds of one `[[experiment]]`), or by the questions a run is tagged with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .config import Experiment, RunSpec
from .store import RunResult


@dataclass
class RunInfo:
    """One experiment as the report sees it: its spec, its cached result (if any) and how it got there."""

    spec: RunSpec
    result: RunResult | None
    how: str  # "cached", "ran", "snapshot", "resumed" or "missing"
    _samples: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def experiment(self) -> Experiment:
        return self.spec.experiment

    @property
    def available(self) -> bool:
        return self.result is not None

    @property
    def primary(self) -> bool:
        """False for the extra seeds of an entry (NAME_s1, ...): figures show the first seed."""
        return self.experiment.base == self.name

    @property
    def fingerprint(self) -> str:
        return self.result.fingerprint if self.result else ""

    def samples(self) -> dict[str, Any]:
        """The fixed sample images, predictions and activations (read once)."""
        if self._samples is None:
            assert self.result is not None
            self._samples = self.result.samples()
        return self._samples


Runs = Mapping[str, RunInfo]


def entry(runs: Runs, base: str, available: bool = False) -> list[RunInfo]:
    """Every run of one experiment entry (its seeds), in list order; only cached ones if asked."""
    return [r for r in runs.values() if r.experiment.base == base and (r.available or not available)]


def seeds_of(runs: Runs, run: RunInfo) -> list[RunInfo]:
    """Every available run of the same entry as `run`, the run itself first."""
    return sorted(entry(runs, run.experiment.base, available=True),
                  key=lambda r: (r.name != run.name, r.experiment.seed))


def tagged(runs: Runs, tags: Iterable[str], sort: str | None = None) -> list[RunInfo]:
    """The first-seed runs tagged with any of these question ids, in list order or sorted by
    "epochs" or "batch_size"."""
    wanted = set(tags)
    found = [r for r in runs.values() if r.primary and set(r.experiment.questions) & wanted]
    if sort == "epochs":
        found.sort(key=lambda r: r.spec.epochs)
    elif sort == "batch_size":
        found.sort(key=lambda r: r.experiment.batch_size)
    return found


def training_seconds(runs: Iterable[RunInfo]) -> float:
    """Training time, counting once a trajectory that several epoch counts reuse."""
    per_trajectory: dict[str, float] = {}
    for r in runs:
        if r.result is not None:
            meta = r.result.meta
            t = meta.trajectory or r.name
            seconds = meta.seconds if math.isfinite(meta.seconds) else 0.0  # an unknown time adds nothing
            per_trajectory[t] = max(per_trajectory.get(t, 0.0), seconds)
    return sum(per_trajectory.values())
