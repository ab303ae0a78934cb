import math

import pytest
import torch

from pa3report.config import Experiment, RunSpec
from pa3report.data import make_task_data, fit_palette, to_unit
from pa3report.cifar import load_horses
import torch.nn.functional as F
from torch.profiler import profile

from pa3report.models import UNet
from pa3report.train import channels_last, epoch_order, evaluate, loss_fn, new_state, rebalancing_weight, train
from tests.conftest import make_cifar

CPU = torch.device("cpu")


def tiny(task="colourization", model="CNN", epochs=4, **kw):
    return RunSpec(Experiment(name="t", model=model, task=task, epochs=epochs, batch_size=8,
                              num_filters=4, learn_rate=0.01, **kw))


def task_data(tmp_path, task, head=None):
    horses = load_horses(make_cifar(tmp_path / "cifar"), warn=False)
    head = head or ("rgb" if task == "regression" else "palette")
    return make_task_data(horses, fit_palette(to_unit(horses.train)), task, head, seed=0)


def test_loss_goes_down_classification(tmp_path):
    data = task_data(tmp_path, "colourization")
    state = train(tiny(epochs=6), data, CPU, show_progress=False)
    losses = [r["train_loss"] for r in state.history]
    assert losses[-1] < 0.8 * losses[0]
    assert set(state.history[0]) == {"epoch", "train_loss", "val_loss", "val_acc", "val_mse", "epoch_seconds"}
    assert 0 <= state.history[-1]["val_acc"] <= 100


def test_loss_goes_down_regression(tmp_path):
    data = task_data(tmp_path, "regression")
    state = train(tiny("regression", "RegressionCNN", epochs=6), data, CPU, show_progress=False)
    assert state.history[-1]["train_loss"] < state.history[0]["train_loss"]


def test_same_seed_same_metrics_on_cpu(tmp_path):
    data = task_data(tmp_path, "super_resolution")
    a = train(tiny("super_resolution", "UNet", epochs=2), data, CPU, show_progress=False).history
    b = train(tiny("super_resolution", "UNet", epochs=2), data, CPU, show_progress=False).history
    strip = lambda h: [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in h]
    assert strip(a) == strip(b)
    c = train(tiny("super_resolution", "UNet", epochs=2, seed=1), data, CPU, show_progress=False).history
    assert strip(a) != strip(c)


def test_resume_from_state_equals_uninterrupted(tmp_path):
    data = task_data(tmp_path, "colourization")
    full = train(tiny(epochs=3), data, CPU, show_progress=False)
    part = train(tiny(epochs=1), data, CPU, show_progress=False)
    saved = part.state_dict()
    fresh = new_state(tiny(epochs=3), CPU, 24)
    fresh.load_state_dict(saved)
    resumed = train(tiny(epochs=3), data, CPU, fresh, show_progress=False)
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k


def test_epoch_order_is_a_pure_function():
    assert torch.equal(epoch_order(50, 0, 3), epoch_order(50, 0, 3))
    assert not torch.equal(epoch_order(50, 0, 3), epoch_order(50, 0, 4))
    assert sorted(epoch_order(50, 1, 0).tolist()) == list(range(50))


def test_unet_keeps_channels_last_through_its_input_skip():
    """A one-channel batch must say channels_last, or the last skip falls back to NCHW."""
    model = UNet(num_filters=4).to(memory_format=torch.channels_last)
    seen = []
    model.finalconv.register_forward_pre_hook(lambda mod, inp: seen.append(inp[0]))
    x = torch.rand(2, 1, 8, 8)
    model(channels_last(x))
    assert seen[-1].is_contiguous(memory_format=torch.channels_last)
    assert not seen[-1].is_contiguous()
    model(x.contiguous(memory_format=torch.channels_last))  # what the one-channel copy avoids
    assert not seen[-1].is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("loss_name", ["ce", "rebalanced"])
def test_classification_loss_is_cross_entropy_without_copying_the_scores(loss_name):
    torch.manual_seed(0)
    scores = channels_last(torch.randn(3, 24, 5, 5)).requires_grad_()
    targets = torch.randint(0, 24, (3, 5, 5))
    weight = torch.rand(24) + 0.5
    with profile() as prof:
        loss = loss_fn(loss_name, scores, targets, weight)
        loss.backward()
    used = weight if loss_name == "rebalanced" else None  # plain cross-entropy ignores the weights
    assert torch.allclose(loss, F.cross_entropy(scores.detach().contiguous(), targets, weight=used), atol=1e-6)
    assert scores.grad.is_contiguous(memory_format=torch.channels_last)
    # F.cross_entropy on the 4-D scores would copy them to NCHW and back every step.
    assert not {e.key for e in prof.events()} & {"aten::copy_", "aten::clone", "aten::contiguous"}


def test_sr_unet_with_an_rgb_head_trains_and_reports_palette_accuracy(tmp_path):
    data = task_data(tmp_path, "super_resolution", "rgb")
    spec = tiny("super_resolution", "UNet", epochs=1, loss="mse")
    state = train(spec, data, CPU, show_progress=False)
    assert state.model.finalconv.out_channels == 3
    row = state.history[-1]
    assert all(math.isfinite(row[k]) for k in ("train_loss", "val_loss", "val_mse", "val_acc"))
    # val_loss: squared error of the raw output; val_mse: of the output clamped to [0, 1], never worse
    assert 0 < row["val_acc"] <= 100 and row["val_mse"] <= row["val_loss"] + 1e-7


def test_lab_regression_trains(tmp_path):
    data = task_data(tmp_path, "regression")
    state = train(tiny("regression", "RegressionCNN", epochs=2, loss="lab"), data, CPU, show_progress=False)
    assert all(math.isfinite(r["train_loss"]) and math.isfinite(r["val_mse"]) for r in state.history)
    assert state.history[-1]["val_loss"] != pytest.approx(state.history[-1]["val_mse"])  # Lab, not RGB


def test_rebalanced_run_trains_with_weights_from_the_training_targets(tmp_path):
    data = task_data(tmp_path, "colourization")
    spec = tiny("colourization", "UNet", epochs=1, loss="rebalanced")
    state = train(spec, data, CPU, show_progress=False)
    assert state.class_weight is not None and torch.equal(state.class_weight, rebalancing_weight(data))
    counts = torch.bincount(data.y_train.reshape(-1), minlength=len(data.palette))
    assert state.class_weight[counts.argmin()] > state.class_weight[counts.argmax()]
    assert math.isfinite(state.history[-1]["train_loss"])
    # val_loss is the plain cross-entropy, comparable with a "ce" run's
    assert evaluate(state.model, "rebalanced", data, CPU) == evaluate(state.model, "ce", data, CPU)
    plain = train(tiny("colourization", "UNet", epochs=1), data, CPU, show_progress=False)
    assert plain.class_weight is None and plain.history[-1]["train_loss"] != state.history[-1]["train_loss"]


def test_unet_with_fewer_skips_is_built_from_the_experiment():
    state = new_state(tiny("colourization", "UNet", skips=("input",)), CPU, 24)
    assert state.model.wiring["upconv1"] == ("rfconv",) and state.model.wiring["finalconv"] == ("upconv2", "input")
