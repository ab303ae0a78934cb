"""ReLU and max-pooling in either order on the same trained weights: outputs and cost (6.2).

It reads the first seed of the entry whose `measured` table names relu_maxpool (the first such
entry, should several name it)."""

from __future__ import annotations

import copy
import statistics
import time
from typing import Any, Callable

import torch
import torch.nn as nn

from ..fields import Fields
from ..page import Item, Page, cell, table
from . import NAN, Bench, Measurement, Network, Reads, register

BLOCKS = ("downconv1", "downconv2")  # the blocks that pool
FIELDS = ("max_abs_diff_eval", "max_abs_diff_train", "max_abs_grad_diff", "relu_then_pool_forward_ms",
          "pool_then_relu_forward_ms", "relu_then_pool_train_step_ms", "pool_then_relu_train_step_ms")


def swap_relu_maxpool(model: nn.Module) -> nn.Module:
    """A copy with MaxPool moved before ReLU in every down block, same weights."""
    swapped = copy.deepcopy(model)
    for name in BLOCKS:
        layers = list(getattr(swapped, name))
        kinds = [type(layer) for layer in layers]
        r, p = kinds.index(nn.ReLU), kinds.index(nn.MaxPool2d)
        layers[r], layers[p] = layers[p], layers[r]
        setattr(swapped, name, nn.Sequential(*layers))
    return swapped


def _median_ms(fn: Callable[[], None], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def _gradient_difference(a: nn.Module, b: nn.Module, x: torch.Tensor) -> float:
    """Largest difference between the weight gradients of the two orders for one training step."""
    grads = []
    for m in (a, b):
        m.train()
        m.zero_grad()
        m(x).square().mean().backward()
        grads.append([p.grad.detach().clone() for p in m.parameters()])
    return max(float((ga - gb).abs().max()) for ga, gb in zip(*grads))


def relu_maxpool_order(model: nn.Module, x: torch.Tensor, repeats: int = 5) -> dict[str, float]:
    """Outputs and cost of ReLU->MaxPool against MaxPool->ReLU on the same weights."""
    swapped = swap_relu_maxpool(model)
    out: dict[str, float] = {}
    for mode in ("eval", "train"):
        for m in (model, swapped):
            m.train(mode == "train")
        with torch.no_grad():
            a, b = model(x), swapped(x)
        out[f"max_abs_diff_{mode}"] = float((a - b).abs().max())
    out["max_abs_grad_diff"] = _gradient_difference(model, swapped, x)
    model.eval(), swapped.eval()

    def timed(m: nn.Module, backward: bool) -> float:
        def step() -> None:
            if backward:
                m.zero_grad()
                m(x).square().mean().backward()
            else:
                with torch.no_grad():
                    m(x)
        return _median_ms(step, repeats)

    out["relu_then_pool_forward_ms"] = timed(model, False)
    out["pool_then_relu_forward_ms"] = timed(swapped, False)
    out["relu_then_pool_train_step_ms"] = timed(model, True)
    out["pool_then_relu_train_step_ms"] = timed(swapped, True)
    return out


def compute(bench: Bench) -> dict[str, float]:
    return relu_maxpool_order(bench.model(bench.networks[0].name), bench.grey[:100].contiguous())


def view(found: dict[str, Any] | None, networks: tuple[Network, ...]) -> Fields:
    """The numbers, and the run they are of."""
    found = found or {}
    return Fields("analysis.relu_maxpool", {"run": networks[0].name if networks else "n/a",
                                            **{k: float(found.get(k, NAN)) for k in FIELDS}})


def show(page: Page, found: dict[str, float], r: Fields, networks: tuple[Network, ...]) -> list[Item]:
    run = page.runs[networks[0].name]
    arch = page.architecture(run.experiment)
    pooled = [b for b in arch.blocks if any(layer.kind == "MaxPool2d" for layer in b.layers)]
    after = sum(b.output_shape[0] * b.output_shape[1] * b.output_shape[2] for b in pooled)
    rows = [
        [cell("Conv → BN → ReLU → MaxPool (as trained)"), cell(f"{4 * after:,}", numeric=True),
         cell(f"{r['relu_then_pool_forward_ms']:.1f}", numeric=True),
         cell(f"{r['relu_then_pool_train_step_ms']:.1f}", numeric=True),
         cell("reference", numeric=True), cell("reference", numeric=True)],
        [cell("Conv → BN → MaxPool → ReLU (swapped)"), cell(f"{after:,}", numeric=True),
         cell(f"{r['pool_then_relu_forward_ms']:.1f}", numeric=True),
         cell(f"{r['pool_then_relu_train_step_ms']:.1f}", numeric=True),
         cell(f"{r['max_abs_diff_eval']:.3g}", numeric=True), cell(f"{r['max_abs_diff_train']:.3g}", numeric=True)],
    ]
    return [table(
        f"The trained {run.name} as trained and with ReLU and max-pooling swapped in both down blocks "
        "(same weights, same batch of test images; times are medians of a few repeats on the CPU)",
        ["Layer order", ("ReLU inputs per image (down blocks)", True), ("Forward (ms)", True),
         ("Forward + backward (ms)", True), ("Largest output difference, eval mode", True),
         ("… train mode (batch statistics)", True)], rows)]


MEASUREMENT = register(Measurement("relu_maxpool", compute, view, show, reads=Reads(first_seeds=True)))
