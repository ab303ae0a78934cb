"""The on-disk cache of run results, keyed by fingerprint.

Layout under the build folder (the store names these; inputs.Paths names the rest):
    runs/<name>/<fingerprint>/   meta.json, history.csv, weights.pt, samples.pt
    checkpoints/<trajectory>.pt  the latest epoch of a training trajectory (for resume)
    locks/<name>.lock            held while a trajectory trains (or the page is swapped in)

meta.json is written last and records a sha256 of every other file and of itself, so a
folder counts as a result only when it is complete and untouched; anything else is reported
and redone. A result is written into a hidden staging folder and renamed into place, so a
failed write (full disk, read-only folder) leaves the previous result as it was.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import pandas as pd
import torch
from filelock import FileLock, Timeout

from .errors import UserError
from .fsutil import atomic_write, digest, sha256_bytes, swap_in

RESULT_FILES = ("history.csv", "weights.pt", "samples.pt")
SHORT = 16  # fingerprint characters used in folder names
RUNS, CHECKPOINTS, LOCKS = "runs", "checkpoints", "locks"
UNKNOWN = "?"  # a device, PyTorch version or palette source a meta.json does not record


def torch_bytes(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def torch_load(data: bytes) -> Any:
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _floats(values: Mapping[str, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in values.items()}


@dataclass(frozen=True)
class RunMeta:
    """What meta.json says about one finished run, read once when the result is loaded.

    meta.json holds exactly these keys (as `record()` gives them) plus the store's seals
    (`files`, `meta_sha256`). Every file since the first has them all; one that lacks a
    key (written by hand) reads its default below, the same for every reader.
    """

    name: str = ""
    fingerprint: str = ""
    experiment: Mapping[str, Any] = field(default_factory=dict)  # config.from_record reads it back
    hyper: Mapping[str, Any] = field(default_factory=dict)  # RunSpec.hyper(): what the fingerprint covers
    quick: bool = False
    trajectory: str = ""  # the training its epochs were read from ("": only its own)
    final: Mapping[str, float] = field(default_factory=dict)  # the last row of history.csv
    seconds: float = math.nan  # training time, summed over epochs (NaN: unknown)
    device: str = UNKNOWN  # devices.device_name of what trained it
    torch: str = UNKNOWN  # PyTorch version
    palette: str = UNKNOWN  # where the palette came from
    finished_at: str = ""  # ISO time in UTC ("": unknown)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "RunMeta":
        """The meta of meta.json's content; ValueError or TypeError when a value has the wrong type."""
        return cls(**{f.name: _READ.get(f.name, str)(record[f.name]) for f in fields(cls) if f.name in record})

    def record(self) -> dict[str, Any]:
        """The content of meta.json, without the store's seals."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# How each field of RunMeta is read from JSON (the others are strings).
_READ: dict[str, Callable[[Any], Any]] = {"experiment": dict, "hyper": dict, "final": _floats,
                                          "quick": bool, "seconds": float}


@dataclass(frozen=True)
class RunResult:
    """A finished run read back from the cache."""

    name: str
    fingerprint: str
    meta: RunMeta
    history: pd.DataFrame
    folder: Path

    @property
    def final(self) -> dict[str, float]:
        return dict(self.meta.final)

    def samples(self) -> dict[str, Any]:
        return self._load("samples.pt")

    def weights(self) -> dict[str, torch.Tensor]:
        return self._load("weights.pt")

    def _load(self, fname: str) -> Any:
        path = self.folder / fname
        try:
            return torch_load(path.read_bytes())
        except Exception as exc:  # weights_only refuses pickled code with UnpicklingError
            first = str(exc).strip().splitlines()
            detail = next((line for line in first if "GLOBAL" in line), first[0] if first else "")
            raise UserError(
                f"{path}: refused to load this file ({type(exc).__name__}: {detail}); it holds more "
                f"than tensors or is damaged. Delete the folder {self.folder} and run again.") from None


def seal(meta: Mapping[str, Any]) -> str:
    """sha256 of meta.json's content without its own seal, as read back from JSON."""
    return digest(json.loads(json.dumps({k: v for k, v in meta.items() if k != "meta_sha256"})))


