"""Batch size with a fixed or scaled learning rate: last-epoch numbers and the train–val gap per seed."""

import math

from pa3report.measurements import Bench, batch_scaling

from ..runkit import run, runs


def test_last_epoch_and_train_val_gap_per_seed():
    rs = runs(run("p3_unet", val_acc=[40.0, 45.0], val_loss=[1.5, 1.4]),
              run("p3_unet_s1", group="p3_unet", seed=1, val_acc=[41.0, 47.0], val_loss=[1.5, 1.2]),
              run("p3_unet_bs500_lr", group="p3_unet_bs500_lr", batch_size=500, learn_rate=0.005,
                  val_acc=[30.0, 44.0], val_loss=[1.6, 1.3]),
              run("p1_regression", model="RegressionCNN", task="regression"))
    found = batch_scaling.compute(Bench(list(rs.values()), [], None))
    assert set(found) == {"p3_unet", "p3_unet_bs500_lr"}
    assert found["p3_unet"]["val_acc"] == [45.0, 47.0]
    train = [r.result.history["train_loss"].iloc[-1] for r in (rs["p3_unet"], rs["p3_unet_s1"])]
    assert found["p3_unet"]["overfit"] == [1.4 - train[0], 1.2 - train[1]]
    assert found["p3_unet_bs500_lr"]["learn_rate"] == 0.005 and found["p3_unet_bs500_lr"]["batch_size"] == 500
    v = batch_scaling.view(found)
    assert v["p3_unet"]["seeds"] == 2 and v["p3_unet"]["pairing"]["model"] == "UNet"
    assert math.isnan(v["p3_unet_bs20_lr"]["val_acc"]) and not v["p3_unet_bs20_lr"]["available"]
