"""CIFAR-10 on disk: find or fetch the official archive, verify it, and read batches safely.

Batch files are pickles, so they are read with an unpickler that only builds numpy
arrays; a tampered file is refused before it can run anything.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import UserError

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR_MD5 = "c58f30108f718f92721af3b95e74349a"
BATCH_DIR = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
# Official per-file checksums; an offline copy that differs is accepted with a warning.
BATCH_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
HORSE = 7
# Where a PA3_DATA folder was last found, under the data cache: later commands need no PA3_DATA.
LOCATION_FILE = "location.json"


# --------------------------------------------------------------------------- locating


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _offline_error(cache: Path, cause: str) -> UserError:
    return UserError(
        f"CIFAR-10 is not available: {cause}. Either let the tool download {CIFAR_URL} "
        f"(needs internet), or set PA3_DATA (environment or `make ... PA3_DATA=path`) to the "
        f"downloaded {CIFAR_ARCHIVE} or to its extracted '{BATCH_DIR}' folder holding "
        f"{', '.join(TRAIN_FILES)}, {TEST_FILE} and batches.meta. "
        f"The project keeps its own copy under {cache}.")


def _extract_verified(archive: Path, dest: Path) -> Path:
    """Extract the archive after its md5 matches the official one (checked first)."""
    from torchvision.datasets.utils import check_integrity, extract_archive

    if not check_integrity(str(archive), CIFAR_MD5):
        raise UserError(
            f"{archive}: md5 is {_md5(archive)}, not the official {CIFAR_MD5}. The file is "
            f"incomplete or not the CIFAR-10 python archive; nothing was extracted. Delete it "
            f"and download {CIFAR_URL} again.")
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / (BATCH_DIR + ".partial")
    extract_archive(str(archive), str(tmp))
    inner = tmp / BATCH_DIR
    target = dest / BATCH_DIR
    if target.exists():
        shutil.rmtree(target)
    os.replace(inner, target)
    tmp.rmdir()
    return target


def remembered(cache: Path) -> Path | None:
    """The data folder a previous command was given, if it still holds the batch files."""
    folder = remembered_path(cache)
    if folder is None:
        return None
    if all((folder / n).is_file() for n in (*TRAIN_FILES, TEST_FILE)):
        return folder
    print(f"warning: the data folder used before, {folder}, is gone or incomplete; set PA3_DATA "
          "again.", file=sys.stderr)
    return None


def remember(cache: Path, folder: Path) -> None:
    """Note a data folder outside the cache once its files were read, for later commands.

    Best effort: a read-only build folder only means PA3_DATA is needed every time.
    """
    from .store import atomic_write

    folder = folder.resolve()
    if folder == (cache / BATCH_DIR).resolve() or remembered_path(cache) == folder:
        return
    try:
        atomic_write(cache / LOCATION_FILE, json.dumps({"folder": str(folder)}).encode())
    except OSError:
        pass


def remembered_path(cache: Path) -> Path | None:
    try:
        return Path(json.loads((cache / LOCATION_FILE).read_text(encoding="utf-8"))["folder"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def locate(cache: Path, env: dict[str, str] | None = None, download: bool = True) -> Path:
    """The folder holding the batch files: PA3_DATA, then the cache, then the folder a
    previous command was given (see `remember`), then a download."""
    env = os.environ if env is None else env
    given = env.get("PA3_DATA", "").strip()
    if given:
        path = Path(given).expanduser()
        if path.is_dir():
            if (path / BATCH_DIR).is_dir():
                path = path / BATCH_DIR
            _require_files(path, "PA3_DATA")
            return path
        if path.is_file() and tarfile.is_tarfile(path):
            return _extract_verified(path, cache)
        if path.is_file():
            raise UserError(
                f"PA3_DATA={given}: not a tar archive. Point PA3_DATA at {CIFAR_ARCHIVE} "
                f"or at its extracted '{BATCH_DIR}' folder.")
        raise UserError(
            f"PA3_DATA={given}: no such file or folder. Point it at {CIFAR_ARCHIVE} or at "
            f"the extracted '{BATCH_DIR}' folder, or unset it to use the cache / download.")
    cached = cache / BATCH_DIR
    if cached.is_dir():
        _require_files(cached, "the data cache")
        return cached
    before = remembered(cache)
    if before is not None:
        return before
    if not download or env.get("PA3_OFFLINE", "") not in ("", "0"):
        raise _offline_error(cache, "no PA3_DATA, nothing in the cache, and downloading is off")
    from torchvision.datasets.utils import download_url

    try:
        download_url(CIFAR_URL, str(cache), filename=CIFAR_ARCHIVE, md5=CIFAR_MD5)
    except (OSError, RuntimeError) as exc:
        partial = cache / CIFAR_ARCHIVE
        if partial.exists() and _md5(partial) != CIFAR_MD5:
            partial.unlink()
        raise _offline_error(cache, f"the download failed ({exc})") from None
    return _extract_verified(cache / CIFAR_ARCHIVE, cache)


def _require_files(folder: Path, what: str) -> None:
    missing = [n for n in (*TRAIN_FILES, TEST_FILE) if not (folder / n).is_file()]
    if missing:
        raise UserError(
            f"{folder} (from {what}) is missing {', '.join(missing)}. It should be the "
            f"extracted '{BATCH_DIR}' folder of {CIFAR_ARCHIVE}.")


def fingerprint_files(folder: Path) -> tuple[str, list[str]]:
    """A digest of the batch files, plus the names that differ from the official ones."""
    h = hashlib.sha256()
    unofficial = []
    for name in (*TRAIN_FILES, TEST_FILE):
        digest = _md5(folder / name)
        h.update(f"{name}:{digest}\n".encode())
        if digest != BATCH_MD5[name]:
            unofficial.append(name)
    return h.hexdigest(), unofficial


# --------------------------------------------------------------------------- reading


class ForbiddenObject(pickle.UnpicklingError):
    """The pickle asks for something a CIFAR batch never contains."""


class _BatchUnpickler(pickle.Unpickler):
    """Allows only what a CIFAR batch holds: numpy arrays and plain containers."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how Python 3 writes bytes at pickle protocol 2
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise ForbiddenObject(f"forbidden object {module}.{name}")
        if module == "_codecs":
            import _codecs
            return _codecs.encode
        if name == "_reconstruct":
            try:
                from numpy._core.multiarray import _reconstruct
            except ImportError:  # numpy < 2
                from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
            return _reconstruct
        return getattr(np, name)


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) of one batch file."""
    try:
        raw = path.read_bytes()
        batch = _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except ForbiddenObject as exc:
        raise UserError(
            f"{path}: refused to read this batch file ({exc}); it is not a plain CIFAR-10 "
            "batch. Replace it with the file from the official archive.") from None
    except Exception as exc:  # truncated or garbage bytes raise many types
        raise UserError(
            f"{path}: cannot read this batch file ({type(exc).__name__}: {exc}); it is "
            "truncated or corrupt. Replace it with the file from the official archive.") from None
    if not isinstance(batch, dict):
        raise UserError(f"{path}: expected a dict of arrays, found {type(batch).__name__}.")
    batch = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise UserError(f"{path}: the batch has no 'data' or 'labels' entry; not a CIFAR-10 batch.")
    data, labels = batch["data"], np.asarray(batch["labels"])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3072 or len(labels) != data.shape[0]:
        shape = getattr(data, "shape", None)
        raise UserError(
            f"{path}: 'data' should be uint8 of shape (N, 3072) with N labels; found "
            f"{getattr(data, 'dtype', type(data).__name__)} {shape} and {len(labels)} labels.")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


@dataclass(frozen=True)
class Horses:
    """The horse images of both splits, in file order, plus the files' identity."""

    train: torch.Tensor  # (N, 3, 32, 32) uint8
    test: torch.Tensor
    identity: str


def check_files(folder: Path) -> str:
    """The files' digest, warning once when they are not the official ones."""
    identity, unofficial = fingerprint_files(folder)
    if unofficial:
        print(f"warning: {folder}: {len(unofficial)} batch file(s) differ from the official "
              "CIFAR-10 checksums (expected for an offline copy); using them as they are.",
              file=sys.stderr)
    return identity


def load_horses(folder: Path, warn: bool = True) -> Horses:
    identity = check_files(folder) if warn else fingerprint_files(folder)[0]

    def horses(names: tuple[str, ...]) -> torch.Tensor:
        parts = []
        for name in names:
            images, labels = read_batch(folder / name)
            parts.append(images[labels == HORSE])
        return torch.from_numpy(np.concatenate(parts))

    return Horses(horses(TRAIN_FILES), horses((TEST_FILE,)), identity)


