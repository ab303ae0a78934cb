"""Build the HTML report: gather cached results, build a plain context, render the templates.

Rendering never trains. It needs only the data files' identity and the palette to compute
fingerprints, and reads the test images once, for the measurements (pa3report/measurements/),
only when those are not cached yet for the current runs. `gather` runs what is missing first
(unless told not to). The page is written to a temporary folder beside build/html and
swapped in at the end, so a failed render leaves the previous report intact.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from . import __version__
from . import evidence, lists, measurements, seeds
from .answers import FINAL_FIELDS, OVERVIEW, Answer, RunTable, RunView, TestRow, render_answers, tests_by_part
from .config import QUESTIONS, RunSpec, load_experiments
from .data import NUM_COLOURS
from .errors import UserError
from .evidence.resolution import sr_shapes
from .fields import Fields
from .formats import duration
from .fsutil import atomic_write, swap_in
from .outline import PROBLEMS, Problem, Question, kinds
from .page import FigureMaker, Page
from .progress import Estimator, Overall, begin
from .devices import device_name, fallback_note
from .runner import Diverged, Outcome, Runner, specs_for, summary_line, wave_numbers
from .inputs import Inputs, Paths, load_inputs
from .runs import RunInfo, training_seconds
from .store import SHORT, Store

TEMPLATE = "report.html.j2"
GALLERY_TEMPLATE = "gallery.html.j2"
STATE_FILE = "report.json"


def html_dir(paths: Paths) -> Path:
    """Where the finished report lives (build/html)."""
    return paths.build / "html"


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


@dataclass
class Gathered:
    """Every experiment of every list with its result (or none), plus the common palette."""

    runs: dict[str, RunInfo]
    palette: np.ndarray
    quick: bool
    inputs: Inputs | None = None  # the data (images load lazily); None when none was found
    failures: dict[str, str] = field(default_factory=dict)  # run -> why it failed (diverged)
    selection: lists.Selection = lists.EVERY  # the lists chosen for training

    @property
    def missing(self) -> list[str]:
        """Runs of the chosen lists without a result: not run yet, or failed."""
        return [n for n, r in self.runs.items() if not r.available and r.experiment in self.selection]

    @property
    def left_out(self) -> list[str]:
        """Runs of the other lists without a result: not trained, as asked."""
        return [n for n, r in self.runs.items() if not r.available and r.experiment not in self.selection]


# --------------------------------------------------------------------------- gathering


def gather(paths: Paths, quick: bool, env: Mapping[str, str] | None = None, run_missing: bool = True,
           show_progress: bool | None = None, jobs: int = 1, missing_data_ok: bool = False,
           chosen: Sequence[str] | None = None,
           on_page: Callable[[Gathered, str, Overall], None] | None = None) -> Gathered:
    """Results of every experiment, training the missing ones of the `chosen` lists (None: all)
    when run_missing is set; the other lists' results are read if cached, never trained.

    Without run_missing nothing trains, but a palette that is not cached yet is fitted (as
    `list` does, seconds): without it no fingerprint, hence no status, can be known. With
    missing_data_ok and no data found anywhere, every run is "not run yet" (nothing can be
    cached without the data the fingerprints cover). A run that diverges is reported and
    marked failed while the others train. show_progress=None shows the overall bar on a terminal.

    on_page(results so far, why, bar) is called after each wave but the last (runner.wave_numbers)
    and on Ctrl-C before it propagates, so a long training shows a complete page early.
    """
    env = dict(os.environ if env is None else env)
    experiments = load_experiments(paths.experiments)
    measurements.check(experiments, paths.experiments)
    selection = lists.select(experiments, chosen)
    specs = specs_for(experiments, quick)
    try:
        inputs = load_inputs(paths, env, download=run_missing)
    except UserError as exc:
        if run_missing or not missing_data_ok:
            raise
        print(f"note: no data found, so no result can be read; every run shows as not run yet ({exc})",
              file=sys.stderr)
        return Gathered({s.name: RunInfo(s, None, "missing") for s in specs},
                        np.zeros((NUM_COLOURS, 3), np.float32), quick, selection=selection)
    runner = Runner(paths, inputs, show_progress=False)
    palette = np.asarray(inputs.palette, dtype=np.float32)
    runs: dict[str, RunInfo] = {}
    for spec in specs:
        hit = runner.cached(spec)
        runs[spec.name] = RunInfo(spec, hit, "cached" if hit else "missing")
    todo: list[RunSpec] = [r.spec for r in runs.values() if not r.available and r.experiment in selection]
    failures: dict[str, str] = {}
    if todo and run_missing:
        print(f"training {len(todo)} run(s) that are not cached: {', '.join(s.name for s in todo)}",
              file=sys.stderr)
        if (note := fallback_note(runner.device)) is not None:
            print(note, file=sys.stderr)
        bar = Overall(Estimator.from_build(paths.build, device_name(runner.device)), enabled=show_progress)

        def failed(exc: Diverged) -> None:
            for name in exc.names:
                failures[name] = str(exc)
                runs[name] = RunInfo(runs[name].spec, None, "failed")
                bar.write(f"{name:<24} failed   the loss diverged; the report goes on without it")

        def filed(outcome: Outcome) -> None:
            runs[outcome.spec.name] = RunInfo(outcome.spec, outcome.result, outcome.how)
            bar.write(summary_line(outcome))

        def so_far() -> Gathered:
            return Gathered(dict(runs), palette, quick, inputs, dict(failures), selection)

        def wave_done(wave: int, last: int) -> None:
            if on_page is not None and wave < last:
                on_page(so_far(), f"after wave {wave + 1} of {last + 1}", bar)

        try:
            runner.run(todo, jobs=jobs, on_outcome=filed, progress=bar, on_failure=failed,
                       waves=wave_numbers(specs), on_wave=wave_done)
        except KeyboardInterrupt:
            if on_page is not None:
                bar.close()
                on_page(so_far(), "when training was interrupted", bar)
            raise
    return Gathered(runs, palette, quick, inputs, failures, selection)


# --------------------------------------------------------------------------- context


def run_view(info: RunInfo, group: list[RunInfo]) -> RunView:
    """What answers see of one run; `group` is every available seed of its entry."""
    e, spec = info.experiment, info.spec
    nan = float("nan")
    if info.result is not None:
        hist = info.result.history
        final = Fields(f"runs.{info.name}.final", info.result.final)
        best = Fields(f"runs.{info.name}.best", {
            "train_loss": float(hist["train_loss"].min()), "val_loss": float(hist["val_loss"].min()),
            "val_acc": float(hist["val_acc"].max()), "val_mse": float(hist["val_mse"].min()),
            "val_acc_epoch": int(hist.loc[hist["val_acc"].idxmax(), "epoch"]),
            "val_loss_epoch": int(hist.loc[hist["val_loss"].idxmin(), "epoch"])})
        history = tuple(Fields(f"runs.{info.name}.history[{i}]", row)
                        for i, row in enumerate(hist.to_dict(orient="records")))
        seconds = float(info.result.meta.get("seconds", nan))
    else:
        final = Fields(f"runs.{info.name}.final", {k: nan for k in FINAL_FIELDS})
        best = Fields(f"runs.{info.name}.best", {k: nan for k in (
            "train_loss", "val_loss", "val_acc", "val_mse", "val_acc_epoch", "val_loss_epoch")})
        history, seconds = (), nan
    stats = seeds.entry_stats(group, e.base)
    mean = Fields(f"runs.{info.name}.mean", {m: stats[f"{m}_mean"] for m in seeds.METRICS})
    sd = Fields(f"runs.{info.name}.sd", {m: stats[f"{m}_sd"] for m in seeds.METRICS})
    seed_ids = tuple(seeds.per_seed(group, "val_acc")[0])
    values = Fields(f"runs.{info.name}.values", {m: seeds.per_seed(group, m)[1] for m in seeds.METRICS})
    return RunView(name=info.name, title=e.title, model=e.model, task=e.task, epochs=spec.epochs,
                   list_name=e.list_name,
                   planned_epochs=e.epochs, batch_size=e.batch_size, learn_rate=e.learn_rate, num_filters=e.num_filters,
                   kernel=e.kernel, quick=spec.quick, available=info.available, seconds=seconds,
                   final=final, best=best, seeds=stats["seeds"], mean=mean, sd=sd, values=values,
                   seed_ids=seed_ids, history=history, median_seconds=stats["seconds"])


def answer_context(gathered: Gathered, page: Page, views: Mapping[str, Fields]) -> dict[str, Any]:
    """What answers/*.md may use: runs, architectures (by model), computed facts, and every
    measurement's view (analysis.*, sweep): NaN wherever a run is missing, so names always resolve."""
    runs = RunTable({name: run_view(info, [r for r in gathered.runs.values()
                                           if r.available and r.experiment.base == info.experiment.base])
                     for name, info in gathered.runs.items()})
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
    shapes = sr_shapes()
    facts = {"sr_small": shapes["small"][-1], "sr_size": shapes["target"][-1],
             "sr_factor": shapes["target"][-1] // shapes["small"][-1], "palette_size": len(page.palette)}
    return {"runs": runs, "arch": Fields("arch", arch), "facts": Fields("facts", facts), **views,
            "quick": gathered.quick}


def evidence_page(paths: Paths, gathered: Gathered, compute: bool = True,
                  outline: tuple[Problem, ...] = PROBLEMS) -> tuple[Page, dict[str, Fields]]:
    """The page the evidence is built from, with the outline's measurements (computed, or with
    compute=False only as stored), and the views answers read."""
    inputs = gathered.inputs
    used: list[str] = []
    found = measurements.measure(
        kinds(outline), gathered.runs, gathered.palette,
        paths.build, inputs.identity if inputs else None, (lambda: inputs.horses.test) if inputs else None,
        compute=compute, used=used)
    page = Page(gathered.runs, gathered.palette, FigureMaker(paths.build / "figures"), found,
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
            "seconds": duration(float(r.meta.get("seconds", 0.0))) if r else "–",
            "device": r.meta.get("device", "?") if r else "–",
            "torch": r.meta.get("torch", "?") if r else "–",
            "finished": r.meta.get("finished_at", "") if r else "",
            "fingerprint": info.fingerprint[:SHORT] if r else "–",
            "how": how, "available": info.available,
        })
    return rows


def mixed_devices(results: Sequence[Any]) -> list[dict[str, Any]]:
    """How many runs each device trained, when more than one did (else []): their numbers are not
    bit for bit comparable, so the page says so."""
    counts: dict[str, int] = {}
    for r in results:
        name = str(r.meta.get("device", "?"))
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


def build_context(gathered: Gathered, answers: Mapping[str, Answer], page: Page, student: Student,
                  outline: tuple[Problem, ...] = PROBLEMS) -> dict[str, Any]:
    """The plain dict the template renders; all decisions are made here, not in the template."""
    results = [r.result for r in gathered.runs.values() if r.result is not None]
    finished = sorted(r.meta.get("finished_at", "") for r in results)
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
        "student": student.full,
        "date": finished[-1][:10] if finished else "",
        "torch": ", ".join(sorted({r.meta.get("torch", "?") for r in results})) or torch.__version__,
        "devices": ", ".join(sorted({r.meta.get("device", "?") for r in results})) or "–",
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


# --------------------------------------------------------------------------- rendering


def _environment(templates: Path):
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(loader=FileSystemLoader(str(templates)), autoescape=select_autoescape(["html", "j2"]),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


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


def render(paths: Paths, gathered: Gathered, student: Student = Student(),
           outline: tuple[Problem, ...] = PROBLEMS, stage: str = "") -> Rendered:
    """Write build/html/ (index.html, img/, activations/) and build/report.json; `stage` marks a
    page written while training goes on ("after wave 1 of 3", "interrupted")."""
    start = time.perf_counter()
    templates = paths.root / "templates"
    if not (templates / TEMPLATE).is_file():
        raise UserError(f"{templates / TEMPLATE} is missing; the report template ships with the project.")
    finish = begin("analysis: measuring the trained networks")
    page, views = evidence_page(paths, gathered, outline=outline)
    finish()
    finish = begin("report: figures, answers and the page")
    maker = page.maker
    answers = render_answers(paths.root / "answers", answer_context(gathered, page, views))
    context = {**build_context(gathered, answers, page, student, outline), "stage": stage,
               "written": time.strftime("%Y-%m-%d %H:%M")}
    env = _environment(templates)
    html = env.get_template(TEMPLATE).render(**context)

    paths.build.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".html-new-", dir=paths.build))
    try:
        (staging / "index.html").write_text(html, encoding="utf-8")
        for rel, src in maker.files.items():
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
        with Store(paths.build).lock("report-html"):  # two reports swap one after the other
            swap_in(staging, html_dir(paths))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    state = {"quick": gathered.quick, "missing": gathered.missing, "student": student.full,
             "lists": gathered.selection.chosen, "left_out": gathered.left_out,
             "date": context["date"],
             "unanswered": context["unanswered"],
             "failed": sorted(gathered.failures),
             "fingerprints": {n: r.fingerprint for n, r in gathered.runs.items()},
             "files": used_files(paths, gathered, page)}
    atomic_write(paths.build / STATE_FILE, json.dumps(state, indent=2, sort_keys=True).encode())
    finish()
    return Rendered(html_dir(paths) / "index.html", len(maker.files), maker.drawn, time.perf_counter() - start,
                    gathered.quick, tuple(gathered.missing), tuple(context["unanswered"]),
                    tuple(sorted(gathered.failures)))


def used_files(paths: Paths, gathered: Gathered, page: Page) -> dict[str, Any]:
    """The cached figures and measurements this render read, for `prune`, per kind of report
    (the last quick and the last full render are both kept: each is a `make report` away)."""
    mode = "quick" if gathered.quick else "full"
    try:
        previous = json.loads((paths.build / STATE_FILE).read_text()).get("files", {})
    except (OSError, ValueError, AttributeError):
        previous = {}
    files = {k: v for k, v in previous.items() if k in ("quick", "full") and k != mode} \
        if isinstance(previous, dict) else {}
    files[mode] = {"figures": sorted({p.name for p in page.maker.files.values()}),
                   "analysis": sorted(page.analysis_files)}
    return files
