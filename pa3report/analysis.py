"""Measurements on trained networks that answer questions a loss curve cannot.

Each function takes models, images and the palette and returns plain numbers (and a
few small images for figures); `compute` runs them all over cached results and keeps
the outcome under build/analysis/, keyed by the runs' fingerprints and this source.
"""

from __future__ import annotations

import copy
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import data as data_mod
from .models import build_model
from .store import RunResult, atomic_write, digest, sha256_bytes, torch_bytes, torch_load

ANALYSIS_SOURCE = Path(__file__)


# --------------------------------------------------------------------------- helpers


def load_model(result: RunResult, num_colours: int) -> nn.Module:
    """The trained network of a cached run, in eval mode on the CPU."""
    e = result.meta["experiment"]
    in_channels = 3 if e["task"] == "super_resolution" else 1
    model = build_model(e["model"], e["kernel"], e["num_filters"], in_channels, num_colours)
    model.load_state_dict(result.weights())
    return model.eval()


@torch.inference_mode()
def predict_rgb(model: nn.Module, task: str, x: torch.Tensor, palette: torch.Tensor,
                batch: int = 250) -> torch.Tensor:
    outs = []
    for i in range(0, len(x), batch):
        out = model(x[i:i + batch])
        outs.append(out.clamp(0, 1) if task == "regression" else data_mod.decode(out.argmax(1), palette))
    return torch.cat(outs)


def _lab(rgb: torch.Tensor) -> np.ndarray:
    from skimage.color import rgb2lab
    return rgb2lab(rgb.permute(0, 2, 3, 1).clamp(0, 1).numpy())


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


# --------------------------------------------------------------------------- 1.4 / 1.5


def colour_pairs(step: float = 0.15) -> list[dict[str, Any]]:
    """Colour pairs the same RGB distance apart whose perceived difference (CIEDE2000) is not."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    pairs = [
        ("dark grey, +blue", (0.1, 0.1, 0.1), (0.1, 0.1, 0.1 + step)),
        ("dark grey, +green", (0.1, 0.1, 0.1), (0.1, 0.1 + step, 0.1)),
        ("mid grey, +blue", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5 + step)),
        ("mid grey, +green", (0.5, 0.5, 0.5), (0.5, 0.5 + step, 0.5)),
        ("light grey, +blue", (0.85, 0.85, 0.85), (0.85, 0.85, 0.85 - step)),
        ("brown, +red", (0.45, 0.3, 0.15), (0.45 + step, 0.3, 0.15)),
        ("brown, +green", (0.45, 0.3, 0.15), (0.45, 0.3 + step, 0.15)),
        ("sky blue, +red", (0.4, 0.6, 0.85), (0.4 + step, 0.6, 0.85)),
    ]
    rows = []
    for label, a, b in pairs:
        la, lb = (rgb2lab(np.array([[c]], dtype=np.float64))[0, 0] for c in (a, b))
        rows.append({"pair": label, "rgb_a": a, "rgb_b": b,
                     "rgb_distance": float(np.linalg.norm(np.subtract(a, b))),
                     "delta_e": float(deltaE_ciede2000(la, lb))})
    return rows


def palette_distances(palette: np.ndarray) -> dict[str, Any]:
    """RGB distance against CIEDE2000 for every pair of palette colours."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    lab = rgb2lab(palette[None].astype(np.float64))[0]
    i, j = np.triu_indices(len(palette), 1)
    rgb_d = np.linalg.norm(palette[i] - palette[j], axis=1)
    de = deltaE_ciede2000(lab[i], lab[j])
    return {"rgb": rgb_d.tolist(), "delta_e": de.tolist(),
            "correlation": float(np.corrcoef(rgb_d, de)[0, 1])}


# CIELAB chroma above which a pixel reads as clearly coloured rather than greyish or tinted.
VIVID_CHROMA = 20.0


def colourfulness(rgb: torch.Tensor) -> dict[str, float]:
    """Mean CIELAB chroma and HSV saturation: how vivid a set of images is; and the share (%) of
    clearly coloured pixels, which tells a mild tint everywhere (the regression's sepia) from
    strong colours where they belong: both can have the same mean chroma."""
    lab = _lab(rgb)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    mx, mn = rgb.max(dim=1).values, rgb.min(dim=1).values
    saturation = torch.where(mx > 0, (mx - mn) / mx.clamp_min(1e-8), torch.zeros_like(mx))
    return {"chroma": float(chroma.mean()), "saturation": float(saturation.mean()),
            "vivid": 100.0 * float((chroma > VIVID_CHROMA).mean())}


# --------------------------------------------------------------------------- 4.2


