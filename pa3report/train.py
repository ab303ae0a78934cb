"""One training loop for every task and loss: squared error on RGB or in CIELAB for an RGB
head, cross-entropy (plain or class-rebalanced) for a palette head.

Data stays as tensors on the training device for the whole run; batches are slices of a
per-epoch permutation drawn from a generator seeded by (seed, epoch), so an interrupted
run can resume at any epoch boundary and still follow the same trajectory.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .colour import lab_loss, rebalance_weights
from .config import LOSSES, RunSpec
from .data import GALLERY_COUNT, TaskData, decode, quantize
from .models import build_model

EVAL_BATCH = 500


@dataclass
class TrainState:
    """Everything needed to continue a run exactly where it stopped."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    history: list[dict[str, float]] = field(default_factory=list)
    # the "rebalanced" loss's class weights: derived from the training targets on first use,
    # so not saved with the state (a resumed run derives the same ones)
    class_weight: torch.Tensor | None = None

    @property
    def epoch(self) -> int:
        return len(self.history)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "history": self.history}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.history = [dict(row) for row in saved["history"]]


def new_state(spec: RunSpec, device: torch.device, num_colours: int) -> TrainState:
    e = spec.experiment
    torch.manual_seed(e.seed)
    model = build_model(e.model, e.kernel, e.num_filters, e.in_channels, num_colours, head=e.head, skips=e.skips)
    # channels_last is 1.3-1.9x faster for these small convolutions on CPU (oneDNN) and GPU.
    model = model.to(device, memory_format=torch.channels_last)
    if e.optimizer == "sgd":
        optimizer: torch.optim.Optimizer = torch.optim.SGD(
            model.parameters(), lr=e.learn_rate, momentum=0.9, weight_decay=e.weight_decay)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=e.learn_rate, weight_decay=e.weight_decay)
    return TrainState(model, optimizer)


def channels_last(t: torch.Tensor) -> torch.Tensor:
    """A copy of an image batch whose strides say channels_last even with one channel.

    `contiguous(memory_format=channels_last)` leaves a one-channel batch as it is, and
    its strides then read as NCHW: `torch.cat` of such an input with a channels_last
    activation (the UNet's last skip) falls back to NCHW, and every convolution after
    it reorders its input and gradient on every step.
    """
    return torch.empty_like(t, memory_format=torch.channels_last).copy_(t)


def loss_fn(loss: str, outputs: torch.Tensor, targets: torch.Tensor,
            class_weight: torch.Tensor | None = None) -> torch.Tensor:
    """The named loss; class_weight (one per palette colour) is used by "rebalanced" only."""
    if loss == "mse":
        return F.mse_loss(outputs, targets)
    if loss == "lab":
        return lab_loss(outputs, targets)
    # Pixels as rows, colours as columns: a free view of channels_last scores, so the
    # softmax and its gradient keep the network's layout instead of copying to NCHW.
    scores = outputs.permute(0, 2, 3, 1).reshape(-1, outputs.shape[1])
    weight = class_weight if loss == "rebalanced" else None
    return F.cross_entropy(scores, targets.reshape(-1), weight=weight)


