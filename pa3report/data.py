"""Pure transforms from horse images to task tensors: greyscale, super-resolution input,
the k-means palette and quantization onto it.

Everything here changes what a run computes, so this module's source is part of every
run's fingerprint; reading files lives in cifar.py and is covered by the data's digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .cifar import Horses
from .errors import UserError

MAX_PIXEL = 256.0  # the handout divides by 256, not 255
NUM_COLOURS = 24
# Fixed test images (file order, before any seed shuffle) shown in every sample grid.
SAMPLE_COUNT = 8
GALLERY_COUNT = 3


# --------------------------------------------------------------------------- transforms


def to_unit(images: torch.Tensor) -> torch.Tensor:
    return images.float() / MAX_PIXEL


def shuffled(images: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return images[torch.randperm(len(images), generator=g)]


def greyscale(rgb: torch.Tensor) -> torch.Tensor:
    return rgb.mean(dim=1, keepdim=True)


def downsample(rgb: torch.Tensor) -> torch.Tensor:
    """Average-pool 2x2 twice: 32x32 -> 8x8."""
    return F.avg_pool2d(F.avg_pool2d(rgb, 2), 2)


def super_resolution_input(rgb: torch.Tensor) -> torch.Tensor:
    """8x8 content shown at full size by nearest-neighbour upsampling x2 twice."""
    small = downsample(rgb)
    return F.interpolate(F.interpolate(small, scale_factor=2, mode="nearest"), scale_factor=2, mode="nearest")


def bilinear_baseline(rgb: torch.Tensor) -> torch.Tensor:
    return F.interpolate(downsample(rgb), scale_factor=4, mode="bilinear", align_corners=False)


def bicubic_baseline(rgb: torch.Tensor) -> torch.Tensor:
    up = F.interpolate(downsample(rgb), scale_factor=4, mode="bicubic", align_corners=False)
    return up.clamp(0.0, 1.0)


def quantize(rgb: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """Index of the nearest palette colour (RGB distance) for every pixel: (N, H, W) long."""
    pixels = rgb.permute(0, 2, 3, 1).reshape(-1, 3).float()
    dist = torch.cdist(pixels, palette.float(), compute_mode="donot_use_mm_for_euclid_dist")
    return dist.argmin(dim=1).reshape(rgb.shape[0], rgb.shape[2], rgb.shape[3])


def decode(classes: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """Palette lookup: (N, H, W) classes -> (N, 3, H, W) colours."""
    return palette[classes].permute(0, 3, 1, 2)


def fit_palette(train_rgb: torch.Tensor, k: int = NUM_COLOURS, seed: int = 0,
                max_pixels: int = 200_000) -> np.ndarray:
    """k-means cluster centres of a seeded sample of training pixels, sorted for stability."""
    from sklearn.cluster import KMeans

    pixels = train_rgb.permute(0, 2, 3, 1).reshape(-1, 3).numpy().astype(np.float64)
    rng = np.random.default_rng(seed)
    if len(pixels) > max_pixels:
        pixels = pixels[rng.choice(len(pixels), size=max_pixels, replace=False)]
    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(pixels)
    centres = km.cluster_centers_.astype(np.float32)
    order = np.lexsort((centres[:, 2], centres[:, 1], centres[:, 0]))
    return centres[order]


def read_palette(path: Path) -> np.ndarray:
    """A palette file in the handout's layout: np.load(f)[0] is (K, 3) in [0, 1]."""
    try:
        arr = np.load(path, allow_pickle=False)
        colours = np.asarray(arr[0], dtype=np.float32)
    except Exception as exc:
        raise UserError(
            f"{path}: cannot read the palette ({type(exc).__name__}: {exc}). Give a .npy "
            "holding a plain float array whose first element is the (24, 3) colour table.") from None
    if colours.ndim != 2 or colours.shape[1] != 3 or not 2 <= len(colours) <= 256 \
            or colours.min() < 0 or colours.max() > 1:
        raise UserError(
            f"{path}: the palette should be (K, 3) RGB values in [0, 1]; found shape "
            f"{colours.shape}. np.load(file)[0] must be the colour table.")
    return colours


# --------------------------------------------------------------------------- task tensors


@dataclass(frozen=True)
class TaskData:
    """Inputs and targets of one task on one seed, ready to live on the training device."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    rgb_val: torch.Tensor  # full-resolution ground truth, for decoded metrics
    sample_x: torch.Tensor  # the fixed sample images, seed independent
    sample_rgb: torch.Tensor
    palette: torch.Tensor


def task_inputs(task: str, rgb: torch.Tensor) -> torch.Tensor:
    return super_resolution_input(rgb) if task == "super_resolution" else greyscale(rgb)


def task_targets(head: str, rgb: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """What the network is trained towards: the RGB image itself for an "rgb" head (at full
    resolution, whatever the input), its palette classes for a "palette" head."""
    return rgb if head == "rgb" else quantize(rgb, palette)


def make_task_data(horses: Horses, palette: np.ndarray, task: str, head: str, seed: int,
                   train_images: int | None = None, val_images: int | None = None) -> TaskData:
    """The task decides the inputs (grey or the small image), the head the targets."""
    pal = torch.from_numpy(np.asarray(palette, dtype=np.float32))
    train = shuffled(to_unit(horses.train), seed)[:train_images]
    val = shuffled(to_unit(horses.test), seed)[:val_images]
    sample = to_unit(horses.test[:SAMPLE_COUNT])
    return TaskData(
        x_train=task_inputs(task, train), y_train=task_targets(head, train, pal),
        x_val=task_inputs(task, val), y_val=task_targets(head, val, pal),
        rgb_val=val, sample_x=task_inputs(task, sample), sample_rgb=sample, palette=pal)
