"""Fault injection on the run cache: nothing computed is lost or wrongly reused.

Each test injects one fault (a SIGKILL mid-epoch, a second process, a full or read-only
disk, a damaged or poisoned cache file) and checks what the user sees and what is left on
disk. Processes are real where the fault needs one (kill -9, two concurrent runs); the
rest run the command line in-process, which is the same code path minus the start-up.
"""

from __future__ import annotations

import ast
import builtins
import errno
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from pa3report import config
from pa3report.config import RunSpec
from pa3report.errors import UserError
from pa3report.runner import Runner
from pa3report.inputs import Paths, load_inputs
from pa3report.store import Store, sha256_bytes, torch_bytes
from tests.conftest import assert_user_error, run_cli

CPU = torch.device("cpu")
PACKAGE = Path(__file__).resolve().parents[1] / "pa3report"
METRICS = ["train_loss", "val_loss", "val_acc", "val_mse"]


# --------------------------------------------------------------------------- helpers


def make_runner(root: Path) -> Runner:
    paths = Paths.from_root(root)
    return Runner(paths, load_inputs(paths), device=CPU, show_progress=False)


def specs(root: Path) -> dict[str, RunSpec]:
    return {e.name: RunSpec(e) for e in config.load_experiments(root / "experiments")}


def clean_root(tmp_path: Path, project: Path, name: str) -> Path:
    """Another project folder with the same experiment list and its own build/."""
    root = tmp_path / name
    root.mkdir()
    (root / "experiments").symlink_to(project / "experiments")
    return root


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and modification time, to prove a folder was not touched."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def leftovers(build: Path) -> list[str]:
    """Half-written things: temporary files and folders anywhere under build/."""
    return sorted(str(p.relative_to(build)) for p in build.rglob("*")
                  if p.name.endswith((".tmp", ".partial")) or p.name.startswith("."))


def child_env() -> dict[str, str]:
    """The test's environment (PA3_DATA, PA3_PALETTE, one OpenMP thread), CPU only."""
    return {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1",
            "OMP_WAIT_POLICY": "PASSIVE", "PYTHONDONTWRITEBYTECODE": "1"}


def hows(stdout: str) -> dict[str, str]:
    """name -> how ("ran", "cached", ...) from the summary lines of `run`."""
    return {line.split()[0]: line.split()[1] for line in stdout.splitlines() if "train_loss" in line}


# The child process of the kill test: one optimizer step into epoch 2, it writes a marker
# and stops there until it is killed. Nothing else about the run is changed.
KILL_CHILD = r"""
import os, sys, time, torch
import pa3report.train as t
marker = sys.argv[1]
now = {"epoch": None, "steps": 0}
real_epoch, real_loss = t.train_epoch, t.loss_fn
def train_epoch(state, *a, **k):
    now["epoch"], now["steps"] = state.epoch, 0
    return real_epoch(state, *a, **k)
def loss_fn(loss, out, y, class_weight=None):
    if torch.is_grad_enabled() and now["epoch"] == 1:
        now["steps"] += 1
        if now["steps"] == 2:  # the first batch of epoch 2 has been applied to the weights
            with open(marker + ".part", "w") as f:
                f.write(str(os.getpid()))
            os.replace(marker + ".part", marker)
            time.sleep(600)
    return real_loss(loss, out, y, class_weight)
t.train_epoch, t.loss_fn = train_epoch, loss_fn
from pa3report.cli import main
sys.exit(main(sys.argv[2:]))
"""

# The children of the concurrency test: whoever gets the trajectory lock first keeps it
# until the other process is waiting for it, so the two really do overlap.
LOCK_CHILD = r"""
import contextlib, os, sys, time
import pa3report.store as s
folder = sys.argv[1]
real = s.Store.lock
@contextlib.contextmanager
def lock(self, trajectory):
    open(os.path.join(folder, f"want-{os.getpid()}"), "w").close()
    with real(self, trajectory):
        deadline = time.time() + 120
        while len([f for f in os.listdir(folder) if f.startswith("want-")]) < 2:
            if time.time() > deadline:
                open(os.path.join(folder, "barrier-timeout"), "w").close()
                break
            time.sleep(0.02)
        yield
s.Store.lock = lock
from pa3report.cli import main
sys.exit(main(sys.argv[2:]))
"""


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended (rc {proc.returncode}) before the fault point:\n{out}\n{err}")
        if time.time() > deadline:
            proc.kill()
            pytest.fail("the run never reached the fault point")
        time.sleep(0.05)


