"""Large inputs: whole-image and via-32 colourization, checked with a network of known output."""

import torch
import torch.nn as nn

from pa3report.measurements import large


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


def test_view_names_every_size():
    v = large.view(None)
    assert set(v) == set(large.KEYS) and v["photos_256"]["size"] == 256 and v["horses_64"]["images"] == 0
