"""Shared fixtures: tiny CIFAR-10 batches in the official format, made on the fly."""

from __future__ import annotations

import os

# The test models are tiny: one thread each is as fast, and it keeps parallel test or
# training processes from fighting over the cores (OpenMP workers spin while waiting).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from pa3report.cifar import BATCH_DIR, HORSE, TEST_FILE, TRAIN_FILES

PROJECT = Path(__file__).resolve().parents[1]


def smooth_images(rng: np.random.Generator, n: int) -> np.ndarray:
    """Blurry colour blobs (N, 3072) uint8: learnable, unlike pure noise."""
    base = rng.integers(0, 256, size=(n, 3, 4, 4)).astype(np.float32)
    big = base.repeat(8, axis=2).repeat(8, axis=3)
    noise = rng.normal(0, 8, size=big.shape)
    return np.clip(big + noise, 0, 255).astype(np.uint8).reshape(n, 3072)


def write_batch(path: Path, data: np.ndarray, labels: list[int], str_keys: bool = False) -> None:
    batch = {b"batch_label": b"synthetic", b"labels": labels, b"data": data,
             b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))]}
    if str_keys:
        batch = {k.decode(): v for k, v in batch.items()}
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


def make_cifar(folder: Path, horses_per_batch: int = 8, others_per_batch: int = 4,
               test_horses: int = 16, seed: int = 0, str_keys: bool = False) -> Path:
    """An official-layout batch folder holding a few horses and a few other images."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, horses in [(n, horses_per_batch) for n in TRAIN_FILES] + [(TEST_FILE, test_horses)]:
        labels = [HORSE] * horses + [int(c) for c in rng.choice([0, 1, 2, 3], size=others_per_batch)]
        order = rng.permutation(len(labels))
        data = smooth_images(rng, len(labels))[order]
        write_batch(folder / name, data, [labels[i] for i in order], str_keys=str_keys)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [b"horse"]}, f, protocol=2)
    return folder


def run_cli(capsys, root: Path, *args: str) -> tuple[int, str, str]:
    """`python -m pa3report --root ROOT ARGS` in-process: exit code, stdout, stderr."""
    from pa3report import cli

    capsys.readouterr()
    code = cli.main(["--root", str(root), *args])
    out, err = capsys.readouterr()
    return code, out, err



def assert_user_error(code: int, err: str, *words: str) -> str:
    """Exit 2, no traceback, and the last line is one "error: " paragraph holding `words`
    (warnings such as the unofficial-checksum note may come before it). Returns that line."""
    assert code == 2, err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and [l for l in err.splitlines() if l.startswith("error: ")] == [last], err
    for w in words:
        assert w in last, (w, err)
    return last

@pytest.fixture
def cifar_dir(tmp_path: Path) -> Path:
    return make_cifar(tmp_path / "data" / BATCH_DIR)


@pytest.fixture
def project(tmp_path: Path, cifar_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's inputs (experiments, answers, templates) in a temp folder,
    with PA3_DATA pointing at synthetic batches and a private build folder."""
    root = tmp_path / "proj"
    root.mkdir()
    for sub in ("experiments", "answers", "templates"):
        if (PROJECT / sub).is_dir():
            shutil.copytree(PROJECT / sub, root / sub)
    monkeypatch.setenv("PA3_DATA", str(cifar_dir))
    monkeypatch.delenv("PA3_BUILD", raising=False)
    # A fixed palette file skips k-means (tested on its own in test_data.py).
    palette = np.random.default_rng(0).random((1, 24, 3)).astype(np.float32)
    np.save(tmp_path / "palette.npy", palette)
    monkeypatch.setenv("PA3_PALETTE", str(tmp_path / "palette.npy"))
    return root


@pytest.fixture
def tiny_experiments(project: Path) -> Path:
    """Replace the experiment list with two small runs, for fast runner tests."""
    exp = project / "experiments"
    for f in exp.glob("*.toml"):
        f.unlink()
    (exp / "tiny.toml").write_text(
        '[[experiment]]\nname = "tiny_cnn"\nmodel = "CNN"\ntask = "colourization"\n'
        'epochs = 3\nbatch_size = 16\nnum_filters = 4\n\n'
        '[[experiment]]\nname = "tiny_cnn_e1"\nmodel = "CNN"\ntask = "colourization"\n'
        'epochs = 1\nbatch_size = 16\nnum_filters = 4\n\n'
        '[[experiment]]\nname = "tiny_reg"\nmodel = "RegressionCNN"\ntask = "regression"\n'
        'epochs = 2\nbatch_size = 16\nnum_filters = 4\n')
    return project


def split_lists(project: Path) -> None:
    """The tiny list as two files: handout.toml (tiny_cnn, tiny_cnn_e1) and sweep.toml (tiny_reg)."""
    folder = project / "experiments"
    text = (folder / "tiny.toml").read_text()
    at = text.index('[[experiment]]\nname = "tiny_reg"')
    (folder / "handout.toml").write_text(text[:at])
    (folder / "sweep.toml").write_text(text[at:])
    (folder / "tiny.toml").unlink()
