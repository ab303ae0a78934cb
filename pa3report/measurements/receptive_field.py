"""Receptive fields (4.2, 5.1, 6.3): derived from the architecture, measured, and effective.

Three views of which input pixels one output pixel depends on:

- theory: derived layer by layer from the built network (its `wiring` and each block's
  layers, skips followed). Along one axis every feature map unit u has an exact input
  interval [start(u), end(u)]: a k×k convolution widens it by k // 2 units each side, a
  2×2 max-pool joins two neighbours, a nearest ×2 upsampling copies unit u // 2, and a
  concatenation takes the union. Beside it the table gives the textbook recurrence
  (conv r += (k−1)·j; pool s: r += (s−1)·j, j *= s; upsample f: j /= f; concatenation: the
  largest r), whose r is, for these networks, the average over positions: nearest upsampling
  gives pairs of neighbours the same field, so the exact size depends on an output pixel's
  position in the pooling grid (it repeats every `period` pixels).
- measured: on a copy whose every connection carries gradient (positive averaging weights,
  identity in place of ReLU and batch norm, average- in place of max-pooling: a trained
  ReLU is dead for some inputs and max-pooling passes gradient to one pixel of four, and
  signed weights can cancel, all of which would hide pixels the architecture can use), one
  backward pass per output position of a square block as wide as the product of the pooling
  strides, far from the borders.
- effective: the trained network's mean |∂ log p(predicted colour) / ∂ input| over the
  test images, for the centre output pixel (the log-probability of the decision, because
  raw scores share an offset the softmax ignores), as shares of the total.

It reads the first seed of the entries whose `measured` table names receptive_field. The
answers read analysis.receptive_field:
  <run>, for each of them: the measured largest receptive field width in pixels, one plain number;
  nets.<run>: theory (largest exact size over output positions), theory_min, standard (the
    textbook recurrence), period, measured_min / measured_max (widths and heights over the
    positions), erf50 / erf90 (the smallest square radius r, in pixels, whose
    (2r+1)×(2r+1) square around the centre output pixel holds 50% / 90% of the gradient),
    images (how many test images the ERF averages) and blocks.<block> (the largest exact
    size at each block's output).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.nn as nn

from .. import figures
from ..fields import Fields
from ..fsutil import content_key
from ..models import BLOCKS, MyConv2d
from ..page import Item, Page, cell, note, table
from . import NAN, Bench, Measurement, Network, Reads, register

SIZE = 96  # smallest measuring input; wider when a field would reach its border
POINTWISE = (nn.BatchNorm2d, nn.ReLU, nn.Identity, nn.Dropout, nn.Sigmoid, nn.Tanh, nn.LeakyReLU)
CONVS = (nn.Conv2d, MyConv2d)


# --------------------------------------------------------------------------- theory


@dataclass(frozen=True)
class Track:
    """Along one axis, the exact input interval of unit u of a feature map, the textbook size r
    and jump j (input pixels per unit), and the period in units after which the sizes repeat."""

    start: Callable[[int], int]
    end: Callable[[int], int]
    r: Fraction
    j: Fraction
    period: int

    def sizes(self) -> list[int]:
        return [self.end(u) - self.start(u) + 1 for u in range(self.period)]


INPUT = Track(lambda u: u, lambda u: u, Fraction(1), Fraction(1), 1)


def _kernel(layer: nn.Module) -> int:
    k = layer.kernel_size
    return int(k[0] if isinstance(k, tuple) else k)


def _conv(t: Track, layer: nn.Module) -> Track:
    k = _kernel(layer)
    if isinstance(layer, nn.Conv2d) and (layer.stride != (1, 1) or layer.dilation != (1, 1)
                                         or layer.padding != (k // 2, k // 2) or layer.kernel_size != (k, k)):
        raise ValueError(f"only square, stride-1, 'same'-padded convolutions are derived, not {layer}")
    if k % 2 == 0:
        raise ValueError(f"an even kernel ({k}) has no centre pixel")
    h = k // 2
    return Track(lambda u: t.start(u - h), lambda u: t.end(u + h), t.r + (k - 1) * t.j, t.j, t.period)


def _pool(t: Track, layer: nn.Module) -> Track:
    s = _kernel(layer)
    stride = layer.stride if isinstance(layer.stride, int) else layer.stride[0]
    if stride != s or layer.padding not in (0, (0, 0)):
        raise ValueError(f"only non-overlapping, unpadded pooling is derived, not {layer}")
    return Track(lambda u: t.start(s * u), lambda u: t.end(s * u + s - 1), t.r + (s - 1) * t.j, t.j * s,
                 t.period // math.gcd(s, t.period))


def _upsample(t: Track, layer: nn.Upsample) -> Track:
    f = layer.scale_factor
    f = f[0] if isinstance(f, tuple) else f
    if layer.mode != "nearest" or f is None or f != int(f):
        raise ValueError(f"only nearest upsampling by a whole factor is derived, not {layer}")
    f = int(f)
    return Track(lambda u: t.start(u // f), lambda u: t.end(u // f), t.r, t.j / f, t.period * f)


def _concat(tracks: list[Track]) -> Track:
    if len({t.j for t in tracks}) > 1:
        raise ValueError("concatenated feature maps must share one grid")
    return Track(lambda u: min(t.start(u) for t in tracks), lambda u: max(t.end(u) for t in tracks),
                 max(t.r for t in tracks), tracks[0].j, math.lcm(*(t.period for t in tracks)))


def _layers(module: nn.Module) -> Iterator[nn.Module]:
    if isinstance(module, (nn.Sequential, nn.ModuleList)):
        for child in module.children():
            yield from _layers(child)
    else:
        yield module


def _apply(t: Track, layer: nn.Module) -> tuple[str, Track] | None:
    """The layer's row label and track, or None for a pointwise layer (it changes nothing)."""
    if isinstance(layer, CONVS):
        k = _kernel(layer)
        return f"conv {k}×{k}", _conv(t, layer)
    if isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)):
        kind = "max" if isinstance(layer, nn.MaxPool2d) else "average"
        return f"{kind}-pool {_kernel(layer)}", _pool(t, layer)
    if isinstance(layer, nn.Upsample):
        return f"upsample ×{layer.scale_factor:g}", _upsample(t, layer)
    if isinstance(layer, POINTWISE):
        return None
    raise ValueError(f"no receptive field rule for {type(layer).__name__}")


