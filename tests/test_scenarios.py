"""Every answer rendered in each situation a student's results can be in (tests/scenarios.py):
nothing breaks, and no wording claims more than its results can back."""

from __future__ import annotations

import re

import pytest

from pa3report import answers

from . import scenarios
from .reportkit import quick_project

RELIABLE = re.compile(r"real difference|reliabl", re.I)


@pytest.fixture(scope="module")
def rendered():
    built = quick_project()
    found = {name: scenarios.render(built.paths, built.gathered, name) for name in scenarios.SCENARIOS}
    found["folder"] = built.root / "answers"
    return found


def read(a: answers.Answer) -> str:
    """Everything a reader can open of an answer: prose, folded parts (not the tests table)."""
    return answers.visible_text(a) + " ".join(answers._TAG.sub(" ", str(s.html)) for s in a.further)


@pytest.mark.parametrize("name", scenarios.SCENARIOS)
def test_every_answer_renders_and_every_claim_has_one_verdict(rendered, name):
    found = rendered[name]
    assert answers.problems(found, rendered["folder"]) == []
    for q, a in found.items():
        assert a.state == "answered", (q, a.error)
        assert all(isinstance(c.verdict, bool) for c in a.claims)


def context(text: str, at: int, width: int = 90) -> str:
    return " ".join(text[max(0, at - width):at + width].split())


def test_with_one_seed_nothing_is_called_real_or_reliable(rendered):
    """No test is possible with one seed: no verdict word may suggest one was made."""
    found = []
    for q, a in rendered["one_seed"].items():
        if q == answers.OVERVIEW:
            continue  # it defines the verdict words; it states no result
        text = read(a)
        found += [(q, context(text, m.start())) for m in RELIABLE.finditer(text)]
        assert all(row.cells["verdict"] in ("not tested (one seed)", "not run", "exact difference",
                                            "no difference") for row in a.tests), q
    assert not found, "\n".join(map(str, found))


def test_a_handout_only_page_says_which_list_trains_the_rest_instead_of_na(rendered):
    found = []
    for q, a in rendered["handout_only"].items():
        text = read(a)
        for phrase in ("n/a", "over 0 and", "too few seeds", "(tested)"):
            found += [(q, phrase, context(text, m.start())) for m in re.finditer(re.escape(phrase), text)]
    assert not found, "\n".join(map(str, found))


def test_after_a_failed_seed_no_answer_names_a_test_it_did_not_run(rendered):
    """The failed seed leaves its entry with fewer seeds than the runs it is compared with, so a
    seed-paired test falls back to Welch's: the prose must not say "paired"."""
    said = [q for q, a in rendered["failed_seed"].items() if q != answers.OVERVIEW and "paired t-test" in read(a)]
    assert not said, said
    tests = [row.cells["test"] for a in rendered["failed_seed"].values() for row in a.tests
             if "UNet" in row.label or "p3_unet" in row.label]
    assert "Welch's t-test" in tests


def test_reversed_results_flip_every_tested_difference(rendered):
    """Negating every result flips each difference: the same tests, each delta with the other sign."""
    as_is, rev = rendered["as_is"], rendered["reversed"]
    flipped = 0
    for q in as_is:
        before = {r.label: r.comparison for r in as_is[q].tests}
        for row in rev[q].tests:
            c = before.get(row.label)
            if c is not None and c.known and c.delta != 0:
                assert row.comparison.delta == pytest.approx(-c.delta), (q, row.label)
                flipped += 1
    assert flipped >= 10


def test_the_page_stays_within_its_reading_budget(rendered):
    found = rendered["as_is"]
    words = sum(answers.visible_words(a) for q, a in found.items() if q != answers.OVERVIEW)
    intervals = [answers.inline_intervals(a) for q, a in found.items() if q != answers.OVERVIEW]
    assert words <= answers.WORD_BUDGET and sum(intervals) <= answers.INTERVAL_BUDGET
    assert max(intervals) <= 1
