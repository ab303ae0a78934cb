"""Experiment lists: choosing which files of experiments/ to train."""

import pytest

from pa3report import lists
from pa3report.config import Experiment
from pa3report.errors import UserError


def exp(name: str, list_name: str) -> Experiment:
    return Experiment(name=name, model="UNet", task="colourization", list_name=list_name)


EXPERIMENTS = (exp("a", "handout"), exp("b", "handout"), exp("c", "sweep"), exp("d", "ablations"))


def test_parse_accepts_commas_spaces_and_the_file_name():
    assert lists.parse("handout, sweep.toml,,handout") == ("handout", "sweep")


def test_every_list_by_default_and_only_the_chosen_ones_otherwise():
    assert [e.name for e in lists.select(EXPERIMENTS, None).pick(EXPERIMENTS)] == ["a", "b", "c", "d"]
    chosen = lists.select(EXPERIMENTS, ["ablations", "handout"])
    assert chosen.chosen == ("handout", "ablations")  # file order, whatever the order given
    assert [e.name for e in chosen.pick(EXPERIMENTS)] == ["a", "b", "d"]


@pytest.mark.parametrize("given, words", [
    (["handot"], ["'handot'", "did you mean 'handout'", "handout, sweep, ablations"]),
    ([], ["No experiment list given", "handout, sweep, ablations"]),
])
def test_an_unknown_or_empty_choice_is_the_users_to_fix(given, words):
    with pytest.raises(UserError) as info:
        lists.select(EXPERIMENTS, given)
    for w in words:
        assert w in str(info.value)


def test_the_command_adds_the_lists_a_run_needs_to_the_chosen_ones():
    handout = lists.select(EXPERIMENTS, ["handout"])
    sweep = [e for e in EXPERIMENTS if e.list_name == "sweep"]
    assert handout.left_out(EXPERIMENTS) == ("sweep", "ablations")
    assert handout.left_out(sweep) == ("sweep",)
    assert handout.command() == "make report LISTS=handout"
    assert handout.command(sweep) == "make report LISTS=handout,sweep"
    assert handout.command(EXPERIMENTS) == "make report"  # every list: no LISTS needed
    assert lists.select(EXPERIMENTS, None).command(sweep) == "make report"
    assert lists.EVERY.left_out(EXPERIMENTS) == () and lists.EVERY.command(EXPERIMENTS) == "make report"
