"""The 6.1 sweep read at its epoch against the baseline's seeds."""

import math
import statistics

from scipy import stats

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
        # longer runs tagged like the references but changed in more than the batch: ablations, not points
        run("bs20_lr", questions=("3.3",), epochs=4, batch_size=20, learn_rate=0.0002, val_acc=[1.0, 2.0, 3.0, 4.0]),
        run("wide", questions=("3.2",), epochs=4, num_filters=64, val_acc=[1.0, 2.0, 3.0, 4.0]),
    )


def test_rows_read_at_the_sweep_epoch():
    rs = sweep_runs()
    found = sweep.compute(Bench([], [], None, rs))
    assert found["epoch"] == 2 and found["names"] == ["lr", "sgd", "bs20"]
    base, *points = found["rows"]
    assert base.run.name == "base" and base.seeds == 2 and base.val_acc == 41.0
    assert math.isclose(base.val_acc_sd, statistics.stdev([40.0, 42.0]))
    by = {r.run.name: r for r in points}
    assert set(by) == {"lr", "sgd", "bs20"}  # not the CNN (another network), nor bs20_lr or wide (ablations)
    assert by["sgd"].changed == ("optimizer", "learn_rate") and by["sgd"].value == "sgd, 0.05"
    assert by["bs20"].changed == ("batch_size",) and by["bs20"].val_acc == 41.5
    points = sweep.view(found)["points"]
    assert points["bs20"]["epochs"] == 4 and points["lr"]["epochs"] == 2  # trained, not read


def test_a_baseline_tagged_with_the_sweep_is_not_a_point_of_its_own():
    rs = sweep_runs()
    for name in ("base", "base_s1"):
        rs[name] = run(name, group="base", seed=rs[name].experiment.seed, questions=("3.2", "6.1"), epochs=4,
                       val_acc=rs[name].result.history["val_acc"].tolist())
    found = sweep.compute(Bench([], [], None, rs))
    assert found["names"] == ["lr", "sgd", "bs20"]
    assert [r.run.name for r in found["rows"]] == ["base", "lr", "sgd", "bs20"]


def test_points_are_paired_with_the_baseline_by_seed_and_holm_corrected():
    rs = sweep_runs()
    rs["lr_s1"] = run("lr_s1", group="lr", seed=1, questions=("6.1",), epochs=2, learn_rate=0.01, val_acc=[10.0, 31.5])
    rs["lr"] = run("lr", group="lr", questions=("6.1",), epochs=2, learn_rate=0.01, val_acc=[10.0, 30.0])
    v = sweep.view(sweep.compute(Bench([], [], None, rs)))
    lr = v["points"]["lr"]
    # seed by seed: 30 − 40 and 31.5 − 42 (the baseline's seeds 0 and 1 at epoch 2)
    ref = stats.ttest_rel([30.0, 31.5], [40.0, 42.0])
    assert lr["test"] == "paired t-test" and lr["delta"] == -10.25 and math.isclose(lr["p"], ref.pvalue)
    assert lr["p_holm"] == lr["p"]  # the only point that can be tested: nothing to correct for
    assert lr["significant"] == (ref.pvalue < 0.05)
    sgd = v["points"]["sgd"]  # one seed: no test, never called real
    assert sgd["test"].startswith("no test") and math.isnan(sgd["p_holm"]) and not sgd["significant"]
    assert v["tested_count"] == 1 and v["fewest_seeds"] == 1 and v["best"]["run"] == "sgd"


def test_missing_points_are_named_and_nan():
    rs = sweep_runs(lr=True)
    assert [r.name for r in sweep.SweepReads.select(rs) if not r.available] == ["lr"]
    v = sweep.view(sweep.compute(Bench([], [], None, rs)))
    assert math.isnan(v["points"]["lr"]["val_acc"]) and v["count"] == 2


def test_ablations_neither_replace_the_baseline_nor_stretch_the_epoch():
    rs = runs(
        run("skip_input", questions=("3.2",), epochs=4, skips=("input",), val_acc=[5.0, 6.0, 7.0, 8.0]),
        *sweep_runs().values(),
        run("rebalanced", questions=("6.1",), epochs=4, loss="rebalanced", val_acc=[10.0, 35.0, 45.0, 55.0]),
    )
    found = sweep.compute(Bench([], [], None, rs))
    base, *points = found["rows"]
    assert base.run.name == "base" and found["epoch"] == 2  # the shortest sweep run's epoch
    by = {r.run.name: r for r in points}
    assert "skip_input" not in by  # another network, not a longer run of the baseline's
    assert by["rebalanced"].changed == ("loss",) and by["rebalanced"].value == "rebalanced"
    assert by["rebalanced"].val_acc == 35.0  # read on its way, at epoch 2
    assert sweep._short(("downconv2", "input")) == "downconv2+input" and sweep._short(()) == "none"
