"""What every piece of evidence is made of: page items, cached figures, and the Page they read.

An item is a plain dict with a "kind" the template knows: figure, table, note, pending,
gallery. Figures go through FigureMaker, which keys every PNG by its inputs (run
fingerprints, numbers, the code that draws it) and redraws only what changed, so a fully
cached report renders without touching matplotlib.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from . import figures
from .architecture import Architecture, describe, from_json, to_json
from .config import Experiment
from .fsutil import atomic_file, atomic_write, digest, source_digest
from .lists import EVERY, Selection
from .runs import RunInfo, Runs, tagged

Item = dict[str, Any]
PACKAGE = Path(__file__).resolve().parent


def drawing_code() -> str:
    """The source every figure depends on: the plotting module, the page pieces and measurements."""
    files = [PACKAGE / m for m in ("figures.py", "mosaics.py", "page.py", "architecture.py")]
    for folder in ("evidence", "measurements"):
        files += sorted((PACKAGE / folder).glob("*.py"))
    return source_digest(files)[:16]


class FigureMaker:
    """Draws a figure only when no PNG for the same inputs is cached, and remembers where each lives."""

    def __init__(self, cache: Path, salt: str | None = None) -> None:
        self.cache = cache
        self.salt = drawing_code() if salt is None else salt
        self.files: dict[str, Path] = {}  # path inside the report -> cached PNG
        self.drawn = 0

    def make(self, relpath: str, key: Any, draw: Callable[[Path], None], alt: str,
             caption: str = "") -> Item:
        cached = self.cache / (digest({"code": self.salt, "path": relpath, "key": key})[:32] + ".png")
        if not cached.is_file():
            atomic_file(cached, draw)
            self.drawn += 1
        self.files[relpath] = cached
        width, height = figures.png_size(cached)
        return {"kind": "figure", "src": relpath, "alt": alt, "caption": caption,
                "width": width, "height": height}

    def memo(self, what: str, key: Any, compute: Callable[[], Any]) -> Any:
        """A JSON-able computed value, cached like the figures (same code salt)."""
        path = self.cache / (digest({"code": self.salt, "what": what, "key": key})[:32] + ".json")
        if path.is_file():
            return json.loads(path.read_text())
        value = compute()
        atomic_write(path, json.dumps(value).encode())
        return value


def cell(text: Any, *, best: bool = False, numeric: bool = False, badge: str = "") -> dict[str, Any]:
    return {"text": str(text), "best": best, "num": numeric, "badge": badge}


def table(caption: str, columns: Sequence[str | tuple[str, bool]], rows: list[list[dict[str, Any]]],
          foot: list[list[dict[str, Any]]] | None = None, css: str = "") -> Item:
    """columns: a label, or (label, numeric)."""
    cols = [{"label": c, "num": False} if isinstance(c, str) else {"label": c[0], "num": c[1]} for c in columns]
    return {"kind": "table", "caption": caption, "columns": cols, "rows": rows, "foot": foot or [],
            "css": css}


def note(text: str) -> Item:
    return {"kind": "note", "text": text}


def pending(names: Sequence[str]) -> list[Item]:
    """A "not run yet" notice for these runs (nothing when none is missing)."""
    return [{"kind": "pending", "runs": list(names)}] if names else []


@dataclass
class Page:
    """What the evidence of a question is built from: the runs, the palette, the figure cache and
    the measurements' results (None for a measurement that could not be computed)."""

    runs: Runs
    palette: np.ndarray
    maker: FigureMaker
    measured: dict[str, Any] = field(default_factory=dict)
    has_data: bool = True
    analysis_files: list[str] = field(default_factory=list)  # the measurement caches it read
    selection: Selection = EVERY  # the lists chosen for training, which a "not run" notice names
    _arch: dict[tuple, Architecture] = field(default_factory=dict, repr=False)

    def tagged(self, tags: Sequence[str], sort: str | None = None) -> list[RunInfo]:
        return tagged(self.runs, tags, sort)

    def split(self, tags: Sequence[str], sort: str | None = None) -> tuple[list[RunInfo], list[Item]]:
        """The tagged runs that have results, plus items saying what is missing."""
        runs = self.tagged(tags, sort)
        if not runs:
            return [], [note(f"No experiment in the list is tagged with question {', '.join(tags)}; "
                             "add one to experiments/*.toml to get this evidence.")]
        failed = [r.name for r in runs if r.how == "failed"]
        items = pending([r.name for r in runs if not r.available and r.how != "failed"])
        if failed:
            items.append(note(f"Training diverged (non-finite loss), so there is no result for: {', '.join(failed)}."))
        return [r for r in runs if r.available], items

    def not_run(self, names: Sequence[str]) -> Item:
        """The "not run yet" notice for these runs, with the unchosen lists they come from and
        the command that trains them."""
        experiments = [self.runs[n].experiment for n in names if n in self.runs]
        return {"kind": "pending", "runs": list(names), "lists": list(self.selection.left_out(experiments)),
                "command": self.selection.command(experiments)}

    def architecture(self, e: Experiment) -> Architecture:
        """The introspected architecture of an experiment's network (cached beside the figures)."""
        key = (e.model, e.kernel, e.num_filters, e.in_channels, len(self.palette), e.head, e.skips)
        if key not in self._arch:
            self._arch[key] = from_json(self.maker.memo("architecture", key, lambda: to_json(describe(*key))))
        return self._arch[key]
