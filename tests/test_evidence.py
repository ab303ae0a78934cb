"""The evidence registry: kinds by name, one notice per question."""

import numpy as np
import pytest

from pa3report import evidence
from pa3report.outline import Evidence, Question
from pa3report.page import FigureMaker, Page, note, pending

from .runkit import run, runs


def test_build_merges_not_run_notices_and_repeated_notes(tmp_path, monkeypatch):
    monkeypatch.setitem(evidence.PIECES, "one", lambda page, q, ev: [*pending(["a", "b"]), note("same"), note("x")])
    monkeypatch.setitem(evidence.PIECES, "two", lambda page, q, ev: [*pending(["b", "c"]), note("same")])
    page = Page(runs(), np.zeros((2, 3), np.float32), FigureMaker(tmp_path))
    items = evidence.build(page, Question("9.9", "t", (Evidence("one"), Evidence("two"))))
    assert items == [{"kind": "pending", "runs": ["a", "b", "c"], "lists": [], "command": "make report"},
                     note("same"), note("x")]



def test_the_not_run_notice_names_only_runs_of_the_chosen_lists(tmp_path, monkeypatch):
    """Runs of lists left out of training are the page's banner's to mention, once: a question's
    notice names the chosen lists' runs still to come, and none when there are none."""
    from dataclasses import replace

    from pa3report.lists import select
    from pa3report.runs import RunInfo

    def of(info: RunInfo, list_name: str) -> RunInfo:
        spec = replace(info.spec, experiment=replace(info.experiment, list_name=list_name))
        return RunInfo(spec, None, "missing")

    rs = runs(of(run("a"), "handout"), of(run("b"), "sweep"), of(run("c"), "ablations"))
    chosen = select([r.experiment for r in rs.values()], ["handout"])
    monkeypatch.setitem(evidence.PIECES, "one", lambda page, q, ev: pending(["a", "b"]))
    page = Page(rs, np.zeros((2, 3), np.float32), FigureMaker(tmp_path), selection=chosen)
    (item,) = evidence.build(page, Question("9.9", "t", (Evidence("one"),)))
    assert item == {"kind": "pending", "runs": ["a"], "lists": [], "command": "make report LISTS=handout"}
    monkeypatch.setitem(evidence.PIECES, "one", lambda page, q, ev: pending(["b", "c"]))
    assert evidence.build(page, Question("9.9", "t", (Evidence("one"),))) == []

def test_unknown_and_duplicate_kinds(tmp_path):
    page = Page(runs(), np.zeros((2, 3), np.float32), FigureMaker(tmp_path))
    with pytest.raises(KeyError, match="no evidence kind 'nope'"):
        evidence.build(page, Question("9.9", "t", (Evidence("nope"),)))
    with pytest.raises(ValueError, match="registered twice"):
        evidence.add("curves", lambda page, q, ev: [])


def test_every_kind_of_the_outline_is_registered():
    from pa3report import measurements
    from pa3report.outline import kinds

    measurements.discover()
    assert set(kinds()) <= set(evidence.PIECES)