def _inconsistent(meta: Mapping[str, Any], history: pd.DataFrame) -> str | None:
    """Why meta.json does not describe this history (a hand edit), or None."""
    if "meta_sha256" in meta and meta["meta_sha256"] != seal(meta):
        return "meta.json was edited after it was written"
    try:
        last = history.iloc[-1]
        for key, value in meta["final"].items():
            a, b = float(value), float(last[key])
            if not (math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or math.isnan(a) and math.isnan(b)):
                return f"meta.json's final {key} differs from history.csv"
        if "epoch_seconds" in history and not math.isclose(
                float(meta["seconds"]), float(history["epoch_seconds"].sum()), rel_tol=1e-6):
            return "meta.json's seconds differ from history.csv"
    except (KeyError, IndexError, TypeError, ValueError):
        return "meta.json does not match history.csv"
    return None


def _read(folder: Path, fingerprint: str) -> tuple[RunMeta, pd.DataFrame] | str:
    """The meta and history of a complete result folder, or why it cannot count as one."""
    try:
        raw = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return "meta.json is unreadable"
    problem = _unsealed(folder, raw)
    if problem is not None:
        return problem
    if raw.get("fingerprint") != fingerprint:
        return "its fingerprint does not match its folder"
    try:
        history = pd.read_csv(folder / "history.csv")
    except (OSError, ValueError) as exc:
        return f"history.csv is unreadable ({exc})"
    problem = _inconsistent(raw, history)
    if problem is not None:
        return problem
    try:
        return RunMeta.from_record(raw), history
    except (TypeError, ValueError, AttributeError) as exc:
        return f"meta.json holds a value of the wrong type ({exc})"


def _unsealed(folder: Path, meta: Any) -> str | None:
    """Why a result file is missing or differs from the checksum meta.json records, or None."""
    try:
        files = dict(meta["files"])
    except (KeyError, TypeError, ValueError):
        return "meta.json is unreadable"
    for fname in RESULT_FILES:
        path = folder / fname
        if not path.is_file():
            return f"{fname} is missing"
        if sha256_bytes(path.read_bytes()) != files.get(fname):
            return f"{fname} does not match its recorded checksum"
    return None


