"""ReLU and max-pooling commute: same outputs, only the cost differs."""

import torch
import torch.nn as nn

from pa3report.measurements import relu_maxpool
from pa3report.models import RegressionCNN


def test_swapping_changes_nothing_but_order():
    torch.manual_seed(0)
    model = RegressionCNN(3, 8).eval()
    swapped = relu_maxpool.swap_relu_maxpool(model)
    assert [type(layer) for layer in swapped.downconv1][2:] == [nn.MaxPool2d, nn.ReLU]
    assert [type(layer) for layer in model.downconv1][2:] == [nn.ReLU, nn.MaxPool2d]  # original untouched
    res = relu_maxpool.relu_maxpool_order(model, torch.rand(4, 1, 32, 32), repeats=1)
    assert res["max_abs_diff_eval"] == 0.0 and res["max_abs_diff_train"] == 0.0
    assert set(res) == set(relu_maxpool.FIELDS) and res["relu_then_pool_forward_ms"] > 0


def test_view_before_it_is_computed():
    v = relu_maxpool.view(None)
    assert set(v) == set(relu_maxpool.FIELDS) and all(x != x for x in v.values())
