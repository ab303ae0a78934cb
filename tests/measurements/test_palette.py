"""Palette distances: RGB distance against CIEDE2000 over every pair of palette colours."""

import math

import numpy as np

from pa3report.measurements import palette


def test_three_greys_and_their_known_distances():
    grey = np.array([[0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5]], np.float32)
    d = palette.palette_distances(grey)
    assert np.allclose(sorted(d["rgb"]), sorted([math.sqrt(3), math.sqrt(0.75), math.sqrt(0.75)]), atol=1e-6)
    black_white = d["delta_e"][int(np.argmax(d["rgb"]))]
    assert math.isclose(black_white, 100.0, abs_tol=1e-4)
    assert d["correlation"] > 0.99  # greys: lightness is all there is


def test_view_band_around_the_median():
    v = palette.view({"rgb": [0.1, 0.5, 0.52, 0.9], "delta_e": [5.0, 20.0, 40.0, 60.0], "correlation": 0.9})
    assert (v["pairs"], v["band_count"], v["band_delta_e_min"], v["band_delta_e_max"]) == (4, 2, 20.0, 40.0)
    assert v["band_rgb"] == 0.51
    assert math.isnan(palette.view(None)["correlation"])
