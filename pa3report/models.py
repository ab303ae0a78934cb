"""The three networks of the practical, written so each block can be inspected by name.

Each model is a sequence of named blocks. `forward` runs them; `activations` runs the
same path but returns every block's output, so galleries never cost memory in training.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import NUM_COLOURS


class MyConv2d(nn.Module):
    """A 'same'-padded 2-D convolution with its own weight and bias parameters."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_channels * self.kernel_size * self.kernel_size)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"


def _conv(native: bool, cin: int, cout: int, k: int) -> nn.Module:
    return nn.Conv2d(cin, cout, k, padding=k // 2) if native else MyConv2d(cin, cout, k)


def _block(native: bool, cin: int, cout: int, k: int, resize: nn.Module | None) -> nn.Sequential:
    layers = [_conv(native, cin, cout, k), nn.BatchNorm2d(cout), nn.ReLU()]
    if resize is not None:
        layers.append(resize)
    return nn.Sequential(*layers)


# The blocks in forward order, each fed by the one before (the first by the input).
BLOCKS = ("downconv1", "downconv2", "rfconv", "upconv1", "upconv2", "finalconv")
# The UNet's skip connections: an encoder output (or the input) and the decoder block that
# also receives it, concatenated after its main input. In the decoder's order.
SKIPS = {"downconv2": "upconv1", "downconv1": "upconv2", "input": "finalconv"}
HEADS = ("rgb", "palette")


def wiring(skips: Iterable[str] = ()) -> dict[str, tuple[str, ...]]:
    """Where each block's input comes from: the block before it, then any skips into it."""
    skips = tuple(skips)
    unknown = [s for s in skips if s not in SKIPS]
    if unknown:
        raise ValueError(f"unknown skip {unknown[0]!r}; the skips are {', '.join(SKIPS)}")
    sources = ("input", *BLOCKS[:-1])
    return {name: (src, *(s for s, into in SKIPS.items() if into == name and s in skips))
            for name, src in zip(BLOCKS, sources)}


class _EncoderDecoder(nn.Module):
    """Two down blocks, a bottleneck, two up blocks and a final convolution, with optional skips.

    `wiring` (block name -> the outputs it reads, concatenated) belongs to the instance, so one
    class covers every choice of skips; the input widths follow from it.
    """

    def __init__(self, *, native: bool, kernel: int, num_filters: int, in_channels: int,
                 out_channels: int, skips: Iterable[str] = ()) -> None:
        super().__init__()
        skips = tuple(skips)
        self.wiring = wiring(skips)
        self.skips = tuple(s for s in SKIPS if s in skips)
        nf, k = num_filters, kernel
        widths = {"input": in_channels, "downconv1": nf, "downconv2": 2 * nf, "rfconv": 2 * nf,
                  "upconv1": nf, "upconv2": out_channels}

        def fan_in(name: str) -> int:
            return sum(widths[src] for src in self.wiring[name])

        self.downconv1 = _block(native, fan_in("downconv1"), nf, k, nn.MaxPool2d(2))
        self.downconv2 = _block(native, fan_in("downconv2"), 2 * nf, k, nn.MaxPool2d(2))
        self.rfconv = _block(native, fan_in("rfconv"), 2 * nf, k, None)
        self.upconv1 = _block(native, fan_in("upconv1"), nf, k, nn.Upsample(scale_factor=2))
        self.upconv2 = _block(native, fan_in("upconv2"), out_channels, k, nn.Upsample(scale_factor=2))
        self.finalconv = MyConv2d(fan_in("finalconv"), out_channels, k)
        self.in_channels = in_channels
        self.out_channels = out_channels

    def block_names(self) -> tuple[str, ...]:
        return tuple(self.wiring)

    def _run(self, x: torch.Tensor, keep: dict[str, torch.Tensor] | None) -> torch.Tensor:
        outs = {"input": x}
        for name, sources in self.wiring.items():
            inp = outs[sources[0]] if len(sources) == 1 else torch.cat([outs[s] for s in sources], dim=1)
            outs[name] = getattr(self, name)(inp)
            if keep is not None:
                keep[name] = outs[name].detach()
        return outs["finalconv"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError(f"input height and width must be divisible by 4, got {tuple(x.shape[-2:])}")
        return self._run(x, None)

    @torch.no_grad()
    def activations(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every block's output by name (the final one is the prediction)."""
        keep: dict[str, torch.Tensor] = {}
        self._run(x, keep)
        return keep


class RegressionCNN(_EncoderDecoder):
    """Greyscale -> RGB, trained with squared error; nn.Conv2d layers, MyConv2d at the end."""

    def __init__(self, kernel: int = 3, num_filters: int = 32, in_channels: int = 1) -> None:
        super().__init__(native=True, kernel=kernel, num_filters=num_filters,
                         in_channels=in_channels, out_channels=3)


class CNN(_EncoderDecoder):
    """Built only from MyConv2d: per-pixel scores over the palette colours, or with head "rgb"
    three colour channels (super-resolution trained with squared error)."""

    def __init__(self, kernel: int = 3, num_filters: int = 32, in_channels: int = 1,
                 num_colours: int = NUM_COLOURS, *, head: str = "palette", skips: Iterable[str] = ()) -> None:
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}; heads are {', '.join(HEADS)}")
        super().__init__(native=False, kernel=kernel, num_filters=num_filters, in_channels=in_channels,
                         out_channels=3 if head == "rgb" else num_colours, skips=skips)


class UNet(CNN):
    """The CNN with skips: each up block also sees the matching down block's output (and the
    final convolution the input). `skips` keeps only some of them, for ablations."""

    def __init__(self, kernel: int = 3, num_filters: int = 32, in_channels: int = 1,
                 num_colours: int = NUM_COLOURS, *, head: str = "palette",
                 skips: Iterable[str] = tuple(SKIPS)) -> None:
        super().__init__(kernel, num_filters, in_channels, num_colours, head=head, skips=skips)


MODEL_CLASSES: dict[str, type[_EncoderDecoder]] = {"RegressionCNN": RegressionCNN, "CNN": CNN, "UNet": UNet}


def build_model(model: str, kernel: int, num_filters: int, in_channels: int,
                num_colours: int = NUM_COLOURS, *, head: str | None = None,
                skips: Sequence[str] | None = None) -> _EncoderDecoder:
    """A network by name. head: "rgb" or "palette" (None: the model's own); skips: the UNet's
    skips to keep (None: all of them; the other models have none)."""
    if model not in MODEL_CLASSES:
        raise ValueError(f"unknown model {model!r}")
    if model != "UNet" and skips:
        raise ValueError(f"only the UNet has skips; {model} got {tuple(skips)}")
    if model == "RegressionCNN":
        if head not in (None, "rgb"):
            raise ValueError(f"RegressionCNN has an rgb head, not {head!r}")
        return RegressionCNN(kernel, num_filters, in_channels)
    extra = {} if skips is None else {"skips": tuple(skips)}
    return MODEL_CLASSES[model](kernel, num_filters, in_channels, num_colours, head=head or "palette", **extra)
