"""The written answers: answers/<question>.md, Jinja over the results, then safe Markdown.

An answer is first rendered as a sandboxed Jinja template whose context holds the runs
(`{{ runs.p3_unet.final.val_acc | pct }}`), so every number in the prose is the number of
the current results. The text is then turned into HTML by markdown-it with raw HTML off
and only harmless link schemes allowed, so an answer cannot inject script into the page.
A wrong run or field name is an error that names the file and line.
"""

from __future__ import annotations

import functools
import math
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, Undefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from . import formats
from .claims import Claim, ClaimExtension
from .config import QUESTIONS
from .errors import closest
from .fields import Fields
from .compare import Comparison, compare

# Per-epoch fields every run records (see train.train_epoch).
FINAL_FIELDS = ("epoch", "train_loss", "val_loss", "val_acc", "val_mse", "epoch_seconds")
OVERVIEW = "overview"
_SAFE_LINK = re.compile(r"^(https?:|mailto:|#|\.{0,2}/|[\w.\-/]+(#[\w\-]*)?$)", re.IGNORECASE)
_SAFE_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp);", re.IGNORECASE)


# --------------------------------------------------------------------------- the context


class RunTable(dict):
    """Run name -> RunView; unknown names are reported with the closest known one."""


@dataclass(frozen=True)
class RunView:
    """What an answer may say about one run. Values are NaN while a run is not cached."""

    name: str
    title: str
    model: str
    task: str
    epochs: int  # as trained (a --quick preview caps it)
    planned_epochs: int  # as the experiment list asks
    batch_size: int
    learn_rate: float
    num_filters: int
    kernel: int
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


class AnswerUndefined(StrictUndefined):
    """Any use of a missing name fails, with a message that says which run or field."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:  # type: ignore[override]
        obj, name = self._undefined_obj, self._undefined_name
        if isinstance(obj, RunTable):
            return (f"unknown run {name!r}{closest(str(name), obj)}; `python -m pa3report list` "
                    "shows every run")
        if isinstance(obj, Fields):
            return (f"{obj.owner} has no field {name!r}{closest(str(name), obj)}; "
                    f"fields: {', '.join(obj)}")
        if isinstance(obj, RunView):
            known = [f for f in RunView.__dataclass_fields__]
            return f"run {obj.name!r} has no attribute {name!r}{closest(str(name), known)}; known: {', '.join(known)}"
        return super()._undefined_message


def _defined(value: Any) -> Any:
    """A filter must not swallow a wrong name: an undefined value fails with its message."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return value


def _strict(fn: Callable[..., str]) -> Callable[..., str]:
    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> str:
        return fn(*(_defined(a) for a in args), **kwargs)
    return checked


def _stats(entry: Any, metric: str) -> tuple[float, float]:
    """(mean, sd) of a metric of anything with .mean and .sd (a run, an analysis row)."""
    if isinstance(entry, Undefined):  # a wrong run name must not read as n/a
        entry._fail_with_undefined_error()
    parts = []
    for name in ("mean", "sd"):
        part = entry.get(name) if isinstance(entry, dict) else getattr(entry, name, None)
        if not isinstance(part, Fields):
            raise ValueError(f"{getattr(entry, 'owner', type(entry).__name__)} has no mean and sd over seeds; "
                             "pass a run (runs.NAME) or an analysis row")
        if metric not in part:
            raise ValueError(f"{part.owner} has no field {metric!r}{closest(str(metric), part)}; "
                             f"fields: {', '.join(part)}")
        value = part[metric]
        parts.append(float(value) if formats.finite(_defined(value)) else math.nan)
    return parts[0], parts[1]


def pm(entry: Any, metric: str, digits: int | None = None) -> str:
    """A run's (or analysis row's) metric as 'mean ± sd' over its seeds, e.g. 61.2 ± 0.4%."""
    mean, sd = _stats(entry, metric)
    return formats.mean_sd(mean, sd, metric, digits)


def _sample(entry: Any, metric: str) -> tuple[list[float], bool]:
    """The per-seed values of a metric, and whether they are one deterministic number."""
    values = entry.get("values") if isinstance(entry, dict) else getattr(entry, "values", None)
    if not isinstance(values, Fields) or metric not in values:
        raise ValueError(f"{getattr(entry, 'owner', type(entry).__name__)} has no per-seed values of "
                         f"{metric!r}; pass a run (runs.NAME) or an analysis row")
    fixed = entry.get("fixed", False) if isinstance(entry, dict) else False
    return [float(v) for v in values[metric]], bool(fixed)


def _pairing(entry: Any) -> tuple[str, tuple[int, ...]]:
    """(network, seeds) behind a run or an analysis row; ("", ()) when unknown."""
    if isinstance(entry, RunView):
        return f"{entry.model}/{entry.task}", tuple(entry.seed_ids)
    p = entry.get("pairing") if isinstance(entry, dict) else None
    return (p["model"], tuple(p["seeds"])) if isinstance(p, dict) else ("", ())


def _paired(a: Any, b: Any) -> bool:
    """Runs of one network trained with the same seeds share initial state and data order, so
    their numbers are compared seed by seed (runs, or analysis rows measured on them)."""
    (na, sa), (nb, sb) = _pairing(a), _pairing(b)
    return bool(na) and na == nb and len(sa) >= 2 and sa == sb


def comparison_fields(owner: str, c: Comparison) -> Fields:
    return Fields(owner, {"delta": c.delta, "size": abs(c.delta), "low": c.low, "high": c.high, "p": c.p,
                          "test": c.test or "no test (too few seeds)", "n_a": c.n_a, "n_b": c.n_b,
                          "known": c.known, "significant": c.significant})