def _row(block: str, layer: str, t: Track) -> dict[str, Any]:
    sizes = t.sizes()
    return {"block": block, "layer": layer, "jump": float(t.j), "standard": float(t.r),
            "low": min(sizes), "high": max(sizes)}


def derive(model: nn.Module) -> tuple[list[dict[str, Any]], Track]:
    """The receptive field after every layer, in forward order, and the output's track.

    A model with `wiring` (block name -> the outputs it reads, concatenated) is followed block
    by block; anything else is read as one chain of layers.
    """
    wiring: dict[str, tuple[str, ...]] = getattr(model, "wiring", None) or {"layers": ("input",)}
    blocks = {name: getattr(model, name) for name in wiring} if hasattr(model, "wiring") else {"layers": model}
    tracks, rows = {"input": INPUT}, []
    for name, sources in wiring.items():
        if len(sources) == 1:
            t = tracks[sources[0]]
        else:
            t = _concat([tracks[s] for s in sources])
            rows.append(_row(name, "concatenation of " + " + ".join(sources), t))
        for layer in _layers(blocks[name]):
            step = _apply(t, layer)
            if step is not None:
                label, t = step
                rows.append(_row(name, label, t))
        tracks[name] = t
    return rows, t


# --------------------------------------------------------------------------- measured


def architectural_copy(model: nn.Module) -> nn.Module:
    """A float64 copy in which every connection carries positive gradient: nothing can cancel
    and no unit is inactive, so |gradient| > 0 exactly where a path exists."""
    net = copy.deepcopy(model).double().eval()
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, (nn.ReLU, nn.BatchNorm2d)):
                setattr(parent, name, nn.Identity())
            elif isinstance(child, nn.MaxPool2d):
                setattr(parent, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, CONVS):
                m.weight.fill_(1.0 / m.weight[0].numel())
                if m.bias is not None:
                    m.bias.zero_()
    return net.requires_grad_(False)


