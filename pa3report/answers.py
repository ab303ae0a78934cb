"""The written answers: answers/<question>.md, Jinja over the results, then safe Markdown.

An answer is first rendered as a sandboxed Jinja template whose context holds the runs
(`{{ runs.p3_unet.final.val_acc | pct }}`), so every number in the prose is the number of
the current results. The text is then turned into HTML by markdown-it with raw HTML off
and only harmless link schemes allowed, so an answer cannot inject script into the page.
A wrong run or field name is an error that names the file and line.
"""

from __future__ import annotations

import dataclasses
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
from .answer_context import RunTable, RunView
from .claims import Claim, ClaimExtension
from .config import QUESTIONS
from .errors import closest
from .fields import Fields
from .compare import ALPHA, TESTS, Comparison, compare, holm, verdict

OVERVIEW = "overview"
_SAFE_LINK = re.compile(r"^(https?:|mailto:|#|\.{0,2}/|[\w.\-/]+(#[\w\-]*)?$)", re.IGNORECASE)
_SAFE_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp);", re.IGNORECASE)


# --------------------------------------------------------------------------- the context


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
            known = RunView.names()
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


def comparison_fields(owner: str, c: Comparison, row: int = 0) -> Fields:
    return Fields(owner, {"delta": c.delta, "size": abs(c.delta), "low": c.low, "high": c.high, "p": c.p,
                          "test": c.test or "no test", "n_a": c.n_a, "n_b": c.n_b,
                          "known": c.known, "significant": c.significant,
                          "ran": c.n_a > 0 and c.n_b > 0, "verdict": verdict(c), "row": row})


def comparison(a: Any, b: Any, metric: str) -> Comparison:
    """a − b in one metric with the test that fits how they were obtained (see compare.py)."""
    _stats(a, metric), _stats(b, metric)  # a wrong name or field fails here with its message
    (va, fa), (vb, fb) = _sample(a, metric), _sample(b, metric)
    return compare(va, vb, paired=_paired(a, b), a_fixed=fa, b_fixed=fb)


def gap(a: Any, b: Any, metric: str) -> Fields:
    """a − b in one metric: .delta, .size, .low/.high (95% CI), .p, .test, .n_a/.n_b, .known,
    .significant, .ran (both sides have values), .verdict (in words)."""
    return comparison_fields("gap", comparison(a, b, metric))


# --------------------------------------------------------------------------- the tests table


@dataclass(frozen=True)
class TestRow:
    """One comparison an answer made, as its tests table shows it."""

    number: int
    label: str
    metric: str
    comparison: Comparison
    family: str = ""  # rows of one family are read together: their p-values are Holm-adjusted
    p_adjusted: float = math.nan

    @property
    def cells(self) -> dict[str, str]:
        c, unit = self.comparison, formats.difference_unit(self.metric)
        digits = formats.METRICS.get(self.metric, (3, ""))[0]
        adjusted = math.isfinite(self.p_adjusted)
        return {
            "comparison": self.label,
            "delta": f"{formats.signed(c.delta, digits)}{unit}" if formats.finite(c.delta) else "–",
            "ci": formats.interval(c.low, c.high, digits) if c.known and c.test != "exact" else "–",
            "test": c.test or "–",
            "seeds": formats.seed_counts(c.test, c.n_a, c.n_b),
            "p": (formats.p_value(self.p_adjusted if adjusted else c.p, named=False)
                  + (" (Holm)" if adjusted else "")) if c.known and c.test != "exact" else "–",
            "verdict": verdict(c, self.p_adjusted if adjusted else None),
        }


