"""Reading runs by entry, by seed and by question."""

import dataclasses

from pa3report.runs import entry, seeds_of, tagged, training_seconds

from .runkit import run, runs


def test_entry_and_seeds_of():
    rs = runs(run("a_s2", group="a", seed=2), run("a", group="a"), run("a_s1", group="a", seed=1, available=False),
              run("b"))
    assert [r.name for r in entry(rs, "a")] == ["a_s2", "a", "a_s1"]  # list order, missing included
    assert [r.name for r in entry(rs, "a", available=True)] == ["a_s2", "a"]
    assert [r.name for r in seeds_of(rs, rs["a_s2"])] == ["a_s2", "a"]  # the run itself first


def test_tagged_takes_first_seeds_and_sorts():
    rs = runs(run("big", questions=("3.3",), batch_size=500), run("small", questions=("3.3",), batch_size=20),
              run("small_s1", group="small", seed=1, questions=("3.3",), batch_size=20),
              run("other", questions=("1.1",)))
    assert [r.name for r in tagged(rs, ["3.3"])] == ["big", "small"]
    assert [r.name for r in tagged(rs, ["3.3"], sort="batch_size")] == ["small", "big"]
    assert [r.name for r in tagged(rs, ["3.3", "1.1"])] == ["big", "small", "other"]


def test_training_seconds_counts_a_shared_trajectory_once():
    rs = [run("e5", val_acc=[1.0] * 5, trajectory="t"), run("e10", val_acc=[1.0] * 10, trajectory="t"),
          run("other", val_acc=[1.0] * 3), run("missing", available=False)]
    assert training_seconds(rs) == 10 + 3


def test_training_seconds_of_a_meta_without_time_or_trajectory():
    """A meta.json lacking them reads NaN seconds (adds nothing) and no trajectory (its own)."""
    def unrecorded(info):
        meta = dataclasses.replace(info.result.meta, seconds=float("nan"), trajectory="")
        info.result = dataclasses.replace(info.result, meta=meta)
        return info

    rs = [unrecorded(run("a", val_acc=[1.0] * 4)), run("b", val_acc=[1.0] * 5, trajectory=""),
          run("c", val_acc=[1.0] * 2, trajectory="")]
    assert training_seconds(rs) == 5 + 2