# --------------------------------------------------------------------------- kill -9


@pytest.mark.slow
def test_kill_9_mid_epoch_resumes_equal_to_an_uninterrupted_run(tiny_experiments, tmp_path, monkeypatch):
    root = tiny_experiments
    sp = specs(root)
    runner = make_runner(root)
    (done,) = runner.run([sp["tiny_reg"]])  # a finished run that must not be touched
    reg_before = snapshot(done.result.folder)

    marker = tmp_path / "in-epoch-2"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_CHILD, str(marker), "--root", str(root), "run", "tiny_cnn", "tiny_cnn_e1"],
        env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(marker, proc)
        # At the kill: epoch 1 is checkpointed, the 1-epoch snapshot is a finished result,
        # the 3-epoch run is not, and the child is inside epoch 2 (one batch applied).
        trajectory = runner.trajectory(sp["tiny_cnn"])
        assert [r["epoch"] for r in runner.store.load_checkpoint(trajectory)["history"]] == [1]
        e1 = runner.cached(sp["tiny_cnn_e1"])
        assert e1 is not None
        e1_before = snapshot(e1.folder)
        assert runner.status(sp["tiny_cnn"]) == "missing"
        assert marker.read_text() == str(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    assert runner.status(sp["tiny_cnn"]) == "missing"  # nothing half-done counts as a result
    assert leftovers(root / "build") == []

    import pa3report.train as train_mod
    real_epoch = train_mod.train_epoch
    trained: list[int] = []

    def counting(state, *a, **k):
        trained.append(state.epoch + 1)
        return real_epoch(state, *a, **k)
    monkeypatch.setattr(train_mod, "train_epoch", counting)
    outs = {o.spec.name: o for o in make_runner(root).run([sp["tiny_cnn"], sp["tiny_cnn_e1"], sp["tiny_reg"]])}
    monkeypatch.setattr(train_mod, "train_epoch", real_epoch)
    assert trained == [2, 3]  # resumed from the last finished epoch, not from scratch
    assert outs["tiny_cnn"].how == "resumed"
    assert outs["tiny_cnn_e1"].how == "cached" and outs["tiny_reg"].how == "cached"
    assert snapshot(e1.folder) == e1_before
    assert snapshot(done.result.folder) == reg_before

    (clean,) = make_runner(clean_root(tmp_path, root, "clean")).run([sp["tiny_cnn"]])
    resumed = outs["tiny_cnn"].result
    assert clean.how == "ran" and resumed.fingerprint == clean.result.fingerprint
    assert resumed.history[METRICS].equals(clean.result.history[METRICS])
    assert resumed.final == {**clean.result.final, "epoch_seconds": resumed.final["epoch_seconds"]}
    w1, w2 = resumed.weights(), clean.result.weights()
    assert w1.keys() == w2.keys() and all(torch.equal(w1[k], w2[k]) for k in w1)
    assert torch.equal(resumed.samples()["prediction"], clean.result.samples()["prediction"])


# --------------------------------------------------------------------------- two at once


@pytest.mark.slow
def test_two_concurrent_runs_of_one_experiment_give_one_consistent_result(tiny_experiments, tmp_path):
    root = tiny_experiments
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    cmd = [sys.executable, "-c", LOCK_CHILD, str(barrier), "--root", str(root), "run", "tiny_cnn"]
    procs = [subprocess.Popen(cmd, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    try:
        results = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
        assert "Traceback" not in err
    assert not (barrier / "barrier-timeout").exists()  # both really waited on the same lock
    assert len(list(barrier.glob("want-*"))) == 2
    lines = [hows(out)["tiny_cnn"] for out, _ in results]
    assert sorted(lines) == ["cached", "ran"]  # one trained, the other waited and reused it
    numbers = [next(l for l in out.splitlines() if l.startswith("tiny_cnn")).split("train_loss")[1]
               for out, _ in results]
    assert numbers[0] == numbers[1]
    build = root / "build"
    assert len(list((build / "runs" / "tiny_cnn").iterdir())) == 1
    assert leftovers(build) == []
    runner = make_runner(root)
    result = runner.cached(specs(root)["tiny_cnn"])
    assert result is not None and len(result.history) == 3
    meta = json.loads((result.folder / "meta.json").read_text())
    for name, sha in meta["files"].items():
        assert sha256_bytes((result.folder / name).read_bytes()) == sha, name


# --------------------------------------------------------------------------- full / read-only disk


def _inside(path, folder: Path) -> bool:
    try:
        return Path(os.path.abspath(os.fsdecode(path))).is_relative_to(folder)
    except (TypeError, ValueError):
        return False


def disk_full(monkeypatch, folder: Path) -> None:
    """ENOSPC for every file written under `folder`, where a full disk reports it: on flush."""
    real_fsync = os.fsync

    def fsync(fd):
        if _inside(os.readlink(f"/proc/self/fd/{fd}"), folder):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)
    monkeypatch.setattr(os, "fsync", fsync)


def read_only(monkeypatch, folder: Path) -> None:
    """EACCES for creating or opening for writing anything under `folder`, as for another
    user's folder (tests run as root, so chmod would not stop them)."""
    real_open, real_mkdir, real_builtin_open = os.open, os.mkdir, builtins.open

    def denied(p) -> OSError:
        return OSError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(p))

    def os_open(path, flags, *a, **k):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and _inside(path, folder):
            raise denied(path)
        return real_open(path, flags, *a, **k)

    def mkdir(path, *a, **k):
        if _inside(path, folder) and not os.path.exists(path):
            raise denied(path)
        return real_mkdir(path, *a, **k)

    def open_(file, mode="r", *a, **k):
        if isinstance(file, (str, bytes, os.PathLike)) and set(mode) & set("wax+") and _inside(file, folder):
            raise denied(file)
        return real_builtin_open(file, mode, *a, **k)
    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io, "open", open_)


