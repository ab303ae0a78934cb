"""benchmarks/gpu.sh rehearsed on the CPU: it installs nothing, checks the bench starts, trains a
tiny list as previews and writes the timings a GPU machine would report."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import PROJECT

pytestmark = pytest.mark.skipif(not shutil.which("bash") or not shutil.which("timeout"),
                                reason="needs bash and coreutils' timeout")


def dry_run(root: Path, tmp_path: Path, budget_s: int, **env_extra: str):
    """benchmarks/gpu.sh --dry-run on a copy of the project with the tiny list: (root, out folder, process)."""
    shutil.copytree(PROJECT / "pa3report", root / "pa3report", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PROJECT / "benchmarks", root / "benchmarks", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "gpu-out"
    env = {**os.environ, "PYTHON": sys.executable, "BUDGET_S": str(budget_s), "PYTHONPATH": str(root),
           **env_extra}
    proc = subprocess.run(["bash", str(root / "benchmarks" / "gpu.sh"), str(out), "--dry-run"], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=600)
    return root, out, proc


@pytest.mark.slow
def test_gpu_script_dry_run_writes_the_timings(tiny_experiments, tmp_path):
    root, out, proc = dry_run(tiny_experiments, tmp_path, budget_s=400)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = (out / "summary.txt").read_text()
    assert "runs finished: 3 of 3" in summary and "wall seconds of the whole list" in summary
    assert "device cpu" in (out / "device.txt").read_text()
    assert "usage" in (out / "bench.txt").read_text()
    with open(out / "timings.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["run"] for r in rows) == ["tiny_cnn", "tiny_cnn_e1", "tiny_reg"]
    assert all(float(r["train_seconds"]) > 0 and r["quick"] == "True" for r in rows)
    assert not (root / "build").exists()  # the list ran in a build folder of its own


@pytest.mark.slow
def test_gpu_script_keeps_a_given_build_folder_and_repeats_the_cheapest_run(tiny_experiments, tmp_path):
    """LIST_BUILD keeps the list's results (to fetch them), JOBS trains in parallel, and
    repeat.txt says whether a run trained again matches: on the CPU it must, bit for bit."""
    keep = tmp_path / "list-build"
    root, out, proc = dry_run(tiny_experiments, tmp_path, budget_s=400, LIST_BUILD=str(keep), JOBS="2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "--jobs 2" in (out / "summary.txt").read_text()
    assert sorted(p.name for p in (keep / "runs").iterdir()) == ["tiny_cnn", "tiny_cnn_e1", "tiny_reg"]
    assert "trained again gives identical numbers" in (out / "repeat.txt").read_text()


def test_gpu_script_says_when_the_list_does_not_fit(tiny_experiments, tmp_path):
    root, out, proc = dry_run(tiny_experiments, tmp_path, budget_s=1)  # no time at all for the list
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = (out / "summary.txt").read_text()
    assert "did not fit" in summary and "NOTE: only 0 of 3 runs fitted" in summary


def test_gpu_script_runs_the_bench_with_the_installed_python(tmp_path):
    if not shutil.which("make"):
        pytest.skip("needs make")
    proc = subprocess.run(["make", "-n", "-C", str(PROJECT), "bench", "VENV=", "PYTHON=/opt/py/bin/python3",
                           "PIP_FLAGS=--no-deps --no-build-isolation"], capture_output=True, text=True, timeout=60)
    lines = proc.stdout.splitlines()
    assert "/opt/py/bin/python3 benchmarks/bench.py" in lines
    install = [l for l in lines if "pip install" in l]
    assert not install or "--no-deps --no-build-isolation -e" in install[0]
    script = (PROJECT / "benchmarks" / "gpu.sh").read_text()
    assert 'pip install -q --no-deps --no-build-isolation -e .' in script
    assert "make bench VENV= PYTHON=" in script
