"""Decide what needs training, train it once, and file the results in the store.

Runs whose configs differ only in `epochs` share one trajectory: it is trained once to
the largest epoch count and every shorter run is saved as a snapshot on the way, which
is identical to training it separately because batch order depends only on (seed, epoch).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

import pandas as pd
import torch

from . import data as data_mod
from .config import Experiment, RunSpec
from .data import TaskData
from .inputs import Inputs, Paths, load_inputs
from .errors import UserError
from .hostmem import keep_freed_memory
from .fsutil import digest, source_digest
from .store import SHORT, RunMeta, RunResult, Store
from .devices import device_name, pick_device
from .train import TrainState, new_state, sample_outputs, train

if TYPE_CHECKING:
    from .progress import Overall

PACKAGE_DIR = Path(__file__).resolve().parent
# Modules whose source changes what a run computes.
RESULT_MODULES = ("data.py", "models.py", "train.py", "colour.py")


def code_digest(files: Iterable[Path] | None = None) -> str:
    return source_digest(list(files) if files is not None else [PACKAGE_DIR / m for m in RESULT_MODULES])



class Diverged(UserError):
    """A run whose loss stopped being a finite number: its settings, not the code, need changing.

    `names` are the runs of the trajectory that had not been filed when it stopped.
    """

    def __init__(self, message: str, trajectory: str = "", names: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.trajectory = trajectory
        self.names = tuple(names)

    def __reduce__(self):  # crosses the process boundary from a --jobs worker
        return (type(self), (str(self), self.trajectory, self.names))


def diverged(spec: RunSpec, cause: str, trajectory: str, names: Iterable[str]) -> Diverged:
    e = spec.experiment
    settings = f"learn_rate={e.learn_rate:g}, optimizer={e.optimizer}, batch_size={e.batch_size}"
    if e.weight_decay:
        settings += f", weight_decay={e.weight_decay:g}"
    return Diverged(
        f"{spec.name} diverged: {cause} with {settings}. Lower learn_rate (e.g. --set "
        f"learn_rate={e.learn_rate / 10:g}) or change the entry in experiments/; the other runs are kept.",
        trajectory, tuple(names))


@dataclass(frozen=True)
class Outcome:
    spec: RunSpec
    result: RunResult
    how: str  # "cached", "ran", "snapshot" (saved on the way of a longer run), "resumed"


@dataclass
class Runner:
    """Trains and caches runs for one invocation; holds the shared inputs in memory."""

    paths: Paths
    inputs: Inputs
    device: torch.device = field(default_factory=pick_device)
    code: str = field(default_factory=code_digest)
    show_progress: bool | None = None
    # told (trajectory, epochs done) when a training starts (started=True) and after each epoch
    epoch_hook: Callable[..., None] | None = None
    _task_data: dict[tuple, TaskData] = field(default_factory=dict)

    @property
    def store(self) -> Store:
        return self.paths.store

    def _keys(self, spec: RunSpec, with_epochs: bool) -> str:
        return digest({"hyper": spec.hyper(with_epochs=with_epochs), "code": self.code,
                       "data": self.inputs.identity, "palette": self.inputs.palette_digest})

    def fingerprint(self, spec: RunSpec) -> str:
        return self._keys(spec, True)

    def trajectory(self, spec: RunSpec) -> str:
        return self._keys(spec, False)

    def cached(self, spec: RunSpec, report: bool = True) -> RunResult | None:
        return self.store.load(spec.name, self.fingerprint(spec), report=report)

    def status(self, spec: RunSpec) -> str:
        """cached, damaged, missing, or stale (only results of other code, data or settings)."""
        stored = self.store.fingerprints(spec.name)
        if self.fingerprint(spec)[:SHORT] in stored:
            return "cached" if self.cached(spec, report=False) else "damaged"
        # the --quick preview of a full run (or the other way round) is not a stale result
        other = self.fingerprint(dataclasses.replace(spec, quick=not spec.quick))[:SHORT]
        return "stale" if set(stored) - {other} else "missing"

    def task_data(self, spec: RunSpec) -> TaskData:
        e = spec.experiment
        key = (e.task, e.head, e.seed, spec.train_images, spec.val_images)
        if key not in self._task_data:
            self._task_data[key] = data_mod.make_task_data(
                self.inputs.horses, self.inputs.palette, e.task, e.head, e.seed,
                spec.train_images, spec.val_images)
        return self._task_data[key]

    # ----------------------------------------------------------------- running

    def stored(self, spec: RunSpec) -> bool:
        """A result folder exists (not verified): enough to plan, not to trust."""
        return (self.store.folder(spec.name, self.fingerprint(spec)) / "meta.json").is_file()

    def run(self, specs: Iterable[RunSpec], force: bool = False,
            on_outcome: Callable[[Outcome], None] | None = None, jobs: int = 1,
            progress: "Overall | None" = None,
            on_failure: Callable[[Diverged], None] | None = None,
            waves: Mapping[str, int] | None = None,
            on_wave: Callable[[int, int], None] | None = None) -> list[Outcome]:
        """Results for every spec, training only what is not cached (or all with force).

        on_outcome hears about each result as soon as it is filed, in completion order.
        With jobs > 1, independent trajectories train in that many worker processes,
        each given an equal share of the CPU threads so the cores are not oversubscribed.
        progress (an Overall bar) hears the plan, every epoch and every result. A diverging
        trajectory raises Diverged, or with on_failure is reported there while the other
        trajectories carry on; its runs are then absent from the returned list.

        Trajectories train wave by wave (`waves`: run name -> wave, by default
        wave_numbers(specs)): wave 0 holds every entry's first seed, wave 1 the second...
        on_wave(wave, last) is told as soon as every trajectory of waves <= wave is done.
        """
        specs = list(specs)
        groups: dict[str, list[RunSpec]] = {}
        for spec in specs:
            groups.setdefault(self.trajectory(spec), []).append(spec)
        wave_of = trajectory_waves(groups, waves if waves is not None else wave_numbers(specs))
        done: dict[RunSpec, Outcome] = {}
        tracker = WaveTracker(wave_of, on_wave, progress)

        def record(outcome: Outcome) -> None:
            done[outcome.spec] = outcome
            if progress is not None:
                progress.done(outcome.how)
            if on_outcome is not None:
                on_outcome(outcome)

        def fail(exc: Diverged) -> None:
            if progress is not None:
                progress.failed(exc.trajectory, len(exc.names))
            if on_failure is None:
                raise exc
            on_failure(exc)

        hook = self.epoch_hook
        if progress is not None:
            progress.plan({t: todo for t, members in groups.items()
                           if (todo := [s for s in members if force or not self.stored(s)])})
            self.epoch_hook = progress.epoch

        pending = {}
        try:
            for trajectory, members in sorted(groups.items(), key=lambda item: wave_of[item[0]]):
                if jobs <= 1 or (not force and all(self.cached(s, report=False) for s in members)):
                    tracker.starting(trajectory)
                    try:
                        self._run_trajectory(trajectory, members, force, record)
                    except Diverged as exc:
                        fail(exc)
                    tracker.finished(trajectory)
                else:
                    pending[trajectory] = members
            if pending:
                self._run_parallel(pending, force, jobs, record, fail, progress, tracker)
        finally:
            self.epoch_hook = hook
            if progress is not None:
                progress.close()
        return [done[s] for s in specs if s in done]

    def _run_parallel(self, groups: dict[str, list[RunSpec]], force: bool, jobs: int,
                      record: Callable[[Outcome], None], fail: Callable[[Diverged], None],
                      progress: "Overall | None", tracker: "WaveTracker") -> None:
        import concurrent.futures as cf
        import multiprocessing as mp
        import queue as queue_mod

        threads = max(1, (os.cpu_count() or 1) // jobs)
        ctx = mp.get_context("spawn")
        with contextlib.ExitStack() as stack:
            # Workers report their epochs through a queue so the overall bar moves with them.
            events = stack.enter_context(ctx.Manager()).Queue() if progress is not None else None
            pool = stack.enter_context(cf.ProcessPoolExecutor(
                max_workers=jobs, mp_context=ctx, initializer=_worker_init, initargs=(threads,)))
            # submitted in wave order (groups is), so the pool starts wave 0 first
            submitted = {pool.submit(_train_trajectory, self.paths, self.code, str(self.device),
                                     members, force, events): trajectory
                         for trajectory, members in groups.items()}
            for trajectory in groups:
                tracker.starting(trajectory)
            waiting = set(submitted)

            def drain() -> None:
                while events is not None and progress is not None:
                    try:
                        trajectory, epoch, started = events.get_nowait()
                    except queue_mod.Empty:
                        return
                    progress.epoch(trajectory, epoch, started)

            while waiting:
                finished, waiting = cf.wait(waiting, timeout=0.5, return_when=cf.FIRST_COMPLETED)
                drain()
                for future in finished:
                    try:
                        filed = future.result()
                    except Diverged as exc:
                        fail(exc)
                        filed = []
                    for spec, how in filed:
                        result = self.store.load(spec.name, self.fingerprint(spec))
                        if result is None:
                            raise RuntimeError(f"worker finished {spec.name} but its result is not in the store")
                        record(Outcome(spec, result, how))
                    tracker.finished(submitted[future])

    def _run_trajectory(self, trajectory: str, members: list[RunSpec], force: bool,
                        on_outcome: Callable[[Outcome], None] | None) -> list[Outcome]:
        outcomes: list[Outcome] = []

        def file(outcome: Outcome) -> None:
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)

        todo = []
        for spec in members:
            hit = None if force else self.cached(spec)
            if hit is not None:
                file(Outcome(spec, hit, "cached"))
            else:
                todo.append(spec)
        if not todo:
            return outcomes
        with self.store.lock(trajectory):
            # Another process may have finished these while we waited for the lock.
            if not force:
                for spec in list(todo):
                    hit = self.cached(spec, report=False)
                    if hit is not None:
                        file(Outcome(spec, hit, "cached"))
                        todo.remove(spec)
            if todo:
                self._train(trajectory, todo, force, file)
        return outcomes

    def _train(self, trajectory: str, todo: list[RunSpec], force: bool,
               file: Callable[[Outcome], None]) -> None:
        longest = max(todo, key=lambda s: s.epochs)
        shortest = min(s.epochs for s in todo)
        data = self.task_data(longest)
        state = new_state(longest, self.device, len(self.inputs.palette))
        saved = None if force else self.store.load_checkpoint(trajectory)
        resumed_at = 0
        if saved is not None and len(saved["history"]) <= shortest:
            state.load_state_dict(saved)
            resumed_at = state.epoch
        by_epoch: dict[int, list[RunSpec]] = {}
        for spec in todo:
            by_epoch.setdefault(spec.epochs, []).append(spec)

        def file_results(st: TrainState) -> None:
            for spec in by_epoch.get(st.epoch, []):
                how = "resumed" if resumed_at else "ran" if spec.epochs == longest.epochs else "snapshot"
                file(Outcome(spec, self._save(spec, st, data, trajectory), how))

        def on_epoch(st: TrainState) -> None:
            bad = [k for k, v in st.history[-1].items() if not math.isfinite(v)]
            if bad:  # train() stops on a non-finite training loss; this catches the rest
                row = st.history.pop()
                raise FloatingPointError(f"{longest.name}: {bad[0]} became {row[bad[0]]} at epoch {row['epoch']}")
            self.store.save_checkpoint(trajectory, st.state_dict())
            if self.epoch_hook is not None:
                self.epoch_hook(trajectory, st.epoch)
            file_results(st)

        file_results(state)  # a checkpoint may already sit exactly at a requested epoch
        if self.epoch_hook is not None:
            self.epoch_hook(trajectory, state.epoch, True)
        try:
            train(longest, data, self.device, state, on_epoch, self.show_progress)
        except FloatingPointError as exc:
            # "p3_unet: training loss became nan at epoch 3" -> the cause after the name
            cause = str(exc).split(": ", 1)[-1]
            raise diverged(longest, f"the {cause}", trajectory,
                           [s.name for s in todo if s.epochs > state.epoch]) from None

    def _save(self, spec: RunSpec, state: TrainState, data: TaskData, trajectory: str) -> RunResult:
        history = pd.DataFrame(state.history[:spec.epochs])
        final = {k: float(v) for k, v in history.iloc[-1].items()}
        samples = sample_outputs(state.model, spec.experiment.head, data, self.device)
        if spec.experiment.task == "super_resolution":
            samples["bilinear"] = data_mod.bilinear_baseline(data.sample_rgb)
        meta = RunMeta(
            name=spec.name,
            fingerprint=self.fingerprint(spec),
            experiment=dataclasses.asdict(spec.experiment),
            hyper=spec.hyper(),
            quick=spec.quick,
            trajectory=trajectory,
            final=final,
            seconds=float(history["epoch_seconds"].sum()),
            device=device_name(self.device),
            torch=torch.__version__,
            palette=self.inputs.palette_source,
            finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        weights = {k: v.detach().cpu() for k, v in state.model.state_dict().items()}
        return self.store.save(meta, history, weights, samples)


def wave_numbers(specs: Iterable[RunSpec]) -> dict[str, int]:
    """Each run's wave: where its seed stands among its entry's seeds, in list order.

    Wave 0 is the first seed of every entry, so a page rendered after it has every
    question's single-seed results; each later wave adds one seed to every entry.
    """
    seeds: dict[str, list[int]] = {}
    waves = {}
    for spec in specs:
        e = spec.experiment
        known = seeds.setdefault(e.base, [])
        if e.seed not in known:
            known.append(e.seed)
        waves[spec.name] = known.index(e.seed)
    return waves


def trajectory_waves(groups: Mapping[str, list[RunSpec]], waves: Mapping[str, int]) -> dict[str, int]:
    """A trajectory trains in the earliest wave of its runs: runs that share one stay together."""
    return {t: min(waves.get(s.name, 0) for s in members) for t, members in groups.items()}


class WaveTracker:
    """Counts the trajectories left in each wave and says when a wave (and all before it) is done."""

    def __init__(self, waves: Mapping[str, int], on_wave: Callable[[int, int], None] | None,
                 progress: "Overall | None" = None) -> None:
        self.waves = dict(waves)
        self.left = {w: list(self.waves.values()).count(w) for w in set(self.waves.values())}
        self.last = max(self.left, default=0)
        self.on_wave = on_wave
        self.progress = progress
        self.told: set[int] = set()

    def starting(self, trajectory: str) -> None:
        if self.progress is not None:
            self.progress.wave(self.waves[trajectory], self.last)

    def finished(self, trajectory: str) -> None:
        self.left[self.waves[trajectory]] -= 1
        for wave in sorted(self.left):
            if self.left[wave] > 0:
                return
            if wave not in self.told:
                self.told.add(wave)
                if self.on_wave is not None:
                    self.on_wave(wave, self.last)


def _worker_init(threads: int) -> None:
    keep_freed_memory()
    torch.set_num_threads(threads)


def _train_trajectory(paths: Paths, code: str, device: str, members: list[RunSpec],
                      force: bool, events: Any = None) -> list[tuple[RunSpec, str]]:
    """One trajectory in a worker process; results go to the store, names come back,
    epochs go to the `events` queue when there is one."""
    hook = None if events is None else lambda t, e, started=False: events.put((t, e, started))
    runner = Runner(paths, load_inputs(paths), device=torch.device(device), code=code,
                    show_progress=False, epoch_hook=hook)
    outcomes = runner._run_trajectory(runner.trajectory(members[0]), members, force, None)
    return [(o.spec, o.how) for o in outcomes]


def specs_for(experiments: Iterable[Experiment], quick: bool) -> list[RunSpec]:
    return [RunSpec(e, quick) for e in experiments]


def summary_line(outcome: Outcome) -> str:
    f = outcome.result.final
    metric = (f"val_mse {f['val_mse']:.5f}" if outcome.spec.experiment.head == "rgb"
              else f"val_acc {f['val_acc']:.2f}%")
    preview = " [quick preview]" if outcome.spec.quick else ""
    return (f"{outcome.spec.name:<24} {outcome.how:<8} epochs {outcome.spec.epochs:>3}  "
            f"train_loss {f['train_loss']:.4f}  val_loss {f['val_loss']:.4f}  {metric}  "
            f"{outcome.result.meta.seconds:.1f}s{preview}")

