"""Train what the cache lacks, once, and file each result in the store.

`plan.plan` groups the runs into trajectories (one training to the longest run, shorter
runs filed on the way) in wave order; `train_trajectory` trains one of them, in this process
or in a worker of the `--jobs` pool, and reports its epochs to a listener (the progress bar).
`Runner` is the front door the commands use: cache status, then `run`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Protocol

import pandas as pd
import torch

from . import data as data_mod
from .config import Experiment, RunSpec
from .data import TaskData
from .devices import device_name, pick_device
from .errors import UserError
from .hostmem import keep_freed_memory
from .inputs import Inputs, Paths, load_inputs
from .plan import Identity, Trajectory, code_digest, plan
from .store import SHORT, RunMeta, RunResult, Store
from .train import TrainState, new_state, sample_outputs, train

if TYPE_CHECKING:
    from .progress import Overall


class EpochListener(Protocol):
    """Told (trajectory, epochs done) when a training starts (started=True) and after each epoch."""

    def __call__(self, trajectory: str, epoch: int, started: bool = False) -> None: ...


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


# --------------------------------------------------------------------------- one trajectory


@dataclass
class Trainer:
    """What training needs besides the runs: the store, the data in memory, the device."""

    store: Store
    inputs: Inputs
    device: torch.device
    identity: Identity
    show_progress: bool | None = False
    _task_data: dict[tuple, TaskData] = field(default_factory=dict)

    def cached(self, spec: RunSpec, report: bool = True) -> RunResult | None:
        return self.store.load(spec.name, self.identity.fingerprint(spec), report=report)

    def task_data(self, spec: RunSpec) -> TaskData:
        """The shuffled tensors of a run, made once per (task, head, seed, sizes)."""
        e = spec.experiment
        key = (e.task, e.head, e.seed, spec.train_images, spec.val_images)
        if key not in self._task_data:
            self._task_data[key] = data_mod.make_task_data(
                self.inputs.horses, self.inputs.palette, e.task, e.head, e.seed,
                spec.train_images, spec.val_images)
        return self._task_data[key]


def train_trajectory(trainer: Trainer, trajectory: Trajectory, force: bool = False,
                     file: Callable[[Outcome], None] | None = None,
                     on_epoch: EpochListener | None = None) -> list[Outcome]:
    """Every run of one trajectory: the cached ones as they are (unless force), the others
    trained under the trajectory's lock (resuming its checkpoint) and filed on the way."""
    outcomes: list[Outcome] = []

    def filed(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if file is not None:
            file(outcome)

    def take_cached(specs: list[RunSpec], report: bool) -> list[RunSpec]:
        todo = []
        for spec in specs:
            hit = None if force else trainer.cached(spec, report=report)
            if hit is not None:
                filed(Outcome(spec, hit, "cached"))
            else:
                todo.append(spec)
        return todo

    todo = take_cached(list(trajectory.runs), report=True)
    if todo:
        with trainer.store.lock(trajectory.key):
            # Another process may have finished these while we waited for the lock.
            todo = take_cached(todo, report=False)
            if todo:
                _train(trainer, trajectory.key, todo, force, filed, on_epoch)
    return outcomes


def _train(trainer: Trainer, trajectory: str, todo: list[RunSpec], force: bool,
           file: Callable[[Outcome], None], on_epoch: EpochListener | None) -> None:
    longest = max(todo, key=lambda s: s.epochs)
    shortest = min(s.epochs for s in todo)
    data = trainer.task_data(longest)
    state = new_state(longest, trainer.device, len(trainer.inputs.palette))
    saved = None if force else trainer.store.load_checkpoint(trajectory)
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
            file(Outcome(spec, _save(trainer, spec, st, data, trajectory), how))

    def after_epoch(st: TrainState) -> None:
        bad = [k for k, v in st.history[-1].items() if not math.isfinite(v)]
        if bad:  # train() stops on a non-finite training loss; this catches the rest
            row = st.history.pop()
            raise FloatingPointError(f"{longest.name}: {bad[0]} became {row[bad[0]]} at epoch {row['epoch']}")
        trainer.store.save_checkpoint(trajectory, st.state_dict())
        if on_epoch is not None:
            on_epoch(trajectory, st.epoch)
        file_results(st)

    file_results(state)  # a checkpoint may already sit exactly at a requested epoch
    if on_epoch is not None:
        on_epoch(trajectory, state.epoch, True)
    try:
        train(longest, data, trainer.device, state, after_epoch, trainer.show_progress)
    except FloatingPointError as exc:
        # "p3_unet: training loss became nan at epoch 3" -> the cause after the name
        cause = str(exc).split(": ", 1)[-1]
        raise diverged(longest, f"the {cause}", trajectory,
                       [s.name for s in todo if s.epochs > state.epoch]) from None


def _save(trainer: Trainer, spec: RunSpec, state: TrainState, data: TaskData, trajectory: str) -> RunResult:
    history = pd.DataFrame(state.history[:spec.epochs])
    final = {k: float(v) for k, v in history.iloc[-1].items()}
    samples = sample_outputs(state.model, spec.experiment.head, data, trainer.device)
    if spec.experiment.task == "super_resolution":
        samples["bilinear"] = data_mod.bilinear_baseline(data.sample_rgb)
    meta = RunMeta(
        name=spec.name,
        fingerprint=trainer.identity.fingerprint(spec),
        experiment=dataclasses.asdict(spec.experiment),
        hyper=spec.hyper(),
        quick=spec.quick,
        trajectory=trajectory,
        final=final,
        seconds=float(history["epoch_seconds"].sum()),
        device=device_name(trainer.device),
        torch=torch.__version__,
        palette=trainer.inputs.palette_source,
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    weights = {k: v.detach().cpu() for k, v in state.model.state_dict().items()}
    return trainer.store.save(meta, history, weights, samples)


# --------------------------------------------------------------------------- many trajectories


class WaveTracker:
    """Counts the trajectories left in each wave and says when a wave (and all before it) is done."""

    def __init__(self, trajectories: Iterable[Trajectory], on_wave: Callable[[int, int], None] | None,
                 progress: "Overall | None" = None) -> None:
        self.waves = {t.key: t.wave for t in trajectories}
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


@dataclass
class Listeners:
    """Who hears what while a list trains: each result as it is filed, each failure, each wave,
    and the progress bar (which also hears every epoch)."""

    on_outcome: Callable[[Outcome], None] | None = None
    on_failure: Callable[[Diverged], None] | None = None
    progress: "Overall | None" = None

    def filed(self, outcome: Outcome) -> None:
        if self.progress is not None:
            self.progress.done(outcome.how)
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def failed(self, exc: Diverged) -> None:
        if self.progress is not None:
            self.progress.failed(exc.trajectory, len(exc.names))
        if self.on_failure is None:
            raise exc
        self.on_failure(exc)

    @property
    def on_epoch(self) -> EpochListener | None:
        return None if self.progress is None else self.progress.epoch


def train_serially(trainer: Trainer, trajectories: Iterable[Trajectory], force: bool,
                   listeners: Listeners, tracker: WaveTracker) -> None:
    for trajectory in trajectories:
        tracker.starting(trajectory.key)
        try:
            train_trajectory(trainer, trajectory, force, listeners.filed, listeners.on_epoch)
        except Diverged as exc:
            listeners.failed(exc)
        tracker.finished(trajectory.key)


def train_in_pool(paths: Paths, trainer: Trainer, trajectories: list[Trajectory], force: bool, jobs: int,
                  listeners: Listeners, tracker: WaveTracker) -> None:
    """The trajectories in `jobs` worker processes, each with an equal share of the CPU threads
    so the cores are not oversubscribed; results are read back from the store as they finish."""
    import concurrent.futures as cf
    import multiprocessing as mp
    import queue as queue_mod

    threads = max(1, (os.cpu_count() or 1) // jobs)
    ctx = mp.get_context("spawn")
    progress = listeners.progress
    with contextlib.ExitStack() as stack:
        # Workers report their epochs through a queue so the overall bar moves with them.
        events = stack.enter_context(ctx.Manager()).Queue() if progress is not None else None
        pool = stack.enter_context(cf.ProcessPoolExecutor(
            max_workers=jobs, mp_context=ctx, initializer=_worker_init, initargs=(threads,)))
        # submitted in wave order (trajectories are), so the pool starts wave 0 first
        submitted = {pool.submit(_train_in_worker, paths, trainer.identity, str(trainer.device),
                                 trajectory, force, events): trajectory for trajectory in trajectories}
        for trajectory in trajectories:
            tracker.starting(trajectory.key)
        waiting = set(submitted)

        def drain() -> None:
            while events is not None and progress is not None:
                try:
                    progress.epoch(*events.get_nowait())
                except queue_mod.Empty:
                    return

        while waiting:
            finished, waiting = cf.wait(waiting, timeout=0.5, return_when=cf.FIRST_COMPLETED)
            drain()
            for future in finished:
                try:
                    filed = future.result()
                except Diverged as exc:
                    listeners.failed(exc)
                    filed = []
                for spec, how in filed:
                    result = trainer.cached(spec)
                    if result is None:
                        raise RuntimeError(f"worker finished {spec.name} but its result is not in the store")
                    listeners.filed(Outcome(spec, result, how))
                tracker.finished(submitted[future].key)


def _worker_init(threads: int) -> None:
    keep_freed_memory()
    torch.set_num_threads(threads)


def _train_in_worker(paths: Paths, identity: Identity, device: str, trajectory: Trajectory,
                     force: bool, events: Any = None) -> list[tuple[RunSpec, str]]:
    """One trajectory in a worker process; results go to the store, names come back,
    epochs go to the `events` queue when there is one."""
    trainer = Trainer(paths.store, load_inputs(paths), torch.device(device), identity)
    hook = None if events is None else lambda t, e, started=False: events.put((t, e, started))
    return [(o.spec, o.how) for o in train_trajectory(trainer, trajectory, force, None, hook)]


# --------------------------------------------------------------------------- the front door


@dataclass
class Runner:
    """Trains and caches runs for one invocation; holds the shared inputs in memory."""

    paths: Paths
    inputs: Inputs
    device: torch.device = field(default_factory=pick_device)
    code: str = field(default_factory=code_digest)
    show_progress: bool | None = None
    trainer: Trainer = field(init=False)

    def __post_init__(self) -> None:
        identity = Identity(self.code, self.inputs.identity, self.inputs.palette_digest)
        self.trainer = Trainer(self.paths.store, self.inputs, self.device, identity, self.show_progress)

    @property
    def store(self) -> Store:
        return self.trainer.store

    def fingerprint(self, spec: RunSpec) -> str:
        return self.trainer.identity.fingerprint(spec)

    def trajectory(self, spec: RunSpec) -> str:
        return self.trainer.identity.trajectory(spec)

    def cached(self, spec: RunSpec, report: bool = True) -> RunResult | None:
        return self.trainer.cached(spec, report)

    def task_data(self, spec: RunSpec) -> TaskData:
        return self.trainer.task_data(spec)

    def status(self, spec: RunSpec) -> str:
        """cached, damaged, missing, or stale (only results of other code, data or settings)."""
        stored = self.store.fingerprints(spec.name)
        if self.fingerprint(spec)[:SHORT] in stored:
            return "cached" if self.cached(spec, report=False) else "damaged"
        # the --quick preview of a full run (or the other way round) is not a stale result
        other = self.fingerprint(dataclasses.replace(spec, quick=not spec.quick))[:SHORT]
        return "stale" if set(stored) - {other} else "missing"

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

        on_outcome hears about each result as soon as it is filed, in completion order;
        progress (an Overall bar) hears the plan, every epoch and every result. With jobs > 1,
        trajectories that need training go to a pool of that many processes. A diverging
        trajectory raises Diverged, or with on_failure is reported there while the others carry
        on; its runs are then absent from the returned list. Trajectories train wave by wave
        (plan.plan); on_wave(wave, last) is told as soon as every wave up to `wave` is done.
        """
        specs = list(specs)
        done: dict[RunSpec, Outcome] = {}

        def filed(outcome: Outcome) -> None:
            done[outcome.spec] = outcome
            if on_outcome is not None:
                on_outcome(outcome)

        listeners = Listeners(filed, on_failure, progress)
        trajectories = plan(specs, self.trainer.identity, waves)
        tracker = WaveTracker(trajectories, on_wave, progress)
        if progress is not None:
            progress.plan({t.key: todo for t in trajectories
                           if (todo := [s for s in t.runs if force or not self.stored(s)])})
        try:
            pooled = [] if jobs <= 1 else [t for t in trajectories if force or not all(
                self.cached(s, report=False) for s in t.runs)]
            train_serially(self.trainer, [t for t in trajectories if t not in pooled], force, listeners, tracker)
            if pooled:
                train_in_pool(self.paths, self.trainer, pooled, force, jobs, listeners, tracker)
        finally:
            if progress is not None:
                progress.close()
        return [done[s] for s in specs if s in done]


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
