"""`prune`: remove what the current experiment list and code can no longer produce, like `dvc gc`.

Run results and checkpoints are named by fingerprints, so the current ones are known by
computing them (full and --quick, for every experiment of the list). Figures and analysis
caches are named by digests of their inputs; which ones are current is only known to the
render that used them, so every render records its files in build/report.json (the last
full and the last quick report each) and prune keeps exactly those, plus anything newer
than that record (a render in progress). Without a record, figures and analysis are kept.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .config import load_experiments
from .runner import Runner, specs_for
from .inputs import Paths, load_inputs

KINDS = ("run", "checkpoint", "figure", "analysis")  # what prune removes, in the order it lists them


def size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


@dataclass(frozen=True)
class Removal:
    """One thing prune removes: a run result ("run"), a "checkpoint", a "figure" or an "analysis" file."""

    path: Path
    kind: str
    name: str  # "<run> <fingerprint>", the checkpoint's trajectory, or the file name

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass
class Plan:
    """What prune removes and what it leaves, with why."""

    remove: list[Removal] = field(default_factory=list)
    kept: int = 0  # current run results left in place
    notes: list[str] = field(default_factory=list)
    busy: list[Path] = field(default_factory=list)  # checkpoints of a training in progress

    def bytes(self) -> int:
        return sum(size(r.path) for r in self.remove if r.path.exists() or r.path.is_symlink())

    def counts(self) -> dict[str, int]:
        """How many of each kind, for the kinds there are."""
        return {k: n for k in KINDS if (n := sum(r.kind == k for r in self.remove))}


def _recorded(state_file: Path) -> tuple[dict[str, Any] | None, float]:
    """The files the last renders used (per kind of report), and when they were recorded."""
    try:
        state = json.loads(state_file.read_text())
        files = state.get("files")
        return (files if isinstance(files, dict) else None), state_file.stat().st_mtime
    except (OSError, ValueError, AttributeError):
        return None, 0.0


def _keep_sets(files: Mapping[str, Any] | None, kind: str) -> set[str] | None:
    """Names of `kind` ("figures", "analysis") in use, or None when that is unknown."""
    if not files:
        return None
    keep: set[str] = set()
    for record in files.values():
        names = record.get(kind) if isinstance(record, dict) else None
        if not isinstance(names, list):
            return None
        keep.update(str(n) for n in names)
    return keep


def plan(paths: Paths, env: Mapping[str, str] | None = None) -> Plan:
    """Decide, touching nothing, what the current list and code no longer produce."""
    experiments = load_experiments(paths.experiments)
    runner = Runner(paths, load_inputs(paths, None if env is None else dict(env), download=False),
                    show_progress=False)
    store = paths.store
    current: set[Path] = set()
    checkpoints: set[Path] = set()
    for quick in (False, True):
        for spec in specs_for(experiments, quick):
            current.add(store.folder(spec.name, runner.fingerprint(spec)))
            checkpoints.add(store.checkpoint_path(runner.trajectory(spec)))
    out = Plan()
    for name, folder in store.entries():
        if folder in current:
            out.kept += 1
        else:
            out.remove.append(Removal(folder, "run", f"{name} {folder.name}"))
    out.remove += [Removal(path, "checkpoint", path.stem) for path in store.checkpoints() if path not in checkpoints]

    files, recorded_at = _recorded(paths.state_file)
    for record, folder, pattern, kind in (("figures", paths.figures, "*.png", "figure"),
                                          ("analysis", paths.analysis, "*.pt", "analysis")):
        if not folder.is_dir():
            continue
        keep = _keep_sets(files, record)
        if keep is None:
            out.notes.append(f"{record}: kept, no report has recorded which ones it uses yet "
                             "(run `make report`, then prune again)")
            continue
        for path in sorted(folder.glob(pattern)):
            if path.name.startswith(".") or path.name in keep or path.stat().st_mtime >= recorded_at:
                continue
            out.remove.append(Removal(path, kind, path.name))
    return out


def apply(paths: Paths, todo: Plan) -> int:
    """Remove the plan's paths; a checkpoint whose training holds its lock is left. Bytes freed."""
    freed = 0
    store = paths.store
    for removal in todo.remove:
        path = removal.path
        if not (path.exists() or path.is_symlink()):
            continue
        n = size(path)
        if removal.kind == "checkpoint":
            with store.lock(removal.name, wait=False) as held:
                if not held:
                    todo.busy.append(path)
                    continue
                path.unlink(missing_ok=True)
        elif path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        freed += n
    store.remove_empty()
    return freed
