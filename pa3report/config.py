"""Experiment configs: TOML entries checked once at load into frozen dataclasses.

Everything downstream (runner, training, report) trusts these objects, so every rule
about what a valid experiment is lives here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .errors import UserError, closest

try:
    import tomllib
except ImportError:  # Python 3.10: the same parser, published as tomli
    import tomli as tomllib  # type: ignore[no-redef]

MODELS = ("RegressionCNN", "CNN", "UNet")
OPTIMIZERS = ("adam", "sgd")
TASKS = ("regression", "colourization", "super_resolution")
# Each loss with the head it trains: "rgb" outputs three colour channels, "palette" one
# score per palette colour.
LOSSES = {"mse": "rgb", "lab": "rgb", "ce": "palette", "rebalanced": "palette"}
# The UNet's skip connections, named by the output they carry, with the block they feed, in
# the decoder's order (as models.SKIPS); a UNet keeps all three unless `skips` lists fewer.
SKIPS = {"downconv2": "upconv1", "downconv1": "upconv2", "input": "finalconv"}
QUESTIONS = (
    "1.1", "1.2", "1.3", "1.4", "1.5",
    "2.1", "2.2",
    "3.1", "3.2", "3.3",
    "4.1", "4.2",
    "5.1", "5.2", "5.3",
    "6.1", "6.2", "6.3",
)
FIRST_LIST = "handout"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# --quick: a preview small enough for tests and a first look at the report.
QUICK_EPOCHS = 2
QUICK_TRAIN_IMAGES = 1000
QUICK_VAL_IMAGES = 200


@dataclass(frozen=True)
class Experiment:
    """One training run as the experiment list describes it; defaults are the handout's."""

    name: str
    model: str
    task: str
    questions: tuple[str, ...] = ()
    title: str = ""
    epochs: int = 25
    batch_size: int = 100
    learn_rate: float = 0.001
    num_filters: int = 32
    kernel: int = 3
    seed: int = 0
    optimizer: str = "adam"
    weight_decay: float = 0.0
    loss: str = ""  # "" until __post_init__: the task's own (mse for regression, ce otherwise)
    skips: tuple[str, ...] | None = None  # None until __post_init__: the model's own (all for the UNet)
    # The measurements that read this entry, each with the label its table gives the entry ("": the
    # entry's name): (measurement, label) pairs from the entry's `measured` table. What is measured
    # follows the entry, whatever it is called; it never changes what is trained.
    measured: tuple[tuple[str, str], ...] = ()
    group: str = ""  # the entry's name when `seeds` expanded it into several runs
    list_name: str = ""  # the experiment list (file stem) it comes from; set by load_experiments

    def __post_init__(self) -> None:
        # Defaults that depend on other fields, settled once so every reader sees real values;
        # skips in the decoder's order, so listing them differently is the same experiment.
        if not self.loss:
            object.__setattr__(self, "loss", default_loss(self.task))
        skips = default_skips(self.model) if self.skips is None else self.skips
        object.__setattr__(self, "skips", tuple(s for s in SKIPS if s in skips)
                           + tuple(s for s in skips if s not in SKIPS))

    @property
    def head(self) -> str:
        """What the network outputs: "rgb" (three colour channels) or "palette" (colour scores)."""
        return LOSSES[self.loss]

    @property
    def handout_network(self) -> bool:
        """The handout's network and loss for this model and task: nothing ablated."""
        return self.loss == default_loss(self.task) and self.skips == default_skips(self.model)

    @property
    def base(self) -> str:
        """The name shared by every seed of this entry."""
        return self.group or self.name

    @property
    def in_channels(self) -> int:
        return 3 if self.task == "super_resolution" else 1


def default_loss(task: str) -> str:
    return "mse" if task == "regression" else "ce"


def default_skips(model: str) -> tuple[str, ...]:
    return tuple(SKIPS) if model == "UNet" else ()


def from_record(record: dict[str, Any]) -> Experiment:
    """The experiment of a result's meta (fields it predates take their defaults)."""
    known = {f.name for f in dataclasses.fields(Experiment)}
    values = {k: _frozen(v) for k, v in record.items() if k in known}
    return Experiment(**values)


