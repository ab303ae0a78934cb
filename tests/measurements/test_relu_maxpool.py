"""ReLU and max-pooling commute: same outputs, only the cost differs."""

import copy

import torch
import torch.nn as nn

from pa3report.measurements import relu_maxpool
from pa3report.models import RegressionCNN

from ..runkit import run, runs


def test_swapping_changes_nothing_but_order():
    torch.manual_seed(0)
    model = RegressionCNN(3, 8).eval()
    swapped = relu_maxpool.swap_relu_maxpool(model)
    assert [type(layer) for layer in swapped.downconv1][2:] == [nn.MaxPool2d, nn.ReLU]
    assert [type(layer) for layer in model.downconv1][2:] == [nn.ReLU, nn.MaxPool2d]  # original untouched
    res = relu_maxpool.relu_maxpool_order(model, torch.rand(4, 1, 32, 32), repeats=1)
    assert res["max_abs_diff_eval"] == 0.0 and res["max_abs_diff_train"] == 0.0 and res["max_abs_grad_diff"] == 0.0
    assert set(res) == set(relu_maxpool.FIELDS) and res["relu_then_pool_forward_ms"] > 0


def test_view_before_it_is_computed():
    rs = runs(run("reg", model="RegressionCNN", task="regression", measured=(("relu_maxpool", ""),)))
    v = relu_maxpool.view(None, relu_maxpool.MEASUREMENT.networks(rs))
    assert set(v) == {"run", *relu_maxpool.FIELDS} and v["run"] == "reg"
    assert all(v[k] != v[k] for k in relu_maxpool.FIELDS)


def test_a_non_monotone_order_would_be_caught():
    """With average pooling the two orders differ: the measurement must see that."""
    torch.manual_seed(0)
    model = RegressionCNN(3, 8).eval()
    for name in relu_maxpool.BLOCKS:
        block = getattr(model, name)
        block[3] = nn.AvgPool2d(2)
    x = torch.rand(4, 1, 32, 32)
    other = copy.deepcopy(model)
    for name in relu_maxpool.BLOCKS:
        layers = list(getattr(other, name))
        layers[2], layers[3] = layers[3], layers[2]
        setattr(other, name, nn.Sequential(*layers))
    assert relu_maxpool._gradient_difference(model, other, x) > 0
