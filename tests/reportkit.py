"""A tiny but complete project for the report tests: the real run names, answers and
templates, with tiny networks on synthetic CIFAR batches, built once per test session."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from pa3report.cifar import BATCH_DIR
from pa3report.config import Experiment, load_experiments
from pa3report.gathering import Gathered, gather
from pa3report.report import Rendered, Student, render
from pa3report.inputs import Paths

from .conftest import PROJECT, make_cifar

# Full (non-quick) epochs of the tiny list: distinct, but few.
TINY_EPOCHS = {5: 1, 10: 1, 12: 2, 25: 2, 50: 3}
_BUILT: dict[str, "Built"] = {}
_ROOT = Path(tempfile.mkdtemp(prefix="pa3report-tests-"))
atexit.register(shutil.rmtree, _ROOT, True)


@dataclass
class Built:
    root: Path
    env: dict[str, str]
    paths: Paths
    gathered: Gathered
    rendered: Rendered

    @property
    def html(self) -> Path:
        return self.paths.build / "html"

    def page(self) -> str:
        return (self.html / "index.html").read_text(encoding="utf-8")


def _toml_value(v: object) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)


def tiny_list(experiments: tuple[Experiment, ...], max_seeds: int) -> str:
    """The project's experiment list as TOML, shrunk: 4 filters, few epochs, few seeds."""
    out = []
    for e in experiments:
        if e.group and e.name != e.group:
            continue  # written as part of its group's `seeds`
        seeds = [x.seed for x in experiments if e.group and x.group == e.group][:max_seeds]
        small = replace(e, num_filters=max(2, e.num_filters // 8), epochs=TINY_EPOCHS.get(e.epochs, min(e.epochs, 3)))
        fields = {k: getattr(small, k) for k in ("name", "model", "task", "questions", "title", "epochs",
                                                 "batch_size", "learn_rate", "num_filters", "kernel",
                                                 "optimizer", "weight_decay", "loss")}
        if e.model == "UNet":
            fields["skips"] = list(e.skips or ())
        if e.measured:
            fields["measured"] = dict(e.measured)
        if len(seeds) > 1:
            fields["seeds"] = seeds
        else:
            fields["seed"] = e.seed
        out.append("[[experiment]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in fields.items()))
    return "\n".join(out)


def make_project(root: Path, max_seeds: int = 2) -> tuple[Path, dict[str, str]]:
    """Answers and templates of the real project, a tiny experiment list, synthetic data."""
    root.mkdir(parents=True)
    for sub in ("answers", "templates"):
        shutil.copytree(PROJECT / sub, root / sub)
    # the code too, so the submission zip of this project is complete
    shutil.copytree(PROJECT / "pa3report", root / "pa3report", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("Makefile", "pyproject.toml", "README.txt"):
        if (PROJECT / name).is_file():
            shutil.copyfile(PROJECT / name, root / name)
    (root / "experiments").mkdir()
    (root / "experiments" / "tiny.toml").write_text(
        tiny_list(load_experiments(PROJECT / "experiments"), max_seeds))
    data = make_cifar(root.parent / f"{root.name}-data" / BATCH_DIR)
    palette = root.parent / f"{root.name}-palette.npy"
    np.save(palette, np.random.default_rng(0).random((1, 24, 3)).astype(np.float32))
    env = {"PA3_DATA": str(data), "PA3_PALETTE": str(palette), "OMP_NUM_THREADS": "1"}
    return root, env


def build(kind: str, quick: bool, max_seeds: int, student: Student = Student()) -> Built:
    """Build (once per session) a project of this kind and render its report."""
    if kind not in _BUILT:
        root, env = make_project(_ROOT / kind, max_seeds)
        paths = Paths.from_root(root, env)
        gathered = gather(paths, quick, env=env, show_progress=False)
        rendered = render(paths, gathered, student)
        _BUILT[kind] = Built(root, env, paths, gathered, rendered)
    return _BUILT[kind]


def quick_project() -> Built:
    """A --quick report over every run of the list (two seeds each)."""
    return build("quick", quick=True, max_seeds=2)


def full_project() -> Built:
    """A full (non-quick) report, one seed each, with a student name: what the zip packages."""
    return build("full", quick=False, max_seeds=1, student=Student("Ada", "Lovelace"))


def copy_project(built: Built, dest: Path) -> tuple[Path, Paths]:
    """A private copy (sources and build folder) that a test may change freely."""
    root = dest / "proj"
    shutil.copytree(built.root, root)
    paths = Paths.from_root(root, built.env)
    return root, paths
