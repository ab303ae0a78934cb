"""Where the project reads and writes, and the inputs every run shares: the data and the palette.

Fingerprints need only the data files' digest and the palette, so the images themselves
are read on first use: a fully cached command never unpickles the batches.
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from . import cifar, data as data_mod
from .cifar import Horses
from .fsutil import atomic_write, sha256_bytes
from .store import SHORT, Store


@dataclass(frozen=True)
class Paths:
    """Where the project's inputs live and where it writes: every location under the build
    folder is named here (inside runs/, checkpoints/ and locks/, by the Store)."""

    root: Path
    build: Path

    @classmethod
    def from_root(cls, root: Path, env: dict[str, str] | None = None) -> "Paths":
        env = os.environ if env is None else env
        build = Path(env.get("PA3_BUILD", "")).expanduser() if env.get("PA3_BUILD") else root / "build"
        return cls(root.resolve(), build.resolve())

    @property
    def experiments(self) -> Path:
        return self.root / "experiments"

    @property
    def data_cache(self) -> Path:
        """Where the data was found last, and a downloaded copy."""
        return self.build / "data"

    @property
    def palettes(self) -> Path:
        """k-means palettes, by data identity (palette_path)."""
        return self.build / "palette"

    @property
    def store(self) -> Store:
        """Run results, checkpoints and locks (runs/, checkpoints/, locks/)."""
        return Store(self.build)

    @property
    def figures(self) -> Path:
        """Drawn figures, by a digest of what they show."""
        return self.build / "figures"

    @property
    def analysis(self) -> Path:
        """Stored measurements, by a digest of the runs, data and code they read."""
        return self.build / "analysis"

    @property
    def html(self) -> Path:
        """The finished report."""
        return self.build / "html"

    @property
    def state_file(self) -> Path:
        """What the last renders showed and used (read by `zip` and `prune`)."""
        return self.build / "report.json"


@dataclass(frozen=True)
class Inputs:
    """The data and palette every run of one invocation shares.

    Fingerprints need only the files' digest and the palette, so the images are read
    on first use of `horses`: a fully cached command never unpickles the batches.
    """

    folder: Path
    identity: str
    palette: np.ndarray
    palette_source: str

    @cached_property
    def horses(self) -> Horses:
        return cifar.load_horses(self.folder, warn=False)

    @property
    def palette_digest(self) -> str:
        return sha256_bytes(np.ascontiguousarray(self.palette, dtype=np.float32).tobytes())


def palette_path(paths: Paths, identity: str) -> Path:
    return paths.palettes / f"kmeans-{identity[:SHORT]}-k{data_mod.NUM_COLOURS}.npy"


def load_palette(paths: Paths, folder: Path, identity: str, env: dict[str, str]) -> tuple[np.ndarray, str]:
    """A user palette from PA3_PALETTE, else k-means on the horse pixels (computed once)."""
    if env.get("PA3_PALETTE"):
        path = Path(env["PA3_PALETTE"]).expanduser()
        return data_mod.read_palette(path), str(path)
    path = palette_path(paths, identity)
    if path.is_file():
        return data_mod.read_palette(path), "k-means (cached)"
    print(f"fitting the {data_mod.NUM_COLOURS}-colour palette (k-means on training pixels) ...",
          file=sys.stderr)
    palette = data_mod.fit_palette(data_mod.to_unit(cifar.load_horses(folder, warn=False).train))
    buf = io.BytesIO()
    np.save(buf, palette[None])
    atomic_write(path, buf.getvalue())
    return palette, "k-means"


def load_inputs(paths: Paths, env: dict[str, str] | None = None, download: bool = True) -> Inputs:
    env = dict(os.environ if env is None else env)
    folder = cifar.locate(paths.data_cache, env, download=download)
    identity = cifar.check_files(folder)
    palette, source = load_palette(paths, folder, identity, env)
    cifar.remember(paths.data_cache, folder)
    return Inputs(folder, identity, palette, source)
