"""The data folder is asked for once: later commands find it without PA3_DATA."""

import json
import shutil

from pa3report.cifar import LOCATION_FILE

from .conftest import assert_user_error, run_cli


def test_commands_after_the_first_need_no_pa3_data(tiny_experiments, cifar_dir, capsys, monkeypatch):
    assert run_cli(capsys, tiny_experiments, "run", "tiny_reg")[0] == 0
    note = tiny_experiments / "build" / "data" / LOCATION_FILE
    assert json.loads(note.read_text()) == {"folder": str(cifar_dir.resolve())}
    monkeypatch.delenv("PA3_DATA")
    monkeypatch.setenv("PA3_OFFLINE", "1")
    code, out, err = run_cli(capsys, tiny_experiments, "list")
    assert code == 0 and "unknown" not in out, err
    assert any(l.startswith("tiny_reg") and l.endswith("cached") for l in out.splitlines())
    code, out, err = run_cli(capsys, tiny_experiments, "report", "--no-run")
    assert code == 0 and "not run yet: tiny_cnn, tiny_cnn_e1" in out, err
    assert run_cli(capsys, tiny_experiments, "check")[0] in (0, 1)
    assert run_cli(capsys, tiny_experiments, "results", "tiny_reg", "--json")[0] == 0
    # the folder moved away: said once, then the usual "no data" error
    shutil.rmtree(cifar_dir)
    code, _, err = run_cli(capsys, tiny_experiments, "run", "tiny_cnn")
    assert_user_error(code, err, "PA3_DATA")
    assert "is gone or incomplete" in err


def test_report_no_run_on_a_fresh_clone_fits_the_palette(tiny_experiments, capsys, monkeypatch):
    monkeypatch.delenv("PA3_PALETTE")
    code, out, err = run_cli(capsys, tiny_experiments, "report", "--no-run")
    assert code == 0, err
    assert "fitting the 24-colour palette" in err and "not run yet: tiny_cnn, tiny_cnn_e1, tiny_reg" in out
    assert list((tiny_experiments / "build" / "palette").glob("*.npy"))
    assert not (tiny_experiments / "build" / "runs").exists()


def test_report_no_run_without_any_data_shows_every_run_as_not_run(tiny_experiments, capsys, monkeypatch):
    monkeypatch.delenv("PA3_DATA")
    monkeypatch.setenv("PA3_OFFLINE", "1")
    code, out, err = run_cli(capsys, tiny_experiments, "report", "--no-run")
    assert code == 0, err
    assert "note: no data found" in err and "not run yet: tiny_cnn, tiny_cnn_e1, tiny_reg" in out
    assert (tiny_experiments / "build" / "html" / "index.html").is_file()
    # training still needs the data: a clear error, as before
    assert_user_error(*run_cli(capsys, tiny_experiments, "report")[::2], "PA3_DATA")
