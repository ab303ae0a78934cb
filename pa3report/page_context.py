"""The page's context: the evidence of each question (figures, tables, measurements) and the
plain dict the template renders. Every decision about what the page says is made here; the
template only lays it out."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

import torch

from . import __version__
from . import evidence, measurements
from .answers import OVERVIEW, Answer, TestRow, tests_by_part
from .config import QUESTIONS
from .fields import Fields
from .formats import duration
from .gathering import Gathered
from .inputs import Paths
from .outline import PROBLEMS, Problem, Question, kinds
from .page import FigureMaker, Page
from .runs import training_seconds
from .store import SHORT

def evidence_page(paths: Paths, gathered: Gathered, compute: bool = True,
                  outline: tuple[Problem, ...] = PROBLEMS) -> tuple[Page, dict[str, Fields]]:
    """The page the evidence is built from, with the outline's measurements (computed, or with
    compute=False only as stored), and the views answers read."""
    inputs = gathered.inputs
    used: list[str] = []
    found = measurements.measure(
        kinds(outline), gathered.runs, gathered.palette,
        paths.analysis, inputs.identity if inputs else None, (lambda: inputs.horses.test) if inputs else None,
        compute=compute, used=used)
    page = Page(gathered.runs, gathered.palette, FigureMaker(paths.figures), found,
                has_data=inputs is not None, analysis_files=used, selection=gathered.selection)
    return page, measurements.views(found, gathered.runs)


def _number(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.{digits}g}"
    return str(value)


def appendix(gathered: Gathered) -> list[dict[str, Any]]:
    rows = []
    for info in gathered.runs.values():
        e, r = info.experiment, info.result
        how = info.how if r or e in gathered.selection else "left out"
        config = {k: v for k, v in dataclasses.asdict(e).items() if k not in ("name", "title", "questions", "measured")}
        config["epochs"] = info.spec.epochs
        if info.spec.quick:
            config["train_images"], config["val_images"] = info.spec.train_images, info.spec.val_images
        rows.append({
            "name": info.name, "title": e.title, "questions": ", ".join(e.questions),
            "config": [(k, _number(v)) for k, v in config.items()],
            "final": [(k, _number(v)) for k, v in (r.final.items() if r else [])],
            # a time meta.json does not record counts as 0 s, as in the total (runs.training_seconds)
            "seconds": duration(r.meta.seconds if math.isfinite(r.meta.seconds) else 0.0) if r else "–",
            "device": r.meta.device if r else "–",
            "torch": r.meta.torch if r else "–",
            "finished": r.meta.finished_at if r else "",
            "fingerprint": info.fingerprint[:SHORT] if r else "–",
            "how": how, "available": info.available,
        })
    return rows


def mixed_devices(results: Sequence[Any]) -> list[dict[str, Any]]:
    """How many runs each device trained, when more than one did (else []): their numbers are not
    bit for bit comparable, so the page says so."""
    counts: dict[str, int] = {}
    for r in results:
        name = r.meta.device
        counts[name] = counts.get(name, 0) + 1
    return [{"device": d, "runs": n} for d, n in sorted(counts.items())] if len(counts) > 1 else []


def tests_context(rows: Sequence[TestRow]) -> dict[str, Any]:
    """A tests table's rows as the template shows them, and whether any p-value is Holm-adjusted."""
    return {"tests": [r.cells | {"number": r.number} for r in rows],
            "tests_adjusted": any(math.isfinite(r.p_adjusted) for r in rows)}


def further_parts(page: Page, question: Question, answer: Answer,
                  tests: Mapping[str, Sequence[TestRow]]) -> list[dict[str, Any]]:
    """The folded parts of a question: each Going-further title of the answer or the outline,
    in that order, with its prose, the tests only it cites (tests_by_part), and its evidence."""
    prose = {s.title: s.html for s in answer.further} if answer.answered else {}
    titles = list(dict.fromkeys([*prose, *(ev.further for ev in question.evidence if ev.further)]))
    return [{"title": t, "html": prose.get(t), **tests_context(tests.get(t, [])),
             "evidence": evidence.build(page, question, t)} for t in titles]


def build_context(gathered: Gathered, answers: Mapping[str, Answer], page: Page, student: str,
                  outline: tuple[Problem, ...] = PROBLEMS) -> dict[str, Any]:
    """The plain dict the template renders; all decisions are made here, not in the template."""
    results = [r.result for r in gathered.runs.values() if r.result is not None]
    finished = sorted(r.meta.finished_at for r in results)
    problems = []
    for p in outline:
        qs = []
        for q in p.questions:
            a = answers[q.id]
            main_tests, folded_tests = tests_by_part(a) if a.answered else ([], {})
            qs.append({"id": q.id, "title": q.title, "anchor": q.anchor, "evidence": evidence.build(page, q),
                       "answer": a.html, "state": a.state, "error": a.error,
                       "answer_file": f"answers/{q.id}.md", **tests_context(main_tests),
                       "further": further_parts(page, q, a, folded_tests)})
        problems.append({"number": p.number, "title": p.title, "summary": p.summary, "anchor": p.anchor,
                         "questions": qs})
    unanswered = [q for q in QUESTIONS if not answers[q].answered]
    failed = [{"name": n, "reason": why} for n, why in gathered.failures.items()]
    selection = gathered.selection
    left_out = [gathered.runs[n].experiment for n in gathered.left_out]
    return {
        "student": student,
        "date": finished[-1][:10] if finished else "",
        "torch": ", ".join(sorted({r.meta.torch for r in results})) or torch.__version__,
        "devices": ", ".join(sorted({r.meta.device for r in results})) or "–",
        "mixed_devices": mixed_devices(results),
        "compute": duration(training_seconds(gathered.runs.values())),
        "quick": gathered.quick,
        "missing": [n for n in gathered.missing if n not in gathered.failures],
        "train_command": selection.command(),
        "left_out": {"runs": len(left_out), "lists": selection.left_out(left_out),
                     "chosen": selection.chosen, "command": selection.command(left_out)} if left_out else None,
        "failed": failed,
        "unanswered": unanswered,
        "run_count": len(gathered.runs),
        "trained_count": len(results),
        "overview": answers[OVERVIEW].html,
        "overview_error": answers[OVERVIEW].error,
        "problems": problems,
        "runs": appendix(gathered),
        "version": __version__,
    }
