"""What a person watching a long training sees: one overall bar, an honest ETA, a line per run.

The ETA starts from the recorded cost of similar runs in the cache (seconds per training
image and epoch, for the same model, task, batch size and device) and is corrected by how
fast this session actually goes once the first epoch is done. Bars and step lines appear
only when both stdout and stderr are terminals; a log file gets the one-line summaries.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterator

from tqdm import tqdm

from .config import RunSpec
from .devices import kind
from .formats import duration
from .store import Store

FULL_TRAIN_IMAGES = 5000  # the horses of CIFAR-10's training batches
# Seconds per training image and epoch (validation included) when nothing similar is
# cached: the engine on a 2-core CPU (`make bench`), and a guess for a GPU.
DEFAULT_CPU = {"RegressionCNN": 0.0009, "CNN": 0.0009, "UNet": 0.00125}
DEFAULT_GPU = 0.0001


def interactive() -> bool:
    """Bars and step lines only for a person at a terminal, never in a log file."""
    return sys.stdout.isatty() and sys.stderr.isatty()


def images(spec: RunSpec) -> int:
    return spec.train_images or FULL_TRAIN_IMAGES


@dataclass(frozen=True)
class Record:
    """The cost of one cached run, read from its meta.json."""

    model: str
    task: str
    batch_size: int
    num_filters: int
    device: str
    per_image: float  # seconds per training image and epoch


@dataclass
class Estimator:
    """Seconds a run will take, from the cached runs most like it."""

    device: str
    records: list[Record] = field(default_factory=list)

    @classmethod
    def from_build(cls, build: Path, device: str) -> "Estimator":
        records = []
        for meta in Store(build).metas():
            try:
                e, hyper = meta.experiment, meta.hyper
                work = int(hyper["epochs"]) * int(hyper.get("train_images") or FULL_TRAIN_IMAGES)
                per_image = meta.seconds / work
                record = Record(e["model"], e["task"], int(e["batch_size"]), int(e["num_filters"]),
                                meta.device, per_image)
            except (ValueError, KeyError, TypeError, ZeroDivisionError):
                continue  # a damaged entry says nothing about cost
            if math.isfinite(per_image):  # nor does one without a time
                records.append(record)
        return cls(device, records)

    def per_image(self, spec: RunSpec) -> float:
        e = spec.experiment
        tiers = (
            lambda r: r.device == self.device and (r.model, r.task, r.batch_size, r.num_filters)
            == (e.model, e.task, e.batch_size, e.num_filters),
            lambda r: r.device == self.device and (r.model, r.task) == (e.model, e.task),
            lambda r: kind(r.device) == kind(self.device) and (r.model, r.task) == (e.model, e.task),
        )
        for match in tiers:
            found = [r.per_image for r in self.records if match(r)]
            if found:
                return statistics.median(found)
        default = DEFAULT_GPU if kind(self.device) == "cuda" else DEFAULT_CPU.get(e.model, 0.001)
        return default * (e.num_filters / 32) ** 2

    def epoch_seconds(self, spec: RunSpec) -> float:
        return self.per_image(spec) * images(spec)

    def seconds(self, spec: RunSpec, from_epoch: int = 0) -> float:
        return self.epoch_seconds(spec) * max(0, spec.epochs - from_epoch)


def clock(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Overall:
    """One bar over every run this command trains: 'k of N runs', elapsed, time left.

    The runner calls plan() once, epoch() after each finished epoch of a trajectory (from a
    worker too), done() for each result filed; the bar's length is estimated seconds, so
    its position is the share of the work done, not of the runs.
    """

    def __init__(self, estimator: Estimator, enabled: bool | None = None, file: IO[str] | None = None,
                 tick: float = 1.0) -> None:
        self.estimator = estimator
        self.enabled = interactive() if enabled is None else enabled
        self.file = file
        self.tick = tick
        self.total_runs = 0
        self.finished = 0
        self._epoch_cost: dict[str, float] = {}   # trajectory -> estimated seconds per epoch
        self._epochs: dict[str, int] = {}         # trajectory -> planned epochs
        self._at: dict[str, int] = {}             # trajectory -> last finished epoch
        self._names: dict[str, str] = {}
        self._active: set[str] = set()
        self._session_work = 0.0                  # estimated seconds done by this process
        self._wave: tuple[int, int] | None = None  # (wave training now, last wave)
        self._page: str = ""                      # where and when the page was last written
        self._start = time.monotonic()
        self._bar: tqdm | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # ----------------------------------------------------------------- what the runner tells

    def plan(self, trajectories: dict[str, list[RunSpec]]) -> None:
        """The runs to train, grouped by trajectory (the longest member is what trains)."""
        with self._lock:
            for trajectory, members in trajectories.items():
                longest = max(members, key=lambda s: s.epochs)
                self._epoch_cost[trajectory] = self.estimator.epoch_seconds(longest)
                self._epochs[trajectory] = longest.epochs
                self._names[trajectory] = longest.name
                self._at.setdefault(trajectory, 0)
                self.total_runs += len(members)
            self._start = time.monotonic()
            if self.enabled and self.total_runs and self._bar is None:
                self._bar = tqdm(total=max(self.total, 1e-9), file=self.file or sys.stderr,
                                 bar_format="training {percentage:3.0f}%|{bar}| {desc}",
                                 dynamic_ncols=True, leave=True)
                self._ticker = threading.Thread(target=self._tick, daemon=True)
                self._ticker.start()
            self._refresh()

    def epoch(self, trajectory: str, epoch: int, started: bool = False) -> None:
        """`epoch` epochs of the trajectory are done; started marks where training (re)starts."""
        with self._lock:
            if trajectory not in self._epoch_cost:
                return
            before = self._at.get(trajectory, 0)
            if not started and epoch > before:
                self._session_work += (epoch - before) * self._epoch_cost[trajectory]
            self._at[trajectory] = epoch
            self._active.add(trajectory)
            if epoch >= self._epochs[trajectory]:
                self._active.discard(trajectory)
            self._refresh()

    def wave(self, wave: int, last: int) -> None:
        """Trajectories of `wave` (of 0..last) are training now."""
        with self._lock:
            self._wave = (wave, last)
            self._refresh()

    def page_written(self, where: str, when: str) -> None:
        """A page of the results so far was written (shown until the next one is)."""
        with self._lock:
            self._page = f"page of {when} at {where}"
            self._refresh()

    def done(self, how: str) -> None:
        """One run filed; cached ones were never part of the plan."""
        with self._lock:
            if how == "cached":
                return
            self.finished += 1
            self.total_runs = max(self.total_runs, self.finished)
            self._refresh()

    def failed(self, trajectory: str, names: int) -> None:
        """A trajectory stopped: its remaining work and runs leave the plan."""
        with self._lock:
            if trajectory in self._epochs:
                self._epochs[trajectory] = self._at.get(trajectory, 0)
            self._active.discard(trajectory)
            self.total_runs = max(self.finished, self.total_runs - names)
            self._refresh()

    def write(self, line: str) -> None:
        """A summary line above the bar (on stdout, so logs keep it)."""
        with self._lock:
            tqdm.write(line, file=sys.stdout)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            if self._bar is not None:
                self._refresh()
                self._bar.close()
                self._bar = None

    # ----------------------------------------------------------------- arithmetic

    @property
    def total(self) -> float:
        return sum(self._epoch_cost[t] * self._epochs[t] for t in self._epoch_cost)

    @property
    def work_done(self) -> float:
        return sum(self._epoch_cost[t] * min(self._at.get(t, 0), self._epochs[t]) for t in self._epoch_cost)

    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def remaining(self) -> float:
        """Estimated seconds left: the recorded cost of the rest, scaled by this session's pace."""
        left = max(0.0, self.total - self.work_done)
        if self._session_work > 0:
            return left * self.elapsed() / self._session_work
        return left

    def status(self) -> str:
        active = sorted(self._active, key=lambda t: self._names[t])
        now = ", ".join(f"{self._names[t]} epoch {self._at[t]}/{self._epochs[t]}" for t in active[:3])
        more = f" +{len(active) - 3}" if len(active) > 3 else ""
        left = "done" if self.finished >= self.total_runs else f"about {duration(self.remaining(), rough=True)} left"
        wave = f"wave {self._wave[0] + 1} of {self._wave[1] + 1}: " if self._wave else ""
        return (f"{wave}{self.finished} of {self.total_runs} runs, {clock(self.elapsed())} elapsed, {left}"
                + (f"; {now}{more}" if now else "") + (f"; {self._page}" if self._page else ""))

    def _refresh(self) -> None:
        if self._bar is None:
            return
        self._bar.total = max(self.total, 1e-9)
        self._bar.n = min(self.work_done, self._bar.total)
        self._bar.set_description_str(self.status(), refresh=False)
        self._bar.refresh()

    def _tick(self) -> None:
        while not self._stop.wait(self.tick):
            with self._lock:
                self._refresh()


_open_step: list[IO[str]] = []  # the stream of a step line waiting for its "done"


def begin(label: str, enabled: bool | None = None, file: IO[str] | None = None) -> Callable[[], None]:
    """Print 'label ...' on a terminal; the returned function appends 'done (3.2 s)'.

    For a step with no bar of its own (the analysis, the page). A function rather than a
    context manager so the step can be marked around existing code without indenting it.
    """
    show = interactive() if enabled is None else enabled
    out = file or sys.stderr
    start = time.perf_counter()
    if not show:
        return lambda: None
    print(f"{label} ...", end="", file=out, flush=True)
    _open_step.append(out)

    def finish() -> None:
        if out in _open_step:
            _open_step.remove(out)
            print(f" done ({time.perf_counter() - start:.1f} s)", file=out, flush=True)

    return finish


def end_steps() -> None:
    """End unfinished step lines, so an error message starts on a line of its own."""
    while _open_step:
        print(file=_open_step.pop(), flush=True)


@contextlib.contextmanager
def step(label: str, enabled: bool | None = None, file: IO[str] | None = None) -> Iterator[None]:
    """begin() as a context manager."""
    finish = begin(label, enabled, file)
    try:
        yield
    except BaseException:
        end_steps()
        raise
    finish()
