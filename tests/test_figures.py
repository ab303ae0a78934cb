"""Figures: pure functions from data to PNG files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from pa3report import figures


def history(epochs: int, offset: float = 0.0) -> pd.DataFrame:
    e = np.arange(1, epochs + 1)
    return pd.DataFrame({"epoch": e, "train_loss": 2.0 / e + offset, "val_loss": 2.2 / e + offset,
                         "val_acc": 30 + 5 * np.log(e), "val_mse": 0.02 / e, "epoch_seconds": 1.0})


def pixels(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def test_curves_draws_labelled_panels_and_is_deterministic(tmp_path):
    series = [figures.Series("long run", history(6), (history(6, 0.1), history(6, -0.1))),
              figures.Series("short run", history(2)), figures.Series("one epoch", history(1))]
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    figures.curves(a, series, ("loss", "val_acc"))
    figures.curves(b, series, ("loss", "val_acc"))
    assert a.read_bytes() == b.read_bytes()  # no timestamps: the zip stays reproducible
    width, height = figures.png_size(a)
    assert 700 < width < 1100 and 250 < height < 600
    assert len(np.unique(pixels(a).reshape(-1, 3), axis=0)) > 50


def test_sample_grid_enlarges_without_blurring(tmp_path):
    grey = torch.rand(5, 1, 32, 32)
    colour = torch.rand(5, 3, 32, 32)
    path = tmp_path / "grid.png"
    figures.sample_grid(path, [("input", grey), ("truth", colour), ("prediction", colour)], scale=4)
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
    img = np.asarray(figures.feature_tiles(maps, per_row=3, tile=16, gap=2))
    assert img.shape == (16, 3 * 16 + 2 * 2, 3)
    lut = figures._viridis_lut()
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
    figures.activation_gallery(path, "run (UNet), test image 0",
                               [("input", torch.rand(1, 32, 32)), ("truth", truth),
                                ("output", torch.rand(3, 32, 32))], blocks)
    img = pixels(path)
    # every block's channels appear exactly as feature_tiles draws them, one below the other
    found = [find(img, np.asarray(figures.feature_tiles(maps))) for _, maps in blocks]
    assert all(len(hits) == 1 for hits in found)
    ys = [hits[0][0] for hits in found]
    assert ys == sorted(ys)
    # and the ground truth is shown enlarged 3x, pixel-exact
    expected = (truth.permute(1, 2, 0) * 255).round().byte().numpy().repeat(3, 0).repeat(3, 1)
    assert len(find(img, expected)) == 1


def test_resolution_stages_enlarge_each_stage_to_the_same_size(tmp_path):
    small, big = torch.rand(3, 8, 8), torch.rand(3, 32, 32)
    figures.resolution_stages(tmp_path / "s.png", [("a", big), ("b", small)], size=128)
    img = pixels(tmp_path / "s.png")
    assert img.shape[1] == 2 * 128 + 3 * 24
    for t, scale in ((big, 4), (small, 16)):  # nearest neighbour: a 8×8 image as 16-pixel blocks
        expected = (t.permute(1, 2, 0) * 255).round().byte().numpy().repeat(scale, 0).repeat(scale, 1)
        assert len(find(img, expected)) == 1


def test_architecture_diagram_draws_skip_arcs_only_when_there_are_skips(tmp_path):
    blocks = [("downconv1", (8, 16, 16)), ("finalconv", (24, 32, 32))]
    figures.architecture_diagram(tmp_path / "skip.png", blocks,
                                 {"downconv1": ("input",), "finalconv": ("downconv1", "input")}, (1, 32, 32))
    figures.architecture_diagram(tmp_path / "plain.png", blocks,
                                 {"downconv1": ("input",), "finalconv": ("downconv1",)}, (1, 32, 32))
    red = np.array([int(figures.COLOURS[1][i:i + 2], 16) for i in (1, 3, 5)])

    def arc_pixels(name: str) -> int:
        return int((np.abs(pixels(tmp_path / name).astype(int) - red).sum(-1) < 60).sum())

    assert arc_pixels("plain.png") == 0 and arc_pixels("skip.png") > 50
    assert figures.png_size(tmp_path / "skip.png")[1] > figures.png_size(tmp_path / "plain.png")[1]


def test_png_size_rejects_other_files(tmp_path):
    (tmp_path / "x.png").write_bytes(b"GIF89a" + b"\0" * 30)
    with pytest.raises(ValueError):
        figures.png_size(tmp_path / "x.png")


def test_curves_average_the_seeds_of_a_run():
    s = figures.Series("x", history(4), (history(4, 0.3), history(2)))
    stack = figures.seed_stack(s, "val_loss")
    assert stack.shape == (2, 4)  # a seed that stopped early is left out, not misaligned
    assert np.allclose(stack.mean(axis=0), history(4)["val_loss"] + 0.15)
    # a shorter run of the same trajectories lies inside the longer run's band: it is not shaded twice
    short = figures.seed_stack(figures.Series("y", history(2), (history(2, 0.3),)), "val_loss")
    assert figures._covered(short, [stack]) and not figures._covered(short + 0.01, [stack])


def test_image_table_enlarges_every_size_to_the_tile(tmp_path):
    g = torch.Generator().manual_seed(0)
    small, big, huge = torch.rand(3, 8, 8, generator=g), torch.rand(1, 16, 16, generator=g), torch.rand(3, 64, 64)
    path = tmp_path / "t.png"
    figures.image_table(path, [("small", [small, big]), ("huge", [huge, huge])], ["grey", "colour"], tile=32)
    img = pixels(path)
    gap, head = 8, figures.FONT_SIZE + 14
    label_w = img.shape[1] - 2 * (32 + gap)
    assert img.shape[0] == head + 2 * (32 + gap)
    block = img[head:head + 4, label_w:label_w + 4]  # 8x8 enlarged 4x: one source pixel per 4x4 block
    assert (block == block[0, 0]).all()
    assert np.abs(block[0, 0].astype(int) - (small[:, 0, 0] * 255).round().numpy()).max() <= 1
    grey = img[head + 1, label_w + 32 + gap + 1]  # a one-channel image is drawn grey, enlarged 2x
    assert grey[0] == grey[1] == grey[2]
    right = img[head + 32 + gap:head + 2 * 32 + gap, label_w + 32 + gap:label_w + 2 * 32 + gap]
    assert (right != 255).any(axis=2).all()  # a larger image is shrunk into its tile, not cut off


def test_scatter_and_sweep_plots(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.random(20)
    figures.distance_scatter(tmp_path / "s.png", rgb, 50 * rgb + rng.random(20), 0.9)
    assert figures.png_size(tmp_path / "s.png")[0] > 300
    nan = float("nan")
    panels = [("learning rate", [figures.SweepPoint("0.0003", 40.0, nan), figures.SweepPoint("0.001", 43.0, 0.5, True)]),
              ("batch size", [figures.SweepPoint("20", 50.0, nan), figures.SweepPoint("100", 43.0, 0.5, True),
                              figures.SweepPoint("500", nan, nan)])]
    for name in ("a.png", "b.png"):
        figures.sweep(tmp_path / name, panels, figures.SweepPoint("baseline", 43.0, 0.5, True), "acc (%)")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    width, height = figures.png_size(tmp_path / "a.png")
    assert width > 500 and height > 200


def test_colour_pairs_wrap_into_rows(tmp_path):
    pairs = [(f"pair {i}\nΔE {i}", (0.1 * i, 0.2, 0.3), (0.1 * i, 0.35, 0.3)) for i in range(8)]
    figures.colour_pairs(tmp_path / "one.png", pairs[:4])
    figures.colour_pairs(tmp_path / "two.png", pairs)
    (w1, h1), (w2, h2) = figures.png_size(tmp_path / "one.png"), figures.png_size(tmp_path / "two.png")
    assert abs(w1 - w2) < 20 and h2 > 1.6 * h1
