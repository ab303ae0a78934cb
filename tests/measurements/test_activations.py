"""Activation statistics on maps with known sparsity and frequency content."""

import math

import torch

from pa3report.measurements import activations as act

from ..runkit import run, runs


def test_fine_share_of_smooth_and_checkerboard_maps():
    y, x = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    smooth = torch.cos(2 * math.pi * x / 32)[None, None]  # one cycle per image: coarse
    checker = ((x + y) % 2)[None, None]  # half a cycle per pixel: finer than an 8×8 map could hold
    assert act.detail_shares(smooth, 32) == (0.0, 0.0) or max(act.detail_shares(smooth, 32)) < 1e-6
    fine, finest = act.detail_shares(checker, 32)
    assert math.isnan(fine) and finest > 99.9  # all of it finer than the band every map holds
    assert all(map(math.isnan, act.detail_shares(torch.ones(1, 1, 4, 4), 32)))  # constant: no variation


def test_white_noise_reads_alike_at_every_map_size():
    """Detail a small map cannot hold must not make a large map look sharper."""
    g = torch.Generator().manual_seed(0)
    shares = [act.detail_shares(torch.randn(64, 8, n, n, generator=g), 32) for n in (8, 16, 32)]
    fine = [f for f, _ in shares]
    assert max(fine) - min(fine) < 3.0, shares
    assert shares[0][1] == 0.0 and shares[1][1] > 50.0  # an 8×8 map holds nothing finer; a 16×16 one does


def test_fine_share_is_on_the_input_scale_whatever_the_map_size():
    """The same pattern of a 32-pixel image, held by an 8×8, 16×16 or 32×32 map, reads the same."""
    for size in (8, 16, 32):
        x = torch.arange(float(size))[None, :].expand(size, size)
        three = torch.cos(2 * math.pi * 3 * x / size)[None, None]  # period 32/3 ≈ 10.7 input pixels: fine
        one = torch.cos(2 * math.pi * x / size)[None, None]  # period 32 input pixels: coarse
        assert act.detail_shares(three, 32)[0] > 99.9, size
        assert act.detail_shares(one, 32)[0] < 1e-6, size


def test_block_stats_count_zeros_and_dead_channels():
    a = torch.ones(2, 4, 8, 8)
    a[:, 0] = 0.0  # a channel that never fires
    a[0, 1, :4] = 0.0  # half of one image of another channel
    acts = {name: a for name in act.BLOCKS}
    s = act.block_stats(acts, 32)["rfconv"]
    assert s["dead"] == 25.0 and s["size"] == 8.0
    assert s["zero"] == 100.0 * (2 * 64 + 32) / (2 * 4 * 64)


def test_view_names_every_run_and_block():
    gallery = (("activations", ""),)
    rs = runs(run("p2_cnn", model="CNN", measured=gallery), run("p3_unet", measured=gallery), run("p3_unet_bs20"))
    v = act.view(None, act.MEASUREMENT.networks(rs))
    assert set(v) == {"images", "p2_cnn", "p3_unet"} and set(v["p3_unet"]) == set(act.BLOCKS) and v["images"] == 0
    assert math.isnan(v["p3_unet"]["downconv1"]["fine"])
