"""The on-disk cache of run results, keyed by fingerprint.

Layout under the build folder:
    runs/<name>/<fingerprint>/   meta.json, history.csv, weights.pt, samples.pt
    checkpoints/<trajectory>.pt  the latest epoch of a training trajectory (for resume)
    locks/<trajectory>.lock      held while a trajectory trains

meta.json is written last and records a sha256 of every other file, so a folder counts as
a result only when it is complete and untouched; anything else is reported and redone.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import torch

from .errors import UserError

RESULT_FILES = ("history.csv", "weights.pt", "samples.pt")
SHORT = 16  # fingerprint characters used in folder names


def digest(payload: Any) -> str:
    """sha256 of a JSON-able value, stable across runs (sorted keys)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are ordinary readable files
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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
        return torch_load((self.folder / "samples.pt").read_bytes())

    def weights(self) -> dict[str, torch.Tensor]:
        return torch_load((self.folder / "weights.pt").read_bytes())


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
        try:
            # meta.json goes last: until it lands, the folder is not a result.
            with contextlib.suppress(FileNotFoundError):
                (folder / "meta.json").unlink()
            for fname, blob in blobs.items():
                atomic_write(folder / fname, blob)
            atomic_write(folder / "meta.json", json.dumps(meta, indent=2, sort_keys=True).encode())
        except OSError as exc:
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
        if problem is not None:
            if report:
                print(f"warning: cached result {folder} is damaged ({problem}); it will be "
                      "recomputed.", file=sys.stderr)
            return None
        history = pd.read_csv(folder / "history.csv")
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
        return sorted(p.name for p in base.iterdir() if (p / "meta.json").is_file())

    def discard(self, name: str, fingerprint: str) -> None:
        shutil.rmtree(self.folder(name, fingerprint), ignore_errors=True)

    # ----------------------------------------------------------------- checkpoints

    def checkpoint_path(self, trajectory: str) -> Path:
        return self.root / "checkpoints" / f"{trajectory[:SHORT]}.pt"

    def save_checkpoint(self, trajectory: str, state: dict[str, Any]) -> None:
        blob = torch_bytes(state)
        payload = torch_bytes({"sha256": sha256_bytes(blob), "blob": blob})
        atomic_write(self.checkpoint_path(trajectory), payload)

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
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
