"""The 6.1 sweep read at its epoch against the baseline's seeds."""

import math
import statistics

from pa3report.measurements import Bench, sweep

from ..runkit import run, runs


def sweep_runs(**missing: bool):
    return runs(
        run("base", group="base", questions=("3.2",), epochs=4, val_acc=[10.0, 40.0, 50.0, 60.0]),
        run("base_s1", group="base", seed=1, questions=("3.2",), epochs=4, val_acc=[10.0, 42.0, 50.0, 60.0]),
        run("lr", questions=("6.1",), epochs=2, learn_rate=0.01, val_acc=[10.0, 30.0],
            available=not missing.get("lr", False)),
        run("sgd", questions=("6.1",), epochs=2, optimizer="sgd", learn_rate=0.05, val_acc=[10.0, 50.0]),
        run("bs20", questions=("3.3",), epochs=4, batch_size=20, val_acc=[10.0, 41.5, 70.0, 80.0]),
        run("cnn", questions=("3.2",), model="CNN", epochs=4, val_acc=[1.0, 2.0, 3.0, 4.0]),
    )


def test_rows_read_at_the_sweep_epoch():
    rs = sweep_runs()
    found = sweep.compute(Bench([], [], None, rs))
    assert found["epoch"] == 2 and found["names"] == ["lr", "sgd", "bs20"]
    base, *points = found["rows"]
    assert base.run.name == "base" and base.seeds == 2 and base.val_acc == 41.0
    assert math.isclose(base.val_acc_sd, statistics.stdev([40.0, 42.0]))
    by = {r.run.name: r for r in points}
    assert set(by) == {"lr", "sgd", "bs20"}  # not the CNN: another network
    assert by["sgd"].changed == ("optimizer", "learn_rate") and by["sgd"].value == "sgd, 0.05"
    assert by["bs20"].changed == ("batch_size",) and by["bs20"].val_acc == 41.5


def test_view_deltas_and_noise():
    v = sweep.view(sweep.compute(Bench([], [], None, sweep_runs())))
    spread = 2 * statistics.stdev([40.0, 42.0])  # single-seed points borrow the baseline's spread
    lr, bs = v["points"]["lr"], v["points"]["bs20"]
    assert lr["delta"] == -11.0 and math.isclose(lr["spread"], spread) and lr["beyond"]
    assert bs["delta"] == 0.5 and not bs["beyond"]
    assert v["best"]["run"] == "sgd" and v["worst"]["run"] == "lr" and v["beyond_count"] == 2
    assert v["baseline"]["seeds"] == 2


def test_missing_points_are_named_and_nan():
    rs = sweep_runs(lr=True)
    assert [r.name for r in sweep.SweepReads.select(rs) if not r.available] == ["lr"]
    v = sweep.view(sweep.compute(Bench([], [], None, rs)))
    assert math.isnan(v["points"]["lr"]["val_acc"]) and v["count"] == 2