def _in_channels(model: nn.Module) -> int:
    return int(getattr(model, "in_channels", None) or next(m for m in model.modules() if isinstance(m, CONVS)).in_channels)


def pool_period(model: nn.Module) -> int:
    """The product of the pooling strides: the grid after which the layout repeats."""
    return math.prod(_kernel(m) for m in model.modules() if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)))


def measure(model: nn.Module, size: int = SIZE, block: int | None = None) -> dict[str, Any]:
    """Input interval (first and last row and column) of every output pixel in a block × block
    square near the centre, one backward pass per position (batched: one image each)."""
    block = block or pool_period(model)
    net = architectural_copy(model)
    origin = size // 2 // block * block
    ys = [origin + i // block for i in range(block * block)]
    xs = [origin + i % block for i in range(block * block)]
    x = torch.ones(len(ys), _in_channels(model), size, size, dtype=torch.float64, requires_grad=True)
    out = net(x)
    if out.shape[-2:] != x.shape[-2:]:
        raise ValueError("the receptive field is measured on networks whose output keeps the input size")
    (grad,) = torch.autograd.grad(out[torch.arange(len(ys)), :, ys, xs].sum(), x)
    support = grad.abs().sum(1) > 0
    spans: dict[str, list[int]] = {k: [] for k in ("top", "bottom", "left", "right")}
    for s in support:
        rows, cols = torch.nonzero(s.any(1))[:, 0], torch.nonzero(s.any(0))[:, 0]
        for key, v in zip(spans, (rows.min(), rows.max(), cols.min(), cols.max())):
            spans[key].append(int(v))
    if min(spans["top"] + spans["left"]) == 0 or max(spans["bottom"] + spans["right"]) == size - 1:
        raise ValueError(f"a {size}×{size} input is too small: a receptive field reaches its border")
    widths = [r - l + 1 for l, r in zip(spans["left"], spans["right"])]
    heights = [b - t + 1 for t, b in zip(spans["top"], spans["bottom"])]
    return {"size": size, "block": block, "y": ys, "x": xs, **spans, "widths": widths, "heights": heights}


# --------------------------------------------------------------------------- effective


def radius_holding(share: torch.Tensor, centre: tuple[int, int], fraction: float) -> int:
    """The smallest r whose (2r+1)×(2r+1) square around centre holds `fraction` of the total."""
    h, w = share.shape
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    ring = torch.maximum((yy - centre[0]).abs(), (xx - centre[1]).abs())
    total = float(share.sum())
    for r in range(max(h, w)):
        if float(share[ring <= r].sum()) >= fraction * total - 1e-12:
            return r
    return max(h, w)


def effective(model: nn.Module, inputs: torch.Tensor, batch: int = 250) -> dict[str, Any]:
    """Mean |∂ log p(predicted colour at the centre pixel) / ∂ input| over the inputs, as shares."""
    model.eval()
    size = inputs.shape[-1]
    c = (inputs.shape[-2] // 2, size // 2)
    total = torch.zeros(inputs.shape[-2:], dtype=torch.float64)
    for chunk in inputs.split(batch):
        x = chunk.detach().clone().requires_grad_(True)
        logp = model(x)[:, :, c[0], c[1]].log_softmax(1)
        (grad,) = torch.autograd.grad(logp.gather(1, logp.argmax(1, keepdim=True)).sum(), x)
        total += grad.abs().sum(1).sum(0).double()
    share = total / total.sum() if total.sum() > 0 else total
    return {"share": share.float(), "centre": list(c), "images": len(inputs),
            "erf50": radius_holding(share, c, 0.5), "erf90": radius_holding(share, c, 0.9)}


# --------------------------------------------------------------------------- the measurement


def analyse(model: nn.Module, inputs: torch.Tensor) -> dict[str, Any]:
    rows, t = derive(model)
    cy, cx = inputs.shape[-2] // 2, inputs.shape[-1] // 2
    sizes = t.sizes()
    wide = max(SIZE, 4 * math.ceil((2 * max(sizes) + 4 * pool_period(model)) / 4))  # no field reaches a border
    return {"rows": rows, "theory": max(sizes), "theory_min": min(sizes), "standard": float(t.r),
            "period": t.period, "box": [t.start(cy), t.end(cy), t.start(cx), t.end(cx)],  # the centre pixel's
            "measured": measure(model, wide), "erf": effective(model, inputs)}


def compute(bench: Bench) -> dict[str, Any]:
    return {n.name: analyse(bench.model(n.name), bench.grey) for n in bench.networks}


def view(found: dict[str, Any] | None, networks: tuple[Network, ...]) -> Fields:
    found = found or {}
    nets = {}
    for name in (n.name for n in networks):
        f = found.get(name)
        sizes = f["measured"]["widths"] + f["measured"]["heights"] if f else []
        by_block = {row["block"]: row["high"] for row in f["rows"]} if f else {}
        nets[name] = Fields(f"analysis.receptive_field.nets.{name}", {
            "theory": float(f["theory"]) if f else NAN, "theory_min": float(f["theory_min"]) if f else NAN,
            "standard": float(f["standard"]) if f else NAN, "period": float(f["period"]) if f else NAN,
            "measured_min": float(min(sizes)) if f else NAN, "measured_max": float(max(sizes)) if f else NAN,
            "erf50": float(f["erf"]["erf50"]) if f else NAN, "erf90": float(f["erf"]["erf90"]) if f else NAN,
            "images": int(f["erf"]["images"]) if f else 0,
            "blocks": Fields(f"analysis.receptive_field.nets.{name}.blocks",
                             {b: float(by_block.get(b, NAN)) for b in BLOCKS})})
    return Fields("analysis.receptive_field", {
        **{name: net["measured_max"] for name, net in nets.items()},
        "nets": Fields("analysis.receptive_field.nets", nets)})


def _span(low: float, high: float) -> str:
    return f"{low:.0f}" if low == high else f"{low:.0f}–{high:.0f}"


def _square(r: float) -> str:
    return f"{r:.0f} ({2 * r + 1:.0f}×{2 * r + 1:.0f})"


def _layer_table(name: str, label: str, rows: list[dict[str, Any]]) -> Item:
    cells = [[cell(r["block"]), cell(r["layer"]), cell(f"{32 / r['jump']:g}×{32 / r['jump']:g}", numeric=True),
              cell(f"{r['jump']:g}", numeric=True), cell(f"{r['standard']:g}", numeric=True),
              cell(_span(r["low"], r["high"]), numeric=True)] for r in rows]
    return table(f"{name} ({label}): the receptive field derived layer by layer from the built network "
                 "(batch norm and ReLU act pixel by pixel and change nothing)",
                 ["Block", "Layer", ("Grid at 32×32", True), ("Jump j", True), ("r, textbook", True),
                  ("r, exact (all positions)", True)], cells)


def _measured(name: str, m: dict[str, Any]) -> str:
    wide, high = _span(min(m["widths"]), max(m["widths"])), _span(min(m["heights"]), max(m["heights"]))
    return f"{name} {wide} pixels wide and high" if wide == high else f"{name} {wide} pixels wide, {high} high"


def _why(n: Fields) -> str:
    """Why the size depends on the position, or that it does not."""
    if not n["theory_min"] < n["theory"]:
        return "Every output position has the same receptive field."
    between = n["theory_min"] < n["standard"] < n["theory"]
    return (f"The size depends on where the pixel sits in its {n['period']:.0f}×{n['period']:.0f} block: "
            "nearest upsampling gives neighbouring pixels the same parent unit, so a convolution after it "
            "reaches more distinct units of the coarse grid from some positions than from others, and each "
            "extra one adds that grid's jump. The textbook recurrence treats the upsampled grid as evenly "
            f"spread and gives {n['standard']:g}{', in between' if between else ''}.")


def show(page: Page, found: dict[str, Any], v: Fields, networks: tuple[Network, ...]) -> list[Item]:
    nets = v["nets"]
    labels = {n.name: n.label for n in networks}
    items = [_layer_table(name, labels[name], found[name]["rows"]) for name in found]
    summary = [[cell(f"{name} ({labels[name]})"), cell(f"{nets[name]['standard']:g}", numeric=True),
                cell(_span(nets[name]["theory_min"], nets[name]["theory"]), numeric=True),
                cell(_span(nets[name]["measured_min"], nets[name]["measured_max"]), numeric=True),
                cell(_square(nets[name]["erf50"]), numeric=True), cell(_square(nets[name]["erf90"]), numeric=True)]
               for name in found]
    items.append(table(
        "Receptive field width in pixels: textbook recurrence, exact derivation and measurement over "
        "every output position of one pooling period; effective receptive field of the trained network "
        "(square radius around the centre pixel holding 50% and 90% of the gradient, and that square)",
        ["Network", ("Textbook", True), ("Derived (min–max)", True), ("Measured (min–max)", True),
         ("ERF 50%", True), ("ERF 90%", True)], summary))
    items.append(_figure(page, found, labels))
    agree = all(nets[n]["theory"] == nets[n]["measured_max"] and nets[n]["theory_min"] == nets[n]["measured_min"]
                for n in found)
    text = " and ".join(_measured(n, found[n]["measured"]) for n in found)
    first = found[next(iter(found))]["measured"]
    px = max(nets[n]["measured_max"] for n in found)
    items.append(note(
        f"Measured receptive field (the input pixels that can change one output pixel): {text}, "
        f"{'exactly as derived' if agree else 'which differs from the derivation'}. It is "
        f"measured by backpropagating from each output pixel of a {first['block']}×{first['block']} block of a "
        f"{first['size']}×{first['size']} "
        "input through a copy of the network in which every connection passes gradient (positive averaging "
        "weights, no ReLU or batch norm, average instead of max-pooling): in the trained network dead ReLUs, "
        "max-pooling's single winner and cancelling weights would hide pixels the architecture can use. "
        f"{' '.join(dict.fromkeys(_why(nets[n]) for n in found))} The widest field, {px:.0f} pixels, "
        f"{'covers a whole' if px >= 32 else f'is {px / 32:.0%} of the width of a'} 32×32 training image, "
        f"but only {px / 128:.0%} of the width of a 128-pixel and {px / 256:.0%} of a 256-pixel image."))
    return items


def _figure(page: Page, found: dict[str, Any], labels: dict[str, str]) -> Item:
    panels = [figures.HeatPanel(f"{name} ({labels[name]})", found[name]["erf"]["share"].numpy(),
                                tuple(found[name]["erf"]["centre"]), tuple(found[name]["box"]),
                                ((0.5, found[name]["erf"]["erf50"]), (0.9, found[name]["erf"]["erf90"])))
              for name in found]

    def draw(path: Path) -> None:
        figures.gradient_maps(path, panels)

    first = found[next(iter(found))]["erf"]
    h, w = first["share"].shape
    past = any(top < 0 or left < 0 or bottom >= h or right >= w
               for top, bottom, left, right in (found[n]["box"] for n in found))
    return page.maker.make(
        "img/receptive-field.png", {"rf": content_key({n: (found[n]["erf"], found[n]["box"]) for n in found}),
                                    "labels": labels},
        draw, alt="effective receptive fields of the trained CNN and UNet",
        caption=f"Effective receptive field: mean |gradient| of the centre pixel's predicted-colour "
                f"log-probability with respect to the grey input, over {first['images']:,} test images, as a "
                "share of the total (logarithmic colours, black: exactly zero); dashed: the derived receptive "
                f"field of that pixel{' (it reaches past the image)' if past else ''}; solid squares: where 50% "
                "and 90% of the gradient lie.")


MEASUREMENT = register(Measurement("receptive_field", compute, view, show, reads=Reads(first_seeds=True)))