class Store:
    """The run results, checkpoints and locks under one build folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ----------------------------------------------------------------- results

    def folder(self, name: str, fingerprint: str) -> Path:
        return self.root / RUNS / name / fingerprint[:SHORT]

    def save(self, meta: RunMeta, history: pd.DataFrame, weights: dict[str, torch.Tensor],
             samples: dict[str, Any]) -> RunResult:
        name, fingerprint = meta.name, meta.fingerprint
        folder = self.folder(name, fingerprint)
        blobs = {
            "history.csv": history.to_csv(index=False).encode(),
            "weights.pt": torch_bytes(weights),
            "samples.pt": torch_bytes(samples),
        }
        record = {**meta.record(), "files": {k: sha256_bytes(v) for k, v in blobs.items()}}
        record["meta_sha256"] = seal(record)
        # Everything goes to a staging folder first (meta.json last), then replaces the old
        # folder by renames: a failure before that leaves any previous result untouched.
        staging = folder.with_name(f".{folder.name}.partial")
        try:
            shutil.rmtree(staging, ignore_errors=True)  # left by a writer that was killed
            for fname, blob in blobs.items():
                atomic_write(staging / fname, blob)
            atomic_write(staging / "meta.json", json.dumps(record, indent=2, sort_keys=True).encode())
            swap_in(staging, folder)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise UserError(
                f"Could not write the result of {name!r} under {folder} ({exc.strerror or exc}). "
                "Free disk space or make the build folder writable, then run again; earlier "
                "results and the last epoch checkpoint are kept.") from None
        return RunResult(name, fingerprint, meta, history, folder)

    def load(self, name: str, fingerprint: str, report: bool = True) -> RunResult | None:
        """The cached result, or None when missing, incomplete or tampered with."""
        folder = self.folder(name, fingerprint)
        if not (folder / "meta.json").is_file():
            return None
        read = _read(folder, fingerprint)
        if isinstance(read, str):
            if report:
                print(f"warning: cached result {folder} is damaged ({read}); it will be "
                      "recomputed.", file=sys.stderr)
            return None
        return RunResult(name, fingerprint, *read, folder)

    def fingerprints(self, name: str) -> list[str]:
        """Short fingerprints of every complete result stored for `name`."""
        base = self.root / RUNS / name
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir()
                      if not p.name.startswith(".") and (p / "meta.json").is_file())

    def entries(self) -> Iterator[tuple[str, Path]]:
        """(run name, entry) of everything under runs/<name>/ but hidden entries (a result being
        written, or left by a writer that was killed: its writer's business), in name order."""
        runs = self.root / RUNS
        for base in sorted(runs.iterdir()) if runs.is_dir() else []:
            if base.is_dir() and not base.name.startswith("."):
                yield from ((base.name, p) for p in sorted(base.iterdir()) if not p.name.startswith("."))

    def metas(self, name: str | None = None) -> Iterator[RunMeta]:
        """The meta of every stored result (of `name`, or of all runs), unverified: enough to
        estimate from, not to trust. Unreadable ones are passed over."""
        for run, folder in self.entries():
            if name is not None and run != name:
                continue
            try:
                yield RunMeta.from_record(json.loads((folder / "meta.json").read_text()))
            except (OSError, ValueError, TypeError, AttributeError):
                continue

    def remove_empty(self) -> None:
        """Remove the runs/<name>/ folders that hold nothing any more."""
        runs = self.root / RUNS
        for base in runs.iterdir() if runs.is_dir() else []:
            if base.is_dir() and not any(base.iterdir()):
                base.rmdir()

    # ----------------------------------------------------------------- checkpoints

    def checkpoint_path(self, trajectory: str) -> Path:
        return self.root / CHECKPOINTS / f"{trajectory[:SHORT]}.pt"

    def checkpoints(self) -> list[Path]:
        """Every stored checkpoint; a checkpoint's stem is the start of its trajectory."""
        folder = self.root / CHECKPOINTS
        return sorted(folder.glob("*.pt")) if folder.is_dir() else []

    def save_checkpoint(self, trajectory: str, state: dict[str, Any]) -> None:
        blob = torch_bytes(state)
        payload = torch_bytes({"sha256": sha256_bytes(blob), "blob": blob})
        path = self.checkpoint_path(trajectory)
        try:
            atomic_write(path, payload)
        except OSError as exc:
            raise UserError(
                f"Could not write the training checkpoint {path} ({exc.strerror or exc}). Free disk "
                "space or make the build folder writable, then run again; finished results and "
                "the previous checkpoint are kept.") from None

    def load_checkpoint(self, trajectory: str) -> dict[str, Any] | None:
        path = self.checkpoint_path(trajectory)
        if not path.is_file():
            return None
        try:
            outer = torch_load(path.read_bytes())
            if sha256_bytes(outer["blob"]) != outer["sha256"]:
                raise ValueError("checksum mismatch")
            return torch_load(outer["blob"])
        except Exception as exc:
            print(f"warning: checkpoint {path} is damaged ({exc}); training restarts from epoch 0.",
                  file=sys.stderr)
            return None

    # ----------------------------------------------------------------- locks

    @contextlib.contextmanager
    def lock(self, name: str, wait: bool = True) -> Iterator[bool]:
        """Exclusive lock `name` (a trajectory while it trains, "report-html" while the page is
        swapped in): a second process waits for the first, or with wait=False is told False."""
        path = self.root / LOCKS / f"{name[:SHORT]}.lock"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(path))  # fcntl on POSIX, msvcrt on Windows
            lock.acquire(timeout=-1 if wait else 0)
            held = True
        except Timeout:  # an OSError too: first
            held = False
        except OSError as exc:
            raise UserError(
                f"Could not create the lock file {path} ({exc.strerror or exc}); training needs a "
                "writable build folder. Make it writable or free disk space, then run again; "
                "cached results can still be read.") from None
        try:
            yield held
        finally:
            if held:
                lock.release()
