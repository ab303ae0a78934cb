"""Measurements: the numbers a loss curve cannot give, one module each.

A measurement module declares, in one place, a `Measurement`: which runs it reads (found in
the experiment list by its `measured` tables or by their fields, never by name), how it
computes (a pure function of those trained runs, the test images and the palette), the plain
numbers it gives the answers (its view, always complete: NaN while it is not computed) and the
items it shows on the page. It registers itself with `register(...)`, which also makes its
name an evidence kind; the outline shows it with one line. Nothing else in the code names it.

`measure` computes what the outline shows, once per report, each measurement cached under
build/analysis/ by the fingerprints of the runs it reads, the data, the palette and its
own source, so a new run elsewhere in the list never invalidates it.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn

from .. import data as data_mod
from .. import evidence, seeds
from ..fields import Fields
from ..config import Experiment
from ..errors import UserError, closest
from ..formats import mean_sd
from ..fsutil import atomic_write, digest, sha256_bytes, source_digest
from ..page import Item, Page, cell, note, pending
from ..runs import RunInfo, Runs
from ..store import torch_bytes, torch_load
from ..trained import load_model

NAN = float("nan")
NO_DATA = ("These measurements need the image data, which was not found "
           "(set PA3_DATA and rebuild the report).")
_SHARED_SOURCES = (Path(__file__).resolve(), Path(__file__).resolve().parent.parent / "trained.py")


@dataclass(frozen=True)
class Network:
    """One entry a measurement reads: its name (the run of its first seed), the label the
    measurement's table gives it and the experiment as the list describes it."""

    name: str
    label: str
    experiment: Experiment


@dataclass(frozen=True)
class Reads:
    """The entries a measurement reads, found in the experiment list rather than by name, so a
    run renamed in the list keeps its measurements: the entries whose `measured` table names the
    measurement (labelled there), or those `pick` chooses by their fields (labelled by name;
    `what` says which, for the error when the list has none); in list order, or by `order`.

    Every seed is read and the measurement is computed over the seeds that are cached; with
    first_seeds only each entry's first seed, and it waits until there are some and all of them
    are cached."""

    pick: Callable[[Experiment], bool] | None = None
    what: str = ""
    order: Callable[[Experiment], Any] | None = None
    first_seeds: bool = False
    measurement: str = ""  # the measurement's name, set by register

    def networks(self, runs: Runs) -> tuple[Network, ...]:
        return self.choose(r.experiment for r in runs.values())

    def choose(self, experiments: Iterable[Experiment]) -> tuple[Network, ...]:
        """The entries read among these experiments (each by its first seed), in order."""
        found = [Network(e.name, label, e) for e in experiments
                 if e.name == e.base and (label := self.label(e)) is not None]
        return tuple(sorted(found, key=lambda n: self.order(n.experiment)) if self.order else found)

    def label(self, e: Experiment) -> str | None:
        """The entry's label in this measurement, None when the measurement does not read it."""
        if self.pick is not None:
            return e.name if self.pick(e) else None
        label = dict(e.measured).get(self.measurement)
        return None if label is None else label or e.name

    def select(self, runs: Runs) -> list[RunInfo]:
        names = {n.name for n in self.networks(runs)}
        return [r for r in runs.values() if (r.name if self.first_seeds else r.experiment.base) in names]

    def ready(self, runs: Runs) -> bool:
        read = self.select(runs)
        return not self.first_seeds or bool(read) and all(r.available for r in read)


