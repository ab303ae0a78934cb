"""Batch size with a fixed or scaled learning rate: last-epoch numbers and the train–val gap per seed."""

import math

from pa3report.measurements import batch_scaling

from ..runkit import bench, run, runs

BATCH = ("3.3",)


def test_last_epoch_and_train_val_gap_per_seed():
    rs = runs(run("p3_unet", questions=BATCH, val_acc=[40.0, 45.0], val_loss=[1.5, 1.4]),
              run("p3_unet_s1", group="p3_unet", seed=1, questions=BATCH, val_acc=[41.0, 47.0], val_loss=[1.5, 1.2]),
              run("p3_unet_bs500_lr", group="p3_unet_bs500_lr", questions=BATCH, batch_size=500, learn_rate=0.005,
                  val_acc=[30.0, 44.0], val_loss=[1.6, 1.3]),
              run("p3_unet_bs20_lr", questions=BATCH, batch_size=20, learn_rate=0.0002, available=False),
              run("p1_regression", model="RegressionCNN", task="regression"))
    m = batch_scaling.MEASUREMENT
    found = batch_scaling.compute(bench(m, rs))
    assert set(found) == {"p3_unet", "p3_unet_bs500_lr"}
    assert found["p3_unet"]["val_acc"] == [45.0, 47.0]
    train = [r.result.history["train_loss"].iloc[-1] for r in (rs["p3_unet"], rs["p3_unet_s1"])]
    assert found["p3_unet"]["overfit"] == [1.4 - train[0], 1.2 - train[1]]
    assert found["p3_unet_bs500_lr"]["learn_rate"] == 0.005 and found["p3_unet_bs500_lr"]["batch_size"] == 500
    v = batch_scaling.view(found, m.networks(rs))
    assert v["p3_unet"]["seeds"] == 2 and v["p3_unet"]["pairing"]["model"] == "UNet"
    assert math.isnan(v["p3_unet_bs20_lr"]["val_acc"]) and not v["p3_unet_bs20_lr"]["available"]


def test_the_batch_runs_are_found_by_their_fields_whatever_their_names():
    """The UNet colourization entries of 3.3: the handout's learning rate by batch size, then the
    scaled ones; a rewired UNet or a run of another question is not one of them."""
    rs = runs(run("huge", questions=BATCH, batch_size=500), run("tiny_lr", questions=BATCH, batch_size=20,
                                                                 learn_rate=0.0002),
              run("base", questions=("3.2", "3.3")), run("tiny", questions=BATCH, batch_size=20),
              run("rewired", questions=BATCH, skips=("input",)), run("other", questions=("3.2",), batch_size=50),
              run("cnn", questions=BATCH, model="CNN"))
    nets = batch_scaling.MEASUREMENT.networks(rs)
    assert [n.name for n in nets] == ["tiny", "base", "huge", "tiny_lr"]
    assert [n.label for n in nets] == [n.name for n in nets]  # the table names them by run