class TestLog:
    """Every comparison one answer makes, in the order it makes them; a repeat is one row."""

    def __init__(self) -> None:
        self.rows: list[TestRow] = []

    def add(self, label: str, metric: str, c: Comparison, family: str = "",
            p_adjusted: float = math.nan) -> int:
        for row in self.rows:
            if (row.label, row.metric, row.family) == (label, metric, family) and row.comparison == c:
                return row.number
        self.rows.append(TestRow(len(self.rows) + 1, label, metric, c, family, p_adjusted))
        return len(self.rows)

    def finished(self) -> tuple[TestRow, ...]:
        """The rows, with Holm-adjusted p-values within each family that has no adjustment given."""
        rows = list(self.rows)
        for family in {r.family for r in rows if r.family}:
            members = [i for i, r in enumerate(rows) if r.family == family and not math.isfinite(r.p_adjusted)]
            if len(members) < 2:
                continue
            for i, p in zip(members, holm([rows[i].comparison.p for i in members])):
                rows[i] = dataclasses.replace(rows[i], p_adjusted=p)
        return tuple(rows)


def _label(entry: Any) -> str:
    if isinstance(entry, RunView):
        return entry.title or entry.name
    return str(getattr(entry, "owner", "")).rsplit(".", 1)[-1] or "?"


def recording(log: TestLog) -> tuple[Callable[..., Fields], Callable[..., Fields]]:
    """gap() and tested() for one answer: each comparison is also a row of the answer's tests table.

    gap(a, b, metric, label="UNet − CNN, validation accuracy", family="") compares and records;
    tested(point, label, metric) records a comparison computed elsewhere (a sweep point, whose
    p_holm is already adjusted over the sweep).
    """
    def recorded_gap(a: Any, b: Any, metric: str, label: str = "", family: str = "") -> Fields:
        c = comparison(a, b, metric)
        label = label or f"{_label(a)} − {_label(b)}: {metric}"
        return comparison_fields("gap", c, log.add(label, metric, c, family))

    def tested(point: Any, label: str, metric: str = "val_acc") -> Fields:
        _defined(point)
        n = int(point.get("seeds", 0)) if formats.finite(point.get("seeds", 0)) else 0
        test = point.get("test", "")
        c = Comparison(test if test in TESTS else "", float(point["delta"]), float(point["low"]),
                       float(point["high"]), float(point["p"]), n, n if math.isfinite(point["delta"]) else 0)
        adjusted = float(point.get("p_holm", math.nan))
        number = log.add(label, metric, c, p_adjusted=adjusted)
        found = comparison_fields("tested", c, number)
        if math.isfinite(adjusted):  # read together with its family: the adjusted p decides
            found.update(p=adjusted, significant=c.known and adjusted < ALPHA, verdict=verdict(c, adjusted))
        return found

    return recorded_gap, tested


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


# A heading "## Going further: <title>" starts a part of the answer that the page folds away.
FURTHER = re.compile(r"^#{2,4}[ \t]+Going further:[ \t]*(.+?)[ \t#]*$", re.MULTILINE)


@dataclass(frozen=True)
class Section:
    """A folded part of an answer: deeper analyses a reader may skip."""

    title: str
    html: Markup


@dataclass(frozen=True)
class Answer:
    """One question's slot: its HTML, or why there is none."""

    question: str
    path: Path
    html: Markup | None  # what the page shows unfolded: the direct answer and its explanation
    state: str  # "answered", "unanswered" or "error"
    error: str | None = None
    claims: tuple[Claim, ...] = ()  # every claim the rendered text evaluated, in order
    further: tuple[Section, ...] = ()  # the "Going further" parts, folded on the page
    tests: tuple[TestRow, ...] = ()  # every comparison the text made, for its tests table

    @property
    def answered(self) -> bool:
        return self.state == "answered"


