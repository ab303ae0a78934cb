import numpy as np
import pytest
import torch
from skimage.color import rgb2lab

from pa3report.colour import LAB_SCALE, lab_loss, rebalance_weights, smoothed_distribution, srgb_to_lab

KNOWN = [(0, 0, 0), (1, 1, 1), (1, 0, 0), (0, 1, 0), (0, 0, 1), (0.5, 0.5, 0.5), (0.04045, 0.2, 0.9)]


def as_image(colours) -> torch.Tensor:
    """(K, 3) colours as a (1, 3, 1, K) image batch."""
    return torch.as_tensor(colours, dtype=torch.float64).T[None, :, None, :]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_lab_matches_skimage(dtype):
    g = torch.Generator().manual_seed(0)
    colours = torch.cat([torch.tensor(KNOWN, dtype=torch.float64), torch.rand(20, 3, generator=g, dtype=torch.float64)])
    rgb = as_image(colours)
    ours = srgb_to_lab(rgb.to(dtype)).double()[0, :, 0].T.numpy()
    ref = rgb2lab(colours.numpy()[None])[0]
    assert np.abs(ours - ref).max() < 1e-3
    assert np.allclose(ours[1], [100, 0, 0], atol=1e-2) and np.allclose(ours[0], 0, atol=1e-6)


def test_lab_along_another_axis():
    colours = torch.rand(5, 3, dtype=torch.float64)
    assert torch.allclose(srgb_to_lab(colours, dim=-1), srgb_to_lab(as_image(colours))[0, :, 0].T)


def test_lab_gradient_is_finite_everywhere():
    # 0, 1, both companding thresholds, and outside [0, 1] where an unclamped output can go
    values = torch.tensor([-0.5, -1e-6, 0.0, 1e-6, 0.04045, 0.0404, 0.5, 1.0 - 1e-6, 1.0, 1.5], dtype=torch.float64)
    grid = torch.cartesian_prod(values, values, values)  # every channel at every value
    rgb = as_image(grid).requires_grad_()
    lab_loss(rgb, torch.rand_like(rgb)).backward()
    assert torch.isfinite(rgb.grad).all() and rgb.grad.abs().sum() > 0
    x = as_image([(0.0, 0.0, 0.0), (1.0, 1.0, 1.0)]).requires_grad_()
    srgb_to_lab(x).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_lab_loss_scale():
    black, white = as_image([(0, 0, 0)]), as_image([(1, 1, 1)])
    assert float(lab_loss(white, white)) == 0.0
    # L differs by 100, a* and b* by ~0: the mean over the three channels is 100² / 3, over LAB_SCALE
    assert float(lab_loss(black, white)) == pytest.approx(100.0 ** 2 / 3 / LAB_SCALE, rel=1e-4)


PALETTE = torch.tensor([(0.9, 0.1, 0.1), (0.1, 0.8, 0.1), (0.1, 0.2, 0.9), (0.5, 0.5, 0.5)])


def test_weights_are_normalised_under_the_smoothed_distribution():
    counts = torch.tensor([700, 50, 20, 230])
    for lam, sigma in [(0.5, 5.0), (0.1, 20.0), (0.9, 1.0)]:
        w = rebalance_weights(counts, PALETTE, lam, sigma)
        p = smoothed_distribution(counts, PALETTE, sigma)
        assert float((p * w).sum()) == pytest.approx(1.0, abs=1e-12)
        assert torch.isfinite(w).all() and (w > 0).all()


def test_rarer_colours_weigh_more():
    counts = torch.tensor([700, 50, 20, 230])
    w = rebalance_weights(counts, PALETTE)
    assert w[2] > w[1] > w[3] > w[0]
    assert w[0] < 1 < w[2]


def test_lam_one_gives_equal_weights():
    w = rebalance_weights(torch.tensor([700, 50, 20, 230]), PALETTE, lam=1.0)
    assert torch.allclose(w, torch.ones(4, dtype=torch.float64))


def test_smoothing_shares_mass_between_close_colours_only():
    close = torch.tensor([(0.8, 0.2, 0.2), (0.8, 0.22, 0.2), (0.1, 0.2, 0.9)])
    p = smoothed_distribution(torch.tensor([100, 0, 100]), close, sigma=5.0)
    assert p[1] > 0.2 and float(p[0] + p[1]) == pytest.approx(0.5)  # the twin of colour 0 gets a share
    assert float(p[2]) == pytest.approx(0.5)  # a distant colour neither gives nor takes
    sharp = smoothed_distribution(torch.tensor([100, 0, 100]), close, sigma=1e-3)
    assert torch.allclose(sharp, torch.tensor([0.5, 0.0, 0.5], dtype=torch.float64))


def test_bad_arguments():
    with pytest.raises(ValueError, match="lam"):
        rebalance_weights(torch.tensor([1, 2, 3, 4]), PALETTE, lam=0.0)
    with pytest.raises(ValueError, match="one non-negative count per palette colour"):
        rebalance_weights(torch.tensor([1, 2, 3]), PALETTE)
