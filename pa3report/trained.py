"""Trained networks read back from the cache, and what measurements do with them."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from .config import from_record
from .models import build_model
from .train import to_rgb
from .store import RunResult


def load_model(result: RunResult, num_colours: int) -> nn.Module:
    """The trained network of a cached run, in eval mode on the CPU."""
    e = from_record(result.meta.experiment)
    model = build_model(e.model, e.kernel, e.num_filters, e.in_channels, num_colours, head=e.head, skips=e.skips)
    model.load_state_dict(result.weights())
    return model.eval()


@torch.inference_mode()
def predict_rgb(model: nn.Module, head: str, x: torch.Tensor, palette: torch.Tensor,
                batch: int = 250) -> torch.Tensor:
    """Colours out: an "rgb" head's clamped output, or a "palette" head's most likely colour."""
    outs = []
    for i in range(0, len(x), batch):
        out = model(x[i:i + batch])
        outs.append(to_rgb(head, out, palette))
    return torch.cat(outs)


def psnr(pred: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean PSNR (dB) per image of colours in [0, 1]."""
    mse = ((pred - truth) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    return float((10 * torch.log10(1.0 / mse)).mean())


def lab(rgb: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) RGB in [0, 1] -> (N, H, W, 3) CIELAB."""
    from skimage.color import rgb2lab
    return rgb2lab(rgb.permute(0, 2, 3, 1).clamp(0, 1).numpy())


def delta_e2000(pred: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean CIEDE2000 colour difference per pixel: distance as the eye sees it, which RGB
    squared error is not (a dark error and a bright one of the same size look different)."""
    from skimage.color import deltaE_ciede2000
    return float(np.mean(deltaE_ciede2000(lab(pred), lab(truth))))
