"""The situations a student's results can be in, made from one set of results, for rendering
every answer under each of them (tests/test_scenarios.py) or reading them by eye:

    python -m tests.scenarios SCENARIO [QUESTION ...]     (PA3_BUILD, PA3_DATA as for `report`)

as_is         the results as they are
handout_only  only the handout's list trained: the ablations and the sweep never ran
one_seed      one seed per entry: no difference can be tested
failed_seed   the second seed of the handout's UNet failed (diverged): its entry has one seed
              fewer than the runs it is compared with, so seed-paired tests fall back to Welch's
reversed      every measured number negated: each difference between two results flips sign
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path
from typing import Any, Mapping

from pa3report import answers
from pa3report.answer_context import RunTable, RunView
from pa3report.answers import Answer
from pa3report.fields import Fields
from pa3report.answer_context import answer_context
from pa3report.gathering import Gathered
from pa3report.page_context import evidence_page
from pa3report.runs import RunInfo

SCENARIOS = ("as_is", "handout_only", "one_seed", "failed_seed", "reversed")
FAILED = "p3_unet_s1"
# Numbers that describe spread, counts, time or a test, not a result: a reversal keeps them.
_KEEP = ("sd", "p", "p_holm", "seconds", "epoch", "epochs", "seeds", "size", "count", "images")


def handout_names() -> set[str]:
    """The runs of the project's handout list (a test project may keep all its runs in one list)."""
    from pa3report.config import load_experiments

    return {e.name for e in load_experiments(Path(__file__).resolve().parents[1] / "experiments")
            if e.list_name == "handout"}


def _missing(info: RunInfo, how: str = "missing") -> RunInfo:
    return RunInfo(info.spec, None, how)


def scenario(gathered: Gathered, name: str) -> Gathered:
    """The results as the scenario has them (reversed is applied to the answers' context)."""
    runs = dict(gathered.runs)
    failures = dict(gathered.failures)
    if name == "handout_only":
        runs = {n: r if n in handout_names() else _missing(r) for n, r in runs.items()}
    elif name == "one_seed":
        runs = {n: r if r.primary else _missing(r) for n, r in runs.items()}
    elif name == "failed_seed":
        failed = FAILED if FAILED in runs else next(n for n, r in runs.items() if not r.primary)
        runs[failed] = _missing(runs[failed], "failed")
        failures[failed] = f"{failed} diverged: the training loss became nan at epoch 3 (a test scenario)"
    elif name not in ("as_is", "reversed"):
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    return dataclasses.replace(gathered, runs=runs, failures=failures)


def _flip(value: Any, key: str = "") -> Any:
    if isinstance(value, RunView):
        return dataclasses.replace(value, final=_flip(value.final), best=_flip(value.best),
                                   mean=_flip(value.mean), values=_flip(value.values),
                                   history=tuple(_flip(h) for h in value.history))
    if isinstance(value, Fields):
        flipped = {k: _flip(v, k) for k, v in value.items()}
        if {"low", "high"} <= set(value) and all(isinstance(value[k], float) for k in ("low", "high")):
            flipped["low"], flipped["high"] = -value["high"], -value["low"]  # an interval of a difference
        return Fields(value.owner, flipped)
    if isinstance(value, Mapping):
        return {k: _flip(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_flip(v, key) for v in value)
    if isinstance(value, float) and math.isfinite(value) and not _kept(key):
        return -value
    return value


def _kept(key: str) -> bool:
    return key in _KEEP or key.endswith(("_sd", "_p", "_seconds")) or key.startswith(("n_", "seed"))


def reverse(context: Mapping[str, Any]) -> dict[str, Any]:
    """The answers' context with every result negated, so every difference flips sign."""
    out = dict(context)
    out["runs"] = RunTable({n: _flip(v) for n, v in context["runs"].items()})
    for key, value in context.items():
        if key not in ("runs", "arch", "facts", "quick") and isinstance(value, Fields):
            out[key] = _flip(value)
    return out


def render(paths, gathered: Gathered, name: str) -> dict[str, Answer]:
    """Every answer rendered under one scenario (measurements computed for its runs)."""
    g = scenario(gathered, name)
    page, views = evidence_page(paths, g)
    context = answer_context(g, page, views)
    if name == "reversed":
        context = reverse(context)
    return answers.render_answers(paths.root / "answers", context)


def text(answer: Answer) -> str:
    """What a reader sees of an answer: the unfolded prose, each folded part, the tests."""
    parts = [answers.visible_text(answer)]
    for section in answer.further:
        parts.append(f"\n[Going further: {section.title}]\n" + answers._TAG.sub(" ", str(section.html)))
    for row in answer.tests:
        c = row.cells
        parts.append(f"\n  test {row.number}: {c['comparison']} | {c['delta']} | {c['ci']} | {c['test']} | "
                     f"{c['seeds']} | p {c['p']} | {c['verdict']}")
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    import os

    from pa3report.inputs import Paths
    from pa3report.gathering import gather

    if not argv or argv[0] not in SCENARIOS:
        print(__doc__)
        return 2
    root = Path(__file__).resolve().parents[1]
    paths = Paths.from_root(root)
    gathered = gather(paths, quick=os.environ.get("PA3_QUICK") == "1", run_missing=False)
    rendered = render(paths, gathered, argv[0])
    for q in argv[1:] or list(rendered):
        a = rendered[q]
        print(f"===== {q} ({a.state}, {answers.visible_words(a)} words unfolded)")
        print(a.error or text(a))
    print(answers.length_table(rendered))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
