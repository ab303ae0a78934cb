"""What the written answers may name: every run (`runs.NAME`), the architectures, a few
computed facts and the measurements' views. NaN wherever a run is missing, so an answer's
names always resolve and a wrong one is an error, whatever has been trained."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from . import seeds
from .config import Experiment
from .evidence.resolution import sr_shapes
from .fields import Fields
from .runs import RunInfo

if TYPE_CHECKING:
    from .gathering import Gathered
    from .page import Page

# Per-epoch fields every run records (see train.train_epoch).
FINAL_FIELDS = ("epoch", "train_loss", "val_loss", "val_acc", "val_mse", "epoch_seconds")
BEST_FIELDS = ("train_loss", "val_loss", "val_acc", "val_mse", "val_acc_epoch", "val_loss_epoch")
EXPERIMENT_FIELDS = tuple(f.name for f in dataclasses.fields(Experiment))


class RunTable(dict):
    """Run name -> RunView; unknown names are reported with the closest known one."""


@dataclass(frozen=True)
class RunView:
    """What an answer may say about one run. Every field of its experiment reads through
    (`runs.p6_sgd.optimizer`); `epochs` is as trained (a --quick preview caps it) and
    `planned_epochs` as the list asks. Values are NaN while a run is not cached."""

    experiment: Experiment
    epochs: int
    quick: bool
    available: bool
    seconds: float  # this seed's training time
    final: Fields
    best: Fields
    seeds: int = 1  # available runs of the same entry (its seeds), this one included
    mean: Fields = field(default_factory=lambda: Fields("mean", {}))  # final metrics over the seeds
    sd: Fields = field(default_factory=lambda: Fields("sd", {}))  # their standard deviation (NaN for one)
    values: Fields = field(default_factory=lambda: Fields("values", {}))  # per-seed final metrics, by seed
    seed_ids: tuple[int, ...] = ()  # the seeds behind values, in the same order
    median_seconds: float = math.nan  # training time, median over the seeds (as the metrics tables show it)
    history: tuple[Fields, ...] = field(default=())

    def __getattr__(self, name: str) -> Any:
        if name in EXPERIMENT_FIELDS:
            return getattr(self.experiment, name)
        raise AttributeError(name)

    @property
    def planned_epochs(self) -> int:
        return self.experiment.epochs

    @classmethod
    def names(cls) -> list[str]:
        """Every name an answer may read from a run."""
        own = [f.name for f in dataclasses.fields(cls) if f.name != "experiment"]
        return [*dict.fromkeys([*own, "planned_epochs", *EXPERIMENT_FIELDS])]


def _history_fields(info: RunInfo) -> tuple[Fields, Fields, tuple[Fields, ...]]:
    """The run's final row, its best values (with their epochs) and every row, NaN when not cached."""
    nan = float("nan")
    if info.result is None:
        return (Fields(f"runs.{info.name}.final", {k: nan for k in FINAL_FIELDS}),
                Fields(f"runs.{info.name}.best", {k: nan for k in BEST_FIELDS}), ())
    hist = info.result.history
    best = {"train_loss": float(hist["train_loss"].min()), "val_loss": float(hist["val_loss"].min()),
            "val_acc": float(hist["val_acc"].max()), "val_mse": float(hist["val_mse"].min()),
            "val_acc_epoch": int(hist.loc[hist["val_acc"].idxmax(), "epoch"]),
            "val_loss_epoch": int(hist.loc[hist["val_loss"].idxmin(), "epoch"])}
    return (Fields(f"runs.{info.name}.final", info.result.final), Fields(f"runs.{info.name}.best", best),
            tuple(Fields(f"runs.{info.name}.history[{i}]", row)
                  for i, row in enumerate(hist.to_dict(orient="records"))))


def run_view(info: RunInfo, group: list[RunInfo]) -> RunView:
    """What answers see of one run; `group` is every available seed of its entry."""
    final, best, history = _history_fields(info)
    seconds = info.result.meta.seconds if info.result is not None else math.nan
    stats = seeds.entry_stats(group, info.experiment.base)
    owner = f"runs.{info.name}"
    return RunView(
        experiment=info.experiment, epochs=info.spec.epochs, quick=info.spec.quick, available=info.available,
        seconds=seconds, final=final, best=best, seeds=stats["seeds"],
        mean=Fields(f"{owner}.mean", {m: stats[f"{m}_mean"] for m in seeds.METRICS}),
        sd=Fields(f"{owner}.sd", {m: stats[f"{m}_sd"] for m in seeds.METRICS}),
        values=Fields(f"{owner}.values", {m: seeds.per_seed(group, m)[1] for m in seeds.METRICS}),
        seed_ids=tuple(seeds.per_seed(group, "val_acc")[0]), history=history, median_seconds=stats["seconds"])


def architectures(gathered: "Gathered", page: "Page") -> Fields:
    """The handout networks' shapes by model, as the answers quote them."""
    arch: dict[str, Fields] = {}
    for info in gathered.runs.values():
        e = info.experiment
        if e.model in arch or not e.handout_network or (e.model != "RegressionCNN" and e.task != "colourization"):
            continue
        a = page.architecture(e)
        shapes = {"input": a.input_shape, **{b.name: b.output_shape for b in a.blocks}}
        size = lambda name: "×".join(map(str, shapes[name]))  # noqa: E731
        arch[e.model] = Fields(f"arch.{e.model}", {
            "conv_layers": a.conv_layers, "params": a.params, "kernel": e.kernel,
            "filters": ", ".join(str(b.out_channels) for b in a.blocks),
            "skips": len([s for b in a.blocks for s in b.skips]),
            # e.g. "downconv2 (64×8×8) into upconv1, downconv1 (32×16×16) into upconv2, input (1×32×32) into finalconv"
            "skip_list": ", ".join(f"{s} ({size(s)}) into {b.name}" for b in a.blocks for s in b.skips) or "none",
            "bottleneck": size(min((b for b in a.blocks), key=lambda b: b.output_shape[1] * b.output_shape[2]).name)})
    return Fields("arch", arch)


def answer_context(gathered: "Gathered", page: "Page", views: Mapping[str, Fields]) -> dict[str, Any]:
    """What answers/*.md may use: runs, architectures (by model), computed facts, and every
    measurement's view (analysis.*, sweep)."""
    runs = RunTable({name: run_view(info, [r for r in gathered.runs.values()
                                           if r.available and r.experiment.base == info.experiment.base])
                     for name, info in gathered.runs.items()})
    shapes = sr_shapes()
    facts = {"sr_small": shapes["small"][-1], "sr_size": shapes["target"][-1],
             "sr_factor": shapes["target"][-1] // shapes["small"][-1], "palette_size": len(page.palette)}
    return {"runs": runs, "arch": architectures(gathered, page), "facts": Fields("facts", facts), **views,
            "quick": gathered.quick}
