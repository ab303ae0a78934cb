"""Write the HTML report: the page's context rendered through the templates into build/html.

Rendering never trains (gathering.gather does that first). The measurements it shows are
computed only when they are not cached yet for the current runs. The page is written to a
temporary folder beside build/html and swapped in at the end, so a failed render leaves the
previous report intact.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .answer_context import answer_context
from .answers import render_answers
from .errors import UserError
from .fsutil import atomic_write, swap_in
from .gathering import Gathered
from .inputs import Paths
from .outline import PROBLEMS, Problem
from .page import Page
from .page_context import build_context, evidence_page
from .progress import begin

TEMPLATE = "report.html.j2"
GALLERY_TEMPLATE = "gallery.html.j2"


@dataclass(frozen=True)
class Student:
    name: str = ""
    surname: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Student":
        return cls(env.get("PA3_NAME", "").strip(), env.get("PA3_SURNAME", "").strip())

    @property
    def full(self) -> str:
        return " ".join(p for p in (self.name, self.surname) if p)


@dataclass(frozen=True)
class Rendered:
    index: Path
    figures: int
    drawn: int
    seconds: float
    quick: bool
    missing: tuple[str, ...]
    unanswered: tuple[str, ...]
    failed: tuple[str, ...] = ()


def _environment(templates: Path):
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    if not (templates / TEMPLATE).is_file():
        raise UserError(f"{templates / TEMPLATE} is missing; the report template ships with the project.")
    return Environment(loader=FileSystemLoader(str(templates)), autoescape=select_autoescape(["html", "j2"]),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(paths: Paths, gathered: Gathered, student: Student = Student(),
           outline: tuple[Problem, ...] = PROBLEMS, stage: str = "") -> Rendered:
    """Write build/html/ (index.html, img/, activations/) and build/report.json; `stage` marks a
    page written while training goes on ("after wave 1 of 3", "interrupted")."""
    start = time.perf_counter()
    env = _environment(paths.root / "templates")
    finish = begin("analysis: measuring the trained networks")
    page, views = evidence_page(paths, gathered, outline=outline)
    finish()
    finish = begin("report: figures, answers and the page")
    answers = render_answers(paths.root / "answers", answer_context(gathered, page, views))
    context = {**build_context(gathered, answers, page, student.full, outline), "stage": stage,
               "written": time.strftime("%Y-%m-%d %H:%M")}
    write_html(paths, env, context, page.maker.files)
    state = {"quick": gathered.quick, "missing": gathered.missing, "student": student.full,
             "lists": gathered.selection.chosen, "left_out": gathered.left_out,
             "date": context["date"],
             "unanswered": context["unanswered"],
             "failed": sorted(gathered.failures),
             "fingerprints": {n: r.fingerprint for n, r in gathered.runs.items()},
             "files": used_files(paths, gathered, page)}
    atomic_write(paths.state_file, json.dumps(state, indent=2, sort_keys=True).encode())
    finish()
    return Rendered(paths.html / "index.html", len(page.maker.files), page.maker.drawn,
                    time.perf_counter() - start, gathered.quick, tuple(gathered.missing),
                    tuple(context["unanswered"]), tuple(sorted(gathered.failures)))


def write_html(paths: Paths, env: Any, context: Mapping[str, Any], files: Mapping[str, Path]) -> None:
    """index.html, the figures and a page per activation gallery, staged and swapped in whole."""
    html = env.get_template(TEMPLATE).render(**context)
    paths.build.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".html-new-", dir=paths.build))
    try:
        (staging / "index.html").write_text(html, encoding="utf-8")
        for rel, src in files.items():
            dest = staging / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        gallery = env.get_template(GALLERY_TEMPLATE)
        for problem in context["problems"]:
            for q in problem["questions"]:
                for item in q["evidence"]:
                    if item["kind"] == "gallery":
                        index = staging / item["index"]
                        index.write_text(gallery.render(question=q, item=item, student=context["student"],
                                                        quick=context["quick"]), encoding="utf-8")
        os.chmod(staging, 0o755)
        with paths.store.lock("report-html"):  # two reports swap one after the other
            swap_in(staging, paths.html)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def used_files(paths: Paths, gathered: Gathered, page: Page) -> dict[str, Any]:
    """The cached figures and measurements this render read, for `prune`, per kind of report
    (the last quick and the last full render are both kept: each is a `make report` away)."""
    mode = "quick" if gathered.quick else "full"
    try:
        previous = json.loads(paths.state_file.read_text()).get("files", {})
    except (OSError, ValueError, AttributeError):
        previous = {}
    files = {k: v for k, v in previous.items() if k in ("quick", "full") and k != mode} \
        if isinstance(previous, dict) else {}
    files[mode] = {"figures": sorted({p.name for p in page.maker.files.values()}),
                   "analysis": sorted(page.analysis_files)}
    return files
