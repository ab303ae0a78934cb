"""Mosaics: images enlarged pixel-exact into grids, tables and galleries."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from pa3report import mosaics


def pixels(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def test_sample_grid_enlarges_without_blurring(tmp_path):
    grey = torch.rand(5, 1, 32, 32)
    colour = torch.rand(5, 3, 32, 32)
    path = tmp_path / "grid.png"
    mosaics.sample_grid(path, [("input", grey), ("truth", colour), ("prediction", colour)], scale=4)
    img = pixels(path)
    pad = 2
    grid_w = (5 * (32 + pad) + pad) * 4
    assert img.shape[0] == (3 * (32 + pad) + pad) * 4
    assert img.shape[1] > grid_w  # plus the label column
    label_w = img.shape[1] - grid_w
    # top-left image of the "truth" row: each source pixel is a uniform 4x4 block
    y0, x0 = (32 + pad + pad) * 4, label_w + pad * 4
    block = img[y0:y0 + 4, x0:x0 + 4]
    assert (block == block[0, 0]).all()
    expected = (colour[0, :, 0, 0].clamp(0, 1) * 255).round().byte().numpy()
    assert np.abs(block[0, 0].astype(int) - expected.astype(int)).max() <= 1
    # greyscale input is shown as grey
    g = img[pad * 4 + 1, x0 + 1]
    assert g[0] == g[1] == g[2]


def test_feature_tiles_normalise_each_channel_and_flag_constant_ones():
    maps = torch.zeros(3, 8, 8)
    maps[0] = torch.arange(64.0).reshape(8, 8)
    maps[1] = 5.0  # constant
    maps[2] = -torch.arange(64.0).reshape(8, 8) * 1000  # a different range
    img = np.asarray(mosaics.feature_tiles(maps, per_row=3, tile=16, gap=2))
    assert img.shape == (16, 3 * 16 + 2 * 2, 3)
    lut = mosaics._viridis_lut()
    assert (img[0, 0] == lut[0]).all() and (img[15, 15] == lut[255]).all()
    assert (img[:, 18:34] == lut[0]).all()  # constant channel: one flat colour
    assert (img[0, 36] == lut[255]).all() and (img[15, 51] == lut[0]).all()


def find(image: np.ndarray, part: np.ndarray) -> list[tuple[int, int]]:
    """Every (y, x) where `part` appears pixel for pixel in `image`."""
    h, w = part.shape[:2]
    hits = []
    for y, x in np.argwhere((image == part[0, 0]).all(-1)):
        if y + h <= image.shape[0] and x + w <= image.shape[1] and (image[y:y + h, x:x + w] == part).all():
            hits.append((int(y), int(x)))
    return hits


def test_activation_gallery_shows_every_block_as_its_tiles(tmp_path):
    torch.manual_seed(0)
    blocks = [("downconv1", torch.rand(8, 16, 16)), ("rfconv", torch.rand(16, 8, 8)),
              ("finalconv", torch.rand(24, 32, 32))]
    path = tmp_path / "act0.png"
    truth = torch.rand(3, 32, 32)
    mosaics.activation_gallery(path, "run (UNet), test image 0",
                               [("input", torch.rand(1, 32, 32)), ("truth", truth),
                                ("output", torch.rand(3, 32, 32))], blocks)
    img = pixels(path)
    # every block's channels appear exactly as feature_tiles draws them, one below the other
    found = [find(img, np.asarray(mosaics.feature_tiles(maps))) for _, maps in blocks]
    assert all(len(hits) == 1 for hits in found)
    ys = [hits[0][0] for hits in found]
    assert ys == sorted(ys)
    # and the ground truth is shown enlarged 3x, pixel-exact
    expected = (truth.permute(1, 2, 0) * 255).round().byte().numpy().repeat(3, 0).repeat(3, 1)
    assert len(find(img, expected)) == 1


def test_resolution_stages_enlarge_each_stage_to_the_same_size(tmp_path):
    small, big = torch.rand(3, 8, 8), torch.rand(3, 32, 32)
    mosaics.resolution_stages(tmp_path / "s.png", [("a", big), ("b", small)], size=128)
    img = pixels(tmp_path / "s.png")
    assert img.shape[1] == 2 * 128 + 3 * 24
    for t, scale in ((big, 4), (small, 16)):  # nearest neighbour: a 8×8 image as 16-pixel blocks
        expected = (t.permute(1, 2, 0) * 255).round().byte().numpy().repeat(scale, 0).repeat(scale, 1)
        assert len(find(img, expected)) == 1


def test_image_table_enlarges_every_size_to_the_tile(tmp_path):
    g = torch.Generator().manual_seed(0)
    small, big, huge = torch.rand(3, 8, 8, generator=g), torch.rand(1, 16, 16, generator=g), torch.rand(3, 64, 64)
    path = tmp_path / "t.png"
    mosaics.image_table(path, [("small", [small, big]), ("huge", [huge, huge])], ["grey", "colour"], tile=32)
    img = pixels(path)
    gap, head = 8, mosaics.FONT_SIZE + 14
    label_w = img.shape[1] - 2 * (32 + gap)
    assert img.shape[0] == head + 2 * (32 + gap)
    block = img[head:head + 4, label_w:label_w + 4]  # 8x8 enlarged 4x: one source pixel per 4x4 block
    assert (block == block[0, 0]).all()
    assert np.abs(block[0, 0].astype(int) - (small[:, 0, 0] * 255).round().numpy()).max() <= 1
    grey = img[head + 1, label_w + 32 + gap + 1]  # a one-channel image is drawn grey, enlarged 2x
    assert grey[0] == grey[1] == grey[2]
    right = img[head + 32 + gap:head + 2 * 32 + gap, label_w + 32 + gap:label_w + 2 * 32 + gap]
    assert (right != 255).any(axis=2).all()  # a larger image is shrunk into its tile, not cut off




def test_a_colour_mapped_column_gets_a_colour_bar_with_its_unit(tmp_path):
    """The entropy column of the decoding figure reads alone: a viridis bar from 0 to log2 24 bits."""
    import math

    import numpy as np
    from PIL import Image

    from pa3report import mosaics

    heat = mosaics.heat_image(torch.linspace(0, 4.6, 32 * 32).reshape(32, 32), math.log2(24))
    rows = [("net", [torch.rand(1, 32, 32), heat])]
    plain, barred = tmp_path / "plain.png", tmp_path / "barred.png"
    mosaics.image_table(plain, rows, ["grey", "entropy"], tile=64)
    mosaics.image_table(barred, rows, ["grey", "entropy"], tile=64, legend=("entropy (bits)", "0", "4.6"))
    a, b = np.asarray(Image.open(plain).convert("RGB")), np.asarray(Image.open(barred).convert("RGB"))
    assert b.shape[0] > a.shape[0]
    lut = mosaics._viridis_lut()
    bottom = b[a.shape[0]:].reshape(-1, 3)
    # both ends of the scale are drawn below the table
    for end in (lut[0], lut[-1]):
        assert (np.abs(bottom.astype(int) - end.astype(int)).sum(axis=1) <= 6).any()


def test_activation_galleries_say_how_their_tiles_are_scaled(tmp_path):
    import numpy as np
    from PIL import Image

    from pa3report import mosaics

    path = tmp_path / "g.png"
    mosaics.activation_gallery(path, "net", [("grey", torch.rand(1, 32, 32))], [("b", torch.rand(4, 8, 8))])
    top = np.asarray(Image.open(path).convert("RGB"))[:80].reshape(-1, 3).astype(int)
    lut = mosaics._viridis_lut().astype(int)
    assert (np.abs(top - lut[-1]).sum(axis=1) <= 6).any()  # the bar's yellow end, in the header
