"""Colour pairs: known CIEDE2000 differences, and the view answers read."""

import math

from pa3report.measurements import pairs


def test_known_differences():
    rows = pairs.colour_pairs([("black to white", (0, 0, 0), (1, 1, 1)), ("same", (0.3, 0.6, 0.9), (0.3, 0.6, 0.9))])
    assert math.isclose(rows[0]["delta_e"], 100.0, abs_tol=1e-6)  # L* 0 to 100, nothing else: ΔE00 = 100
    assert math.isclose(rows[0]["rgb_distance"], math.sqrt(3))
    assert rows[1]["delta_e"] == 0.0 and rows[1]["rgb_distance"] == 0.0


def test_the_handout_pairs_are_equally_far_in_rgb_but_not_in_perception():
    rows = pairs.colour_pairs()
    assert {round(r["rgb_distance"], 9) for r in rows} == {pairs.STEP}
    v = pairs.view(rows)
    assert v["count"] == len(pairs.PAIRS) and v["delta_e_max"] > 2 * v["delta_e_min"]
    assert v["most_visible"] == max(rows, key=lambda r: r["delta_e"])["pair"]


def test_view_before_anything_is_computed_names_every_field():
    v = pairs.view(None)
    assert v["count"] == 0 and math.isnan(v["delta_e_max"]) and v["least_visible"] == "n/a"
