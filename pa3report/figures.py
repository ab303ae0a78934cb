"""Every picture in the report: pure functions from data to a PNG file at a given path.

Plots use matplotlib (Agg) under one style; image mosaics (mosaics.py) share its colours.
Nothing here knows about runs or the cache: callers pass tensors and tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

# One look for everything: colours per series, font, background.
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f")
# Past the tenth series, colours repeat with a marker on the line, so every series stays distinct.
MARKERS = (None, "s", "^", "D", "v")


def series_look(i: int) -> tuple[str, str | None]:
    """(colour, line marker) of the i-th series of a plot."""
    return COLOURS[i % len(COLOURS)], MARKERS[(i // len(COLOURS)) % len(MARKERS)]


STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
}
# What each curve panel plots: (columns with their line styles, y label, title).
PANELS: dict[str, tuple[tuple[tuple[str, str], ...], str, str]] = {
    "loss": ((("train_loss", "--"), ("val_loss", "-")), "loss", "Loss (dashed: train, solid: validation)"),
    "val_acc": ((("val_acc", "-"),), "accuracy (%)", "Validation pixel accuracy"),
    "val_mse": ((("val_mse", "-"),), "MSE (RGB, [0, 1])", "Validation colour error"),
}


@dataclass(frozen=True)
class Series:
    """One run's per-epoch history under the label shown in the legend."""

    label: str
    history: pd.DataFrame
    others: tuple[pd.DataFrame, ...] = ()  # the same run with other seeds: drawn as a band


# --------------------------------------------------------------------------- helpers


def _pyplot():
    """pyplot on the Agg backend, imported only when a plot is actually drawn."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata={"Software": None}, bbox_inches="tight", pad_inches=0.1)
    _pyplot().close(fig)


# --------------------------------------------------------------------------- plots


def seed_stack(series: Series, column: str) -> np.ndarray:
    """(seeds, epochs) values of one column over the seeds whose history is as long as the first's."""
    h = series.history
    return np.array([o[column].to_numpy(dtype=float) for o in (h, *series.others) if len(o) == len(h)])


def _covered(stack: np.ndarray, drawn: list[np.ndarray]) -> bool:
    """Whether a band already drawn passes through these same values (a shorter run of the same
    trajectories, drawn after the longer one): stacking translucent bands would darken it."""
    return any(d.shape[0] == stack.shape[0] and d.shape[1] >= stack.shape[1]
               and np.array_equal(d[:, :stack.shape[1]], stack) for d in drawn)


def curves(path: Path, series: Sequence[Series], panels: Sequence[str], title: str | None = None) -> None:
    """Per-epoch curves, one panel per metric, one colour per run; a dot marks each run's end.

    A run with several seeds is drawn as the mean over its seeds, with the range of the seeds
    shaded around the solid (validation) line, so seed noise is visible next to each gap.
    Longer runs are drawn first so a shorter run that shares their trajectory shows on top.
    """
    plt = _pyplot()
    order = sorted(range(len(series)), key=lambda i: -len(series[i].history))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.4), squeeze=False)
        for ax, panel in zip(axes[0], panels):
            columns, ylabel, ptitle = PANELS[panel]
            bands: list[np.ndarray] = []
            for i in order:
                s = series[i]
                colour, marker = series_look(i)
                epochs = s.history["epoch"].to_numpy()
                for col, style in columns:
                    stack = seed_stack(s, col)
                    mean = stack.mean(axis=0)
                    if len(stack) > 1 and style == "-" and not _covered(stack, bands):
                        bands.append(stack)
                        ax.fill_between(epochs, stack.min(axis=0), stack.max(axis=0), color=colour,
                                        alpha=0.15, linewidth=0)
                    ax.plot(epochs, mean, linestyle=style, color=colour,
                            label=s.label if style == "-" else None,
                            marker="o" if len(epochs) == 1 else marker, markersize=4,
                            markevery=max(1, len(epochs) // 6))
                    ax.plot(epochs[-1:], mean[-1:], "o", color=colour, markersize=4)
            ax.set_xlabel("epoch")
            ax.set_ylabel(ylabel)
            ax.set_title(ptitle)
            ax.xaxis.get_major_locator().set_params(integer=True)
        handles, labels = axes[0][0].get_legend_handles_labels()
        by_label = dict(zip(labels, handles))
        ordered = [s.label for s in series if s.label in by_label]
        if title:
            fig.suptitle(title, fontsize=12)
        fig.tight_layout(pad=0.4)
        fig.legend([by_label[k] for k in ordered], ordered, loc="upper center",
                   ncol=min(len(ordered), 4), bbox_to_anchor=(0.5, 0.0))
        _save_figure(fig, path)


def colour_pairs(path: Path, pairs: Sequence[tuple[str, Sequence[float], Sequence[float]]],
                 per_row: int = 4) -> None:
    """Swatches of colour pairs side by side, each pair captioned (the caption may have two lines)."""
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    rows = math.ceil(len(pairs) / per_row)
    cols = min(per_row, len(pairs))
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(2.3 * cols, 1.9 * rows))
        for i, (label, a, b) in enumerate(pairs):
            r, c = divmod(i, per_row)
            x, y = c * 1.25, (rows - 1 - r) * 1.6
            ax.add_patch(Rectangle((x, y + 0.6), 0.5, 0.8, color=np.clip(a, 0, 1)))
            ax.add_patch(Rectangle((x + 0.5, y + 0.6), 0.5, 0.8, color=np.clip(b, 0, 1)))
            ax.text(x + 0.5, y + 0.5, label, ha="center", va="top", fontsize=9, linespacing=1.3)
        ax.set_xlim(-0.1, 1.25 * cols)
        ax.set_ylim(-0.1, 1.6 * rows)
        ax.axis("off")
        _save_figure(fig, path)


def distance_scatter(path: Path, rgb: Sequence[float], delta_e: Sequence[float], correlation: float) -> None:
    """Perceived difference (CIEDE2000) against RGB distance for every pair of palette colours."""
    plt = _pyplot()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(5.2, 3.6))
        ax.scatter(rgb, delta_e, s=10, alpha=0.6, color=COLOURS[0], linewidths=0)
        ax.set_xlabel("RGB distance (values in [0, 1])")
        ax.set_ylabel("ΔE (CIEDE2000)")
        ax.set_title(f"{len(rgb)} palette colour pairs, correlation r = {correlation:.2f}")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        fig.tight_layout(pad=0.4)
        _save_figure(fig, path)


