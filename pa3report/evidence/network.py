"""Architecture: the network of a question's runs as built, block by block, and as a diagram."""

from __future__ import annotations

from .. import figures
from ..outline import Evidence, Question
from ..page import Item, Page, cell, note, table
from . import piece


@piece("architecture")
def architecture(page: Page, q: Question, ev: Evidence) -> list[Item]:
    runs = page.tagged(ev.tags)
    if not runs:
        return page.split(ev.tags)[1]
    e = runs[0].experiment
    arch = page.architecture(e)
    rows = []
    for b in arch.blocks:
        extra = list(b.skips)
        rows.append([
            cell(b.name),
            cell(" → ".join(layer.label for layer in b.layers)),
            cell(f"{b.kernel}×{b.kernel}" if b.kernel else "–", numeric=True),
            cell(f"{b.in_channels} → {b.out_channels}", numeric=True),
            cell(" + ".join((b.sources[0], *extra)), badge="skip" if extra else ""),
            cell("×".join(str(d) for d in b.output_shape), numeric=True),
            cell(f"{b.params:,}", numeric=True),
        ])
    foot = [[cell("total"), cell(f"{arch.conv_layers} convolution layers"), cell(""), cell(""),
             cell(""), cell(""), cell(f"{arch.params:,}", numeric=True)]]
    caption = (f"{arch.model} as built with num_filters={e.num_filters}, kernel={e.kernel}, "
               f"{e.in_channels} input channel(s), output shapes for one "
               f"{arch.input_shape[1]}×{arch.input_shape[2]} image")
    items = [table(caption, ["Block", "Layers in order", ("Kernel", True), ("Channels in → out", True),
                             "Input from", ("Output C×H×W", True), ("Parameters", True)],
                   rows, foot, css="arch")]
    convs = sorted({layer.kind for b in arch.blocks for layer in b.layers if layer.kind.endswith("Conv2d")})
    filters = ", ".join(f"{b.out_channels}" for b in arch.blocks)
    items.append(note(
        f"{arch.conv_layers} convolution layers ({' and '.join(convs)}), every one {e.kernel}×{e.kernel}; "
        f"filters per layer: {filters}."
        + (" Skip connections are concatenated on the channel axis before the block's convolution."
           if arch.has_skips else "")))
    sources = {b.name: b.sources for b in arch.blocks}
    items.append(page.maker.make(
        f"img/{q.anchor}-diagram.png",
        {"arch": [(b.name, b.output_shape, b.sources) for b in arch.blocks]},
        lambda p: figures.architecture_diagram(p, [(b.name, b.output_shape) for b in arch.blocks],
                                               sources, arch.input_shape),
        alt=f"Block diagram of {arch.model}", caption=(
            f"{arch.model}: box height follows the feature map size"
            + ("; dashed arcs are skip connections." if arch.has_skips else "."))))
    return items
