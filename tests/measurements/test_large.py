"""Large inputs: whole-image and via-32 colourization, checked with a network of known output."""

import torch
import torch.nn as nn

from pa3report.measurements import large

from ..runkit import run, runs


class Constant(nn.Module):
    """Scores that always pick palette colour `k`, at the input's own size."""

    def __init__(self, k: int, colours: int) -> None:
        super().__init__()
        self.k, self.colours = k, colours

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(x.shape[0], self.colours, *x.shape[-2:])
        out[:, self.k] = 1.0
        return out


def test_known_output_gives_known_accuracy():
    palette = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    rgb = torch.zeros(2, 3, 64, 64)
    rgb[:, 0, :, :32] = 1.0  # left half red, right half black
    res = large.colourize_large(Constant(1, 2), rgb, palette)
    assert res["direct"].shape == res["via32"].shape == (2, 3, 64, 64)
    assert res["acc_direct"] == res["acc_via32"] == 50.0  # all red: right on the left half only
    assert (res["direct"][:, 0] == 1).all()


def test_sample_photos_are_square_and_in_range():
    photos = large.sample_photos(64)
    assert photos.shape == (2, 3, 64, 64) and 0 <= photos.min() and photos.max() <= 1


def test_view_names_every_size_and_the_run():
    rs = runs(run("unet", measured=(("large", ""),)), run("cnn", model="CNN"))
    v = large.view(None, large.MEASUREMENT.networks(rs))
    assert set(v) == {"run", *large.KEYS} and v["photos_256"]["size"] == 256 and v["horses_64"]["images"] == 0
    assert v["run"] == "unet" and large.view(None, ())["run"] == "n/a"


def test_chroma_only_keeps_the_full_size_lightness_and_the_small_colour():
    grey = torch.linspace(0.2, 0.8, 64).repeat(1, 1, 64, 1)  # a fine left-to-right ramp
    colour = torch.zeros(1, 3, 32, 32)
    colour[:, 2] = 0.8  # a flat blue at 32×32
    out = large.chroma_under_lightness(grey, colour)
    assert out.shape == (1, 3, 64, 64)
    from skimage.color import rgb2lab
    got = rgb2lab(out[0].permute(1, 2, 0).numpy())
    want = rgb2lab(grey[0].expand(3, -1, -1).permute(1, 2, 0).numpy())
    blue = rgb2lab(colour[0].permute(1, 2, 0).numpy())[0, 0]
    inside = (got[..., 0] > 25) & (got[..., 0] < 75)  # away from where the gamut clips the blue
    # lightness follows the big grey image's ramp; hue is the small image's blue
    assert abs(got[..., 0] - want[..., 0])[inside].mean() < 3.0
    assert (got[..., 2][inside] < 0).all() and blue[2] < 0


def test_every_way_has_accuracy_and_colour_difference():
    palette = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    rgb = torch.zeros(1, 3, 64, 64)
    rgb[:, 0] = 1.0
    res = large.colourize_large(Constant(1, 2), rgb, palette)
    assert res["de_direct"] == res["de_via32"] == 0.0  # all red, as the truth
    assert res["chroma"].shape == (1, 3, 64, 64) and res["de_chroma"] > 0  # grey's lightness is not red's
    v = large.view(None, ())
    assert {"acc_chroma", "de_chroma", "de_direct"} <= set(v["horses_64"])