class Bench:
    """What a measurement computes from: the cached runs it reads, the test images, the palette."""

    def __init__(self, runs: Sequence[RunInfo], palette: np.ndarray,
                 test_images: Callable[[], torch.Tensor] | None, all_runs: Runs | None = None,
                 networks: Sequence[Network] = ()) -> None:
        self.runs = list(runs)
        self.all_runs: Runs = all_runs if all_runs is not None else {r.name: r for r in self.runs}
        self.networks = tuple(networks)  # the entries read, in the measurement's order
        self.palette_np = np.asarray(palette, np.float32)
        self._test_images = test_images

    @cached_property
    def palette(self) -> torch.Tensor:
        return torch.from_numpy(self.palette_np)

    @cached_property
    def truth(self) -> torch.Tensor:
        """The test images as floats in [0, 1] (read on first use)."""
        if self._test_images is None:
            raise RuntimeError("this measurement reads the test images, but none were given")
        return data_mod.to_unit(self._test_images())

    @cached_property
    def grey(self) -> torch.Tensor:
        return data_mod.greyscale(self.truth)

    def run(self, name: str) -> RunInfo:
        return next(r for r in self.runs if r.name == name)

    def entry(self, base: str) -> list[RunInfo]:
        """The cached seeds of one entry, by name."""
        return sorted((r for r in self.runs if r.experiment.base == base), key=lambda r: r.name)

    def over_seeds(self, bases: Iterable[str], measure: Callable[[RunInfo], Mapping[str, Any]]
                   ) -> dict[str, dict[str, Any]]:
        """measure(run) for every cached seed of each entry, by seed, as {entry: {metric: [one value
        per seed], "pairing": {model, seeds}}} (entries with no cached seed are left out): the form
        seeded_row reads. A metric that is a mapping of metrics gives the same mapping of lists."""
        out: dict[str, dict[str, Any]] = {}
        for base in bases:
            runs = sorted(self.entry(base), key=lambda r: r.experiment.seed)
            per_seed = [measure(r) for r in runs]
            if per_seed:
                out[base] = _by_metric(per_seed)
                # what pairs two rows seed by seed: the same network trained with the same seeds
                out[base]["pairing"] = {"model": runs[0].experiment.model,
                                        "seeds": [r.experiment.seed for r in runs]}
        return out

    def over_networks(self, measure: Callable[[RunInfo], Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """over_seeds of the networks the measurement reads."""
        return self.over_seeds((n.name for n in self.networks), measure)

    def model(self, run: RunInfo | str) -> nn.Module:
        info = self.run(run) if isinstance(run, str) else run
        assert info.result is not None
        return load_model(info.result, len(self.palette_np))


def _by_metric(per_seed: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """[{metric: value}, ...] one per seed -> {metric: [value, ...]}, nested mappings alike."""
    return {m: _by_metric([s[m] for s in per_seed]) if isinstance(v, Mapping) else [float(s[m]) for s in per_seed]
            for m, v in per_seed[0].items()}


@dataclass(frozen=True)
class Measurement:
    """One measurement. view(None) must name every field (NaN values), so answers can be checked
    before anything is computed; show(page, result, view) lays out the page items. One that reads
    networks of the list (reads=Reads(...)) is given them too, in its order, as the last argument
    of both: view(result, networks), show(page, result, view, networks)."""

    name: str
    compute: Callable[[Bench], Any]
    view: Callable[..., Fields]
    show: Callable[..., list[Item]] | None = None
    reads: Any = None  # a Reads, or anything with select(runs) and ready(runs); None reads no run
    needs_data: bool = True  # reads the test images or the fitted palette
    cache: bool = True  # False for cheap ones computed from run histories on every render
    context: str = "analysis"  # answers read the view as analysis.<name>; "" puts it at the top
    sources: tuple[Path, ...] = field(default=(), compare=False)

    @property
    def code(self) -> str:
        return source_digest((*self.sources, *_SHARED_SOURCES))

    def networks(self, runs: Runs) -> tuple[Network, ...] | None:
        """The networks it reads in this list; None when it does not read networks of the list."""
        return self.reads.networks(runs) if isinstance(self.reads, Reads) else None

    def select(self, runs: Runs) -> list[RunInfo]:
        return self.reads.select(runs) if self.reads is not None else []

    def ready(self, runs: Runs) -> bool:
        return self.reads is None or self.reads.ready(runs)

    def fields(self, result: Any, runs: Runs) -> Fields:
        """Its view of a result (None: not computed) for the networks of this list."""
        nets = self.networks(runs)
        return self.view(result) if nets is None else self.view(result, nets)

    def items(self, page: Page, result: Any) -> list[Item]:
        if self.show is None:
            return []
        nets = self.networks(page.runs)
        view = self.fields(result, page.runs)
        return self.show(page, result, view) if nets is None else self.show(page, result, view, nets)


REGISTRY: dict[str, Measurement] = {}


def discover() -> None:
    """Import every evidence and measurement module, so each registers itself."""
    evidence.discover()
    evidence.discover(__name__)


def register(m: Measurement) -> Measurement:
    """Add a measurement (and the evidence kind of the same name that shows it)."""
    module = inspect.getmodule(m.compute)
    source = Path(module.__file__).resolve() if module and getattr(module, "__file__", None) else None
    reads = dataclasses.replace(m.reads, measurement=m.name) if isinstance(m.reads, Reads) else m.reads
    m = dataclasses.replace(m, sources=(source,) if source else (), reads=reads)
    REGISTRY[m.name] = m
    evidence.add(m.name, _piece(m.name))
    return m


def unregister(name: str) -> None:
    REGISTRY.pop(name, None)
    evidence.PIECES.pop(name, None)


def _piece(name: str) -> evidence.Piece:
    def build(page: Page, q: Any, ev: Any) -> list[Item]:
        m = REGISTRY[name]
        if m.needs_data and not page.has_data:
            return [note(NO_DATA)]
        items = pending([r.name for r in m.select(page.runs) if not r.available])
        result = page.measured.get(name)
        if result is not None:
            items += m.items(page, result)
        return items
    return build


def check(experiments: Sequence[Experiment], folder: Path) -> None:
    """The list's `measured` tables against the measurements, when the report loads it: each
    names a measurement that reads the entries given to it, and in a list that names any (a list
    written for these measurements) every measurement finds a run to read. A one-line UserError
    otherwise; a list that names none (a small list of its own) shows what it has."""
    discover()
    reading = {n: m.reads for n, m in REGISTRY.items() if isinstance(m.reads, Reads)}
    given = [n for n, r in reading.items() if r.pick is None]
    for e in experiments:
        for name, _ in e.measured if e.name == e.base else ():
            where = f"{folder / f'{e.list_name}.toml'}, experiment {e.name!r}, key 'measured'"
            if name in reading and name not in given:
                raise UserError(f"{where}: measurement {name!r} finds its runs itself ({reading[name].what}); "
                                f"remove it from `measured`.")
            if name not in given:
                raise UserError(f"{where}: unknown measurement {name!r}{closest(name, given)}; the measurements "
                                f"a `measured` table can name: {', '.join(given)}.")
    if not any(e.measured for e in experiments):
        return
    for name, reads in reading.items():
        if not reads.choose(experiments):
            how = (f"it reads {reads.what}; add one" if reads.pick else
                   f'add `measured = {{{name} = "label"}}` (or the line {name} = "label" to an '
                   "[experiment.measured] table) to the entries it should read")
            raise UserError(f"measurement {name!r} reads no run of {folder}: {how}.")


# --------------------------------------------------------------------------- computing


def cache_path(m: Measurement, read: Iterable[RunInfo], data_identity: str, palette: np.ndarray,
               folder: Path) -> Path:
    key = digest({"measurement": m.name, "runs": sorted((r.name, r.fingerprint) for r in read),
                  "data": data_identity, "palette": sha256_bytes(np.asarray(palette, np.float32).tobytes()),
                  "code": m.code})
    return folder / f"{m.name}-{key[:16]}.pt"


def measure(names: Iterable[str], runs: Runs, palette: np.ndarray, folder: Path,
            data_identity: str | None = None, test_images: Callable[[], torch.Tensor] | None = None,
            compute: bool = True, used: list[str] | None = None) -> dict[str, Any]:
    """The result of each named measurement (None where it cannot be computed yet); names that
    are not measurements (the outline's other evidence kinds) are passed over. Results are
    stored in `folder` (Paths.analysis).

    data_identity None means no data was found: measurements that need it give None. With
    compute=False only what is stored is read (cached measurements are never computed).
    `used` collects the names of the cache files read or written (what `prune` must keep).
    """
    discover()
    out: dict[str, Any] = {}
    for name in dict.fromkeys(n for n in names if n in REGISTRY):
        m = REGISTRY[name]
        if (m.needs_data and data_identity is None) or not m.ready(runs):
            out[name] = None
            continue
        read = [r for r in m.select(runs) if r.available]
        networks = m.networks(runs) or ()
        if not m.cache:  # cheap, from run histories: may read every run (seeds included)
            out[name] = m.compute(Bench(read, palette, test_images, runs, networks))
            continue
        path = cache_path(m, read, data_identity or "", palette, folder)
        out[name] = _stored(path)
        if out[name] is None and compute:
            torch.manual_seed(0)
            out[name] = m.compute(Bench(read, palette, test_images, networks=networks))
            atomic_write(path, torch_bytes(out[name]))
        if out[name] is not None and used is not None:
            used.append(path.name)
    return out


def _stored(path: Path) -> Any:
    if path.is_file():
        try:
            return torch_load(path.read_bytes())
        except Exception:
            return None  # damaged: computed again
    return None


def views(results: Mapping[str, Any], runs: Runs) -> dict[str, Fields]:
    """What answers see: every registered measurement's view, for the networks of this list,
    under its context name."""
    discover()
    analysis: dict[str, Any] = {"available": any(results.get(n) is not None for n, m in REGISTRY.items()
                                                 if m.context == "analysis")}
    top: dict[str, Any] = {}
    for name, m in REGISTRY.items():
        (analysis if m.context == "analysis" else top)[name] = m.fields(results.get(name), runs)
    return {"analysis": Fields("analysis", analysis), **top}


# --------------------------------------------------------------------------- view helpers


def seeded_row(owner: str, values: Mapping[str, Any] | None, metrics: Iterable[str]) -> Fields:
    """One row of a table over methods: each metric's mean (also under .mean), its standard
    deviation (.sd, and <metric>_sd) and the number of seeds.

    A network's metric is a list with one value per seed (sd NaN with one seed); a
    deterministic method (an interpolation, the ground truth) has one number, sd 0 and
    .fixed set, so comparisons test the networks against it as a constant.
    """
    means, sds, samples, count, fixed = {}, {}, {}, 0, False
    for m in metrics:
        v = values.get(m, NAN) if values else NAN
        if isinstance(v, (list, tuple)):
            means[m], sds[m] = seeds.mean_sd(v)
            samples[m], count = [float(x) for x in v], len(v)
        else:
            means[m], sds[m] = float(v), 0.0 if values else NAN
            samples[m], fixed = ([float(v)] if values else []), values is not None
    pairing = (values or {}).get("pairing", {})
    return Fields(owner, {**means, **{f"{m}_sd": s for m, s in sds.items()}, "seeds": count,
                          "available": values is not None, "fixed": fixed,
                          "pairing": Fields(f"{owner}.pairing", {"model": pairing.get("model", ""),
                                                                 "seeds": tuple(pairing.get("seeds", ()))}),
                          "mean": Fields(f"{owner}.mean", means), "sd": Fields(f"{owner}.sd", sds),
                          "values": Fields(f"{owner}.values", samples)})


def seeded_rows(owner: str, found: Mapping[str, Any] | None, networks: Iterable[Network],
                metrics: Iterable[str]) -> dict[str, Fields]:
    """The seeded_row of each network, by name, from what over_seeds found (NaN rows for a
    network not measured yet): the view of a table over networks and their seeds."""
    metrics = tuple(metrics)
    return {n.name: seeded_row(f"{owner}.{n.name}", (found or {}).get(n.name), metrics) for n in networks}


def spread(row: Fields, metric: str, kind: str | None = None, digits: int | None = None,
           best: bool = False) -> dict[str, Any]:
    """The table cell of one metric of a seeded row: mean ± standard deviation over the seeds,
    formatted as the metric `kind` (the metric itself unless given)."""
    return cell(mean_sd(row[metric], row[f"{metric}_sd"], kind or metric, digits), numeric=True, best=best)
