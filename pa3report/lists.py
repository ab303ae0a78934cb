"""Experiment lists: each experiments/*.toml is a list, named by its file stem.

Selecting lists (`--lists handout,sweep`, `make report LISTS=...`) limits what is trained,
never what is read: a report still shows every run of every list, with the cached results
of unselected lists when there are any and a "not run" notice naming the list otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from .config import Experiment
from .errors import UserError, closest


def names(experiments: Iterable[Experiment]) -> tuple[str, ...]:
    """Every list these experiments come from, in file order."""
    return tuple(dict.fromkeys(e.list_name for e in experiments))


def parse(text: str) -> tuple[str, ...]:
    """`handout,sweep` as list names; a `.toml` suffix is tolerated."""
    return tuple(dict.fromkeys(n.strip().removesuffix(".toml") for n in text.split(",") if n.strip()))


@dataclass(frozen=True)
class Selection:
    """The lists chosen for training out of every list; `chosen=None` means all of them."""

    known: tuple[str, ...] = ()
    chosen: tuple[str, ...] | None = None

    def __contains__(self, experiment: Experiment) -> bool:
        return self.chosen is None or experiment.list_name in self.chosen

    def pick(self, experiments: Iterable[Experiment]) -> list[Experiment]:
        return [e for e in experiments if e in self]

    def left_out(self, experiments: Iterable[Experiment]) -> tuple[str, ...]:
        """The unchosen lists these experiments come from, in file order."""
        have = {e.list_name for e in experiments if e not in self}
        return tuple(n for n in self.known if n in have)

    def command(self, experiments: Iterable[Experiment] = ()) -> str:
        """The `make report` that trains these experiments and keeps the lists chosen now."""
        if self.chosen is None:
            return "make report"
        wanted = set(self.chosen) | set(self.left_out(experiments))
        if wanted >= set(self.known):
            return "make report"
        return "make report LISTS=" + ",".join(n for n in self.known if n in wanted)


EVERY = Selection()


def select(experiments: Sequence[Experiment], chosen: Sequence[str] | None) -> Selection:
    """The selection of these list names (None: every list); an unknown name is the user's to fix."""
    known = names(experiments)
    if chosen is None:
        return Selection(known)
    if not chosen:
        raise UserError(f"No experiment list given; name one or more of: {', '.join(known)}.")
    for name in chosen:
        if name not in known:
            raise UserError(
                f"No experiment list named {name!r}{closest(name, known)}. The lists are the files "
                f"of experiments/, by name: {', '.join(known)}.")
    return Selection(known, tuple(n for n in known if n in chosen))