def finished_tiny_reg(root: Path, capsys) -> tuple[Path, dict[str, tuple[bytes, int]]]:
    """Train tiny_reg; its result folder and a snapshot of it to compare with after a fault."""
    code, out, err = run_cli(capsys, root, "run", "tiny_reg")
    assert code == 0, err
    folder = make_runner(root).cached(specs(root)["tiny_reg"]).folder
    return folder, snapshot(folder)


def test_disk_full_while_saving_a_result_keeps_the_previous_one(tiny_experiments, capsys):
    root = tiny_experiments
    build = root / "build"
    folder, before = finished_tiny_reg(root, capsys)

    with pytest.MonkeyPatch.context() as fault:
        disk_full(fault, build / "runs")
        code, out, err = run_cli(capsys, root, "run", "tiny_reg", "--force")  # same fingerprint, rewritten
        assert_user_error(code, err, "tiny_reg", "No space left on device", "Free disk space")
        code, out, err = run_cli(capsys, root, "run", "tiny_reg", "--set", "epochs=1")  # a new fingerprint
        assert_user_error(code, err, "tiny_reg", "No space left on device")

    assert snapshot(folder) == before
    assert [p for p in (build / "runs" / "tiny_reg").iterdir()] == [folder]
    assert leftovers(build) == []
    code, out, err = run_cli(capsys, root, "run", "tiny_reg")
    assert code == 0 and hows(out) == {"tiny_reg": "cached"}, err