def rebalancing_weight(data: TaskData) -> torch.Tensor:
    """Rebalancing weights from how often each palette colour occurs in the training targets.

    Counted on the CPU, where every device's run gets the same integers (and mps's bincount
    support is not needed).
    """
    counts = torch.bincount(data.y_train.reshape(-1).cpu(), minlength=len(data.palette))
    return rebalance_weights(counts, data.palette).float().to(data.y_train.device)


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The sample order of one epoch: a pure function of (seed, epoch)."""
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=g)


def to_rgb(head: str, outputs: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """Network outputs as colours in [0, 1]: clamped RGB, or the most likely palette colour."""
    if head == "rgb":
        return outputs.clamp(0.0, 1.0)
    return decode(outputs.argmax(dim=1), palette)


@torch.inference_mode()
def evaluate(model: torch.nn.Module, loss: str, data: TaskData, device: torch.device) -> dict[str, float]:
    """Validation loss, per-pixel palette accuracy (%) and RGB MSE of the decoded output.

    An RGB output is scored on the palette by snapping it and its target to the nearest
    colour. A "rebalanced" run's val_loss is the plain, unweighted cross-entropy, so it can be
    compared with the other palette runs (its train_loss is the weighted one it minimises).
    """
    head = LOSSES[loss]
    val_loss = "ce" if loss == "rebalanced" else loss
    model.eval()
    palette = data.palette.to(device)
    total_loss = total_sq = correct = 0.0
    n = len(data.x_val)
    for i in range(0, n, EVAL_BATCH):
        x = channels_last(data.x_val[i:i + EVAL_BATCH].to(device))
        y = data.y_val[i:i + EVAL_BATCH].to(device)
        rgb = data.rgb_val[i:i + EVAL_BATCH].to(device)
        out = model(x)
        total_loss += float(loss_fn(val_loss, out, y)) * len(x)
        pred_rgb = to_rgb(head, out, palette)
        total_sq += float(F.mse_loss(pred_rgb, rgb, reduction="sum"))
        classes = out.argmax(dim=1) if head == "palette" else quantize(pred_rgb, palette)
        truth = y if head == "palette" else quantize(rgb, palette)
        correct += float((classes == truth).sum())
    pixels = n * data.rgb_val.shape[-1] * data.rgb_val.shape[-2]
    return {"val_loss": total_loss / n, "val_acc": 100.0 * correct / pixels,
            "val_mse": total_sq / (pixels * 3)}


def train_epoch(state: TrainState, spec: RunSpec, data: TaskData, device: torch.device,
                show_progress: bool | None = None) -> dict[str, float]:
    e = spec.experiment
    model, opt = state.model, state.optimizer
    if e.loss == "rebalanced" and state.class_weight is None:
        state.class_weight = rebalancing_weight(data)  # once: the training targets never change
    model.train()
    start = time.perf_counter()
    n = len(data.x_train)
    order = epoch_order(n, e.seed, state.epoch).to(device)
    total = 0.0
    steps = range(0, n, e.batch_size)
    for i in tqdm(steps, desc=f"{spec.name} epoch {state.epoch + 1}", leave=False, unit="batch",
                  disable=_hide(show_progress)):
        idx = order[i:i + e.batch_size]
        x, y = data.x_train[idx], data.y_train[idx]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(e.loss, model(x), y, state.class_weight)
        loss.backward()
        opt.step()
        total += loss.detach() * len(idx)
    train_loss = float(total) / n
    record = {"epoch": state.epoch + 1, "train_loss": train_loss, **evaluate(model, e.loss, data, device)}
    record["epoch_seconds"] = time.perf_counter() - start
    if not math.isfinite(train_loss):
        raise FloatingPointError(f"{spec.name}: training loss became {train_loss} at epoch {record['epoch']}")
    state.history.append(record)
    return record


def _hide(show_progress: bool | None) -> bool | None:
    """tqdm's `disable`: None lets tqdm hide bars when stderr is not a terminal."""
    return None if show_progress is None else not show_progress


def to_device(data: TaskData, device: torch.device) -> TaskData:
    """Move every tensor to the device once; images in channels_last like the model."""
    def move(t: torch.Tensor) -> torch.Tensor:
        t = t.to(device)
        return channels_last(t) if t.ndim == 4 else t
    return TaskData(**{k: move(v) for k, v in data.__dict__.items()})


def train(spec: RunSpec, data: TaskData, device: torch.device, state: TrainState | None = None,
          on_epoch: Callable[[TrainState], None] | None = None,
          show_progress: bool | None = None) -> TrainState:
    """Train from `state` (or from scratch) up to spec.epochs, calling on_epoch after each."""
    if device.type == "cuda":
        # Fixed convolution algorithms: the same run twice on one GPU gives the same numbers,
        # which is what lets `pa3report verify` demand identical metrics on a CUDA machine.
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    data = to_device(data, device)
    if state is None:
        state = new_state(spec, device, len(data.palette))
    for _ in tqdm(range(state.epoch, spec.epochs), desc=spec.name, unit="epoch",
                  initial=state.epoch, total=spec.epochs,
                  disable=_hide(show_progress)):
        train_epoch(state, spec, data, device, show_progress)
        if on_epoch is not None:
            on_epoch(state)
    return state


@torch.inference_mode()
def sample_outputs(model: torch.nn.Module, head: str, data: TaskData, device: torch.device) -> dict[str, torch.Tensor]:
    """What the report shows for the fixed sample images: inputs, truth, prediction, activations."""
    model.eval()
    x = channels_last(data.sample_x.to(device))
    palette = data.palette.to(device)
    out = model(x)
    acts = model.activations(x[:GALLERY_COUNT])
    return {
        "input": x.cpu(),
        "truth": data.sample_rgb.cpu(),
        "prediction": to_rgb(head, out, palette).cpu(),
        "activations": {k: v.half().cpu() for k, v in acts.items()},
    }
