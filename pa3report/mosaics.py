"""Image mosaics: sample grids, image tables, resolution stages and activation galleries.

Assembled pixel-exact with torchvision/PIL and labelled in matplotlib's bundled font (the
plots' font), so a 32x32 image stays crisp when enlarged. Pure functions from tensors to
a PNG file at a given path; nothing here knows about runs or the cache.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

INK = (34, 34, 34)
PAPER = (255, 255, 255)
FONT_SIZE = 15


@lru_cache(maxsize=4)
def _font(size: int = FONT_SIZE):
    """matplotlib's bundled DejaVu Sans, so mosaic labels match the plots."""
    import matplotlib
    from PIL import ImageFont

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return ImageFont.truetype(str(ttf), size)


def _save_image(img, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG")


def as_rgb(images: torch.Tensor) -> torch.Tensor:
    """(N, 1 or 3, H, W) floats -> (N, 3, H, W) in [0, 1]; greyscale is repeated."""
    images = images.float().clamp(0.0, 1.0)
    return images.repeat(1, 3, 1, 1) if images.shape[1] == 1 else images


def _to_pil(chw: torch.Tensor, scale: int = 1):
    """A (3, H, W) tensor in [0, 1] as a PIL image, enlarged by nearest neighbour."""
    from PIL import Image

    arr = (chw.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy())
    img = Image.fromarray(np.ascontiguousarray(arr), "RGB")
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST) if scale > 1 else img


def _text_width(text: str, font) -> int:
    left, _, right, _ = font.getbbox(text)
    return int(right - left)


def _labelled_rows(grid, row_labels: Sequence[str], row_height: int, top: int):
    """Put a label column to the left of an image whose rows are row_height apart."""
    from PIL import Image, ImageDraw

    font = _font()
    label_w = max(_text_width(t, font) for t in row_labels) + 16
    canvas = Image.new("RGB", (grid.width + label_w, grid.height), PAPER)
    canvas.paste(grid, (label_w, 0))
    draw = ImageDraw.Draw(canvas)
    for i, text in enumerate(row_labels):
        y = top + i * row_height + row_height // 2
        draw.text((label_w - 10, y), text, fill=INK, font=font, anchor="rm")
    return canvas


