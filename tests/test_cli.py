import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
# A real (possibly offline, horse-only) copy of CIFAR-10 lying next to the project, if any.
REAL_DATA = os.environ.get("PA3_REAL_DATA") or next(
    (str(p) for p in sorted(PROJECT.parent.glob("*/data/cifar-10-batches-py"))), "")


def cli(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "pa3report", "--root", str(root), *args],
                          capture_output=True, text=True, env=full_env, timeout=600)


def assert_user_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ")
    for w in words:
        assert w in proc.stderr


@pytest.mark.slow
def test_list_run_results(tiny_experiments):
    out = cli(tiny_experiments, "list")
    assert out.returncode == 0, out.stderr
    assert "tiny_cnn" in out.stdout and "missing" in out.stdout
    run = cli(tiny_experiments, "run", "tiny_reg")
    assert run.returncode == 0, run.stderr
    assert "tiny_reg" in run.stdout and "ran" in run.stdout and "val_mse" in run.stdout
    again = cli(tiny_experiments, "run", "tiny_reg")
    assert "cached" in again.stdout
    res = cli(tiny_experiments, "results", "tiny_reg", "--json")
    doc = json.loads(res.stdout)
    assert doc["cached"] is True and len(doc["history"]) == 2
    assert set(doc["history"][0]) >= {"train_loss", "val_loss", "val_acc", "val_mse", "epoch_seconds"}
    assert cli(tiny_experiments, "run", "tiny_reg", "--set", "epochs=1").returncode == 0
    other = json.loads(cli(tiny_experiments, "results", "tiny_reg", "--set", "epochs=1", "--json").stdout)
    assert len(other["history"]) == 1 and other["fingerprint"] != doc["fingerprint"]
    listing = cli(tiny_experiments, "list").stdout
    assert any(l.startswith("tiny_reg") and l.endswith("cached") for l in listing.splitlines())


def test_unknown_experiment_suggests(tiny_experiments):
    assert_user_error(cli(tiny_experiments, "run", "tiny_cn"), "tiny_cnn")


def test_bad_set(tiny_experiments):
    assert_user_error(cli(tiny_experiments, "run", "tiny_reg", "--set", "epoch=2"), "epochs")


def test_bad_config_runs_nothing(tiny_experiments):
    (tiny_experiments / "experiments" / "zz.toml").write_text(
        '[[experiment]]\nname = "bad"\nmodel = "CNN"\ntask = "colourization"\nbatchsize = 3\n')
    assert_user_error(cli(tiny_experiments, "run", "--all"), "zz.toml", "'bad'", "batch_size")
    assert not (tiny_experiments / "build" / "runs").exists()


def test_offline_without_data_is_a_clear_error(tiny_experiments, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PA3_DATA"}
    env["PA3_OFFLINE"] = "1"
    proc = subprocess.run([sys.executable, "-m", "pa3report", "--root", str(tiny_experiments), "run", "tiny_reg"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert_user_error(proc, "cs.toronto.edu", "PA3_DATA", "cifar-10-batches-py")


@pytest.mark.slow
@pytest.mark.skipif(not REAL_DATA, reason="no real CIFAR-10 copy next to the project (set PA3_REAL_DATA)")
def test_real_data_quick_run(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "experiments").mkdir()
    (root / "experiments" / "one.toml").write_text(
        '[[experiment]]\nname = "p3_unet"\nmodel = "UNet"\ntask = "colourization"\n')
    env = {"PA3_DATA": REAL_DATA, "PA3_PALETTE": ""}
    trained = cli(root, "run", "p3_unet", "--quick", "--set", "epochs=1", env=env)
    assert trained.returncode == 0, trained.stderr
    proc = cli(root, "results", "p3_unet", "--quick", "--set", "epochs=1", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["quick"] is True and len(doc["history"]) == 1
    # One epoch on 1000 real horses already beats guessing uniformly over 24 colours.
    assert doc["final"]["train_loss"] < math.log(24)
    assert 0.0 < doc["final"]["val_acc"] < 100.0


def test_list_columns_line_up_whatever_the_widths(tiny_experiments, capsys):
    from .conftest import run_cli

    (tiny_experiments / "experiments" / "wide.toml").write_text(
        '[[experiment]]\nname = "a_rather_long_experiment_name_x"\nmodel = "CNN"\ntask = "colourization"\n'
        'questions = ["1.1", "1.2", "1.3", "1.4", "1.5"]\nepochs = 150\n')
    code, out, _ = run_cli(capsys, tiny_experiments, "list")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 5
    header = lines[0]
    for column in ("questions", "model", "task", "status"):
        at = header.index(column)
        assert all(line[at - 1] == " " and line[at] != " " for line in lines[1:]), (column, out)
    end = header.index("epochs") + len("epochs")
    assert all(line[end - 1].isdigit() for line in lines[1:]), out


def test_lists_choose_what_trains(tiny_experiments, capsys):
    from .conftest import assert_user_error as user_error, run_cli, split_lists

    split_lists(tiny_experiments)
    code, out, err = run_cli(capsys, tiny_experiments, "run", "--lists", "sweep")
    assert code == 0, err
    assert "tiny_reg" in out and "tiny_cnn" not in out
    code, out, _ = run_cli(capsys, tiny_experiments, "list")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["tiny_reg"][1] == "sweep" and rows["tiny_reg"][-1] == "cached"
    assert rows["tiny_cnn"][1] == "handout" and rows["tiny_cnn"][-1] == "missing"
    code, out, _ = run_cli(capsys, tiny_experiments, "list", "--lists", "handout")
    assert code == 0 and "tiny_cnn_e1" in out and "tiny_reg" not in out

    def refused(*args: str, words: tuple[str, ...]) -> None:
        code, _, err = run_cli(capsys, tiny_experiments, *args)
        user_error(code, err, *words)

    refused("run", "--all", "--lists", "handot", words=("'handot'", "did you mean 'handout'"))
    refused("report", "--lists", "handout,swep", words=("did you mean 'sweep'",))
    refused("run", "tiny_cnn", "--lists", "handout", words=("not both",))
    assert not (tiny_experiments / "build" / "runs" / "tiny_cnn").exists()


def test_list_shows_the_loss_and_which_skips_a_unet_keeps(tiny_experiments, capsys):
    from .conftest import run_cli

    (tiny_experiments / "experiments" / "unets.toml").write_text(
        '[[experiment]]\nname = "u_all"\nmodel = "UNet"\ntask = "colourization"\n\n'
        '[[experiment]]\nname = "u_input"\nmodel = "UNet"\ntask = "colourization"\nskips = ["input"]\n'
        'loss = "rebalanced"\n\n'
        '[[experiment]]\nname = "u_none"\nmodel = "UNet"\ntask = "colourization"\nskips = []\n')
    code, out, _ = run_cli(capsys, tiny_experiments, "list")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    header = out.splitlines()[0].split()
    loss, skips = header.index("loss"), header.index("skips")
    assert code == 0 and rows["u_all"][skips] == "all" and rows["u_none"][skips] == "none"
    assert rows["u_input"][skips] == "input" and rows["u_input"][loss] == "rebalanced"
    assert rows["tiny_reg"][loss] == "mse" and rows["tiny_cnn"][skips] == "-"
