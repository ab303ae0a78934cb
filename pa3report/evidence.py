"""Each question's evidence, built from cached results only, as plain dicts for the template.

An item is a dict with a "kind" the template knows: figure, table, note, pending, gallery.
Figures go through FigureMaker, which keys every PNG by its inputs (run fingerprints,
the palette, this code) and redraws only what changed, so a fully cached report renders
without touching matplotlib.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import torch

from . import data as data_mod
from . import figures
from .architecture import Architecture, describe, from_json, to_json
from .config import SETTABLE, Experiment, RunSpec
from .outline import Evidence, Question
from .store import RunResult, atomic_write, digest

CODE_SALT = hashlib.sha256(b"".join(
    (Path(__file__).parent / m).read_bytes() for m in ("figures.py", "evidence.py", "architecture.py")
)).hexdigest()[:16]


# --------------------------------------------------------------------------- inputs


@dataclass
class RunInfo:
    """One experiment as this report sees it: its spec, its cached result (if any) and how it got there."""

    spec: RunSpec
    result: RunResult | None
    how: str  # "cached", "ran", "snapshot", "resumed" or "missing"
    _samples: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def experiment(self) -> Experiment:
        return self.spec.experiment

    @property
    def available(self) -> bool:
        return self.result is not None

    @property
    def primary(self) -> bool:
        """False for the extra seeds of an entry (NAME_s1, ...): figures show the first seed."""
        return self.experiment.base == self.name

    @property
    def fingerprint(self) -> str:
        return self.result.fingerprint if self.result else ""

    def samples(self) -> dict[str, Any]:
        """The fixed sample images, predictions and activations (read once)."""
        if self._samples is None:
            assert self.result is not None
            self._samples = self.result.samples()
        return self._samples


class FigureMaker:
    """Draws a figure only when no PNG for the same inputs is cached, and remembers where each lives."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.files: dict[str, Path] = {}  # path inside the report -> cached PNG
        self.drawn = 0

    def make(self, relpath: str, key: Any, draw: Callable[[Path], None], alt: str,
             caption: str = "") -> dict[str, Any]:
        name = digest({"code": CODE_SALT, "path": relpath, "key": key})[:32] + ".png"
        cached = self.cache / name
        if not cached.is_file():
            self.cache.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".draw-", suffix=".png", dir=self.cache)
            os.close(fd)
            try:
                draw(Path(tmp))
                os.replace(tmp, cached)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            self.drawn += 1
        self.files[relpath] = cached
        width, height = figures.png_size(cached)
        return {"kind": "figure", "src": relpath, "alt": alt, "caption": caption,
                "width": width, "height": height}

    def memo(self, what: str, key: Any, compute: Callable[[], Any]) -> Any:
        """A JSON-able computed value, cached like the figures (same code salt)."""
        path = self.cache / (digest({"code": CODE_SALT, "what": what, "key": key})[:32] + ".json")
        if path.is_file():
            return json.loads(path.read_text())
        value = compute()
        atomic_write(path, json.dumps(value).encode())
        return value



def cell(text: Any, *, best: bool = False, numeric: bool = False, badge: str = "") -> dict[str, Any]:
    return {"text": str(text), "best": best, "num": numeric, "badge": badge}


def table(caption: str, columns: Sequence[str | tuple[str, bool]], rows: list[list[dict[str, Any]]],
          foot: list[list[dict[str, Any]]] | None = None, css: str = "") -> dict[str, Any]:
    cols = [{"label": c, "num": False} if isinstance(c, str) else {"label": c[0], "num": c[1]} for c in columns]
    return {"kind": "table", "caption": caption, "columns": cols, "rows": rows, "foot": foot or [],
            "css": css}


def note(text: str) -> dict[str, Any]:
    return {"kind": "note", "text": text}


# --------------------------------------------------------------------------- colour science for 1.4

