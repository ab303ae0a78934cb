"""The evidence registry: kinds by name, one notice per question."""

import numpy as np
import pytest

from pa3report import evidence
from pa3report.outline import Evidence, Question
from pa3report.page import FigureMaker, Page, note, pending

from .runkit import runs


def test_build_merges_not_run_notices_and_repeated_notes(tmp_path, monkeypatch):
    monkeypatch.setitem(evidence.PIECES, "one", lambda page, q, ev: [*pending(["a", "b"]), note("same"), note("x")])
    monkeypatch.setitem(evidence.PIECES, "two", lambda page, q, ev: [*pending(["b", "c"]), note("same")])
    page = Page(runs(), np.zeros((2, 3), np.float32), FigureMaker(tmp_path))
    items = evidence.build(page, Question("9.9", "t", (Evidence("one"), Evidence("two"))))
    assert items == [{"kind": "pending", "runs": ["a", "b", "c"]}, note("same"), note("x")]


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
