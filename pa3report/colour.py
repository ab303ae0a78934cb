"""Colour science the losses need: sRGB -> CIELAB in torch, the Lab loss, and class rebalancing.

Pure functions of tensors. The Lab conversion is differentiable everywhere so it can sit
inside a loss; class weights follow Zhang, Isola & Efros, "Colorful Image Colorization"
(ECCV 2016), section 2.2.
"""

from __future__ import annotations

import torch

# sRGB (D65) linear RGB -> XYZ, and the D65 reference white (2° observer): skimage's values.
RGB_TO_XYZ = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
D65_WHITE = (0.95047, 1.0, 1.08883)
DELTA = 6.0 / 29.0  # where CIE's f(t) turns from linear to the cube root
# Squared Lab distances are ~100² times squared RGB ones (L runs 0..100): the Lab loss is
# divided by this so its magnitude, and a learning rate tuned for RGB MSE, stay comparable.
LAB_SCALE = 100.0 ** 2


def srgb_to_lab(rgb: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """CIE 1976 L*a*b* (D65) of sRGB colours in [0, 1], along `dim` (N, 3, H, W by default).

    Nothing is clamped: the linear pieces of sRGB companding and of CIE's f(t) carry on below
    zero and the power laws above one, so an out-of-range network output still gets a gradient
    that points back towards its target. Each nonlinear branch gets a base kept on its own side
    of the threshold, so the branch `where` discards cannot put an inf or NaN into the gradient.
    """
    c = rgb.movedim(dim, -1)
    power = ((c.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4
    linear = torch.where(c > 0.04045, power, c / 12.92)
    m = torch.tensor(RGB_TO_XYZ, dtype=c.dtype, device=c.device)
    white = torch.tensor(D65_WHITE, dtype=c.dtype, device=c.device)
    t = (linear @ m.T) / white
    f = torch.where(t > DELTA ** 3, t.clamp_min(DELTA ** 3) ** (1.0 / 3.0), t / (3 * DELTA ** 2) + 4.0 / 29.0)
    fx, fy, fz = f.unbind(-1)
    lab = torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=-1)
    return lab.movedim(-1, dim)


def lab_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared CIELAB difference of RGB outputs (unclamped) and RGB targets, over LAB_SCALE."""
    return (srgb_to_lab(outputs) - srgb_to_lab(targets)).square().mean() / LAB_SCALE


def smoothed_distribution(counts: torch.Tensor, palette: torch.Tensor, sigma: float = 5.0) -> torch.Tensor:
    """How often each palette colour occurs, smoothed over nearby colours (float64).

    Each colour's share of the training pixels is spread over the palette by a Gaussian of
    width sigma in the a*b* plane, normalised per source colour so no mass is created: the
    palette's analogue of blurring a histogram on a grid. counts: occurrences per colour;
    palette: (Q, 3) sRGB in [0, 1].
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    counts = counts.detach().double().cpu()
    if counts.shape != (len(palette),) or counts.sum() <= 0 or (counts < 0).any():
        raise ValueError("counts must be one non-negative count per palette colour, not all zero")
    ab = srgb_to_lab(palette.detach().double().cpu(), dim=-1)[:, 1:]
    kernel = torch.exp(-torch.cdist(ab, ab).square() / (2 * sigma ** 2))
    spread = kernel / kernel.sum(dim=0, keepdim=True)  # column r: where colour r's mass goes
    smoothed = spread @ (counts / counts.sum())
    return smoothed / smoothed.sum()


def rebalance_weights(counts: torch.Tensor, palette: torch.Tensor, lam: float = 0.5,
                      sigma: float = 5.0) -> torch.Tensor:
    """Per-colour loss weights that keep the common dull colours from dominating training.

    With p̃ the smoothed distribution of the training targets' colours, mixed with the uniform
    one: w ∝ 1 / ((1 − lam)·p̃ + lam/Q), scaled so that Σ p̃·w = 1 (a training pixel's expected
    weight is one). lam = 1 gives equal weights; smaller lam favours rare colours more. float64.
    """
    if not 0.0 < lam <= 1.0:
        raise ValueError(f"lam must be in (0, 1], got {lam}")
    p = smoothed_distribution(counts, palette, sigma)
    w = 1.0 / ((1.0 - lam) * p + lam / len(p))
    return w / (p * w).sum()
