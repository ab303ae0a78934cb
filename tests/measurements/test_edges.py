"""Edges: accuracy at edges and flat regions, and colour boundaries, on hand-made class maps."""

import torch

from pa3report.measurements import edges


def halves() -> tuple[torch.Tensor, torch.Tensor]:
    """A grey image dark on the left, bright on the right, and its two-class truth."""
    grey = torch.zeros(1, 1, 8, 8)
    grey[..., 4:] = 1.0
    truth = torch.zeros(1, 8, 8, dtype=torch.long)
    truth[..., 4:] = 1
    return grey, truth


def test_masks_find_the_edge_columns():
    grey, _ = halves()
    edge, flat = edges.masks(grey)
    assert edge[0, :, 3:5].all() and not edge[0, :, :3].any() and not edge[0, :, 5:].any()
    assert flat[0, :, 0].all() and not flat[0, :, 3:5].any()


def test_a_perfect_map_and_a_shifted_one():
    grey, truth = halves()
    edge, flat = edges.masks(grey)
    perfect = edges.follow(truth, truth, edge, flat)
    assert perfect == {"acc_edge": 100.0, "acc_flat": 100.0, "edge_penalty": 0.0}
    shifted = torch.zeros_like(truth)
    shifted[..., 6:] = 1  # the colour change two pixels late: wrong at the edge (columns 4, 5)
    s = edges.follow(shifted, truth, edge, flat)
    assert s["acc_edge"] == 50.0
    assert abs(s["acc_flat"] - 100 * 5 / 6) < 1e-4  # flat: columns 0-2 and 5-7, one of them wrong
    assert abs(s["edge_penalty"] - (100 * 5 / 6 - 50.0)) < 1e-4
