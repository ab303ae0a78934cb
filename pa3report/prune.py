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

from filelock import FileLock, Timeout

from .config import load_experiments
from .runner import Runner, specs_for
from .inputs import Paths, load_inputs
from .store import SHORT

STATE_FILE = "report.json"  # as report.STATE_FILE; kept here so prune needs no report import
FIGURES_DIR = "figures"
ANALYSIS_DIR = "analysis"


def size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


@dataclass
class Plan:
    """What prune removes (path -> what it is) and what it leaves, with why."""

    remove: dict[Path, str] = field(default_factory=dict)
    kept: int = 0  # current run results left in place
    notes: list[str] = field(default_factory=list)
    busy: list[Path] = field(default_factory=list)  # checkpoints of a training in progress

    def bytes(self) -> int:
        return sum(size(p) for p in self.remove if p.exists() or p.is_symlink())


def _recorded(build: Path) -> tuple[dict[str, Any] | None, float]:
    """The files the last renders used (per kind of report), and when they were recorded."""
    path = build / STATE_FILE
    try:
        state = json.loads(path.read_text())
        files = state.get("files")
        return (files if isinstance(files, dict) else None), path.stat().st_mtime
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
    current: set[tuple[str, str]] = set()
    trajectories: set[str] = set()
    for quick in (False, True):
        for spec in specs_for(experiments, quick):
            current.add((spec.name, runner.fingerprint(spec)[:SHORT]))
            trajectories.add(runner.trajectory(spec)[:SHORT])
    out = Plan()
    build = paths.build

    runs = build / "runs"
    for name_dir in sorted(runs.iterdir()) if runs.is_dir() else []:
        if not name_dir.is_dir() or name_dir.name.startswith("."):
            continue
        for folder in sorted(name_dir.iterdir()):
            if folder.name.startswith("."):
                continue  # a result being written (or left by a killed writer): its writer's business
            if (name_dir.name, folder.name) in current:
                out.kept += 1
            else:
                out.remove[folder] = f"run {name_dir.name} {folder.name}"

    checkpoints = build / "checkpoints"
    for path in sorted(checkpoints.glob("*.pt")) if checkpoints.is_dir() else []:
        if path.stem not in trajectories:
            out.remove[path] = f"checkpoint {path.stem}"

    files, recorded_at = _recorded(build)
    for kind, pattern in ((FIGURES_DIR, "*.png"), (ANALYSIS_DIR, "*.pt")):
        folder = build / kind
        if not folder.is_dir():
            continue
        keep = _keep_sets(files, kind)
        if keep is None:
            out.notes.append(f"{kind}: kept, no report has recorded which ones it uses yet "
                             "(run `make report`, then prune again)")
            continue
        for path in sorted(folder.glob(pattern)):
            if path.name.startswith(".") or path.name in keep or path.stat().st_mtime >= recorded_at:
                continue
            out.remove[path] = f"{kind[:-1] if kind == FIGURES_DIR else kind} {path.name}"
    return out


def apply(paths: Paths, todo: Plan) -> int:
    """Remove the plan's paths; a checkpoint whose training holds its lock is left. Bytes freed."""
    freed = 0
    for path, what in todo.remove.items():
        if not (path.exists() or path.is_symlink()):
            continue
        n = size(path)
        if what.startswith("checkpoint "):
            (paths.build / "locks").mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(paths.build / "locks" / f"{path.stem}.lock"))
            try:
                lock.acquire(timeout=0)
            except Timeout:
                todo.busy.append(path)
                continue
            try:
                path.unlink(missing_ok=True)
            finally:
                lock.release()
        elif path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        freed += n
    runs = paths.build / "runs"
    for name_dir in runs.iterdir() if runs.is_dir() else []:
        if name_dir.is_dir() and not any(name_dir.iterdir()):
            name_dir.rmdir()
    return freed
