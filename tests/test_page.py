"""Page items, the figure cache and what a page reads of its runs."""

import numpy as np

from pa3report import figures
from pa3report.page import FigureMaker, Page, drawing_code

from .runkit import run, runs


def test_figure_maker_draws_once_per_key_and_code(tmp_path):
    calls = []

    def draw(path):
        calls.append(path)
        figures.palette_swatch(path, np.random.default_rng(0).random((24, 3)))

    first = FigureMaker(tmp_path / "cache").make("img/p.png", {"k": 1}, draw, alt="palette")
    again = FigureMaker(tmp_path / "cache").make("img/p.png", {"k": 1}, draw, alt="palette")
    assert len(calls) == 1 and first == again and first["src"] == "img/p.png" and first["width"] > 0
    FigureMaker(tmp_path / "cache").make("img/p.png", {"k": 2}, draw, alt="palette")
    FigureMaker(tmp_path / "cache", salt="other code").make("img/p.png", {"k": 1}, draw, alt="palette")
    assert len(calls) == 3
    assert sorted(p.suffix for p in (tmp_path / "cache").iterdir()) == [".png"] * 3  # no temporary files


def test_drawing_code_changes_with_any_piece_or_measurement(tmp_path, monkeypatch):
    from pa3report import page

    for rel in ("figures.py", "mosaics.py", "page.py", "architecture.py", "evidence/curves.py", "measurements/toy.py"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text("x = 1\n")
    monkeypatch.setattr(page, "PACKAGE", tmp_path)
    before = drawing_code()
    (tmp_path / "measurements" / "toy.py").write_text("x = 2\n")
    after = drawing_code()
    (tmp_path / "evidence" / "new.py").write_text("y = 1\n")
    assert len({before, after, drawing_code()}) == 3


def test_memo_computes_once(tmp_path):
    calls = []
    maker = FigureMaker(tmp_path)
    assert maker.memo("x", [1], lambda: calls.append(1) or {"v": 1}) == {"v": 1}
    assert FigureMaker(tmp_path).memo("x", [1], lambda: calls.append(1) or {"v": 2}) == {"v": 1}
    assert calls == [1]


def test_split_names_missing_runs_and_untagged_questions(tmp_path):
    rs = runs(run("a", questions=("1.2",)), run("b", questions=("1.2",), available=False))
    page = Page(rs, np.zeros((2, 3), np.float32), FigureMaker(tmp_path))
    found, items = page.split(["1.2"])
    assert [r.name for r in found] == ["a"] and items == [{"kind": "pending", "runs": ["b"]}]
    found, items = page.split(["7.7"])
    assert found == [] and items[0]["kind"] == "note" and "7.7" in items[0]["text"]


def test_a_failed_run_is_named_as_failed_not_as_not_run_yet(tmp_path):
    from pa3report.runs import RunInfo

    bad = run("b", questions=("1.2",), available=False)
    rs = runs(run("a", questions=("1.2",)), RunInfo(bad.spec, None, "failed"))
    found, items = Page(rs, np.zeros((2, 3), np.float32), FigureMaker(tmp_path)).split(["1.2"])
    assert [r.name for r in found] == ["a"]
    assert items == [{"kind": "note", "text": "Training diverged (non-finite loss), so there is no result for: b."}]