def _frozen(value: Any) -> Any:
    """JSON lists back to the tuples the dataclass holds (pairs inside included)."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


# Keys a user may write in TOML, with the type they must have. `seeds` expands one entry
# into one run per seed (the first keeps the name, the others get a _s<seed> suffix).
FIELD_TYPES: dict[str, str] = {f.name: str(f.type) for f in dataclasses.fields(Experiment)
                               if f.name not in ("group", "list_name")}
FIELD_TYPES["skips"] = "tuple[str, ...]"
FIELD_TYPES["seeds"] = "tuple[int, ...]"
_PY_TYPES = {"str": str, "int": int, "float": float, "tuple[str, ...]": tuple, "tuple[int, ...]": list,
             "tuple[tuple[str, str], ...]": dict}
REQUIRED = ("name", "model", "task")
# Hyper-parameters that --set may change (the rest identify the experiment).
SETTABLE = ("epochs", "batch_size", "learn_rate", "num_filters", "kernel", "seed", "optimizer",
            "weight_decay", "loss")


@dataclass(frozen=True)
class RunSpec:
    """An experiment as it will actually be trained: quick previews shrink it."""

    experiment: Experiment
    quick: bool = False

    @property
    def name(self) -> str:
        return self.experiment.name

    @property
    def epochs(self) -> int:
        return min(self.experiment.epochs, QUICK_EPOCHS) if self.quick else self.experiment.epochs

    @property
    def train_images(self) -> int | None:
        return QUICK_TRAIN_IMAGES if self.quick else None

    @property
    def val_images(self) -> int | None:
        return QUICK_VAL_IMAGES if self.quick else None

    def hyper(self, *, with_epochs: bool = True) -> dict[str, Any]:
        """What determines the result (the name and questions do not)."""
        e = self.experiment
        out: dict[str, Any] = {
            "model": e.model, "task": e.task, "batch_size": e.batch_size,
            "learn_rate": e.learn_rate, "num_filters": e.num_filters, "kernel": e.kernel,
            "seed": e.seed, "optimizer": e.optimizer, "weight_decay": e.weight_decay,
            "loss": e.loss, "skips": list(e.skips or ()),
            "train_images": self.train_images, "val_images": self.val_images,
        }
        if with_epochs:
            out["epochs"] = self.epochs
        return out


def _where(path: Path | str, entry: str | None, key: str | None) -> str:
    parts = [str(path)]
    if entry is not None:
        parts.append(f"experiment {entry!r}")
    if key is not None:
        parts.append(f"key {key!r}")
    return ", ".join(parts)


def _check_value(key: str, value: Any) -> Any:
    """Return the value converted to its field type, or raise ValueError saying why."""
    want = _PY_TYPES[FIELD_TYPES[key]]
    if want is dict:
        return _check_measured(value)
    if want is tuple:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ValueError("must be a list of strings")
        value = tuple(value)
    elif want is list:
        if not isinstance(value, (list, tuple)) or not value or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**31 for v in value):
            raise ValueError("must be a non-empty list of seeds (integers >= 0)")
        if len(set(value)) != len(value):
            raise ValueError(f"lists a seed twice: {list(value)}")
        value = tuple(value)
    elif want is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"must be a number, got {type(value).__name__} {value!r}")
        value = float(value)
    elif want is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be an integer, got {type(value).__name__} {value!r}")
    elif not isinstance(value, str):
        raise ValueError(f"must be a string, got {type(value).__name__} {value!r}")

    if key == "name" and not NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a safe name: use lower-case letters, digits and '_', "
            "starting with a letter (it becomes a folder name)")
    choices = {"model": MODELS, "task": TASKS, "optimizer": OPTIMIZERS, "loss": LOSSES}.get(key)
    if choices is not None and value not in choices:
        raise ValueError(f"unknown {key} {value!r}{closest(value, choices)}; known: {', '.join(choices)}")
    if key == "skips":
        for s in value:
            if s not in SKIPS:
                raise ValueError(
                    f"unknown skip {s!r}{closest(s, SKIPS)}; the UNet's skips are "
                    + ", ".join(f"{k!r} (into {v})" for k, v in SKIPS.items()))
            if value.count(s) > 1:
                raise ValueError(f"lists {s!r} twice")
    if key == "weight_decay" and not 0.0 <= value <= 1.0:
        raise ValueError(f"must be in [0, 1], got {value}")
    if key == "questions":
        for q in value:
            if q not in QUESTIONS:
                raise ValueError(f"unknown question {q!r}{closest(q, QUESTIONS)}")
    ranges = {
        "epochs": (1, 1000), "batch_size": (1, 50000), "num_filters": (1, 1024),
        "kernel": (1, 15), "seed": (0, 2**31 - 1),
    }
    if key in ranges:
        lo, hi = ranges[key]
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {value}")
    if key == "kernel" and value % 2 == 0:
        raise ValueError(f"must be odd so 'same' padding keeps the image size, got {value}")
    if key == "learn_rate" and not 0.0 < value <= 1.0:
        raise ValueError(f"must be in (0, 1], got {value}")
    return value


def _check_measured(value: Any) -> tuple[tuple[str, str], ...]:
    """A `measured` table: measurement names, each with the label its table gives the entry. The
    names are checked against the measurements when the report loads the list
    (measurements.check), which knows them."""
    if not isinstance(value, dict):
        raise ValueError(f'must be a table of measurement = "label", for example '
                         f'{{edges = "UNet, batch 20"}}, got {type(value).__name__} {value!r}')
    for name, label in value.items():
        if not isinstance(label, str):
            raise ValueError(f"{name!r} must be given a label (a string; \"\" for the entry's name), "
                             f"got {type(label).__name__} {label!r}")
    return tuple(value.items())


def build_experiments(raw: dict[str, Any], where: Path | str) -> list[Experiment]:
    """Validate one table from the experiment list; `seeds` makes one run per seed."""
    entry = raw.get("name") if isinstance(raw.get("name"), str) else None
    for key in raw:
        if key not in FIELD_TYPES:
            raise UserError(
                f"{_where(where, entry, key)}: unknown key{closest(key, FIELD_TYPES)}. "
                f"Valid keys are: {', '.join(FIELD_TYPES)}.")
    for key in REQUIRED:
        if key not in raw:
            raise UserError(f"{_where(where, entry, None)}: the required key {key!r} is missing.")
    values = {}
    for key, value in raw.items():
        try:
            values[key] = _check_value(key, value)
        except ValueError as exc:
            raise UserError(f"{_where(where, entry, key)}: {exc}.") from None
    if "seeds" in values and "seed" in values:
        raise UserError(f"{_where(where, entry, 'seeds')}: give either 'seed' or 'seeds', not both.")
    seeds = values.pop("seeds", None)
    exp = Experiment(**values)
    if "skips" in values and exp.model != "UNet":
        raise UserError(
            f"{_where(where, entry, 'skips')}: only the UNet has skip connections to choose; "
            f"remove 'skips' from this {exp.model} entry or set model = \"UNet\".")
    problem = misfit(exp)
    if problem is not None:
        key, why = problem
        raise UserError(f"{_where(where, entry, key)}: {why}.")
    if seeds is None:
        return [exp]
    return [dataclasses.replace(exp, seed=s, group=exp.name, name=exp.name if i == 0 else f"{exp.name}_s{s}")
            for i, s in enumerate(seeds)]


def misfit(e: Experiment) -> tuple[str, str] | None:
    """(key, why) when the model, task and loss of an experiment do not fit together."""
    if (e.task == "regression") != (e.model == "RegressionCNN"):
        return "model", (f"model {e.model!r} does not fit task {e.task!r}; RegressionCNN is for 'regression', "
                         "CNN and UNet for 'colourization' and 'super_resolution'")
    rgb = [k for k, head in LOSSES.items() if head == "rgb"]
    palette = [k for k, head in LOSSES.items() if head == "palette"]
    if e.task == "regression" and e.head != "rgb":
        return "loss", (f"loss {e.loss!r} scores palette colours, but 'regression' outputs RGB; "
                        f"use {' or '.join(map(repr, rgb))}")
    if e.task == "colourization" and e.head != "palette":
        return "loss", (f"loss {e.loss!r} needs an RGB output, but 'colourization' classifies palette colours; "
                        f"use {' or '.join(map(repr, palette))} (or task 'regression' with RegressionCNN)")
    if e.task == "super_resolution" and e.loss not in (*palette, "mse"):
        return "loss", (f"loss {e.loss!r} is not used for 'super_resolution'; use "
                        f"{' or '.join(map(repr, palette))}, or 'mse' for an RGB output")
    return None


def load_experiments(directory: Path) -> tuple[Experiment, ...]:
    """Every experiment in every `*.toml` file of `directory`, in file then entry order: the
    handout's list first (its runs lead every table and figure), then the others by name."""
    files = sorted(Path(directory).glob("*.toml"), key=lambda f: (f.stem != FIRST_LIST, f.name))
    if not files:
        raise UserError(
            f"No experiment list found: {directory} holds no *.toml file. "
            "Run from the project folder or pass --root DIR (the folder that holds experiments/).")
    seen: dict[str, Path] = {}
    out: list[Experiment] = []
    for path in files:
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"{path}: TOML syntax error: {exc}. Fix the file and run again.") from None
        unknown = [k for k in doc if k != "experiment"]
        if unknown:
            raise UserError(
                f"{path}: unknown top-level table {unknown[0]!r}{closest(unknown[0], ['experiment'])}; "
                "write each run as an [[experiment]] table.")
        entries = doc.get("experiment", [])
        if not isinstance(entries, list):
            raise UserError(f"{path}: 'experiment' must be an array of tables: write [[experiment]].")
        for raw in entries:
            for exp in (dataclasses.replace(e, list_name=path.stem) for e in build_experiments(raw, path)):
                if exp.name in seen:
                    raise UserError(
                        f"{path}, experiment {exp.name!r}: duplicate name, already defined in "
                        f"{seen[exp.name]}. Every experiment needs its own name.")
                seen[exp.name] = path
                out.append(exp)
    return tuple(out)


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Turn `--set key=value` strings into checked field values."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise UserError(f"--set {item!r}: expected key=value, for example --set epochs=2.")
        if key not in SETTABLE:
            raise UserError(
                f"--set {item!r}: {key!r} cannot be set{closest(key, SETTABLE)}. "
                f"Settable keys: {', '.join(SETTABLE)}.")
        try:
            raw: Any = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            raw = text.strip()
        try:
            out[key] = _check_value(key, raw)
        except ValueError as exc:
            raise UserError(f"--set {item!r}: {key} {exc}.") from None
    return out


def apply_overrides(exp: Experiment, overrides: dict[str, Any]) -> Experiment:
    """The experiment with --set values; an override that does not fit it is a UserError."""
    if not overrides:
        return exp
    changed = dataclasses.replace(exp, **overrides)
    problem = misfit(changed)
    if problem is not None:
        key, why = problem
        raise UserError(f"--set {key}={overrides.get(key, getattr(changed, key))}: does not fit "
                        f"experiment {exp.name!r}: {why}.")
    return changed


def find(experiments: Iterable[Experiment], name: str) -> Experiment:
    by_name = {e.name: e for e in experiments}
    if name not in by_name:
        raise UserError(
            f"No experiment named {name!r}{closest(name, by_name)}. "
            "`python -m pa3report list` shows every experiment.")
    return by_name[name]


__all__ = [
    "Experiment", "RunSpec", "MODELS", "TASKS", "LOSSES", "SKIPS", "QUESTIONS", "SETTABLE",
    "load_experiments", "parse_overrides", "apply_overrides", "find", "build_experiments",
    "misfit", "from_record", "default_loss", "default_skips",
]
