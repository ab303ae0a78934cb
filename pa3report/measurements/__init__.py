"""Measurements: the numbers a loss curve cannot give, one module each.

A measurement module declares, in one place, a `Measurement`: which runs it reads (by
experiment entry or run name), how it computes (a pure function of those trained runs,
the test images and the palette), the plain numbers it gives the answers (its view, always
complete: NaN while it is not computed) and the items it shows on the page. It registers
itself with `register(...)`, which also makes its name an evidence kind; the outline shows
it with one line. Nothing else in the code names it.

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
from ..fsutil import atomic_write, digest, sha256_bytes, source_digest
from ..page import Item, Page, note, pending
from ..runs import RunInfo, Runs
from ..store import torch_bytes, torch_load
from ..trained import load_model

NAN = float("nan")
NO_DATA = ("These measurements need the image data, which was not found "
           "(set PA3_DATA and rebuild the report).")
_SHARED_SOURCES = (Path(__file__).resolve(), Path(__file__).resolve().parent.parent / "trained.py")


@dataclass(frozen=True)
class Reads:
    """The runs a measurement reads: every seed of some entries (it is computed over the seeds
    that are cached), and single runs by name (it waits until all of them are cached)."""

    entries: tuple[str, ...] = ()
    runs: tuple[str, ...] = ()

    def select(self, runs: Runs) -> list[RunInfo]:
        return [r for r in runs.values() if r.experiment.base in self.entries or r.name in self.runs]

    def ready(self, runs: Runs) -> bool:
        return all(name in runs and runs[name].available for name in self.runs)


class Bench:
    """What a measurement computes from: the cached runs it reads, the test images, the palette."""

    def __init__(self, runs: Sequence[RunInfo], palette: np.ndarray,
                 test_images: Callable[[], torch.Tensor] | None, all_runs: Runs | None = None) -> None:
        self.runs = list(runs)
        self.all_runs: Runs = all_runs if all_runs is not None else {r.name: r for r in self.runs}
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

    def over_seeds(self, bases: Iterable[str], measure: Callable[[RunInfo], Mapping[str, float]]
                   ) -> dict[str, dict[str, Any]]:
        """measure(run) for every cached seed of each entry, by seed, as {entry: {metric: [one value
        per seed], "pairing": {model, seeds}}} (entries with no cached seed are left out): the form
        seeded_row reads."""
        out: dict[str, dict[str, Any]] = {}
        for base in bases:
            runs = sorted(self.entry(base), key=lambda r: r.experiment.seed)
            per_seed = [measure(r) for r in runs]
            if per_seed:
                out[base] = {m: [float(s[m]) for s in per_seed] for m in per_seed[0]}
                # what pairs two rows seed by seed: the same network trained with the same seeds
                out[base]["pairing"] = {"model": runs[0].experiment.model,
                                        "seeds": [r.experiment.seed for r in runs]}
        return out

    def model(self, run: RunInfo | str) -> nn.Module:
        info = self.run(run) if isinstance(run, str) else run
        assert info.result is not None
        return load_model(info.result, len(self.palette_np))


@dataclass(frozen=True)
class Measurement:
    """One measurement. view(None) must name every field (NaN values), so answers can be checked
    before anything is computed; show(page, result, view) lays out the page items."""

    name: str
    compute: Callable[[Bench], Any]
    view: Callable[[Any], Fields]
    show: Callable[[Page, Any, Fields], list[Item]] | None = None
    reads: Reads = Reads()
    needs_data: bool = True  # reads the test images or the fitted palette
    cache: bool = True  # False for cheap ones computed from run histories on every render
    context: str = "analysis"  # answers read the view as analysis.<name>; "" puts it at the top
    sources: tuple[Path, ...] = field(default=(), compare=False)

    @property
    def code(self) -> str:
        return source_digest((*self.sources, *_SHARED_SOURCES))


REGISTRY: dict[str, Measurement] = {}


def discover() -> None:
    """Import every evidence and measurement module, so each registers itself."""
    evidence.discover()
    evidence.discover(__name__)


def register(m: Measurement) -> Measurement:
    """Add a measurement (and the evidence kind of the same name that shows it)."""
    module = inspect.getmodule(m.compute)
    source = Path(module.__file__).resolve() if module and getattr(module, "__file__", None) else None
    m = dataclasses.replace(m, sources=(source,) if source else ())
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
        items = pending([r.name for r in m.reads.select(page.runs) if not r.available])
        result = page.measured.get(name)
        if result is not None and m.show is not None:
            items += m.show(page, result, m.view(result))
        return items
    return build


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
        if (m.needs_data and data_identity is None) or not m.reads.ready(runs):
            out[name] = None
            continue
        read = [r for r in m.reads.select(runs) if r.available]
        if not m.cache:  # cheap, from run histories: may read every run (seeds included)
            out[name] = m.compute(Bench(read, palette, test_images, runs))
            continue
        path = cache_path(m, read, data_identity or "", palette, folder)
        out[name] = _stored(path)
        if out[name] is None and compute:
            torch.manual_seed(0)
            out[name] = m.compute(Bench(read, palette, test_images))
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


def views(results: Mapping[str, Any]) -> dict[str, Fields]:
    """What answers see: every registered measurement's view under its context name."""
    discover()
    analysis: dict[str, Any] = {"available": any(results.get(n) is not None for n, m in REGISTRY.items()
                                                 if m.context == "analysis")}
    top: dict[str, Any] = {}
    for name, m in REGISTRY.items():
        (analysis if m.context == "analysis" else top)[name] = m.view(results.get(name))
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