@dataclass(frozen=True)
class SweepPoint:
    """One setting's value in the sweep plot: mean and spread of val accuracy over its seeds."""

    label: str
    mean: float
    sd: float  # NaN with a single seed
    baseline: bool = False


def sweep(path: Path, panels: Sequence[tuple[str, Sequence[SweepPoint]]], baseline: SweepPoint,
          ylabel: str) -> None:
    """One small panel per hyper-parameter, its values on the x axis; the baseline's mean is a
    dashed line and its seed spread (± one standard deviation) a grey band in every panel."""
    plt = _pyplot()
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    points = [p for _, pts in panels for p in pts]
    lows = [p.mean - (p.sd if math.isfinite(p.sd) else 0) for p in points if math.isfinite(p.mean)]
    highs = [p.mean + (p.sd if math.isfinite(p.sd) else 0) for p in points if math.isfinite(p.mean)]
    pad = 0.08 * (max(highs) - min(lows)) + 0.2 if lows else 1.0
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(rows, cols, figsize=(3.5 * cols, 2.9 * rows), squeeze=False, sharey=True)
        for ax in axes.flat[len(panels):]:
            ax.axis("off")
        for ax, (title, pts) in zip(axes.flat, panels):
            if math.isfinite(baseline.mean):
                ax.axhline(baseline.mean, color="#555555", linestyle="--", linewidth=1)
                if math.isfinite(baseline.sd):
                    ax.axhspan(baseline.mean - baseline.sd, baseline.mean + baseline.sd, color="#999999",
                               alpha=0.18, linewidth=0)
            for x, p in enumerate(pts):
                colour = "#555555" if p.baseline else COLOURS[0]
                ax.errorbar([x], [p.mean], yerr=[p.sd] if math.isfinite(p.sd) else None, fmt="o",
                            color=colour, markersize=6, capsize=3)
            ax.set_xticks(range(len(pts)), [p.label for p in pts], fontsize=8.5)
            ax.set_xlim(-0.6, len(pts) - 0.4)
            ax.set_title(title)
            ax.grid(axis="x", visible=False)
        if lows:
            axes[0][0].set_ylim(min(lows) - pad, max(highs) + pad)
        for r in range(rows):
            axes[r][0].set_ylabel(ylabel)
        fig.tight_layout(pad=0.5)
        _save_figure(fig, path)


def palette_swatch(path: Path, colours: np.ndarray) -> None:
    """The palette as numbered colour cells (class index above each)."""
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    k = len(colours)
    per_row = 12
    rows = math.ceil(k / per_row)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(0.62 * per_row, 0.75 * rows + 0.1))
        for i, c in enumerate(colours):
            r, col = divmod(i, per_row)
            ax.add_patch(Rectangle((col, rows - r - 1), 0.92, 0.7, color=np.clip(c, 0, 1)))
            ax.text(col + 0.46, rows - r - 0.22, str(i), ha="center", va="bottom", fontsize=8)
        ax.set_xlim(-0.05, per_row)
        ax.set_ylim(-0.05, rows + 0.05)
        ax.axis("off")
        _save_figure(fig, path)


