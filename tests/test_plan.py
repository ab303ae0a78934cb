"""plan.py: the cache identity of a run and the order trajectories train in, without any I/O."""

import dataclasses

from pa3report.config import Experiment, RunSpec
from pa3report.plan import Identity, plan, wave_numbers

IDENTITY = Identity(code="c", data="d", palette="p")


def spec(name: str, epochs: int = 3, seed: int = 0, group: str = "", **kw) -> RunSpec:
    return RunSpec(Experiment(name, "CNN", "colourization", epochs=epochs, seed=seed, group=group, **kw))


def test_epochs_change_the_fingerprint_but_not_the_trajectory():
    long, short = spec("a"), spec("a_e1", epochs=1)
    assert IDENTITY.fingerprint(long) != IDENTITY.fingerprint(short)
    assert IDENTITY.trajectory(long) == IDENTITY.trajectory(short)
    assert IDENTITY.trajectory(long) != IDENTITY.trajectory(spec("b", batch_size=50))
    # the name is not part of what a result depends on; the code, data and palette are
    assert IDENTITY.fingerprint(long) == IDENTITY.fingerprint(spec("renamed"))
    for changed in (dataclasses.replace(IDENTITY, code="x"), dataclasses.replace(IDENTITY, data="x"),
                    dataclasses.replace(IDENTITY, palette="x")):
        assert changed.fingerprint(long) != IDENTITY.fingerprint(long)


def test_plan_groups_a_trajectory_and_orders_it_by_its_earliest_wave():
    runs = [spec("a"), spec("a_s1", seed=1, group="a"), spec("a_e1", epochs=1),
            spec("a_e1_s1", epochs=1, seed=1, group="a_e1"), spec("b", batch_size=50)]
    assert wave_numbers(runs) == {"a": 0, "a_s1": 1, "a_e1": 0, "a_e1_s1": 1, "b": 0}
    trajectories = plan(runs, IDENTITY)
    assert [[s.name for s in t.runs] for t in trajectories] == [["a", "a_e1"], ["b"], ["a_s1", "a_e1_s1"]]
    assert [t.wave for t in trajectories] == [0, 0, 1]
    assert trajectories[0].longest.name == "a" and trajectories[0].key == IDENTITY.trajectory(runs[0])
    # waves given by the caller win: everything in wave 0 keeps list order
    assert [t.runs[0].name for t in plan(runs, IDENTITY, waves={})] == ["a", "a_s1", "b"]
