"""Atomic writes, folder swaps and digests."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from pa3report.fsutil import atomic_file, atomic_write, content_key, digest, source_digest, swap_in


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "x.txt"
    atomic_write(target, b"old")

    def broken_replace(a, b):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]  # no temp file left behind


def test_atomic_write_syncs_before_renaming(tmp_path, monkeypatch):
    """A full disk reports itself on fsync: the error names the target and nothing is replaced."""
    target = tmp_path / "x.txt"
    atomic_write(target, b"old")
    synced = []

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError) as info:
        atomic_write(target, b"new")
    assert info.value.filename == str(target) and len(synced) == 1
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_atomic_file_gives_the_writer_a_path_and_a_failing_writer_leaves_nothing(tmp_path):
    target = tmp_path / "sub" / "fig.png"
    atomic_file(target, lambda p: p.write_bytes(b"png"))
    assert target.read_bytes() == b"png" and oct(target.stat().st_mode)[-3:] == "644"

    def broken(p):
        p.write_bytes(b"half")
        raise RuntimeError("plotting failed")
    with pytest.raises(RuntimeError):
        atomic_file(target, broken)
    assert target.read_bytes() == b"png" and [p.name for p in target.parent.iterdir()] == ["fig.png"]


def test_swap_in_replaces_a_folder_and_removes_the_old_copy(tmp_path):
    target, staging = tmp_path / "html", tmp_path / ".html-new"
    target.mkdir(), staging.mkdir()
    (target / "old.txt").write_text("old")
    (staging / "new.txt").write_text("new")
    swap_in(staging, target)
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["html"]


def test_swap_in_failing_keeps_the_previous_folder(tmp_path, monkeypatch):
    target, staging = tmp_path / "html", tmp_path / ".html-new"
    target.mkdir(), staging.mkdir()
    (target / "old.txt").write_text("old")
    real = os.replace
    calls = []

    def second_fails(a, b):
        calls.append(a)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(a, b)
    monkeypatch.setattr(os, "replace", second_fails)
    with pytest.raises(OSError):
        swap_in(staging, target)
    monkeypatch.undo()
    old = [p for p in tmp_path.iterdir() if p.name.startswith(".html.old")]
    assert len(old) == 1 and (old[0] / "old.txt").read_text() == "old"  # moved aside, not deleted


def test_digest_is_order_independent():
    assert digest({"a": 1, "b": [1, 2]}) == digest({"b": [1, 2], "a": 1})
    assert digest({"a": 1}) != digest({"a": 2})


def test_source_digest_follows_content_and_name(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n"), b.write_text("x = 1\n")
    assert source_digest([a]) != source_digest([b])  # same bytes, another module
    before = source_digest([a, b])
    a.write_text("x = 2\n")
    assert source_digest([a, b]) != before


def test_content_key_sees_tensor_values_shapes_and_nesting():
    t = torch.zeros(2, 3)
    base = content_key({"x": t, "n": [1, 2.5, "s"]})
    assert base == content_key({"n": [1, 2.5, "s"], "x": torch.zeros(2, 3)})
    assert base != content_key({"x": torch.zeros(3, 2), "n": [1, 2.5, "s"]})
    bumped = t.clone()
    bumped[1, 2] = 1e-6
    assert base != content_key({"x": bumped, "n": [1, 2.5, "s"]})
    assert content_key(np.arange(3)) != content_key(np.arange(3).astype(np.float32))
