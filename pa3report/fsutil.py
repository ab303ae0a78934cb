"""Files on disk, the one way: atomic writes, folder swaps and content digests.

Everything the project writes goes through `atomic_write` (temporary file beside the
target, fsync, rename) or `swap_in` (a finished staging folder renamed over the old one),
so an interrupted write never leaves half a file where a reader would find it. Digests
key every cache (runs, figures, measurements): one definition, so equal inputs give
equal keys everywhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable


def digest(payload: Any) -> str:
    """sha256 of a JSON-able value, stable across runs (sorted keys)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_digest(files: Iterable[Path]) -> str:
    """One digest over the bytes of some source files, by file name: the code part of a cache key."""
    return digest({p.name: sha256_bytes(p.read_bytes()) for p in files})


def content_key(value: Any) -> str:
    """A digest of nested measurement output (numbers, strings, tensors, arrays): the key of
    anything drawn from it, so it is redrawn exactly when the numbers or images change."""
    import numpy as np
    import torch

    h = hashlib.sha256()

    def feed(v: Any) -> None:
        if isinstance(v, torch.Tensor):
            h.update(f"tensor{tuple(v.shape)}{v.dtype}".encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(v, np.ndarray):
            h.update(f"array{v.shape}{v.dtype}".encode())
            h.update(np.ascontiguousarray(v).tobytes())
        elif isinstance(v, dict):
            for k in sorted(v, key=str):
                h.update(f"<{k}>".encode())
                feed(v[k])
        elif isinstance(v, (list, tuple)):
            h.update(b"[")
            for x in v:
                feed(x)
            h.update(b"]")
        else:
            h.update(repr(v).encode())

    feed(value)
    return h.hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a reader sees the old file or the new one, never a part."""
    atomic_file(path, lambda tmp: tmp.write_bytes(data))


def atomic_file(path: Path, write: Callable[[Path], Any]) -> None:
    """Let `write` fill a temporary file beside `path`, fsync it, then rename it over `path`.

    For writers that need a file name (a plotting library saving a PNG) rather than bytes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are ordinary readable files
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:  # fsync/write errors name no file
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise


def swap_in(staging: Path, target: Path) -> None:
    """Replace the folder `target` by the finished folder `staging`: two renames, the old copy
    removed last, so a failure before the second rename leaves the previous folder in place."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
