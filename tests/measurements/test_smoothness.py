"""Curve roughness: zero for straight curves, large for zig-zags."""

import math

import numpy as np

from pa3report.measurements import smoothness

from ..runkit import bench, run, runs

BATCH = ("3.3",)


def test_roughness():
    assert smoothness.roughness(np.arange(10.0)) == 0.0
    assert smoothness.roughness(np.array([0.0, 1.0, 0.0, 1.0])) == 2.0
    assert math.isnan(smoothness.roughness(np.array([1.0, 2.0])))


def test_per_seed_over_the_batch_size_entries():
    rs = runs(run("p3_unet_bs20", group="p3_unet_bs20", questions=BATCH, batch_size=20,
                  val_acc=[10.0, 30.0, 10.0, 30.0]),
              run("p3_unet_bs20_s1", group="p3_unet_bs20", seed=1, questions=BATCH, batch_size=20,
                  val_acc=[10.0, 20.0, 30.0, 40.0]),
              run("p3_unet", questions=BATCH, val_acc=[1.0, 2.0, 3.0]),
              run("p3_unet_bs500", questions=BATCH, batch_size=500, available=False))
    m = smoothness.MEASUREMENT
    found = smoothness.compute(bench(m, rs))
    assert found["p3_unet_bs20"]["val_acc"] == [40.0, 0.0]  # seeds by name: the zig-zag, then the line
    v = smoothness.view(found, m.networks(rs))
    assert v["p3_unet_bs20"]["val_acc"] == 20.0 and v["p3_unet_bs20"]["seeds"] == 2
    assert v["p3_unet"]["val_acc"] == 0.0 and math.isnan(v["p3_unet_bs500"]["val_acc"])


def test_the_scaled_learning_rate_runs_are_read_when_listed():
    rs = runs(run("p3_unet", questions=BATCH, val_acc=[1.0, 2.0, 3.0]),
              run("p3_unet_bs500_lr", questions=BATCH, batch_size=500, learn_rate=0.005,
                  val_acc=[40.0, 30.0, 40.0, 30.0]))
    m = smoothness.MEASUREMENT
    found = smoothness.compute(bench(m, rs))
    assert found["p3_unet_bs500_lr"]["val_acc"] == [20.0] and found["p3_unet_bs500_lr"]["learn_rate"] == 0.005
    v = smoothness.view(found, m.networks(rs))
    assert v["p3_unet_bs500_lr"]["val_acc"] == 20.0 and set(v) == {"p3_unet", "p3_unet_bs500_lr"}