def test_disk_full_while_checkpointing_is_a_clear_error(tiny_experiments, capsys):
    root = tiny_experiments
    build = root / "build"
    folder, before = finished_tiny_reg(root, capsys)

    with pytest.MonkeyPatch.context() as fault:
        disk_full(fault, build)
        code, out, err = run_cli(capsys, root, "run", "tiny_cnn")
        assert_user_error(code, err, "No space left on device", str(build / "checkpoints"))
    assert snapshot(folder) == before
    assert leftovers(build) == []
    assert not (build / "runs" / "tiny_cnn").exists()


def test_read_only_build_folder(tiny_experiments, capsys):
    root = tiny_experiments
    build = root / "build"
    folder, before = finished_tiny_reg(root, capsys)

    with pytest.MonkeyPatch.context() as fault:
        read_only(fault, build)
        # Cached results are still readable...
        code, out, err = run_cli(capsys, root, "results", "tiny_reg", "--json")
        assert code == 0, err
        assert json.loads(out)["cached"] is True
        # ...and anything that has to write says so, without a traceback.
        code, out, err = run_cli(capsys, root, "run", "tiny_reg", "--force")
        assert_user_error(code, err, "Permission denied", str(build))
        code, out, err = run_cli(capsys, root, "run", "tiny_cnn")
        assert_user_error(code, err, "Permission denied", str(build))
    assert snapshot(folder) == before
    assert leftovers(build) == []


# --------------------------------------------------------------------------- damaged cache entries


def _flip_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def _edit_history(path: Path) -> None:
    df = pd.read_csv(path)
    df.loc[df.index[-1], "val_mse"] = 0.000123  # valid CSV, a better-looking number
    path.write_text(df.to_csv(index=False))


def _edit_meta(path: Path) -> None:
    meta = json.loads(path.read_text())
    meta["final"]["val_mse"] = 0.000123  # valid JSON, checksums of the other files intact
    meta["seconds"] = 1.0
    path.write_text(json.dumps(meta, indent=2))


def _unseal(path: Path) -> None:
    """As if written before meta.json sealed itself: only the cross-check with history remains."""
    meta = json.loads(path.read_text())
    meta.pop("meta_sha256", None)
    path.write_text(json.dumps(meta, indent=2))


DAMAGE = {
    "history truncated": ("history.csv", lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])),
    "history hand-edited": ("history.csv", _edit_history),
    "weights corrupted": ("weights.pt", _flip_byte),
    "weights truncated": ("weights.pt", lambda p: p.write_bytes(p.read_bytes()[:100])),
    "samples missing": ("samples.pt", lambda p: p.unlink()),
    "meta truncated": ("meta.json", lambda p: p.write_bytes(p.read_bytes()[:40])),
    "meta hand-edited": ("meta.json", _edit_meta),
    "meta emptied": ("meta.json", lambda p: p.write_text("{}")),
    "meta hand-edited, seal removed": ("meta.json", lambda p: (_edit_meta(p), _unseal(p))),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damaged_cache_entry_is_reported_and_recomputed(tiny_experiments, capsys, kind):
    root = tiny_experiments
    spec = specs(root)["tiny_reg"]
    runner = make_runner(root)
    (first,) = runner.run([spec])
    good_history = first.result.history.copy()
    victim, damage = DAMAGE[kind]
    damage(first.result.folder / victim)
    capsys.readouterr()

    assert runner.status(spec) == "damaged"
    assert runner.cached(spec) is None
    err = capsys.readouterr().err
    assert "damaged" in err and str(first.result.folder) in err and "recomputed" in err

    (again,) = runner.run([spec])
    assert again.how in ("ran", "resumed")
    assert runner.status(spec) == "cached"
    # Recomputed from the run itself (checkpoint or training): the original numbers.
    assert again.result.history[METRICS].equals(good_history[METRICS])
    assert again.result.final["val_mse"] != 0.000123


