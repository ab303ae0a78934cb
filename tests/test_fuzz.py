"""Property: whatever a student writes in the experiment list, in --set or in an answer, the
command gives a result or one `error:` line with exit status 2, never a traceback."""

import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pa3report import cli
from pa3report.config import FIELD_TYPES, QUESTIONS

from .conftest import PROJECT, make_cifar

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def world():
    """A project with the real answers and templates, synthetic data and a fixed palette."""
    base = Path(tempfile.mkdtemp(prefix="pa3-fuzz-"))
    data = make_cifar(base / "data" / "cifar-10-batches-py")
    np.save(base / "palette.npy", np.random.default_rng(0).random((1, 24, 3)).astype(np.float32))
    root = base / "proj"
    for sub in ("experiments", "answers", "templates"):
        shutil.copytree(PROJECT / sub, root / sub)
    yield root, {"PA3_DATA": str(data), "PA3_PALETTE": str(base / "palette.npy"), "PA3_OFFLINE": "1"}
    shutil.rmtree(base, ignore_errors=True)


def call(capsys, monkeypatch, root: Path, env: dict, *args: str) -> tuple[int, str, str]:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("PA3_BUILD", raising=False)
    capsys.readouterr()
    code = cli.main(["--root", str(root), *args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_or_success(code: int, err: str, ok: tuple[int, ...] = (0,)) -> None:
    assert "Traceback" not in err, err
    if code in ok:
        return
    assert code == 2, (code, err)
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0], err


# --------------------------------------------------------------------------- TOML values


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in v
                             if ord(c) < 0x10000) + '"'
    return "[" + ", ".join(toml_value(x) for x in v) + "]"


scalars = st.one_of(st.integers(-2**40, 2**40), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                    st.text(max_size=12), st.sampled_from(["CNN", "UNet", "RegressionCNN", "regression",
                                                           "colourization", "super_resolution", "adam", "sgd"]))
values = st.one_of(scalars, st.lists(st.one_of(st.sampled_from(QUESTIONS), st.integers(-3, 5), st.text(max_size=4)),
                                     max_size=4))
keys = st.one_of(st.sampled_from(sorted(FIELD_TYPES)), st.from_regex(r"[a-z_]{1,10}", fullmatch=True))
names = st.one_of(st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True), st.text(max_size=10))
tables = st.lists(st.dictionaries(keys, values, max_size=6).flatmap(
    lambda d: st.builds(lambda n: {"name": n, **d}, names)), min_size=1, max_size=3)


def write_list(root: Path, text: str) -> None:
    folder = root / "experiments"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "fuzz.toml").write_text(text, encoding="utf-8")


@SETTINGS
@given(entries=tables)
def test_any_experiment_table(world, capsys, monkeypatch, entries):
    root, env = world
    text = "\n".join("[[experiment]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in e.items()) for e in entries)
    write_list(root, text)
    code, out, err = call(capsys, monkeypatch, root, env, "list")
    one_error_or_success(code, err)


@SETTINGS
@given(text=st.text(max_size=200))
def test_any_experiment_file(world, capsys, monkeypatch, text):
    root, env = world
    write_list(root, text)
    code, out, err = call(capsys, monkeypatch, root, env, "list")
    one_error_or_success(code, err)


# --------------------------------------------------------------------------- --set


settable = st.sampled_from(["epochs", "batch_size", "learn_rate", "num_filters", "kernel", "seed", "optimizer",
                            "weight_decay", "epoch", "name", ""])
set_values = st.one_of(st.text(max_size=15), st.integers(-10**12, 10**12).map(str),
                       st.floats().map(repr), st.sampled_from(["1e-3", "nan", "inf", "[1, 2]", '"adam"', "true"]))


@SETTINGS
@given(items=st.lists(st.one_of(st.builds(lambda k, v: f"{k}={v}", settable, set_values), st.text(max_size=10)),
                      min_size=1, max_size=3))
def test_any_set_value(world, capsys, monkeypatch, items):
    root, env = world
    shutil.rmtree(root / "experiments", ignore_errors=True)
    shutil.copytree(PROJECT / "experiments", root / "experiments")
    # `results` never trains: an accepted value ends in "not cached", a refused one in its error
    code, out, err = call(capsys, monkeypatch, root, env, "results", "p3_unet", *(f"--set={i}" for i in items))
    one_error_or_success(code, err)
    assert code == 2


# --------------------------------------------------------------------------- answers


jinja_bits = st.sampled_from(["{{", "}}", "{%", "%}", "{#", "#}", "runs.p3_unet.final.val_acc", "| pct", "| num(2)",
                              "analysis.sr_quality", "sweep.best", "gap(", ")", "for x in", "endfor", "if", "endif",
                              "<script>", "[x](javascript:alert(1))", "'", '"', "\n", " ", "()", "__class__",
                              "range(10**9)", "runs", ".", "[0]", "lipsum", "self"])


@pytest.mark.slow
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(parts=st.lists(st.one_of(jinja_bits, st.text(max_size=8)), max_size=12))
def test_any_answer_text(world, capsys, monkeypatch, parts):
    root, env = world
    shutil.rmtree(root / "experiments", ignore_errors=True)
    shutil.copytree(PROJECT / "experiments", root / "experiments")
    (root / "answers" / "1.1.md").write_text("".join(parts), encoding="utf-8")
    code, out, err = call(capsys, monkeypatch, root, env, "check")
    one_error_or_success(code, err, ok=(0, 1))
