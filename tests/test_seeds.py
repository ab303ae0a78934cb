"""Seed statistics over experiment entries."""

import math
import statistics

from pa3report import seeds

from .runkit import run


def test_by_entry_mean_sd_count_and_median_time():
    table = seeds.by_entry([
        run("a", group="a", seed=0, val_acc=[40.0, 50.0], seconds=10),
        run("a_s1", group="a", seed=1, val_acc=[40.0, 52.0], seconds=11),
        run("a_s2", group="a", seed=2, val_acc=[40.0, 57.0], seconds=90),  # slowed down by other work
        run("b", val_acc=[30.0, 31.0]),
        run("c", available=False)])
    a = table.loc["a"]
    assert a["seeds"] == 3 and a["val_acc_mean"] == statistics.mean([50, 52, 57])
    assert math.isclose(a["val_acc_sd"], statistics.stdev([50, 52, 57]))
    assert a["seconds"] == 22  # the median of 20, 22 and 180 seconds of training
    assert table.loc["b", "seeds"] == 1 and math.isnan(table.loc["b", "val_acc_sd"])  # one seed: no spread
    assert "c" not in table.index


def test_entry_stats_of_a_missing_entry_is_nan():
    stats = seeds.entry_stats([run("x", available=False)], "x")
    assert stats["seeds"] == 0 and math.isnan(stats["val_acc_mean"]) and math.isnan(stats["seconds"])


def test_at_epoch_reads_every_seed_at_that_epoch():
    got = seeds.at_epoch([run("a", val_acc=[1.0, 10.0, 99.0]), run("a_s1", group="a", val_acc=[3.0, 20.0, 98.0]),
                          run("short", val_acc=[5.0])], epoch=2)
    assert got["val_acc"] == 15.0 and got["seeds"] == 2
    assert math.isclose(got["val_acc_sd"], statistics.stdev([10, 20]))


def test_mean_sd():
    assert all(math.isnan(v) for v in seeds.mean_sd([]))
    m, s = seeds.mean_sd([2.0])
    assert m == 2.0 and math.isnan(s)
    assert seeds.mean_sd([1.0, 3.0]) == (2.0, math.sqrt(2))


def test_per_seed_is_ordered_by_seed():
    got = seeds.per_seed([run("a_s2", group="a", seed=2, val_acc=[3.0]), run("a", group="a", val_acc=[1.0]),
                          run("a_s1", group="a", seed=1, available=False)], "val_acc")
    assert got == ([0, 2], [1.0, 3.0])
