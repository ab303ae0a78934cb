"""What a run is in the cache, and the order runs train in: pure functions of the specs.

A run's fingerprint hashes what determines its result (hyper-parameters, the code of the
result modules, the data and the palette). Runs whose configs differ only in `epochs` share
one trajectory: it is trained once to the largest epoch count and every shorter run is saved
as a snapshot on the way, which is identical to training it separately because batch order
depends only on (seed, epoch). Trajectories train wave by wave, so a page can be rendered
after every entry's first seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from .config import RunSpec
from .fsutil import digest, source_digest

PACKAGE_DIR = Path(__file__).resolve().parent
# Modules whose source changes what a run computes.
RESULT_MODULES = ("data.py", "models.py", "train.py", "colour.py")


def code_digest(files: Iterable[Path] | None = None) -> str:
    return source_digest(list(files) if files is not None else [PACKAGE_DIR / m for m in RESULT_MODULES])


@dataclass(frozen=True)
class Identity:
    """Everything besides the spec that a result depends on."""

    code: str  # code_digest() of the result modules
    data: str  # the data files' identity
    palette: str  # the palette's digest

    def _key(self, spec: RunSpec, with_epochs: bool) -> str:
        return digest({"hyper": spec.hyper(with_epochs=with_epochs), "code": self.code,
                       "data": self.data, "palette": self.palette})

    def fingerprint(self, spec: RunSpec) -> str:
        """The name of this run's result in the store."""
        return self._key(spec, True)

    def trajectory(self, spec: RunSpec) -> str:
        """The training this run is a snapshot of (the same for every epoch count)."""
        return self._key(spec, False)


@dataclass(frozen=True)
class Trajectory:
    """One training to the longest of its runs, filing each run at its epoch count."""

    key: str
    runs: tuple[RunSpec, ...]
    wave: int = 0

    @property
    def longest(self) -> RunSpec:
        return max(self.runs, key=lambda s: s.epochs)


def plan(specs: Iterable[RunSpec], identity: Identity, waves: Mapping[str, int] | None = None
         ) -> list[Trajectory]:
    """The trajectories of `specs` in training order: by wave (`waves`: run name -> wave, by
    default wave_numbers(specs)), then in list order. A trajectory trains in the earliest wave
    of its runs, so runs that share one stay together."""
    specs = list(specs)
    waves = wave_numbers(specs) if waves is None else waves
    groups: dict[str, list[RunSpec]] = {}
    for spec in specs:
        groups.setdefault(identity.trajectory(spec), []).append(spec)
    trajectories = [Trajectory(key, tuple(runs), min(waves.get(s.name, 0) for s in runs))
                    for key, runs in groups.items()]
    return sorted(trajectories, key=lambda t: t.wave)


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
