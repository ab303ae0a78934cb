"""The results a report is made of: every run of every list with its cached result, after
training the missing runs of the chosen lists (unless told not to)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from . import lists, measurements
from .config import RunSpec, load_experiments
from .data import NUM_COLOURS
from .devices import device_name, fallback_note
from .errors import UserError
from .inputs import Inputs, Paths, load_inputs
from .plan import wave_numbers
from .progress import Estimator, Overall
from .runner import Diverged, Outcome, Runner, specs_for, summary_line
from .runs import RunInfo


@dataclass
class Gathered:
    """Every experiment of every list with its result (or none), plus the common palette."""

    runs: dict[str, RunInfo]
    palette: np.ndarray
    quick: bool
    inputs: Inputs | None = None  # the data (images load lazily); None when none was found
    failures: dict[str, str] = field(default_factory=dict)  # run -> why it failed (diverged)
    selection: lists.Selection = lists.EVERY  # the lists chosen for training

    @property
    def missing(self) -> list[str]:
        """Runs of the chosen lists without a result: not run yet, or failed."""
        return [n for n, r in self.runs.items() if not r.available and r.experiment in self.selection]

    @property
    def left_out(self) -> list[str]:
        """Runs of the other lists without a result: not trained, as asked."""
        return [n for n, r in self.runs.items() if not r.available and r.experiment not in self.selection]


OnPage = Callable[[Gathered, str, Overall], None]


def gather(paths: Paths, quick: bool, env: Mapping[str, str] | None = None, run_missing: bool = True,
           show_progress: bool | None = None, jobs: int = 1, missing_data_ok: bool = False,
           chosen: Sequence[str] | None = None, on_page: OnPage | None = None) -> Gathered:
    """Results of every experiment, training the missing ones of the `chosen` lists (None: all)
    when run_missing is set; the other lists' results are read if cached, never trained.

    Without run_missing nothing trains, but a palette that is not cached yet is fitted (as
    `list` does, seconds): without it no fingerprint, hence no status, can be known. With
    missing_data_ok and no data found anywhere, every run is "not run yet" (nothing can be
    cached without the data the fingerprints cover). A run that diverges is reported and
    marked failed while the others train. show_progress=None shows the overall bar on a terminal.

    on_page(results so far, why, bar) is called after each wave but the last (plan.wave_numbers)
    and on Ctrl-C before it propagates, so a long training shows a complete page early.
    """
    env = dict(os.environ if env is None else env)
    experiments = load_experiments(paths.experiments)
    measurements.check(experiments, paths.experiments)
    selection = lists.select(experiments, chosen)
    specs = specs_for(experiments, quick)
    try:
        inputs = load_inputs(paths, env, download=run_missing)
    except UserError as exc:
        if run_missing or not missing_data_ok:
            raise
        print(f"note: no data found, so no result can be read; every run shows as not run yet ({exc})",
              file=sys.stderr)
        return Gathered({s.name: RunInfo(s, None, "missing") for s in specs},
                        np.zeros((NUM_COLOURS, 3), np.float32), quick, selection=selection)
    runner = Runner(paths, inputs, show_progress=False)
    runs: dict[str, RunInfo] = {}
    for spec in specs:
        hit = runner.cached(spec)
        runs[spec.name] = RunInfo(spec, hit, "cached" if hit else "missing")
    gathered = Gathered(runs, np.asarray(inputs.palette, dtype=np.float32), quick, inputs, {}, selection)
    todo = [r.spec for r in runs.values() if not r.available and r.experiment in selection]
    if todo and run_missing:
        train_missing(runner, gathered, todo, wave_numbers(specs), jobs, show_progress, on_page)
    return gathered


def train_missing(runner: Runner, gathered: Gathered, todo: list[RunSpec], waves: Mapping[str, int],
                  jobs: int, show_progress: bool | None, on_page: OnPage | None) -> None:
    """Train `todo`, filing each result (or failure) in `gathered` as it comes, with a page
    after each wave but the last and on Ctrl-C."""
    print(f"training {len(todo)} run(s) that are not cached: {', '.join(s.name for s in todo)}",
          file=sys.stderr)
    if (note := fallback_note(runner.device)) is not None:
        print(note, file=sys.stderr)
    runs, failures = gathered.runs, gathered.failures
    bar = Overall(Estimator.from_build(runner.paths.build, device_name(runner.device)), enabled=show_progress)

    def failed(exc: Diverged) -> None:
        for name in exc.names:
            failures[name] = str(exc)
            runs[name] = RunInfo(runs[name].spec, None, "failed")
            bar.write(f"{name:<24} failed   the loss diverged; the report goes on without it")

    def filed(outcome: Outcome) -> None:
        runs[outcome.spec.name] = RunInfo(outcome.spec, outcome.result, outcome.how)
        bar.write(summary_line(outcome))

    def so_far() -> Gathered:
        return Gathered(dict(runs), gathered.palette, gathered.quick, gathered.inputs, dict(failures),
                        gathered.selection)

    def wave_done(wave: int, last: int) -> None:
        if on_page is not None and wave < last:
            on_page(so_far(), f"after wave {wave + 1} of {last + 1}", bar)

    try:
        runner.run(todo, jobs=jobs, on_outcome=filed, progress=bar, on_failure=failed,
                   waves=waves, on_wave=wave_done)
    except KeyboardInterrupt:
        if on_page is not None:
            bar.close()
            on_page(so_far(), "when training was interrupted", bar)
        raise