def split_further(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(the unfolded text, [(title, text) of each Going-further part]) of a rendered answer."""
    marks = list(FURTHER.finditer(text))
    if not marks:
        return text, []
    parts = [(m.group(1), text[m.end():marks[i + 1].start() if i + 1 < len(marks) else len(text)])
             for i, m in enumerate(marks)]
    return text[:marks[0].start()], [(title, body) for title, body in parts if body.strip()]


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
    env.tests["finite"] = formats.finite  # {% if x is finite %}: measured, not NaN
    env.globals["ratio"] = _strict(formats.ratio)
    env.globals["interval"] = _strict(formats.interval)
    env.globals["gap"] = gap  # replaced per answer by a recording one (render_file)
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
    log = TestLog()
    env.globals["gap"], env.globals["tested"] = recording(log)
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
    main, parts = split_further(text)
    return Answer(question, path, to_html(main), "answered", claims=claims,
                  further=tuple(Section(title, to_html(body)) for title, body in parts),
                  tests=log.finished())


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


_CITED = re.compile(r"\btests?\s+((?:\d+(?:\s*[–-]\s*\d+)?(?:\s*,\s*|\s+and\s+)?)+)")


def cited(html: str) -> list[int]:
    """The test rows a text cites: "test 3", "tests 3 and 4", "tests 1–8", "(tests 1, 2)"."""
    found: list[int] = []
    for m in _CITED.finditer(_TAG.sub(" ", html)):
        for part in re.split(r"\s*,\s*|\s+and\s+", m.group(1).strip()):
            ends = [int(x) for x in re.split(r"\s*[–-]\s*", part) if x.isdigit()]
            if ends:
                found.extend(range(ends[0], ends[-1] + 1))
    return found


def tests_by_part(answer: Answer) -> tuple[list[TestRow], dict[str, list[TestRow]]]:
    """Each test row where the reader meets it: under the answer when the unfolded text cites it (or
    nothing does), else in the first Going-further part that cites it."""
    home: dict[int, str] = {}
    for n in cited(str(answer.html or "")):
        home.setdefault(n, "")
    for section in answer.further:
        for n in cited(str(section.html)):
            home.setdefault(n, section.title)
    parts: dict[str, list[TestRow]] = {s.title: [] for s in answer.further}
    main: list[TestRow] = []
    for row in answer.tests:
        (parts[home[row.number]] if home.get(row.number) else main).append(row)
    return main, parts


# What a reader sees unfolded: an answer's prose outside its tables and Going-further parts.
WORD_BUDGET = 2500  # words across the 18 answers
INTERVAL_BUDGET = 18  # inline "95% CI" across them (at most one per answer)
_TABLE = re.compile(r"<table\b.*?</table>", re.S)
_TAG = re.compile(r"<[^>]+>")
_WORD = re.compile(r"[^\W_]", re.UNICODE)


def visible_text(answer: Answer) -> str:
    """The unfolded prose of an answer as plain text (tables left out)."""
    return _TAG.sub(" ", _TABLE.sub(" ", str(answer.html or "")))


def visible_words(answer: Answer) -> int:
    return sum(1 for token in visible_text(answer).split() if _WORD.search(token))


def inline_intervals(answer: Answer) -> int:
    return visible_text(answer).count("95% CI")


def length_table(rendered: Mapping[str, Answer]) -> str:
    """Words and inline intervals each answer shows unfolded, against the page's budget."""
    lines = [f"{'answer':<9} {'words':>6} {'95% CI':>7} {'tests':>6} {'folded':>7}"]
    words = intervals = 0
    for q, a in rendered.items():
        if q == OVERVIEW or not a.answered:
            continue
        w, i = visible_words(a), inline_intervals(a)
        words, intervals = words + w, intervals + i
        lines.append(f"{q:<9} {w:>6} {i:>7} {len(a.tests):>6} {len(a.further):>7}")
    lines.append(f"{'total':<9} {words:>6} {intervals:>7}   (budget: {WORD_BUDGET:,} words, "
                 f"{INTERVAL_BUDGET} inline intervals, at most one per answer)")
    over = [f"{words - WORD_BUDGET:,} words" if words > WORD_BUDGET else "",
            f"{intervals - INTERVAL_BUDGET} intervals" if intervals > INTERVAL_BUDGET else ""]
    if any(over):
        lines.append("over budget by " + " and ".join(o for o in over if o) + ": a grader reads the first "
                     "lines; move detail into tables or a '## Going further:' part.")
    return "\n".join(lines)


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
