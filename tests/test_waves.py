"""A long training shows a complete page early: one after each wave of seeds, and one on Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import pytest

from pa3report import report
from pa3report.cli import main


def seeded(project: Path) -> Path:
    """The tiny list with two seeds per entry: two waves."""
    toml = project / "experiments" / "tiny.toml"
    toml.write_text(toml.read_text().replace("num_filters = 4\n", "num_filters = 4\nseeds = [0, 1]\n"))
    return project


@pytest.fixture
def pages(monkeypatch):
    """Every page `report` writes, as (stage, index.html text) at the moment it was written."""
    written: list[tuple[str, str]] = []
    real = report.render

    def spy(*args, **kwargs):
        done = real(*args, **kwargs)
        written.append((kwargs.get("stage", ""), done.index.read_text(encoding="utf-8")))
        return done

    monkeypatch.setattr(report, "render", spy)
    return written


def test_a_page_is_written_after_each_wave_but_the_last(tiny_experiments, pages, capsys):
    root = seeded(tiny_experiments)
    assert main(["--root", str(root), "report"]) == 0
    out = capsys.readouterr().out
    assert [stage for stage, _ in pages] == ["after wave 1 of 2", ""]
    early, final = pages[0][1], pages[1][1]
    assert 'id="stage-banner"' in early and "written after wave 1 of 2" in early
    assert 'id="run-tiny_cnn_s1"' in early and "not run yet" in early  # the second seeds are still to come
    assert 'id="stage-banner"' not in final and "not run yet" not in final
    assert out.count("page after wave 1 of 2 written at") == 1


def test_ctrl_c_writes_the_page_of_what_is_finished_and_a_rerun_continues(tiny_experiments, pages,
                                                                           monkeypatch, capsys):
    import pa3report.train as train_mod

    root = seeded(tiny_experiments)
    real = train_mod.train_epoch
    calls = {"n": 0}

    def stopped_in_wave_2(state, spec, *args, **kwargs):
        if spec.experiment.seed == 1:
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt
        return real(state, spec, *args, **kwargs)

    monkeypatch.setattr(train_mod, "train_epoch", stopped_in_wave_2)
    assert main(["--root", str(root), "report"]) == 130
    stages = [stage for stage, _ in pages]
    assert stages == ["after wave 1 of 2", "when training was interrupted"]
    interrupted = pages[-1][1]
    assert "written when training was interrupted" in interrupted and "run it again to continue" in interrupted
    assert "interrupted: finished epochs are checkpointed" in capsys.readouterr().err
    monkeypatch.setattr(train_mod, "train_epoch", real)
    pages.clear()
    assert main(["--root", str(root), "report"]) == 0
    assert [stage for stage, _ in pages] == [""] and "not run yet" not in pages[0][1]
