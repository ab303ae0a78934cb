"""Class-rebalanced training: accuracy over all pixels, per colour, and on rare colours."""

import math

import torch

from pa3report.measurements import rebalance

from ..runkit import run, runs


def test_accuracy_overall_balanced_and_on_rare_colours():
    truth = torch.tensor([0] * 8 + [1] * 1 + [2] * 1)  # colour 0 common; 1 and 2 rare (under 1/3 each)
    always_common = torch.zeros_like(truth)
    a = rebalance.class_accuracy(always_common, truth, 3)
    assert a["palette_acc"] == 80.0 and math.isclose(a["balanced_acc"], 100 / 3) and a["rare_acc"] == 0.0
    perfect = rebalance.class_accuracy(truth, truth, 3)
    assert perfect["palette_acc"] == perfect["balanced_acc"] == perfect["rare_acc"] == 100.0
    absent = rebalance.class_accuracy(torch.zeros(4, dtype=torch.long), torch.zeros(4, dtype=torch.long), 3)
    assert absent["balanced_acc"] == 100.0 and math.isnan(absent["rare_acc"])  # colours 1, 2 absent: not rare


def test_view_names_both_losses():
    rs = runs(run("p3_unet", measured=(("rebalance", "plain"),)),
              run("p3_unet_rebalanced", loss="rebalanced", measured=(("rebalance", "rebalanced"),)))
    v = rebalance.view(None, rebalance.MEASUREMENT.networks(rs))
    assert {"p3_unet", "p3_unet_rebalanced"} <= set(v) and not v["p3_unet_rebalanced"]["available"]