# Pairs one RGB step apart (one channel moved by 0.25); perceived difference varies a lot.
COLOUR_PAIRS = (
    ("yellow, more blue", (0.9, 0.9, 0.2), (0.9, 0.9, 0.45)),
    ("light grey, more green", (0.75, 0.75, 0.75), (0.75, 1.0, 0.75)),
    ("green, brighter", (0.2, 0.75, 0.2), (0.2, 1.0, 0.2)),
    ("brown, more blue", (0.45, 0.3, 0.2), (0.45, 0.3, 0.45)),
    ("sky blue, more green", (0.5, 0.7, 0.9), (0.5, 0.95, 0.9)),
)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] to CIELAB (D65), where distance tracks perceived difference far better."""
    rgb = np.asarray(rgb, dtype=np.float64)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124564, 0.3575761, 0.1804375],
                  [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]])
    xyz = linear @ m.T / np.array([0.95047, 1.0, 1.08883])
    d = 6 / 29
    f = np.where(xyz > d ** 3, np.cbrt(xyz), xyz / (3 * d * d) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def colour_distances() -> list[tuple[str, np.ndarray, np.ndarray, float, float]]:
    """(label, a, b, RGB distance, CIELAB delta E) for each demonstration pair."""
    out = []
    for label, a, b in COLOUR_PAIRS:
        a_, b_ = np.array(a), np.array(b)
        out.append((label, a_, b_, float(np.linalg.norm(a_ - b_)),
                    float(np.linalg.norm(srgb_to_lab(a_) - srgb_to_lab(b_)))))
    return out


# --------------------------------------------------------------------------- the builder

HYPER_NOTES = {
    "epochs": "passes over the training set",
    "batch_size": "images per gradient step",
    "learn_rate": "step size of the optimizer",
    "num_filters": "width of the first block (later blocks are multiples)",
    "kernel": "side of every convolution filter",
    "seed": "initial weights and data order",
    "optimizer": "update rule (Adam or SGD with momentum)",
    "weight_decay": "L2 penalty on the weights",
}
METRIC_COLUMNS = (("train_loss", "Train loss", "min"), ("val_loss", "Val loss", "min"),
                  ("val_acc", "Val accuracy", "max"), ("val_mse", "Val MSE (RGB)", "min"))


def _fmt(value: float, column: str) -> str:
    if not math.isfinite(value):
        return "n/a"
    if column == "val_acc":
        return f"{value:.1f}%"
    if column == "val_mse":
        return f"{value:.4f}"
    return f"{value:.3f}"


def seconds_text(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s"
    return f"{int(value // 60)} min {int(round(value % 60))} s"


class EvidenceBuilder:
    """Turns an outline question into evidence items, drawing figures through FigureMaker."""

    def __init__(self, runs: dict[str, RunInfo], palette: np.ndarray, maker: FigureMaker) -> None:
        self.runs = runs
        self.palette = np.asarray(palette, dtype=np.float32)
        self.maker = maker
        self._arch: dict[tuple, Architecture] = {}

    # ----------------------------------------------------------------- helpers

    def tagged(self, ev: Evidence) -> list[RunInfo]:
        """The first-seed runs tagged with any of the evidence's questions."""
        found = [r for r in self.runs.values() if r.primary and set(r.experiment.questions) & set(ev.tags)]
        if ev.sort == "epochs":
            found.sort(key=lambda r: r.spec.epochs)
        elif ev.sort == "batch_size":
            found.sort(key=lambda r: r.experiment.batch_size)
        return found

    @staticmethod
    def label(run: RunInfo, ev: Evidence) -> str:
        e = run.experiment
        if ev.sort == "epochs":
            return f"{run.name} ({run.spec.epochs} epochs)"
        if ev.sort == "batch_size":
            return f"{run.name} (batch {e.batch_size})"
        return f"{run.name} ({e.model})"

    def seeds(self, run: RunInfo) -> list[RunInfo]:
        """Every available run of the same entry (its seeds), the run itself first."""
        group = [r for r in self.runs.values() if r.experiment.base == run.experiment.base and r.available]
        return sorted(group, key=lambda r: (r.name != run.name, r.experiment.seed))

    def architecture(self, e: Experiment) -> Architecture:
        key = (e.model, e.kernel, e.num_filters, e.in_channels, len(self.palette))
        if key not in self._arch:
            self._arch[key] = from_json(self.maker.memo("architecture", key, lambda: to_json(describe(*key))))
        return self._arch[key]

    def _split(self, q: Question, ev: Evidence) -> tuple[list[RunInfo], list[dict[str, Any]]]:
        """The tagged runs that have results, plus items saying what is missing."""
        runs = self.tagged(ev)
        if not runs:
            return [], [note(f"No experiment in the list is tagged with question {', '.join(ev.tags)}; "
                             "add one to experiments/*.toml to get this evidence.")]
        missing = [r.name for r in runs if not r.available]
        items = [{"kind": "pending", "runs": missing}] if missing else []
        return [r for r in runs if r.available], items

    def build(self, q: Question) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for ev in q.evidence:
            items.extend(getattr(self, f"_{ev.kind}")(q, ev))
        # one "not run yet" notice per question is enough
        seen, out = set(), []
        for item in items:
            if item["kind"] == "pending":
                new = [n for n in item["runs"] if n not in seen]
                seen.update(new)
                if new:
                    out.append({"kind": "pending", "runs": new})
            else:
                out.append(item)
        return out

    # ----------------------------------------------------------------- architecture

    def _architecture(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        runs = self.tagged(ev)
        if not runs:
            return self._split(q, ev)[1]
        e = runs[0].experiment
        arch = self.architecture(e)
        rows = []
        for b in arch.blocks:
            extra = [f"{s}" for s in b.skips]
            rows.append([
                cell(b.name),
                cell(" → ".join(layer.label for layer in b.layers)),
                cell(f"{b.kernel}×{b.kernel}" if b.kernel else "–", numeric=True),
                cell(f"{b.in_channels} → {b.out_channels}", numeric=True),
                cell(" + ".join((b.sources[0], *extra)), badge="skip" if extra else ""),
                cell("×".join(str(d) for d in b.output_shape), numeric=True),
                cell(f"{b.params:,}", numeric=True),
            ])
        foot = [[cell("total"), cell(f"{arch.conv_layers} convolution layers"), cell(""), cell(""),
                 cell(""), cell(""), cell(f"{arch.params:,}", numeric=True)]]
        caption = (f"{arch.model} as built with num_filters={e.num_filters}, kernel={e.kernel}, "
                   f"{e.in_channels} input channel(s), output shapes for one "
                   f"{arch.input_shape[1]}×{arch.input_shape[2]} image")
        items = [table(caption, ["Block", "Layers in order", ("Kernel", True), ("Channels in → out", True),
                                 "Input from", ("Output C×H×W", True), ("Parameters", True)],
                       rows, foot, css="arch")]
        convs = sorted({layer.kind for b in arch.blocks for layer in b.layers if layer.kind.endswith("Conv2d")})
        filters = ", ".join(f"{b.out_channels}" for b in arch.blocks)
        items.append(note(
            f"{arch.conv_layers} convolution layers ({' and '.join(convs)}), every one {e.kernel}×{e.kernel}; "
            f"filters per layer: {filters}."
            + (" Skip connections are concatenated on the channel axis before the block's convolution."
               if arch.has_skips else "")))
        sources = {b.name: b.sources for b in arch.blocks}
        items.append(self.maker.make(
            f"img/{q.anchor}-diagram.png",
            {"arch": [(b.name, b.output_shape, b.sources) for b in arch.blocks]},
            lambda p: figures.architecture_diagram(p, [(b.name, b.output_shape) for b in arch.blocks],
                                                   sources, arch.input_shape),
            alt=f"Block diagram of {arch.model}", caption=(
                f"{arch.model}: box height follows the feature map size"
                + ("; dashed arcs are skip connections." if arch.has_skips else "."))))
        return items

    # ----------------------------------------------------------------- runs

    def _settings(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        runs, items = self._split(q, ev)
        rows = []
        for r in self.tagged(ev):
            e, s = r.experiment, r.spec
            images = "all" if s.train_images is None else str(s.train_images)
            per_epoch = (r.result.history["epoch_seconds"].mean() if r.result is not None else float("nan"))
            rows.append([cell(r.name), cell(s.epochs, numeric=True), cell(e.batch_size, numeric=True),
                         cell(e.learn_rate, numeric=True), cell(e.optimizer), cell(images, numeric=True),
                         cell(seconds_text(per_epoch) if math.isfinite(per_epoch) else "n/a", numeric=True)])
        items.append(table("Training settings", ["Run", ("Epochs", True), ("Batch", True), ("Learning rate", True),
                                                 "Optimizer", ("Training images", True), ("Time per epoch", True)],
                           rows))
        return items

    def _curves(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        runs, items = self._split(q, ev)
        if not runs:
            return items
        series = [figures.Series(self.label(r, ev), r.result.history,  # type: ignore[union-attr]
                                 tuple(o.result.history for o in self.seeds(r)[1:]))  # type: ignore[union-attr]
                  for r in runs]
        key = {"runs": [[(o.name, o.fingerprint) for o in self.seeds(r)] for r in runs], "panels": ev.panels,
               "labels": [s.label for s in series]}
        has_bands = any(s.others for s in series)
        what = ", ".join(figures.PANELS[p][1] for p in ev.panels)
        items.append(self.maker.make(
            f"img/{q.anchor}-curves.png", key, lambda p: figures.curves(p, series, ev.panels),
            alt=f"Per-epoch {what} of {', '.join(r.name for r in runs)}",
            caption=f"Per-epoch curves ({what}) of the first seed; a dot marks the last epoch of each run"
                    + ("; shading spans all seeds of a run." if has_bands else ".")))
        return items

    def _samples(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        runs, items = self._split(q, ev)
        if not runs:
            return items

        def draw(path: Path) -> None:
            first = runs[0].samples()
            rows = [("input", first["input"]), ("ground truth", first["truth"])]
            rows += [(self.label(r, ev), r.samples()["prediction"]) for r in runs]
            bilinear = next((r.samples()["bilinear"] for r in runs if "bilinear" in r.samples()), None)
            if bilinear is not None:
                rows.append(("bilinear", bilinear))
            figures.sample_grid(path, rows)

        has_bilinear = any(r.experiment.task == "super_resolution" for r in runs)
        items.append(self.maker.make(
            f"img/{q.anchor}-samples.png", {"runs": [(r.name, r.fingerprint) for r in runs],
                                             "labels": [self.label(r, ev) for r in runs]},
            draw, alt=f"Fixed test images: input, ground truth and the predictions of "
                      f"{', '.join(r.name for r in runs)}",
            caption="The same fixed test images in every row: input, ground truth, then each run's "
                    "prediction" + (", then bilinear upsampling of the small input." if has_bilinear else ".")))
        return items

    def _metrics(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        runs, items = self._split(q, ev)
        if not runs:
            return items
        records, spread = [], []
        for r in runs:
            group = self.seeds(r)
            finals = pd.DataFrame([o.result.final for o in group])  # type: ignore[union-attr]
            records.append({"run": r.name, "task": r.experiment.task, "epochs": r.spec.epochs,
                            "batch": r.experiment.batch_size, "seeds": len(group),
                            **{c: float(finals[c].mean()) if c in finals else float("nan")
                               for c, _, _ in METRIC_COLUMNS},
                            "seconds": r.result.meta.get("seconds", float("nan"))})  # type: ignore[union-attr]
            spread.append({c: float(finals[c].std(ddof=1)) if c in finals and len(finals) > 1 else None
                           for c, _, _ in METRIC_COLUMNS})
        df = pd.DataFrame(records)
        best: dict[str, Any] = {}
        same_task = df["task"].nunique() == 1
        for column, _, goal in METRIC_COLUMNS:
            comparable = same_task or column in ("val_acc", "val_mse")
            if comparable and len(df) > 1 and df[column].notna().any():
                best[column] = df[column].idxmin() if goal == "min" else df[column].idxmax()
        multi = bool((df["seeds"] > 1).any())
        rows = []
        for i, row in df.iterrows():
            cells = [cell(row["run"]), cell(int(row["epochs"]), numeric=True), cell(int(row["batch"]), numeric=True)]
            if multi:
                cells.append(cell(int(row["seeds"]), numeric=True))
            for c, _, _ in METRIC_COLUMNS:
                sd = spread[i][c]
                text = _fmt(row[c], c) + (f" ± {_fmt(sd, c).rstrip('%')}" if sd is not None and math.isfinite(sd) else "")
                cells.append(cell(text, best=best.get(c) == i, numeric=True))
            cells.append(cell(seconds_text(row["seconds"]), numeric=True))
            rows.append(cells)
        caption = "Final-epoch metrics; the best value of each comparable column is highlighted"
        if multi:
            caption += "; with several seeds: mean ± standard deviation over the seeds"
        if not same_task:
            caption += " (losses of different tasks are not comparable: MSE vs cross-entropy)"
        columns: list[str | tuple[str, bool]] = ["Run", ("Epochs", True), ("Batch", True)]
        if multi:
            columns.append(("Seeds", True))
        columns += [(label, True) for _, label, _ in METRIC_COLUMNS] + [("Training time (first seed)", True)]
        items.append(table(caption, columns, rows, css="metrics"))
        return items

    def baseline_errors(self, runs: list[RunInfo], ev: Evidence) -> list[list[Any]]:
        """[label, MSE] of each run's prediction and of bilinear upsampling on the shown images."""
        truth = runs[0].samples()["truth"].float()
        entries = [(self.label(r, ev), r.samples()["prediction"].float()) for r in runs]
        bil = next((r.samples()["bilinear"] for r in runs if "bilinear" in r.samples()), None)
        if bil is not None:
            entries.append(("bilinear interpolation", bil.float().clamp(0, 1)))
        return [[label, float(((p - truth) ** 2).mean()), len(truth)] for label, p in entries]

    def _baseline(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        runs, items = self._split(q, ev)
        if not runs:
            return items
        errors = self.maker.memo("baseline", [(r.name, r.fingerprint) for r in runs],
                                 lambda: self.baseline_errors(runs, ev))
        best = int(np.argmin([m for _, m, _ in errors]))
        rows = [[cell(label), cell(f"{m:.4f}", best=i == best, numeric=True),
                 cell(f"{10 * math.log10(1 / m):.1f} dB" if m > 0 else "∞", best=i == best, numeric=True)]
                for i, (label, m, _) in enumerate(errors)]
        items.append(table(f"Error on the {errors[0][2]} test images shown above (RGB in [0, 1])",
                           ["Method", ("MSE", True), ("PSNR", True)], rows))
        return items

    def sr_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shapes that the super-resolution transform produces for one 32×32 image."""
        x = torch.zeros(1, 3, 32, 32)
        return {"target": tuple(x.shape[1:]), "small": tuple(data_mod.downsample(x).shape[1:]),
                "input": tuple(data_mod.super_resolution_input(x).shape[1:])}

    def _resolution(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        shapes = self.sr_shapes()
        t, s, i = shapes["target"], shapes["small"], shapes["input"]
        factor = t[-1] // s[-1]
        rows = [
            [cell("ground truth (the target)"), cell("×".join(map(str, t)), numeric=True), cell(f"{t[1] * t[2]:,}", numeric=True)],
            [cell("downsampled: 2×2 average pooling, twice"), cell("×".join(map(str, s)), numeric=True),
             cell(f"{s[1] * s[2]:,}", numeric=True)],
            [cell("network input: nearest-neighbour ×2, twice"), cell("×".join(map(str, i)), numeric=True),
             cell(f"{i[1] * i[2]:,} ({s[1] * s[2]} distinct)", numeric=True)],
        ]
        items = [table("What the super-resolution transform does to one image (computed by running it)",
                       ["Stage", ("Tensor C×H×W", True), ("Pixels per channel", True)], rows),
                 note(f"The information in the input is {s[1]}×{s[2]}; the output is {t[1]}×{t[2]}: "
                      f"{factor}× more pixels per side, {factor * factor}× more in total.")]
        runs, pending = self._split(q, ev)
        items += pending
        if runs:
            run = runs[0]

            def draw(path: Path) -> None:
                smp = run.samples()
                truth = smp["truth"][:1].float()
                stages = [(f"ground truth {t[1]}×{t[2]}", truth[0]),
                          (f"downsampled {s[1]}×{s[2]}", data_mod.downsample(truth)[0]),
                          (f"network input {i[1]}×{i[2]}", data_mod.super_resolution_input(truth)[0]),
                          (f"{run.experiment.model} output", smp["prediction"][0])]
                if "bilinear" in smp:
                    stages.append(("bilinear", smp["bilinear"][0]))
                figures.resolution_stages(path, stages)

            items.append(self.maker.make(
                f"img/{q.anchor}-stages.png", {"run": (run.name, run.fingerprint)}, draw,
                alt="One test image at each stage of the super-resolution pipeline",
                caption="One test image through the pipeline, every stage drawn at the same size."))
        return items

    def _gallery(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        runs, items = self._split(q, ev)
        if not runs:
            return items
        run = runs[0]
        from .models import MODEL_CLASSES

        order = list(MODEL_CLASSES[run.experiment.model].wiring)
        count = data_mod.GALLERY_COUNT
        figs = []
        for i in range(count):
            def draw(path: Path, i: int = i) -> None:
                smp = run.samples()
                acts = smp["activations"]
                blocks = [(name, acts[name][i]) for name in order if name in acts]
                figures.activation_gallery(
                    path, f"{run.name} ({run.experiment.model}, {run.experiment.task}), test image {i}",
                    [("input", smp["input"][i]), ("ground truth", smp["truth"][i]),
                     ("output", smp["prediction"][i])], blocks)

            figs.append(self.maker.make(
                f"activations/{run.name}/act{i}.png", {"run": (run.name, run.fingerprint), "image": i}, draw,
                alt=f"Activations of every block of {run.name} for test image {i}",
                caption=f"Test image {i}: input, ground truth, output, then each block's channels "
                        "(one tile per channel, each scaled to its own range; flat purple = constant)."))
            figs[-1]["file"] = f"act{i}.png"
        items.append({"kind": "gallery", "run": run.name, "figures": figs,
                      "index": f"activations/{run.name}/index.html"})
        return items

    # ----------------------------------------------------------------- conceptual

    def _colour_distance(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        pairs = colour_distances()
        rows = [[cell(label), cell(f"{a.round(2).tolist()} → {b.round(2).tolist()}"),
                 cell(f"{d_rgb:.2f}", numeric=True), cell(f"{d_lab:.1f}", numeric=True)]
                for label, a, b, d_rgb, d_lab in pairs]
        fig = self.maker.make(
            "img/colour-pairs.png", {"pairs": COLOUR_PAIRS},
            lambda p: figures.colour_pairs(p, [(lab, a, b) for lab, a, b, _, _ in pairs]),
            alt="Colour pairs that are equally far apart in RGB",
            caption="Every pair differs by the same RGB distance; how different they look does not.")
        return [fig, table("Same RGB distance, different perceived difference (CIELAB ΔE76, "
                           "about 2.3 is a just-noticeable difference)",
                           ["Pair", "RGB values", ("RGB distance", True), ("ΔE (CIELAB)", True)], rows)]

    def _palette(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        key = hashlib.sha256(self.palette.tobytes()).hexdigest()
        return [self.maker.make(
            "img/palette.png", {"palette": key}, lambda p: figures.palette_swatch(p, self.palette),
            alt=f"The {len(self.palette)} palette colours",
            caption=f"The {len(self.palette)} class colours (k-means centres of training pixels): "
                    "the classifier picks one of these per pixel.")]

    def _hyper(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        rows = []
        for name in SETTABLE:
            values = sorted({getattr(r.experiment, name) for r in self.runs.values()},
                            key=lambda v: (isinstance(v, str), v))
            rows.append([cell(name), cell(HYPER_NOTES.get(name, "")),
                         cell(", ".join(str(v) for v in values)),
                         cell("varied" if len(values) > 1 else "fixed")])
        return [table("Hyper-parameters the experiment list can set, and the values used across all runs",
                      ["Setting", "What it controls", "Values used", "In this report"], rows)]

    def _load_model(self, run: RunInfo) -> torch.nn.Module:
        from .models import build_model

        e = run.experiment
        model = build_model(e.model, e.kernel, e.num_filters, e.in_channels, len(self.palette))
        model.load_state_dict(run.result.weights())  # type: ignore[union-attr]
        return model.eval()

    def swapped_pool_relu(self, run: RunInfo) -> dict[str, float]:
        """Run the trained model as is and with MaxPool before ReLU; compare outputs and ReLU work."""
        model = self._load_model(run)
        swapped = copy.deepcopy(model)
        relu_inputs = {"as trained": 0, "swapped": 0}
        x = run.samples()["input"].float()
        acts = model.activations(x[:1])
        for name in swapped.block_names():
            block = getattr(swapped, name)
            if isinstance(block, torch.nn.Sequential) and isinstance(block[-1], torch.nn.MaxPool2d):
                conv_out = acts[name].shape[1] * acts[name].shape[2] * acts[name].shape[3]
                relu_inputs["as trained"] += conv_out * 4
                relu_inputs["swapped"] += conv_out
                layers = list(block)
                layers[-2], layers[-1] = layers[-1], layers[-2]
                setattr(swapped, name, torch.nn.Sequential(*layers))
        with torch.no_grad():
            diff = float((model(x) - swapped(x)).abs().max())
        return {"max_diff": diff, **relu_inputs}

    def _pool_relu(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        runs, items = self._split(q, ev)
        if not runs:
            return items
        run = runs[0]
        res = self.maker.memo("pool_relu", (run.name, run.fingerprint), lambda: self.swapped_pool_relu(run))
        rows = [[cell("Conv → BN → ReLU → MaxPool (as trained)"), cell(f"{res['as trained']:,}", numeric=True),
                 cell("reference", numeric=True)],
                [cell("Conv → BN → MaxPool → ReLU (swapped)"), cell(f"{res['swapped']:,}", numeric=True),
                 cell(f"{res['max_diff']:.3g}", numeric=True)]]
        items.append(table(f"The trained {run.name} with the two down blocks' pooling and ReLU swapped, "
                           f"on the {len(run.samples()['input'])} fixed test images",
                           ["Layer order", ("ReLU inputs per image (down blocks)", True),
                            ("Largest output difference", True)], rows))
        return items

    def _large_input(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        runs, items = self._split(q, ev)
        if not runs:
            return items
        run = runs[0]

        def mosaic(images: torch.Tensor) -> torch.Tensor:
            top, bottom = torch.cat(list(images[:4]), dim=-1), torch.cat(list(images[4:8]), dim=-1)
            return torch.cat([top, bottom], dim=-2)

        h, w = 2 * 32, 4 * 32  # eight 32x32 test images, two rows of four

        def draw(path: Path) -> None:
            from .train import to_rgb

            smp = run.samples()
            big_in = mosaic(smp["input"].float())[None]
            model = self._load_model(run)
            with torch.no_grad():
                out = to_rgb(run.experiment.task, model(big_in), torch.from_numpy(self.palette))
            figures.sample_grid(path, [(f"input {h}×{w}", big_in), (f"{run.experiment.model} output", out),
                                       ("ground truth", mosaic(smp["truth"].float())[None])], scale=3)

        items.append(self.maker.make(
            "img/large-input.png", {"run": (run.name, run.fingerprint)}, draw,
            alt=f"{run.name} applied unchanged to a {h}×{w} image",
            caption=f"{run.name}, trained on 32×32 images, run unchanged on one {h}×{w} image "
                    "(eight test images tiled 2×4)."))
        return items


def collect_facts(builder: EvidenceBuilder) -> dict[str, Any]:
    """Numbers computed by the evidence code that answers may quote."""
    shapes = builder.sr_shapes()
    deltas = [d for *_, d in colour_distances()]
    return {"sr_small": shapes["small"][-1], "sr_size": shapes["target"][-1],
            "sr_factor": shapes["target"][-1] // shapes["small"][-1],
            "delta_e_min": min(deltas), "delta_e_max": max(deltas),
            "rgb_step": colour_distances()[0][3], "palette_size": len(builder.palette)}


def compute_seconds(runs: Iterable[RunInfo]) -> float:
    """Training time, counting once a trajectory that several epoch counts reuse."""
    per_trajectory: dict[str, float] = {}
    for r in runs:
        if r.result is not None:
            t = r.result.meta.get("trajectory", r.name)
            per_trajectory[t] = max(per_trajectory.get(t, 0.0), float(r.result.meta.get("seconds", 0.0)))
    return sum(per_trajectory.values())
