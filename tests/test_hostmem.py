"""The allocator setting: freed tensor memory stays mapped, and training is unchanged by it."""

import json
import platform
import subprocess
import sys

import pytest

# Checked without calling it: collecting the tests must not change the allocator.
pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="needs glibc's mallopt")

# Runs in a fresh process: the setting is process-wide and must come before the allocations.
CHILD = r"""
import hashlib, json, os, sys
import torch
if sys.argv[1] == "keep":
    from pa3report.hostmem import keep_freed_memory
    assert keep_freed_memory()

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

# Like one training step's activations: 64 MiB, written, then freed.
block = torch.empty(16 * 2**20).fill_(1.0)
before = rss_mb()
del block
after = rss_mb()

torch.manual_seed(0)
torch.set_num_threads(1)
net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                          torch.nn.Conv2d(8, 4, 3, padding=1))
opt = torch.optim.Adam(net.parameters(), lr=0.01)
x, y = torch.rand(64, 1, 32, 32), torch.randint(0, 4, (64, 32, 32))
for _ in range(5):
    opt.zero_grad()
    torch.nn.functional.cross_entropy(net(x), y).backward()
    opt.step()
weights = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in net.parameters())).hexdigest()
print(json.dumps({"released_mb": before - after, "weights": weights}))
"""


def child(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.slow
def test_freed_memory_is_kept_and_training_is_bit_identical():
    default, kept = child("default"), child("keep")
    assert default["released_mb"] > 48  # glibc hands the block back to the kernel...
    assert kept["released_mb"] < 1  # ...unless told to keep it
    assert kept["weights"] == default["weights"]


def released_after_free() -> float:
    """MB given back to the kernel when a 64 MiB tensor is freed, in the calling process."""
    import os

    import torch

    def rss_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    block = torch.empty(16 * 2**20).fill_(1.0)
    before = rss_mb()
    del block
    return before - rss_mb()


@pytest.mark.slow
def test_a_jobs_worker_keeps_freed_memory():
    """A worker started the way `--jobs` starts them (spawned, with the runner's initializer)
    keeps freed memory; a worker started without it gives the memory back."""
    import concurrent.futures as cf
    import multiprocessing as mp

    from pa3report import runner

    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(1, mp_context=ctx, initializer=runner._worker_init, initargs=(1,)) as pool:
        assert pool.submit(released_after_free).result() < 1
    with cf.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        assert pool.submit(released_after_free).result() > 48


def test_the_command_line_sets_it(monkeypatch, capsys, tiny_experiments):
    from pa3report import cli

    from .conftest import run_cli

    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append("cli"))
    assert run_cli(capsys, tiny_experiments, "list")[0] == 0
    assert calls == ["cli"]
