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


def test_freed_memory_is_kept_and_training_is_bit_identical():
    default, kept = child("default"), child("keep")
    assert default["released_mb"] > 48  # glibc hands the block back to the kernel...
    assert kept["released_mb"] < 1  # ...unless told to keep it
    assert kept["weights"] == default["weights"]


def test_the_cli_and_the_workers_set_it(monkeypatch, capsys, tiny_experiments):
    """Every process that trains asks for it: the command line and each --jobs worker."""
    from pa3report import cli, runner

    from .conftest import run_cli

    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append("cli"))
    monkeypatch.setattr(runner, "keep_freed_memory", lambda: calls.append("worker"))
    monkeypatch.setattr(runner.torch, "set_num_threads", lambda n: None)
    assert run_cli(capsys, tiny_experiments, "list")[0] == 0
    runner._worker_init(1)
    assert calls == ["cli", "worker"]
