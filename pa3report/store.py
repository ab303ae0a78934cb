"""The on-disk cache of run results, keyed by fingerprint.

Layout under the build folder:
    runs/<name>/<fingerprint>/   meta.json, history.csv, weights.pt, samples.pt
    checkpoints/<trajectory>.pt  the latest epoch of a training trajectory (for resume)
    locks/<trajectory>.lock      held while a trajectory trains

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import torch
from filelock import FileLock

from .errors import UserError
from .fsutil import atomic_write, digest, sha256_bytes, swap_in

RESULT_FILES = ("history.csv", "weights.pt", "samples.pt")
SHORT = 16  # fingerprint characters used in folder names


def torch_bytes(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def torch_load(data: bytes) -> Any:
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


@dataclass(frozen=True)
class RunResult:
    """A finished run read back from the cache."""

    name: str
    fingerprint: str
    meta: dict[str, Any]
    history: pd.DataFrame
    folder: Path

    @property
    def final(self) -> dict[str, float]:
        return dict(self.meta["final"])

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


def seal(meta: dict[str, Any]) -> str:
    """sha256 of meta.json's content without its own seal, as read back from JSON."""
    return digest(json.loads(json.dumps({k: v for k, v in meta.items() if k != "meta_sha256"})))


def _inconsistent(meta: dict[str, Any], history: pd.DataFrame) -> str | None:
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


class Store:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ----------------------------------------------------------------- results

    def folder(self, name: str, fingerprint: str) -> Path:
        return self.root / "runs" / name / fingerprint[:SHORT]

    def save(self, name: str, fingerprint: str, meta: dict[str, Any], history: pd.DataFrame,
             weights: dict[str, torch.Tensor], samples: dict[str, Any]) -> RunResult:
        folder = self.folder(name, fingerprint)
        blobs = {
            "history.csv": history.to_csv(index=False).encode(),
            "weights.pt": torch_bytes(weights),
            "samples.pt": torch_bytes(samples),
        }
        meta = {**meta, "name": name, "fingerprint": fingerprint,
                "files": {k: sha256_bytes(v) for k, v in blobs.items()}}
        meta["meta_sha256"] = seal(meta)
        # Everything goes to a staging folder first (meta.json last), then replaces the old
        # folder by renames: a failure before that leaves any previous result untouched.
        staging = folder.with_name(f".{folder.name}.partial")
        try:
            shutil.rmtree(staging, ignore_errors=True)  # left by a writer that was killed
            for fname, blob in blobs.items():
                atomic_write(staging / fname, blob)
            atomic_write(staging / "meta.json", json.dumps(meta, indent=2, sort_keys=True).encode())
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
        meta_path = folder / "meta.json"
        if not meta_path.is_file():
            return None
        problem = self._verify(folder)
        if problem is None:
            meta = json.loads(meta_path.read_text())
            if meta.get("fingerprint") != fingerprint:
                problem = "its fingerprint does not match its folder"
            else:
                try:
                    history = pd.read_csv(folder / "history.csv")
                except (OSError, ValueError) as exc:
                    problem = f"history.csv is unreadable ({exc})"
                else:
                    problem = _inconsistent(meta, history)
        if problem is not None:
            if report:
                print(f"warning: cached result {folder} is damaged ({problem}); it will be "
                      "recomputed.", file=sys.stderr)
            return None
        return RunResult(name, fingerprint, meta, history, folder)

    @staticmethod
    def _verify(folder: Path) -> str | None:
        try:
            meta = json.loads((folder / "meta.json").read_text())
            files = meta["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return "meta.json is unreadable"
        for fname in RESULT_FILES:
            path = folder / fname
            if not path.is_file():
                return f"{fname} is missing"
            if sha256_bytes(path.read_bytes()) != files.get(fname):
                return f"{fname} does not match its recorded checksum"
        return None

    def fingerprints(self, name: str) -> list[str]:
        """Short fingerprints of every complete result stored for `name`."""
        base = self.root / "runs" / name
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir()
                      if not p.name.startswith(".") and (p / "meta.json").is_file())

    # ----------------------------------------------------------------- checkpoints

    def checkpoint_path(self, trajectory: str) -> Path:
        return self.root / "checkpoints" / f"{trajectory[:SHORT]}.pt"

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
    def lock(self, trajectory: str) -> Iterator[None]:
        """Exclusive per-trajectory lock; a second process waits for the first."""
        path = self.root / "locks" / f"{trajectory[:SHORT]}.lock"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(path))  # fcntl on POSIX, msvcrt on Windows
            lock.acquire()
        except OSError as exc:
            raise UserError(
                f"Could not create the lock file {path} ({exc.strerror or exc}); training needs a "
                "writable build folder. Make it writable or free disk space, then run again; "
                "cached results can still be read.") from None
        try:
            yield
        finally:
            lock.release()