def architecture_diagram(path: Path, blocks: Sequence[tuple[str, tuple[int, int, int]]],
                         sources: dict[str, tuple[str, ...]], input_shape: tuple[int, int, int]) -> None:
    """Blocks left to right, box height following the feature map size; skips arc above."""
    plt = _pyplot()
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    nodes = [("input", input_shape), *blocks]
    x_of = {name: i * 1.6 for i, (name, _) in enumerate(nodes)}
    with plt.rc_context(STYLE):
        has_skips = any(len(s) > 1 for s in sources.values())
        fig, ax = plt.subplots(figsize=(1.45 * len(nodes), 3.3 if has_skips else 2.2))
        for name, (c, h, w) in nodes:
            height = 0.35 + 1.2 * h / 32
            x = x_of[name]
            face = "#eef3fb" if name != "input" else "#f4f4f4"
            ax.add_patch(FancyBboxPatch((x - 0.55, -height / 2), 1.1, height,
                                        boxstyle="round,pad=0.03", fc=face, ec="#4a6fa5"))
            ax.text(x, 0.02, name, ha="center", va="bottom", fontsize=8.5, weight="bold")
            ax.text(x, -0.02, f"{c}×{h}×{w}", ha="center", va="top", fontsize=8)
        for i in range(len(nodes) - 1):
            a, b = nodes[i][0], nodes[i + 1][0]
            ax.add_patch(FancyArrowPatch((x_of[a] + 0.58, 0), (x_of[b] - 0.58, 0),
                                         arrowstyle="-|>", mutation_scale=10, color="#333333"))
        for name, srcs in sources.items():
            for src in srcs[1:]:
                ax.add_patch(FancyArrowPatch((x_of[src], 0.85), (x_of[name], 0.85),
                                             connectionstyle="arc3,rad=-0.25", arrowstyle="-|>",
                                             mutation_scale=10, color=COLOURS[1], linestyle="--"))
        spans = [abs(x_of[name] - x_of[src]) for name, srcs in sources.items() for src in srcs[1:]]
        top = 0.85 + 0.125 * max(spans) + 0.15 if spans else 1.0  # an arc3 peaks at rad/2 of its span
        ax.set_xlim(-0.8, x_of[nodes[-1][0]] + 0.8)
        ax.set_ylim(-1.0, top)
        ax.axis("off")
        _save_figure(fig, path)


@dataclass(frozen=True)
class HeatPanel:
    """One gradient map: shares of the total per input pixel, the output pixel it is for, that
    pixel's receptive field (top, bottom, left, right: first and last rows and columns) and
    squares (fraction of the gradient, radius) to mark around the output pixel."""

    title: str
    share: np.ndarray
    centre: tuple[int, int]
    box: tuple[int, int, int, int]
    squares: tuple[tuple[float, int], ...] = ()


def gradient_maps(path: Path, panels: Sequence[HeatPanel]) -> None:
    """Heat maps side by side on a logarithmic scale (three decades), the receptive field dashed
    and each marked square solid around the output pixel (a white cross)."""
    plt = _pyplot()
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle

    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2), squeeze=False)
        for ax, p in zip(axes[0], panels):
            peak = float(np.max(p.share)) if np.max(p.share) > 0 else 1.0
            shown = np.where(p.share > 0, p.share, np.nan)
            cmap = plt.get_cmap("magma").with_extremes(bad="#000000")
            im = ax.imshow(shown, cmap=cmap, norm=LogNorm(vmin=peak / 1000, vmax=peak), interpolation="nearest")
            top_row, bottom, left, right = p.box
            height, width = bottom - top_row + 1, right - left + 1
            ax.add_patch(Rectangle((left - 0.5, top_row - 0.5), width, height, fill=False, ec=COLOURS[7],
                                   ls="--", lw=1.6, label=f"receptive field {width}×{height}"))
            for (fraction, r), colour in zip(p.squares, (COLOURS[2], COLOURS[8], COLOURS[6])):
                ax.add_patch(Rectangle((p.centre[1] - r - 0.5, p.centre[0] - r - 0.5), 2 * r + 1, 2 * r + 1,
                                       fill=False, ec=colour, lw=1.6,
                                       label=f"{fraction:.0%} of the gradient: {2 * r + 1}×{2 * r + 1}"))
            ax.plot([p.centre[1]], [p.centre[0]], "+", color="#ffffff", markersize=9, mew=1.6)
            h, w = p.share.shape
            ax.set_xlim(min(left, 0) - 1, max(right, w - 1) + 1)
            ax.set_ylim(max(bottom, h - 1) + 1, min(top_row, 0) - 1)
            ax.set_title(p.title)
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), fontsize=8)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label="share of |gradient|")
        fig.tight_layout(pad=0.5)
        _save_figure(fig, path)


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG header, without decoding the image."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG file")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