def sample_grid(path: Path, rows: Sequence[tuple[str, torch.Tensor]], scale: int = 3) -> None:
    """The same images in every row (input, truth, predictions...), enlarged, rows labelled."""
    from torchvision.utils import make_grid

    n = min(len(t) for _, t in rows)
    pad = 2
    stacked = torch.cat([as_rgb(t[:n]) for _, t in rows])
    grid = make_grid(stacked, nrow=n, padding=pad, pad_value=1.0)
    img = _to_pil(grid, scale)
    row_height = (stacked.shape[-2] + pad) * scale
    _save_image(_labelled_rows(img, [label for label, _ in rows], row_height, pad * scale // 2), path)


def colour_bar(width: int, low: str, high: str, label: str, height: int = 14):
    """The viridis scale as a horizontal bar with its two ends and what it measures, e.g.
    colour_bar(300, "0", "4.6", "entropy (bits)"): so a colour-mapped panel can be read alone."""
    from PIL import Image, ImageDraw

    font = _font()
    lut = _viridis_lut()
    ramp = lut[np.linspace(0, 255, width).round().astype(int)]  # (width, 3)
    bar = Image.fromarray(np.repeat(ramp[None], height, axis=0), "RGB")
    line = FONT_SIZE + 6
    canvas = Image.new("RGB", (width, height + 2 * line), PAPER)
    draw = ImageDraw.Draw(canvas)
    draw.text((width // 2, line // 2), label, fill=INK, font=font, anchor="mm")
    canvas.paste(bar, (0, line))
    draw.text((0, line + height + 2), low, fill=INK, font=font, anchor="la")
    draw.text((width, line + height + 2), high, fill=INK, font=font, anchor="ra")
    return canvas


def image_table(path: Path, rows: Sequence[tuple[str, Sequence[torch.Tensor]]], columns: Sequence[str],
                tile: int = 256, legend: tuple[str, str, str] | None = None) -> None:
    """Images of different sizes in a labelled table, each enlarged (nearest neighbour, by a
    whole factor) to about `tile` pixels so pixels of a small image stay visible as blocks.
    legend (label, low, high): a colour bar under the last column, for a colour-mapped one."""
    from PIL import Image, ImageDraw

    font = _font()
    gap = 8
    label_w = max(_text_width(label, font) for label, _ in rows) + 16
    head = FONT_SIZE + 14
    width = label_w + len(columns) * (tile + gap)
    bar = colour_bar(max(2 * tile + gap, _text_width(legend[1] + legend[2], font) + 30),
                     legend[1], legend[2], legend[0]) if legend else None
    height = head + len(rows) * (tile + gap) + (bar.height + gap if bar else 0)
    width = max(width, label_w + bar.width) if bar else width
    canvas = Image.new("RGB", (width, height), PAPER)
    draw = ImageDraw.Draw(canvas)
    for c, text in enumerate(columns):
        draw.text((label_w + c * (tile + gap) + tile // 2, head // 2), text, fill=INK, font=font, anchor="mm")
    for r, (label, images) in enumerate(rows):
        y = head + r * (tile + gap)
        draw.text((label_w - 10, y + tile // 2), label, fill=INK, font=font, anchor="rm")
        for c, image in enumerate(images):
            img = _to_pil(as_rgb(image[None])[0], max(1, tile // image.shape[-1]))
            if img.width > tile:
                img = img.resize((tile, tile * img.height // img.width), Image.LANCZOS)
            canvas.paste(img, (label_w + c * (tile + gap) + (tile - img.width) // 2,
                               y + (tile - img.height) // 2))
    if bar is not None:
        right = label_w + len(columns) * (tile + gap) - gap
        canvas.paste(bar, (max(label_w, right - bar.width), head + len(rows) * (tile + gap)))
    _save_image(canvas, path)


def resolution_stages(path: Path, stages: Sequence[tuple[str, torch.Tensor]], size: int = 160) -> None:
    """Each (3, H, W) stage enlarged to the same display size, captioned with its label."""
    from PIL import Image, ImageDraw

    font = _font()
    gap, caption = 24, 28
    tiles = [_to_pil(as_rgb(t[None])[0], max(1, size // t.shape[-1])) for _, t in stages]
    width = sum(t.width for t in tiles) + gap * (len(tiles) + 1)
    canvas = Image.new("RGB", (width, size + caption + gap), PAPER)
    draw = ImageDraw.Draw(canvas)
    x = gap
    for (label, _), tile in zip(stages, tiles):
        canvas.paste(tile, (x, gap // 2))
        draw.text((x + tile.width // 2, gap // 2 + tile.height + 6), label, fill=INK, font=font, anchor="mt")
        x += tile.width + gap
    _save_image(canvas, path)


def _viridis_lut() -> np.ndarray:
    import matplotlib

    return (matplotlib.colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)


def heat_image(values: torch.Tensor, vmax: float) -> torch.Tensor:
    """(H, W) values from 0 to vmax as a (3, H, W) viridis image, for drawing beside photos."""
    idx = (values.float().clamp(0, vmax) / vmax * 255).round().long().numpy()
    return torch.from_numpy(_viridis_lut()[idx]).permute(2, 0, 1).float() / 255.0


def feature_tiles(maps: torch.Tensor, per_row: int = 14, tile: int = 64, gap: int = 4):
    """(C, H, W) feature maps as a grid of per-channel min-max normalised viridis tiles.

    A channel that is constant (often a ReLU that never fires here) shows as flat purple.
    """
    from PIL import Image

    maps = maps.float()
    c, h, w = maps.shape
    flat = maps.reshape(c, -1)
    lo, hi = flat.min(dim=1, keepdim=True).values, flat.max(dim=1, keepdim=True).values
    norm = torch.where(hi > lo, (flat - lo) / (hi - lo).clamp_min(1e-12), torch.zeros_like(flat))
    idx = (norm * 255).round().long().reshape(c, h, w).numpy()
    coloured = _viridis_lut()[idx]  # (C, H, W, 3)
    scale = max(1, tile // max(h, w))
    th, tw = h * scale, w * scale
    cols = min(per_row, c)
    rows = math.ceil(c / cols)
    out = np.full((rows * (th + gap) - gap, cols * (tw + gap) - gap, 3), 255, np.uint8)
    for i in range(c):
        r, k = divmod(i, cols)
        big = coloured[i].repeat(scale, axis=0).repeat(scale, axis=1)
        out[r * (th + gap):r * (th + gap) + th, k * (tw + gap):k * (tw + gap) + tw] = big
    return Image.fromarray(out, "RGB")


def activation_gallery(path: Path, title: str, images: Sequence[tuple[str, torch.Tensor]],
                       blocks: Sequence[tuple[str, torch.Tensor]]) -> None:
    """One test image through one network: the images, then every block's channels tiled.

    images: (label, (C, H, W)) shown enlarged in a row; blocks: (name, (C, H, W)) in model order.
    """
    from PIL import Image, ImageDraw

    font, big = _font(), _font(FONT_SIZE + 3)
    margin, line = 16, FONT_SIZE + 12
    shown = [_to_pil(as_rgb(t[None])[0], 3) for _, t in images]
    sections = [(f"{name}: {m.shape[0]} channels × {m.shape[1]} × {m.shape[2]}", feature_tiles(m))
                for name, m in blocks]
    width = max(sum(s.width for s in shown) + margin * (len(shown) - 1),
                max(t.width for _, t in sections)) + 2 * margin
    scale = colour_bar(300, "lowest", "highest", "tile colour: each channel's own range")
    width = max(width, sum(s.width for s in shown) + margin * len(shown) + scale.width + 2 * margin)
    height = (margin + line + shown[0].height + line
              + sum(line + t.height + margin for _, t in sections) + margin)
    canvas = Image.new("RGB", (width, height), PAPER)
    draw = ImageDraw.Draw(canvas)
    y = margin
    draw.text((margin, y), title, fill=INK, font=big)
    canvas.paste(scale, (width - margin - scale.width, y))
    y += line
    x = margin
    for (label, _), img in zip(images, shown):
        canvas.paste(img, (x, y))
        draw.text((x + img.width // 2, y + img.height + 4), label, fill=INK, font=font, anchor="mt")
        x += img.width + margin
    y += shown[0].height + line + margin // 2
    for label, tiles in sections:
        draw.text((margin, y), label, fill=INK, font=font)
        y += line
        canvas.paste(tiles, (margin, y))
        y += tiles.height + margin
    _save_image(canvas, path)


