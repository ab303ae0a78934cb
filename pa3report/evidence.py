"""Each question's evidence, built from cached results only, as plain dicts for the template.

An item is a dict with a "kind" the template knows: figure, table, note, pending, gallery.
Figures go through FigureMaker, which keys every PNG by its inputs (run fingerprints,
the palette, this code) and redraws only what changed, so a fully cached report renders
without touching matplotlib. Measurements beyond the training histories (colour science,
super-resolution quality, layer order, large inputs) come from analysis.py, computed once
per report (see measures.py); this module only lays them out.
"""

from __future__ import annotations

import contextlib
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

from . import analysis, measures
from . import data as data_mod
from . import figures
from .answers import Fields, pm, seed_spread
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


def content_key(value: Any) -> str:
    """A digest of nested measurement output (numbers, strings, tensors): the key of a figure
    drawn from it, so the figure is redrawn exactly when the numbers or images change."""
    h = hashlib.sha256()

    def feed(v: Any) -> None:
        if isinstance(v, torch.Tensor):
            h.update(f"tensor{tuple(v.shape)}{v.dtype}".encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(v, dict):
            for k in sorted(v, key=str):
                h.update(f"<{k}>".encode())
                feed(v[k])
        elif isinstance(v, (list, tuple)):
            h.update(b"[")
            for x in v:
                feed(x)
            h.update(b"]")
        else:
            h.update(repr(v).encode())

    feed(value)
    return h.hexdigest()


def _rgb_text(rgb: Sequence[float]) -> str:
    return "(" + ", ".join(f"{c:.2f}" for c in rgb) + ")"


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
# The settings a sweep point may change, in the order its label lists them.
SWEEP_FIELDS = ("optimizer", "learn_rate", "num_filters", "kernel", "weight_decay", "batch_size")
SETTING_NAMES = {"optimizer": "optimizer", "learn_rate": "learning rate", "num_filters": "filters",
                 "kernel": "kernel size", "weight_decay": "weight decay", "batch_size": "batch size"}
LARGE_SHOWN = 2  # images per size in the 6.3 figures (the table counts them all)
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


@dataclass(frozen=True)
class SweepRow:
    """One run of the 6.1 sweep read at the sweep's epoch (over its available seeds)."""

    run: RunInfo
    changed: tuple[str, ...]  # settings that differ from the baseline's
    value: str  # their values, e.g. "sgd, 0.05"
    val_acc: float
    val_acc_sd: float  # NaN with one seed
    val_loss: float
    seeds: int


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _values(e: Experiment, fields: tuple[str, ...]) -> str:
    return ", ".join(_short(getattr(e, f)) for f in fields)


def _order(e: Experiment, fields: tuple[str, ...]) -> tuple:
    """Sort key: numbers by value, words alphabetically."""
    return tuple((1, str(v)) if isinstance(v, str) else (0, v) for v in (getattr(e, f) for f in fields))


def _sweep_point(owner: str, row: SweepRow | None, base: SweepRow | None) -> Fields:
    """One sweep point as answers see it; NaN-filled while the run (or the baseline) is missing."""
    nan = float("nan")
    acc, sd = (row.val_acc, row.val_acc_sd) if row else (nan, nan)
    delta = acc - base.val_acc if base else nan
    spread = seed_spread(sd, base.val_acc_sd if base else nan)
    return Fields(owner, {
        "run": row.run.name if row else "n/a",
        "setting": " + ".join(SETTING_NAMES.get(f, f) for f in row.changed) if row else "n/a",
        "value": row.value if row else "n/a", "val_acc": acc, "val_acc_sd": sd,
        "val_loss": row.val_loss if row else nan, "seeds": row.seeds if row else 0,
        "delta": delta, "spread": spread, "beyond": bool(math.isfinite(spread) and abs(delta) > spread)})


def _acc_text(row: SweepRow) -> str:
    if not math.isfinite(row.val_acc):
        return "n/a"
    return f"{row.val_acc:.1f}" + (f" ± {row.val_acc_sd:.1f}" if math.isfinite(row.val_acc_sd) else "") + "%"


class EvidenceBuilder:
    """Turns an outline question into evidence items, drawing figures through FigureMaker."""

    def __init__(self, runs: dict[str, RunInfo], palette: np.ndarray, maker: FigureMaker,
                 analysis: dict[str, Any] | None = None) -> None:
        """analysis: the output of analysis.compute for these runs (None without the data)."""
        self.runs = runs
        self.palette = np.asarray(palette, dtype=np.float32)
        self.maker = maker
        self.analysis = analysis
        self.measured = measures.view(analysis)
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
        # one "not run yet" notice per question is enough: where the first one was, naming them all
        pending: list[str] = []
        out = []
        for item in items:
            if item["kind"] != "pending":
                out.append(item)
                continue
            if not pending:
                out.append({"kind": "pending", "runs": pending})
            pending.extend(n for n in item["runs"] if n not in pending)
        return [item for item in out if item["kind"] != "pending" or item["runs"]]

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
            caption=f"Per-epoch curves ({what}); a dot marks the last epoch of each run"
                    + ("; a run with several seeds is drawn as their mean, with the range of its seeds shaded "
                       "around the validation curve." if has_bands else ".")))
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
                rows.append(("bicubic", data_mod.bicubic_baseline(first["truth"].float())))
            figures.sample_grid(path, rows)

        has_bilinear = any(r.experiment.task == "super_resolution" for r in runs)
        items.append(self.maker.make(
            f"img/{q.anchor}-samples.png", {"runs": [(r.name, r.fingerprint) for r in runs],
                                             "labels": [self.label(r, ev) for r in runs]},
            draw, alt=f"Fixed test images: input, ground truth and the predictions of "
                      f"{', '.join(r.name for r in runs)}",
            caption="The same fixed test images in every row: input, ground truth, then each run's "
                    "prediction" + (", then bilinear and bicubic upsampling of the small input."
                                    if has_bilinear else ".")))
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
                            # The median: one seed slowed by other work on the machine should not set it.
                            "seconds": float(pd.Series([o.result.meta.get("seconds", float("nan"))  # type: ignore[union-attr]
                                                        for o in group]).median())})
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
        columns += [(label, True) for _, label, _ in METRIC_COLUMNS] + [("Training time (median over seeds)" if multi else "Training time", True)]
        items.append(table(caption, columns, rows, css="metrics"))
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

    # ----------------------------------------------------------------- the 6.1 sweep

    def at_epoch(self, run: RunInfo, epoch: int) -> dict[str, Any]:
        """Val accuracy and loss of every available seed of a run at one epoch: mean, sd, count."""
        acc, loss = [], []
        for o in self.seeds(run):
            h = o.result.history  # type: ignore[union-attr]
            row = h[h["epoch"] == epoch]
            if len(row):
                acc.append(float(row["val_acc"].iloc[0]))
                loss.append(float(row["val_loss"].iloc[0]))
        nan = float("nan")
        return {"val_acc": float(np.mean(acc)) if acc else nan,
                "val_acc_sd": float(np.std(acc, ddof=1)) if len(acc) > 1 else nan,
                "val_loss": float(np.mean(loss)) if loss else nan, "seeds": len(acc)}

    def sweep_rows(self, ev: Evidence) -> tuple[list[SweepRow], list[str], int]:
        """The sweep read at its epoch count: the baseline first, then one row per changed run.

        Sweep runs are tagged with ev.tags; reference runs (ev.reference) are longer runs read
        at the same epoch, the first tagged with ev.reference[0] being the unchanged baseline.
        Returns the rows, the runs that are not cached yet, and the epoch.
        """
        sweep = self.tagged(Evidence("sweep", ev.tags))
        refs = self.tagged(Evidence("sweep", ev.reference))
        base = next((r for r in refs if ev.reference[0] in r.experiment.questions), None)
        if not sweep or base is None:
            return [], [], 0
        epoch = max(r.spec.epochs for r in sweep)
        same = [r for r in refs if r is not base and r.experiment.model == base.experiment.model
                and r.experiment.task == base.experiment.task and r.spec.epochs >= epoch]
        missing = [r.name for r in (base, *sweep, *same) if not r.available]
        if not base.available:
            return [], missing, epoch
        b = base.experiment
        rows = [SweepRow(base, (), "", **self.at_epoch(base, epoch))]
        for r in (*sweep, *same):
            if not r.available:
                continue
            changed = tuple(f for f in SWEEP_FIELDS if getattr(r.experiment, f) != getattr(b, f))
            rows.append(SweepRow(r, changed, _values(r.experiment, changed), **self.at_epoch(r, epoch)))
        return rows, missing, epoch

    def _sweep(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        rows, missing, epoch = self.sweep_rows(ev)
        items: list[dict[str, Any]] = [{"kind": "pending", "runs": missing}] if missing else []
        if not rows:
            return items or [note("The sweep needs runs tagged with question(s) "
                                  f"{', '.join(ev.tags)} and a baseline tagged {ev.reference[0]}.")]
        groups: dict[tuple[str, ...], list[SweepRow]] = {}
        for row in rows[1:]:
            groups.setdefault(row.changed, []).append(row)
        for changed, group in groups.items():
            group.sort(key=lambda r: _order(r.run.experiment, changed))
        items.append(self._sweep_table(rows, groups, epoch))
        items.append(self._sweep_plot(rows, groups, epoch))
        return items

    def _sweep_table(self, rows: list[SweepRow], groups: dict[tuple[str, ...], list[SweepRow]],
                     epoch: int) -> dict[str, Any]:
        base = rows[0]
        best_acc = max(rows, key=lambda r: r.val_acc if math.isfinite(r.val_acc) else -math.inf)
        best_loss = min(rows, key=lambda r: r.val_loss if math.isfinite(r.val_loss) else math.inf)
        cells = [[cell("none: the handout's settings (baseline)"), cell(""), cell(base.run.name),
                  cell(base.seeds, numeric=True), cell(_acc_text(base), best=base is best_acc, numeric=True),
                  cell("–", numeric=True), cell("–"),
                  cell(f"{base.val_loss:.3f}", best=base is best_loss, numeric=True)]]
        for changed, group in groups.items():
            for row in group:
                point = _sweep_point(row.run.name, row, base)
                verdict = "n/a" if not math.isfinite(point["spread"]) else ("yes" if point["beyond"] else "no")
                cells.append([cell(point["setting"]), cell(f"{row.value} (was {_values(base.run.experiment, changed)})"),
                              cell(row.run.name), cell(row.seeds, numeric=True),
                              cell(_acc_text(row), best=row is best_acc, numeric=True),
                              cell(f"{point['delta']:+.1f}", numeric=True), cell(verdict),
                              cell(f"{row.val_loss:.3f}", best=row is best_loss, numeric=True)])
        return table(
            f"One change at a time from the handout's UNet, everything read at epoch {epoch} (runs with several "
            "seeds: mean ± standard deviation). “Beyond noise” says whether the change in accuracy is larger than "
            "the seed-to-seed spread (the two standard deviations added; a single-seed run borrows the "
            "baseline's)",
            ["Setting changed", "Value", "Run", ("Seeds", True), (f"Val accuracy, epoch {epoch}", True),
             ("Change (points)", True), "Beyond noise", (f"Val loss, epoch {epoch}", True)], cells)

    def _sweep_plot(self, rows: list[SweepRow], groups: dict[tuple[str, ...], list[SweepRow]],
                    epoch: int) -> dict[str, Any]:
        """One panel per changed setting, the baseline placed among the values it was changed from."""
        base = rows[0]
        panels = []
        for changed, group in groups.items():
            as_point = SweepRow(base.run, changed, _values(base.run.experiment, changed), base.val_acc,
                                base.val_acc_sd, base.val_loss, base.seeds)
            entries = sorted([*group, as_point], key=lambda r: _order(r.run.experiment, changed))
            panels.append((" + ".join(SETTING_NAMES.get(f, f) for f in changed),
                           [figures.SweepPoint(r.value, r.val_acc, r.val_acc_sd, r is as_point) for r in entries]))
        key = [(r.run.name, [o.fingerprint for o in self.seeds(r.run)]) for r in rows]
        return self.maker.make(
            "img/q6-1-sweep.png", {"rows": key, "epoch": epoch},
            lambda path: figures.sweep(path, panels, figures.SweepPoint(
                "baseline", base.val_acc, base.val_acc_sd, True), f"val accuracy at epoch {epoch} (%)"),
            alt=f"Validation accuracy at epoch {epoch} for each value of each hyper-parameter",
            caption=f"Validation accuracy at epoch {epoch}, one panel per setting; the grey point, dashed line "
                    f"and band are the baseline ({base.run.name}: mean ± one standard deviation over "
                    f"{base.seeds} seed{'s' if base.seeds != 1 else ''}). Error bars: runs with several seeds.")

    def sweep_view(self, ev: Evidence) -> Fields:
        """What answers see as `sweep`: the epoch, the baseline and every sweep point by run name
        (NaN while a run is missing), plus the best and worst point and how many beat the noise."""
        rows, _, epoch = self.sweep_rows(ev)
        base = rows[0] if rows else None
        by_name = {r.run.name: r for r in rows[1:]}
        names = [r.name for r in self.tagged(Evidence("sweep", ev.tags))]
        names += [r.name for r in self.tagged(Evidence("sweep", ev.reference[1:])) if r.name not in names]
        points = {name: _sweep_point(f"sweep.points.{name}", by_name.get(name), base) for name in names}
        ranked = sorted((p for p in points.values() if math.isfinite(p["val_acc"])), key=lambda p: -p["val_acc"])
        nan = float("nan")
        return Fields("sweep", {
            "epoch": epoch, "count": len(ranked), "beyond_count": sum(p["beyond"] for p in ranked),
            "baseline": Fields("sweep.baseline", {
                "run": base.run.name if base else "n/a", "val_acc": base.val_acc if base else nan,
                "val_acc_sd": base.val_acc_sd if base else nan, "seeds": base.seeds if base else 0}),
            "points": Fields("sweep.points", points),
            "best": ranked[0] if ranked else _sweep_point("sweep.best", None, base),
            "worst": ranked[-1] if ranked else _sweep_point("sweep.worst", None, base),
        })

    # ----------------------------------------------------------------- analysis (analysis.py)

    def _measured(self, what: str) -> tuple[Any, list[dict[str, Any]]]:
        """One measurement of the analysis (None while absent), and the notices to show with it."""
        if self.analysis is None:
            return None, [note("These measurements need the image data, which was not found "
                               "(set PA3_DATA and rebuild the report).")]
        missing = [r.name for r in measures.needed(self.runs, what) if not r.available]
        return self.analysis.get(what), ([{"kind": "pending", "runs": missing}] if missing else [])

    def _test_images(self) -> str:
        return f"{self.analysis['test_images']:,}" if self.analysis and "test_images" in self.analysis else "the"

    def _colour_distance(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        pairs, items = self._measured("colour_pairs")
        if not pairs:
            return items
        v = self.measured["pairs"]
        rows = [[cell(p["pair"]), cell(f"{_rgb_text(p['rgb_a'])} → {_rgb_text(p['rgb_b'])}"),
                 cell(f"{p['rgb_distance']:.2f}", numeric=True),
                 cell(f"{p['delta_e']:.1f}", numeric=True, best=p["delta_e"] == v["delta_e_max"])]
                for p in pairs]
        items.append(self.maker.make(
            "img/colour-pairs.png", {"pairs": content_key(pairs)},
            lambda path: figures.colour_pairs(
                path, [(f"{p['pair']}\nΔE {p['delta_e']:.1f}", p["rgb_a"], p["rgb_b"]) for p in pairs]),
            alt="Colour pairs that are equally far apart in RGB, with their perceived difference",
            caption=f"Every pair is {v['rgb_distance']:.2f} apart in RGB (one channel moved); the perceived "
                    "difference ΔE (CIEDE2000) under each pair is not."))
        items.append(table(
            "Same RGB distance, different perceived difference (ΔE: CIEDE2000, computed in CIELAB; about 1 is "
            "just noticeable); the most visible change is highlighted",
            ["Pair", "RGB values", ("RGB distance", True), ("ΔE (CIEDE2000)", True)], rows))
        found, more = self._measured("palette_distances")
        items += more
        if found:
            p = self.measured["palette"]
            items.append(self.maker.make(
                "img/palette-distances.png", {"palette": content_key(found)},
                lambda path: figures.distance_scatter(path, found["rgb"], found["delta_e"], found["correlation"]),
                alt="Perceived difference against RGB distance for every pair of palette colours",
                caption=f"All {p['pairs']} pairs of the {len(self.palette)} palette colours. The "
                        f"{p['band_count']} pairs about {p['band_rgb']:.2f} apart in RGB (the median distance, "
                        f"±0.05) range from ΔE {p['band_delta_e_min']:.0f} to {p['band_delta_e_max']:.0f}: "
                        "RGB distance predicts the perceived difference only loosely."))
        return items

    def _colourfulness(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        found, items = self._measured("colourfulness")
        if not found:
            return items
        view = self.measured["colourfulness"]
        truth = view["truth"]["chroma"]
        rows = []
        for key, name, label in measures.COLOURFULNESS_ROWS:
            if key not in found:
                continue
            entry = view[name]
            rows.append([cell(label), cell(entry["seeds"] or "–", numeric=True),
                         cell(pm(entry, "chroma"), numeric=True),
                         cell(f"{100 * entry['chroma'] / truth:.0f}%" if truth > 0 else "n/a", numeric=True),
                         cell(pm(entry, "saturation"), numeric=True), cell(pm(entry, "vivid"), numeric=True)])
        items.append(table(
            f"How colourful the images are, over all {self._test_images()} test images: mean CIELAB chroma "
            f"(0 = grey), mean HSV saturation, and the share of clearly coloured pixels (chroma above "
            f"{analysis.VIVID_CHROMA:g}); networks: mean ± standard deviation over their seeds",
            ["Images", ("Seeds", True), ("Mean chroma", True), ("… share of the ground truth's", True),
             ("Mean saturation", True), ("Clearly coloured pixels", True)], rows))
        return items

    def _sr_quality(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        found, items = self._measured("sr_quality")
        if not found:
            return items
        view = self.measured["sr_quality"]
        shown = [(key, name, label) for key, name, label in measures.SR_ROWS if key in found]
        ranked = [name for key, name, _ in shown if key != "palette ceiling"]
        best = {m: max(ranked, key=lambda n: view[n][m]) for m in measures.SR_METRICS}
        rows = []
        for key, name, label in shown:
            entry = view[name]
            if key == "palette ceiling":
                label += " (the best any palette output can do)"
            rows.append([cell(label), cell(entry["seeds"] or "–", numeric=True)]
                        + [cell(pm(entry, m), best=best[m] == name, numeric=True) for m in measures.SR_METRICS])
        items.append(table(
            f"Super-resolution quality over all {self._test_images()} test images, against the original "
            "32×32 images; networks: mean ± standard deviation over their seeds. The best method in each "
            "column is highlighted (the palette ceiling is a reference, not a method)",
            ["Method", ("Seeds", True), ("PSNR", True), ("SSIM", True), ("Palette accuracy", True)], rows))
        return items

    def _pool_relu(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        found, items = self._measured("relu_maxpool")
        if not found:
            return items
        run = self.runs[analysis.RUNS_READ["relu_maxpool"][0]]
        arch = self.architecture(run.experiment)
        pooled = [b for b in arch.blocks if any(layer.kind == "MaxPool2d" for layer in b.layers)]
        after = sum(b.output_shape[0] * b.output_shape[1] * b.output_shape[2] for b in pooled)
        r = self.measured["relu_maxpool"]
        rows = [
            [cell("Conv → BN → ReLU → MaxPool (as trained)"), cell(f"{4 * after:,}", numeric=True),
             cell(f"{r['relu_then_pool_forward_ms']:.1f}", numeric=True),
             cell(f"{r['relu_then_pool_train_step_ms']:.1f}", numeric=True),
             cell("reference", numeric=True), cell("reference", numeric=True)],
            [cell("Conv → BN → MaxPool → ReLU (swapped)"), cell(f"{after:,}", numeric=True),
             cell(f"{r['pool_then_relu_forward_ms']:.1f}", numeric=True),
             cell(f"{r['pool_then_relu_train_step_ms']:.1f}", numeric=True),
             cell(f"{r['max_abs_diff_eval']:.3g}", numeric=True), cell(f"{r['max_abs_diff_train']:.3g}", numeric=True)],
        ]
        items.append(table(
            f"The trained {run.name} as trained and with ReLU and max-pooling swapped in both down blocks "
            "(same weights, same batch of test images; times are medians of a few repeats on the CPU)",
            ["Layer order", ("ReLU inputs per image (down blocks)", True), ("Forward (ms)", True),
             ("Forward + backward (ms)", True), ("Largest output difference, eval mode", True),
             ("… train mode (batch statistics)", True)], rows))
        return items

    def _large_input(self, q: Question, ev: Evidence) -> list[dict[str, Any]]:
        found, items = self._measured("large")
        if not found:
            return items
        run = self.runs[analysis.RUNS_READ["large"][0]]
        columns = ["grey input", "direct (whole image)", "via 32×32 and back", "ground truth"]
        for kind, label, what in (("horses", "horse", "test horses enlarged from 32×32 (bicubic)"),
                                  ("photos", "photo", "the photographs that scikit-learn ships")):
            keys = [k for k in measures.LARGE_KEYS if k.startswith(kind) and k in found]
            if not keys:
                continue

            def draw(path: Path, keys: list[str] = keys, label: str = label) -> None:
                rows = [(f"{label} {i + 1}, {found[k]['grey'].shape[-1]}×{found[k]['grey'].shape[-1]}",
                         [found[k][t][i].float() for t in ("grey", "direct", "via32", "truth")])
                        for i in range(LARGE_SHOWN) for k in keys if i < len(found[k]["grey"])]
                figures.image_table(path, rows, columns)

            items.append(self.maker.make(
                f"img/q6-3-{kind}.png", {"large": content_key({k: found[k] for k in keys}), "shown": LARGE_SHOWN},
                draw, alt=f"{run.name} colourizing {what} at several sizes",
                caption=f"{run.name}, trained on 32×32 images, on {what}: the grey image goes in whole "
                        "(direct), or is shrunk to 32×32, colourized, and its colours enlarged back (via 32×32). "
                        "Every image is drawn at about the same size."))
        view = self.measured["large"]
        rows = []
        for key in (k for k in measures.LARGE_KEYS if k in found):
            e = view[key]
            rows.append([cell(key.split("_")[0]), cell(f"{e['size']}×{e['size']}", numeric=True),
                         cell(e["images"], numeric=True),
                         cell(f"{e['acc_direct']:.1f}%", numeric=True, best=e["acc_direct"] > e["acc_via32"]),
                         cell(f"{e['acc_via32']:.1f}%", numeric=True, best=e["acc_via32"] > e["acc_direct"])])
        items.append(table("Palette accuracy of both ways against the ground truth snapped to the palette "
                           "(the better one for each size is highlighted)",
                           ["Images", ("Size", True), ("Count", True), ("Direct", True), ("Via 32×32", True)], rows))
        rf, more = self._measured("receptive_field")
        items += more
        if rf:
            text = " and ".join(f"{name} {int(px)}×{int(px)}" for name, px in rf.items())
            px = max(rf.values())
            items.append(note(f"Measured receptive field (the input pixels that can change one output pixel, "
                              f"found by backpropagating from one output pixel): {text} pixels. That is "
                              f"{min(px / 32, 1):.0%} of the width of a 32×32 training image, but only "
                              f"{px / 128:.0%} of a 128-pixel and {px / 256:.0%} of a 256-pixel image."))
        return items


def collect_facts(builder: EvidenceBuilder) -> dict[str, Any]:
    """Numbers computed by the evidence code that answers may quote."""
    shapes = builder.sr_shapes()
    return {"sr_small": shapes["small"][-1], "sr_size": shapes["target"][-1],
            "sr_factor": shapes["target"][-1] // shapes["small"][-1], "palette_size": len(builder.palette)}


def compute_seconds(runs: Iterable[RunInfo]) -> float:
    """Training time, counting once a trajectory that several epoch counts reuse."""
    per_trajectory: dict[str, float] = {}
    for r in runs:
        if r.result is not None:
            t = r.result.meta.get("trajectory", r.name)
            per_trajectory[t] = max(per_trajectory.get(t, 0.0), float(r.result.meta.get("seconds", 0.0)))
    return sum(per_trajectory.values())