def test_damaged_result_never_reaches_the_report(tiny_experiments, capsys):
    pytest.importorskip("pa3report.report")
    from pa3report.gathering import gather
    from pa3report.report import render

    root = tiny_experiments
    paths = Paths.from_root(root)
    spec = specs(root)["tiny_reg"]
    runner = make_runner(root)
    (first,) = runner.run([spec])
    _edit_meta(first.result.folder / "meta.json")  # the one file without a checksum beside it

    gathered = gather(paths, quick=False, run_missing=False, show_progress=False)
    assert gathered.runs["tiny_reg"].result is None and "tiny_reg" in gathered.missing
    done = render(paths, gathered)
    page = done.index.read_text(encoding="utf-8")
    assert "0.000123" not in page and "0.0001230" not in page
    assert "damaged" in capsys.readouterr().err
    state = json.loads((paths.build / "report.json").read_text())
    assert "tiny_reg" in state["missing"]

    # With training allowed, the damaged run is recomputed and its real numbers shown.
    gathered = gather(paths, quick=False, run_missing=True, show_progress=False)
    result = gathered.runs["tiny_reg"].result
    assert result is not None and result.final["val_mse"] != 0.000123
    page = render(paths, gathered).index.read_text(encoding="utf-8")
    assert "0.000123" not in page


# --------------------------------------------------------------------------- poisoned weights


class Payload:
    """Unpickling this runs a shell command that leaves a file behind."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _poisoned_torch_file(marker: Path) -> bytes:
    buf = io.BytesIO()
    torch.save({"conv.weight": torch.zeros(1), "evil": Payload(marker)}, buf)
    return buf.getvalue()


def test_pickled_code_in_weights_is_refused_not_run(tiny_experiments, tmp_path):
    root = tiny_experiments
    spec = specs(root)["tiny_reg"]
    runner = make_runner(root)
    (first,) = runner.run([spec])
    folder = first.result.folder
    marker = tmp_path / "pwned"
    blob = _poisoned_torch_file(marker)
    # The attacker also fixes the checksum, so only the loader stands in the way.
    for victim in ("weights.pt", "samples.pt"):
        (folder / victim).write_bytes(blob)
    meta = json.loads((folder / "meta.json").read_text())
    meta["files"]["weights.pt"] = meta["files"]["samples.pt"] = sha256_bytes(blob)
    meta.pop("meta_sha256", None)
    (folder / "meta.json").write_text(json.dumps(meta))
    result = Store(root / "build").load(spec.name, runner.fingerprint(spec), report=False)
    assert result is not None  # the checksums match: only the loader stands in the way
    for load, name in ((result.weights, "weights.pt"), (result.samples, "samples.pt")):
        with pytest.raises(UserError, match=f"{folder / name}.*refused"):
            load()
    # torch.load itself, called the way the project calls it, refuses too.
    with pytest.raises(pickle.UnpicklingError):
        torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    assert not marker.exists()


@pytest.mark.parametrize("where", ["outer", "inner"])
def test_pickled_code_in_checkpoint_is_refused_and_training_restarts(tiny_experiments, tmp_path, capsys, where):
    root = tiny_experiments
    sp = specs(root)
    runner = make_runner(root)
    runner.run([sp["tiny_cnn_e1"]])
    trajectory = runner.trajectory(sp["tiny_cnn"])
    path = runner.store.checkpoint_path(trajectory)
    marker = tmp_path / "pwned"
    evil = _poisoned_torch_file(marker)
    if where == "outer":
        path.write_bytes(evil)
    else:  # a valid envelope with a matching checksum around a poisoned state
        path.write_bytes(torch_bytes({"sha256": sha256_bytes(evil), "blob": evil}))
    capsys.readouterr()
    assert runner.store.load_checkpoint(trajectory) is None
    assert str(path) in capsys.readouterr().err
    (out,) = runner.run([sp["tiny_cnn"]])
    assert out.how == "ran" and len(out.result.history) == 3
    assert not marker.exists()


def unsafe_loads(package: Path) -> list[str]:
    """Every load in the package and its subpackages that could run pickled code: torch.load
    without weights_only=True, pickle.load(s), np.load with allow_pickle, an Unpickler other
    than cifar's allow-list."""
    found = []
    for path in sorted(package.rglob("*.py")):
        name_in_package = path.relative_to(package).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            where = f"{name_in_package}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                kw = {k.arg: k.value for k in node.keywords}
                if name.endswith("torch.load"):
                    value = kw.get("weights_only")
                    if not (isinstance(value, ast.Constant) and value.value is True):
                        found.append(f"{where}: torch.load without weights_only=True")
                if name in ("pickle.load", "pickle.loads", "pickle.Unpickler", "dill.load", "joblib.load"):
                    found.append(f"{where}: {name}")
                if name.endswith(("np.load", "numpy.load")):
                    value = kw.get("allow_pickle")
                    if value is not None and not (isinstance(value, ast.Constant) and value.value is False):
                        found.append(f"{where}: np.load with allow_pickle")
            if isinstance(node, ast.ImportFrom) and node.module in ("torch", "pickle") \
                    and any(a.name in ("load", "loads", "Unpickler") for a in node.names):
                found.append(f"{where}: imports {node.module}'s loader by name")
            if isinstance(node, ast.ClassDef) and any("Unpickler" in ast.unparse(b) for b in node.bases) \
                    and (name_in_package, node.name) != ("cifar.py", "_BatchUnpickler"):
                found.append(f"{where}: unpickler {node.name}")
    return found