def gap(a: Any, b: Any, metric: str) -> Fields:
    """a − b in one metric with the test that fits how they were obtained (see compare.py):
    .delta, .size, .low/.high (95% CI), .p, .test, .n_a/.n_b, .known, .significant."""
    _stats(a, metric), _stats(b, metric)  # a wrong name or field fails here with its message
    (va, fa), (vb, fb) = _sample(a, metric), _sample(b, metric)
    return comparison_fields("gap", compare(va, vb, paired=_paired(a, b), a_fixed=fa, b_fixed=fb))


FILTERS = {**{f.__name__: _strict(f) for f in (formats.pct, formats.num, formats.sig, formats.duration,
                                                formats.grouped, formats.signed)},
           "pm": pm, "pvalue": _strict(formats.p_value)}


# --------------------------------------------------------------------------- Markdown


def _markdown():
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")

    def validate_link(url: str) -> bool:
        url = url.strip()
        return bool(_SAFE_LINK.match(url) or _SAFE_IMAGE.match(url))

    md.validateLink = validate_link
    return md


_MD = None


def to_html(text: str) -> Markup:
    """Markdown to HTML with raw HTML escaped and unsafe links left as plain text."""
    global _MD
    if _MD is None:
        _MD = _markdown()
    return Markup(_MD.render(text))


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Answer:
    """One question's slot: its HTML, or why there is none."""

    question: str
    path: Path
    html: Markup | None
    state: str  # "answered", "unanswered" or "error"
    error: str | None = None
    claims: tuple[Claim, ...] = ()  # every claim the rendered text evaluated, in order

    @property
    def answered(self) -> bool:
        return self.state == "answered"


class _AnswerEnvironment(SandboxedEnvironment):
    """The sandbox, except that `x.name` on Fields reads the field first: Jinja tries attributes
    before items, so a field named like a dict method (clear, items, values) would otherwise
    give the method, which is truthy, and an answer would silently say the wrong thing."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Fields) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def _environment(folder: Path) -> SandboxedEnvironment:
    from jinja2 import FileSystemLoader

    env = _AnswerEnvironment(loader=FileSystemLoader(str(folder)), undefined=AnswerUndefined,
                             autoescape=False, keep_trailing_newline=True, extensions=[ClaimExtension])
    env.filters.update(FILTERS)
    env.globals["ratio"] = _strict(formats.ratio)
    env.globals["interval"] = _strict(formats.interval)
    env.globals["gap"] = gap
    return env


def _error_line(exc: BaseException, filename: str) -> int | None:
    if isinstance(exc, TemplateSyntaxError) and exc.lineno:
        return exc.lineno
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    return line


def render_file(env: SandboxedEnvironment, path: Path, question: str, context: Mapping[str, Any]) -> Answer:
    """Render one answer file; never raises for the file's own mistakes."""
    if not path.is_file() or not path.read_text(encoding="utf-8").strip():
        return Answer(question, path, None, "unanswered")
    env.claims = []  # type: ignore[attr-defined]
    try:
        template = env.get_template(path.name)
        text = template.render(**context)
    except Exception as exc:  # syntax, unknown names, bad filter input: all the answer's fault
        line = _error_line(exc, str(path))
        where = f"{path}" + (f", line {line}" if line else "")
        message = exc.message if isinstance(exc, TemplateError) and exc.message else str(exc)
        return Answer(question, path, None, "error", f"{where}: {message}")
    claims = tuple(env.claims)  # type: ignore[attr-defined]
    if not text.strip():
        return Answer(question, path, None, "unanswered", claims=claims)
    return Answer(question, path, to_html(text), "answered", claims=claims)


def render_answers(folder: Path, context: Mapping[str, Any],
                   questions: Iterable[str] = QUESTIONS) -> dict[str, Answer]:
    """Every question's answer slot, plus the overview under OVERVIEW."""
    env = _environment(folder)
    out = {q: render_file(env, folder / f"{q}.md", q, context) for q in questions}
    out[OVERVIEW] = render_file(env, folder / f"{OVERVIEW}.md", OVERVIEW, context)
    return out


def problems(answers: Mapping[str, Answer], folder: Path) -> list[str]:
    """What `check` reports: unanswered questions, broken answers, stray files."""
    found = []
    for q, a in answers.items():
        if a.state == "unanswered" and q != OVERVIEW:
            found.append(f"{a.path}: question {q} is unanswered (the file is missing or empty)")
        elif a.state == "error":
            found.append(str(a.error))
    known = {f"{q}.md" for q in QUESTIONS} | {f"{OVERVIEW}.md"}
    for path in sorted(folder.glob("*.md")) if folder.is_dir() else []:
        if path.name not in known:
            found.append(f"{path}: not a question of the practical (expected names like 3.2.md)"
                         f"{closest(path.name, sorted(known))}")
    return found


def claim_table(rendered: Mapping[str, Answer]) -> str:
    """Every claim of the answers: where, verdict, condition and the claimed wording."""
    import pandas as pd

    rows = [{"where": f"{c.file}:{c.line}", "verdict": "holds" if c.verdict else "false: other wording",
             "condition": c.condition, "claim": c.text}
            for a in rendered.values() for c in a.claims]
    if not rows:
        return "no claims in the answers."
    table = pd.DataFrame(rows).to_string(index=False, justify="left", max_colwidth=70)
    held = sum(c.verdict for a in rendered.values() for c in a.claims)
    return f"{table}\n{len(rows)} claims: {held} hold, {len(rows) - held} show their other wording."
