"""`results` only reads; a diverging run is one error line, and a report carries on without it."""

import json
import pickle

import pytest

from pa3report import train as train_mod
from pa3report.runner import Diverged

from .conftest import assert_user_error, run_cli


def test_results_of_an_uncached_run_names_the_command_and_trains_nothing(tiny_experiments, capsys):
    code, out, err = run_cli(capsys, tiny_experiments, "results", "tiny_reg", "--set", "epochs=1", "--json")
    last = assert_user_error(code, err, "tiny_reg is not cached", "`python -m pa3report run tiny_reg --set epochs=1`",
                             "about")
    assert out == "" and ("min" in last or " s here" in last)
    assert not (tiny_experiments / "build" / "runs").exists() and not (tiny_experiments / "build" / "checkpoints").exists()
    code, _, err = run_cli(capsys, tiny_experiments, "results", "tiny_cnn", "--quick", "--json")
    assert_user_error(code, err, "`python -m pa3report run tiny_cnn --quick`")
    assert run_cli(capsys, tiny_experiments, "run", "tiny_reg", "--set", "epochs=1")[0] == 0
    code, out, err = run_cli(capsys, tiny_experiments, "results", "tiny_reg", "--set", "epochs=1", "--json")
    assert code == 0 and json.loads(out)["cached"] is True


@pytest.fixture
def regression_diverges(monkeypatch):
    """Every regression step's loss becomes NaN, as with a learning rate far too high."""
    real = train_mod.loss_fn

    def loss_fn(loss, outputs, targets, class_weight=None):
        value = real(loss, outputs, targets, class_weight)
        return value * float("nan") if loss == "mse" else value

    monkeypatch.setattr(train_mod, "loss_fn", loss_fn)


def test_a_diverging_run_is_one_error_line_naming_run_and_setting(tiny_experiments, capsys, regression_diverges):
    code, out, err = run_cli(capsys, tiny_experiments, "run", "tiny_reg", "--set", "learn_rate=0.5")
    last = assert_user_error(code, err, "tiny_reg diverged", "training loss became nan at epoch 1",
                             "learn_rate=0.5", "--set learn_rate=0.05")
    assert "Traceback" not in err and last.count("\n") == 0


def test_run_all_trains_the_others_when_one_diverges(tiny_experiments, capsys, regression_diverges):
    code, out, err = run_cli(capsys, tiny_experiments, "run", "--all")
    assert_user_error(code, err, "tiny_reg diverged")
    assert "tiny_cnn " in out and "tiny_cnn_e1 " in out
    assert run_cli(capsys, tiny_experiments, "results", "tiny_cnn", "--json")[0] == 0


def test_a_non_finite_validation_loss_is_a_divergence_too(tiny_experiments, capsys, monkeypatch):
    real = train_mod.evaluate

    def evaluate(model, loss, data, device):
        got = real(model, loss, data, device)
        return {**got, "val_loss": float("inf")} if loss == "mse" else got

    monkeypatch.setattr(train_mod, "evaluate", evaluate)
    code, _, err = run_cli(capsys, tiny_experiments, "run", "tiny_reg")
    assert_user_error(code, err, "tiny_reg diverged", "val_loss became inf at epoch 1")
    assert not list((tiny_experiments / "build" / "checkpoints").glob("*.pt"))  # the bad epoch is not kept


def test_report_goes_on_and_marks_the_failed_run(tiny_experiments, capsys, regression_diverges):
    code, out, err = run_cli(capsys, tiny_experiments, "report")
    assert_user_error(code, err, "tiny_reg diverged", "learn_rate=0.001")
    assert "report: " in out and "tiny_cnn " in out and "tiny_reg                 failed" in out
    page = (tiny_experiments / "build" / "html" / "index.html").read_text(encoding="utf-8")
    assert 'id="failed-banner"' in page and "failed: the loss diverged" in page
    state = json.loads((tiny_experiments / "build" / "report.json").read_text())
    assert state["failed"] == ["tiny_reg"] and "tiny_reg" in state["missing"]


def test_diverged_survives_the_trip_from_a_worker():
    exc = Diverged("p3_unet diverged: ...", "abc", ("p3_unet", "p3_unet_e5"))
    back = pickle.loads(pickle.dumps(exc))
    assert isinstance(back, Diverged) and str(back) == str(exc)
    assert back.trajectory == "abc" and back.names == ("p3_unet", "p3_unet_e5")
