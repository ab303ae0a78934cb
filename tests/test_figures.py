"""Figures: pure functions from data to PNG files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
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


def test_every_series_of_a_crowded_plot_looks_different(tmp_path):
    looks = [figures.series_look(i) for i in range(3 * len(figures.COLOURS))]
    assert len(set(looks)) == len(looks) and looks[0] == (figures.COLOURS[0], None)
    series = [figures.Series(f"run {i}", history(5, 0.01 * i)) for i in range(12)]
    figures.curves(tmp_path / "many.png", series, ("val_acc",))
    assert figures.png_size(tmp_path / "many.png")[0] > 300


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


def test_gradient_maps_draw_one_panel_per_network_and_show_a_field_past_the_image(tmp_path):
    share = np.zeros((16, 16))
    share[6:11, 6:11] = 1 / 25
    panel = figures.HeatPanel("net", share, (8, 8), (-3, 18, -3, 18), ((0.5, 1), (0.9, 2)))
    one, two = tmp_path / "one.png", tmp_path / "two.png"
    figures.gradient_maps(one, [panel])
    figures.gradient_maps(two, [panel, panel])
    (w1, h1), (w2, h2) = figures.png_size(one), figures.png_size(two)
    assert w2 > 1.8 * w1 and abs(h2 - h1) < 5
    dashed = (pixels(one) == 255).all(axis=2)  # white: the receptive field's outline, and the page
    assert dashed.any()