def image_quality(pred: torch.Tensor, truth: torch.Tensor, palette: torch.Tensor) -> dict[str, float]:
    """PSNR and SSIM of decoded colours against the originals, and palette accuracy (%)."""
    from skimage.metrics import structural_similarity

    mse = ((pred - truth) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    psnr = (10 * torch.log10(1.0 / mse)).mean()
    p, t = pred.permute(0, 2, 3, 1).numpy(), truth.permute(0, 2, 3, 1).numpy()
    ssim = np.mean([structural_similarity(a, b, channel_axis=2, data_range=1.0) for a, b in zip(p, t)])
    acc = (data_mod.quantize(pred, palette) == data_mod.quantize(truth, palette)).float().mean()
    return {"psnr": float(psnr), "ssim": float(ssim), "palette_acc": 100.0 * float(acc)}


# --------------------------------------------------------------------------- 6.2


def swap_relu_maxpool(model: nn.Module) -> nn.Module:
    """A copy with MaxPool moved before ReLU in every down block, same weights."""
    swapped = copy.deepcopy(model)
    for name in ("downconv1", "downconv2"):
        block = getattr(swapped, name)
        layers = list(block)
        kinds = [type(layer) for layer in layers]
        r, p = kinds.index(nn.ReLU), kinds.index(nn.MaxPool2d)
        layers[r], layers[p] = layers[p], layers[r]
        setattr(swapped, name, nn.Sequential(*layers))
    return swapped


def _median_ms(fn: Callable[[], None], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def relu_maxpool_order(model: nn.Module, x: torch.Tensor, repeats: int = 5) -> dict[str, float]:
    """Outputs and cost of ReLU->MaxPool against MaxPool->ReLU on the same weights."""
    swapped = swap_relu_maxpool(model)
    out: dict[str, float] = {}
    for mode in ("eval", "train"):
        for m in (model, swapped):
            m.train(mode == "train")
        with torch.no_grad():
            a, b = model(x), swapped(x)
        out[f"max_abs_diff_{mode}"] = float((a - b).abs().max())
    model.eval(), swapped.eval()

    def timed(m: nn.Module, backward: bool) -> float:
        def step() -> None:
            if backward:
                m.zero_grad()
                m(x).square().mean().backward()
            else:
                with torch.no_grad():
                    m(x)
        return _median_ms(step, repeats)

    out["relu_then_pool_forward_ms"] = timed(model, False)
    out["pool_then_relu_forward_ms"] = timed(swapped, False)
    out["relu_then_pool_train_step_ms"] = timed(model, True)
    out["pool_then_relu_train_step_ms"] = timed(swapped, True)
    return out


# --------------------------------------------------------------------------- 6.3


def receptive_field(model: nn.Module, in_channels: int, size: int = 96) -> int:
    """Width of the input region that can change the centre output pixel (measured)."""
    x = torch.randn(1, in_channels, size, size, requires_grad=True)
    model.eval()
    out = model(x)
    out[0, :, size // 2, size // 2].sum().backward()
    cols = torch.nonzero(x.grad[0].abs().sum(0).sum(0))
    return int(cols.max() - cols.min() + 1) if len(cols) else 0


def sample_photos(size: int) -> torch.Tensor:
    """Square centre crops of the photographs scikit-learn ships, resized to `size`."""
    from sklearn.datasets import load_sample_images

    photos = []
    for image in load_sample_images().images:
        t = torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255.0
        side = min(t.shape[1:])
        top, left = (t.shape[1] - side) // 2, (t.shape[2] - side) // 2
        crop = t[:, top:top + side, left:left + side][None]
        photos.append(F.interpolate(crop, size=(size, size), mode="area")[0])
    return torch.stack(photos)


@torch.inference_mode()
def colourize_large(model: nn.Module, rgb: torch.Tensor, palette: torch.Tensor) -> dict[str, Any]:
    """Greyscale in, colours out at the image's own size, and the 32x32 detour for comparison."""
    grey = data_mod.greyscale(rgb)
    direct = data_mod.decode(model(grey).argmax(1), palette)
    size = rgb.shape[-1]
    small = F.interpolate(grey, size=(32, 32), mode="area")
    via32 = F.interpolate(data_mod.decode(model(small).argmax(1), palette), size=(size, size), mode="nearest")
    truth_cls = data_mod.quantize(rgb, palette)
    acc = lambda img: 100.0 * float((data_mod.quantize(img, palette) == truth_cls).float().mean())
    return {"grey": grey, "truth": rgb, "direct": direct, "via32": via32,
            "acc_direct": acc(direct), "acc_via32": acc(via32)}


# --------------------------------------------------------------------------- all of it


# The runs `_compute` reads, by measurement: every seed of a group, or one named run.
# The report passes only these (so a new sweep run does not invalidate the cache) and
# marks a measurement as pending while one of them is missing.
GROUPS_READ: dict[str, tuple[str, ...]] = {
    "colourfulness": ("p1_regression", "p2_cnn", "p3_unet"),
    "sr_quality": ("p4_sr_cnn", "p4_sr_unet"),
}
RUNS_READ: dict[str, tuple[str, ...]] = {
    "relu_maxpool": ("p1_regression",),
    "receptive_field": ("p2_cnn", "p3_unet"),
    "large": ("p3_unet",),
}


def _cache_path(results: dict[str, RunResult], data_identity: str, palette: np.ndarray,
                cache_dir: Path) -> Path:
    key = digest({"runs": sorted((n, r.fingerprint) for n, r in results.items()),
                  "data": data_identity,
                  "palette": sha256_bytes(np.asarray(palette, np.float32).tobytes()),
                  "code": sha256_bytes(ANALYSIS_SOURCE.read_bytes())})
    return cache_dir / f"analysis-{key[:16]}.pt"


def cached(results: dict[str, RunResult], data_identity: str, palette: np.ndarray,
           cache_dir: Path) -> dict[str, Any] | None:
    """The stored outcome of `compute` for exactly these inputs, or None (never computes)."""
    path = _cache_path(results, data_identity, palette, cache_dir)
    if path.is_file():
        try:
            return torch_load(path.read_bytes())
        except Exception:
            return None  # damaged: `compute` redoes it
    return None


def compute(results: dict[str, RunResult], data_identity: str, load_test: Callable[[], torch.Tensor],
            palette: np.ndarray, cache_dir: Path) -> dict[str, Any]:
    """Every measurement the report uses, cached by the runs, the data, the palette and this code.

    load_test is only called (to read the test images) when nothing is cached.
    """
    hit = cached(results, data_identity, palette, cache_dir)
    if hit is not None:
        return hit
    out = _compute(results, load_test(), palette)
    atomic_write(_cache_path(results, data_identity, palette, cache_dir), torch_bytes(out))
    return out


def _by_group(results: dict[str, RunResult], prefix: str) -> list[RunResult]:
    return [r for n, r in sorted(results.items())
            if r.meta["experiment"].get("group", n) == prefix or n == prefix]


def _compute(results: dict[str, RunResult], horses_test: torch.Tensor, palette_np: np.ndarray) -> dict[str, Any]:
    torch.manual_seed(0)
    palette = torch.from_numpy(np.asarray(palette_np, np.float32))
    k = len(palette)
    truth = data_mod.to_unit(horses_test)
    grey = data_mod.greyscale(truth)
    out: dict[str, Any] = {"test_images": len(truth), "colour_pairs": colour_pairs(),
                           "palette_distances": palette_distances(np.asarray(palette_np))}

    # 1.4 / 1.5: how colourful are the predictions of each objective?
    vivid: dict[str, Any] = {"ground truth": colourfulness(truth),
                             "ground truth on the palette": colourfulness(data_mod.decode(data_mod.quantize(truth, palette), palette))}
    for group, task in (("p1_regression", "regression"), ("p2_cnn", "colourization"), ("p3_unet", "colourization")):
        runs = _by_group(results, group)
        if runs:
            per_seed = [colourfulness(predict_rgb(load_model(r, k), task, grey, palette)) for r in runs]
            vivid[group] = {m: mean_std([s[m] for s in per_seed]) for m in ("chroma", "saturation", "vivid")}
            vivid[group]["seeds"] = len(per_seed)
    out["colourfulness"] = vivid

    # 4.2: super-resolution quality on the whole test set.
    sr_in = data_mod.super_resolution_input(truth)
    quality: dict[str, Any] = {
        "nearest (network input)": image_quality(sr_in, truth, palette),
        "bilinear": image_quality(data_mod.bilinear_baseline(truth).clamp(0, 1), truth, palette),
        "bicubic": image_quality(data_mod.bicubic_baseline(truth), truth, palette),
        "palette ceiling": image_quality(data_mod.decode(data_mod.quantize(truth, palette), palette), truth, palette),
    }
    for group in ("p4_sr_cnn", "p4_sr_unet"):
        runs = _by_group(results, group)
        if runs:
            per_seed = [image_quality(predict_rgb(load_model(r, k), "super_resolution", sr_in, palette), truth, palette)
                        for r in runs]
            quality[group] = {m: mean_std([s[m] for s in per_seed]) for m in ("psnr", "ssim", "palette_acc")}
            quality[group]["seeds"] = len(per_seed)
    out["sr_quality"] = quality

    # 6.2: ReLU and max-pooling in either order on the trained regression network.
    if "p1_regression" in results:
        model = load_model(results["p1_regression"], k)
        out["relu_maxpool"] = relu_maxpool_order(model, grey[:100].contiguous())

    # 6.3: larger inputs through the fully convolutional UNet.
    if "p3_unet" in results:
        model = load_model(results["p3_unet"], k)
        out["receptive_field"] = {name: receptive_field(load_model(results[name], k), 1)
                                  for name in ("p2_cnn", "p3_unet") if name in results}
        large: dict[str, Any] = {}
        horses = truth[:4]
        for size in (32, 64, 128):
            up = horses if size == 32 else F.interpolate(horses, size=(size, size), mode="bicubic",
                                                         align_corners=False).clamp(0, 1)
            large[f"horses_{size}"] = colourize_large(model, up, palette)
        for size in (128, 256):
            large[f"photos_{size}"] = colourize_large(model, sample_photos(size), palette)
        out["large"] = {name: {**v, **{t: v[t].half() for t in ("grey", "truth", "direct", "via32")}}
                        for name, v in large.items()}
    return out

