"""Architecture tables read off the real model classes, so the report cannot drift from the code.

A model is built with an experiment's settings and run once on a blank 32x32 input; each
named block is then described by its layers, kernel, channels, output shape, parameter
count and where its input comes from (extra sources are the UNet's skip connections).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn as nn

from .models import MyConv2d, build_model

IMAGE_SIZE = 32


@dataclass(frozen=True)
class Layer:
    kind: str  # the class name, e.g. "MyConv2d"
    detail: str  # e.g. "3×3", "2×2", "×2"

    @property
    def label(self) -> str:
        return f"{self.kind} {self.detail}".strip()


@dataclass(frozen=True)
class Block:
    name: str
    layers: tuple[Layer, ...]
    kernel: int | None
    in_channels: int
    out_channels: int
    sources: tuple[str, ...]  # first: the previous block; the rest are skip connections
    output_shape: tuple[int, int, int]  # (C, H, W) for one 32x32 image
    params: int

    @property
    def skips(self) -> tuple[str, ...]:
        return self.sources[1:]

    @property
    def conv_layers(self) -> int:
        return sum(layer.kind in ("Conv2d", "MyConv2d") for layer in self.layers)


@dataclass(frozen=True)
class Architecture:
    model: str
    input_shape: tuple[int, int, int]
    blocks: tuple[Block, ...]

    @property
    def conv_layers(self) -> int:
        return sum(b.conv_layers for b in self.blocks)

    @property
    def params(self) -> int:
        return sum(b.params for b in self.blocks)

    @property
    def has_skips(self) -> bool:
        return any(b.skips for b in self.blocks)


def to_json(arch: Architecture) -> dict:
    """A JSON-able copy, so the description can be cached beside the figures."""
    return dataclasses.asdict(arch)


def from_json(raw: dict) -> Architecture:
    blocks = tuple(Block(**{**b, "layers": tuple(Layer(**layer) for layer in b["layers"]),
                            "sources": tuple(b["sources"]), "output_shape": tuple(b["output_shape"])})
                   for b in raw["blocks"])
    return Architecture(raw["model"], tuple(raw["input_shape"]), blocks)  # type: ignore[arg-type]


def _layer(module: nn.Module) -> Layer:
    kind = type(module).__name__
    if isinstance(module, (nn.Conv2d, MyConv2d, nn.MaxPool2d)):
        k = _kernel(module)
        return Layer(kind, f"{k}×{k}")
    if isinstance(module, nn.Upsample):
        return Layer(kind, f"×{module.scale_factor:g}" if module.scale_factor else "")
    return Layer(kind, "")


def _kernel(conv: nn.Module) -> int:
    k = conv.kernel_size
    return int(k[0] if isinstance(k, tuple) else k)


def _conv(module: nn.Module) -> nn.Module | None:
    return next((m for m in module.modules() if isinstance(m, (nn.Conv2d, MyConv2d))), None)


def describe(model: str, kernel: int, num_filters: int, in_channels: int, num_colours: int,
             head: str | None = None, skips: Sequence[str] | None = None) -> Architecture:
    """Build the model with these settings (head and skips: build_model's) and describe every
    block in forward order."""
    net = build_model(model, kernel, num_filters, in_channels, num_colours, head=head, skips=skips).eval()
    outputs = net.activations(torch.zeros(1, in_channels, IMAGE_SIZE, IMAGE_SIZE))
    blocks = []
    for name in net.block_names():
        module = getattr(net, name)
        parts = list(module.children()) if isinstance(module, nn.Sequential) else [module]
        conv = _conv(module)
        blocks.append(Block(
            name=name,
            layers=tuple(_layer(m) for m in parts),
            kernel=_kernel(conv) if conv is not None else None,
            in_channels=conv.in_channels if conv is not None else 0,
            out_channels=conv.out_channels if conv is not None else 0,
            sources=tuple(net.wiring[name]),
            output_shape=tuple(outputs[name].shape[1:]),  # type: ignore[arg-type]
            params=sum(p.numel() for p in module.parameters()),
        ))
    return Architecture(model, (in_channels, IMAGE_SIZE, IMAGE_SIZE), tuple(blocks))