def test_every_load_of_weights_or_pickles_is_restricted():
    """Static guard over the whole package, subpackages included."""
    assert unsafe_loads(PACKAGE) == []
    assert "weights_only=True" in (PACKAGE / "store.py").read_text()


def test_the_static_guard_sees_into_subpackages(tmp_path):
    (tmp_path / "measurements" / "deep").mkdir(parents=True)
    (tmp_path / "cifar.py").write_text("import pickle\nclass _BatchUnpickler(pickle.Unpickler):\n    pass\n")
    (tmp_path / "measurements" / "deep" / "cifar.py").write_text(
        "import pickle\nclass _BatchUnpickler(pickle.Unpickler):\n    pass\n")
    (tmp_path / "measurements" / "fit.py").write_text(
        "import pickle, torch\nimport numpy as np\n"
        "a = pickle.loads(b'')\nb = torch.load('w.pt')\nc = np.load('x.npy', allow_pickle=True)\n"
        "d = torch.load('w.pt', weights_only=True)\ne = np.load('x.npy')\n")
    assert unsafe_loads(tmp_path) == [
        "measurements/deep/cifar.py:2: unpickler _BatchUnpickler",
        "measurements/fit.py:3: pickle.loads",
        "measurements/fit.py:4: torch.load without weights_only=True",
        "measurements/fit.py:5: np.load with allow_pickle"]


@pytest.mark.slow
def test_two_reports_finishing_at_once_both_succeed(tiny_experiments):
    report = pytest.importorskip("pa3report.report")
    gathering = pytest.importorskip("pa3report.gathering")
    import threading

    root = tiny_experiments
    paths = Paths.from_root(root)
    make_runner(root).run([specs(root)["tiny_reg"]])
    gathered = gathering.gather(paths, quick=False, run_missing=False, show_progress=False)
    html = report.render(paths, gathered).index.parent  # an earlier report is in place
    real_replace = os.replace
    other: dict = {}

    def render_other() -> None:
        other["done"] = report.render(paths, gathered)

    def replace(src, dst, *a, **k):
        real_replace(src, dst, *a, **k)
        if not other and Path(src) == html and Path(dst) != html:
            # This report has just moved the old page aside: the other one runs now.
            other["thread"] = threading.Thread(target=render_other)
            other["thread"].start()
            other["thread"].join(timeout=10)  # a lock would keep it waiting here; go on then
    with pytest.MonkeyPatch.context() as fault:
        fault.setattr(os, "replace", replace)
        try:
            mine = report.render(paths, gathered)
        finally:
            if "thread" in other:
                other["thread"].join(timeout=120)
    assert "thread" in other and "done" in other
    assert mine.index.read_text(encoding="utf-8").rstrip().endswith("</html>")
    assert leftovers(paths.build) == []
