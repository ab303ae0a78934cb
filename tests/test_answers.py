"""Written answers: Jinja over the results, safe Markdown, errors with file and line."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from pa3report import answers
from pa3report.answer_context import RunTable, RunView
from pa3report.config import Experiment
from pa3report.fields import Fields
from pa3report.config import QUESTIONS

PROJECT = Path(__file__).resolve().parents[1]


def view(name: str, val_acc: float) -> RunView:
    final = Fields(f"runs.{name}.final", {"val_acc": val_acc, "val_loss": 1.25})
    return RunView(experiment=Experiment(name, "UNet", "colourization", title="t", epochs=25),
                   epochs=2, quick=True, available=True,
                   seconds=3.0, final=final, best=final)


CONTEXT = {"runs": RunTable({"p3_unet": view("p3_unet", 61.234), "p2_cnn": view("p2_cnn", float("nan"))}),
           "facts": Fields("facts", {"palette_size": 24}), "arch": Fields("arch", {}), "quick": True}


def render(tmp_path: Path, text: str, name: str = "3.2"):
    folder = tmp_path / "answers"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.md").write_text(text)
    return answers.render_answers(folder, CONTEXT, questions=(name,))[name]


def test_numbers_come_from_the_context(tmp_path):
    a = render(tmp_path, "UNet: **{{ runs.p3_unet.final.val_acc | pct }}**, loss {{ runs.p3_unet.final.val_loss | num(2) }}.")
    assert a.state == "answered"
    assert "<strong>61.2%</strong>" in a.html and "loss 1.25" in a.html


def test_pending_values_read_na(tmp_path):
    f = answers.FILTERS
    assert f["pct"](float("nan")) == "n/a" and f["num"](None) == "n/a"
    assert f["pct"](12.345, 2) == "12.35%" and f["grouped"](112344) == "112,344"
    assert f["duration"](75) == "1 min 15 s" and f["duration"](3725) == "1 h 2 min"
    assert math.isnan(CONTEXT["runs"]["p2_cnn"].final["val_acc"])
    assert render(tmp_path, "{{ runs.p2_cnn.final.val_acc | pct }}").html.strip() == "<p>n/a</p>"


@pytest.mark.parametrize("text, line, words", [
    ("one\ntwo {{ runs.p3_unte.final.val_acc }}\n", 2, ["unknown run 'p3_unte'", "did you mean 'p3_unet'"]),
    ("{{ runs.p3_unet.final.val_accuracy }}", 1, ["runs.p3_unet.final has no field 'val_accuracy'", "val_acc"]),
    ("a\nb\n{{ runs.p3_unet.epoch }}", 3, ["run 'p3_unet' has no attribute 'epoch'", "epochs"]),
    ("a\n{% for x in %}\n", 2, ["expected an expression"]),
    ("{{ runs.p3_unet.final.val_acc | pct(1, 2, 3) }}", 1, []),
])
def test_errors_name_file_and_line(tmp_path, text, line, words):
    a = render(tmp_path, text)
    assert a.state == "error" and a.html is None
    assert f"3.2.md, line {line}:" in a.error
    for w in words:
        assert w.lower() in a.error.lower()


def test_the_sandbox_blocks_python_internals(tmp_path):
    a = render(tmp_path, "{{ runs.p3_unet.__class__.__mro__ }} {{ ''.__class__.__subclasses__() }}")
    assert a.state == "error"
    assert "object" not in (a.html or "")


def test_raw_html_and_unsafe_links_are_neutralised():
    html = answers.to_html(
        "<script>alert(1)</script>\n\n<b onclick=x>bold</b> [a](javascript:alert(1)) [b](JAVASCRIPT:x) "
        "[c](vbscript:x) [d](https://ok.example) [e](#q1-1) [f](img/palette.png) "
        "![g](data:image/png;base64,AAAA) ![h](data:text/html;base64,AAAA) <javascript:alert(1)>")
    assert "<script" not in html and "<b " not in html and "onclick=x>" not in html.replace("&lt;", "")
    assert "&lt;script&gt;" in html
    assert 'href="javascript' not in html.lower() and 'href="vbscript' not in html.lower()
    assert 'href="https://ok.example"' in html and 'href="#q1-1"' in html and 'href="img/palette.png"' in html
    assert 'src="data:image/png;base64,AAAA"' in html and "data:text/html" not in html.replace("](data:text", "")


def test_missing_or_blank_answers_are_unanswered(tmp_path):
    assert render(tmp_path, "  \n\n").state == "unanswered"
    assert render(tmp_path, "{% if false %}text{% endif %}\n").state == "unanswered"
    folder = tmp_path / "answers"
    (folder / "3.2.md").unlink()
    found = answers.render_answers(folder, CONTEXT, questions=("3.2",))
    assert found["3.2"].state == "unanswered"
    (folder / "3.7.md").write_text("x")
    problems = answers.problems(found, folder)
    assert any("question 3.2 is unanswered" in p for p in problems)
    assert any("3.7.md: not a question" in p for p in problems)
    assert not any("overview" in p for p in problems)  # the overview is optional


def test_the_project_answers_every_question():
    shipped = {p.stem for p in (PROJECT / "answers").glob("*.md")}
    assert set(QUESTIONS) <= shipped
    for q in QUESTIONS:
        assert len((PROJECT / "answers" / f"{q}.md").read_text().split()) >= 40, f"answer {q} is too thin"


def seeded(name: str, values: list[float], model: str = "UNet", seed_ids: tuple[int, ...] | None = None) -> RunView:
    """A run whose entry has these final val_acc values, one per seed."""
    import statistics

    nan = float("nan")
    mean = {"val_acc": statistics.mean(values)}
    sd = {"val_acc": statistics.stdev(values) if len(values) > 1 else nan}
    final = Fields(f"runs.{name}.final", {"val_acc": values[0]})
    return RunView(experiment=Experiment(name, model, "colourization", title="t", epochs=25),
                   epochs=2, quick=False, available=True,
                   seconds=1.0, final=final, best=final, seeds=len(values), mean=Fields(f"runs.{name}.mean", mean),
                   sd=Fields(f"runs.{name}.sd", sd), values=Fields(f"runs.{name}.values", {"val_acc": list(values)}),
                   seed_ids=seed_ids if seed_ids is not None else tuple(range(len(values))))


def test_mean_sd_and_the_tests_behind_gap():
    from scipy import stats

    a = seeded("a", [49.5, 50.0, 50.5])
    b = seeded("b", [47.2, 48.0, 48.8], model="CNN")
    one = seeded("one", [49.0], model="CNN")
    assert answers.pm(a, "val_acc") == "50.0 ± 0.5%" and answers.pm(one, "val_acc") == "49.0%"
    assert answers.pm(a, "val_acc", 2) == "50.00 ± 0.50%"
    g = answers.gap(a, b, "val_acc")  # different networks: Welch
    ref = stats.ttest_ind([49.5, 50.0, 50.5], [47.2, 48.0, 48.8], equal_var=False)
    assert g["test"] == "Welch's t-test" and abs(g["delta"] - 2.0) < 1e-9 and abs(g["p"] - ref.pvalue) < 1e-12
    assert g["significant"] and g["known"] and g["low"] < 2.0 < g["high"]
    same_seeds = answers.gap(a, seeded("c", [49.1, 49.6, 50.2]), "val_acc")  # one network, same seeds: paired
    assert same_seeds["test"] == "paired t-test"
    assert not answers.gap(one, a, "val_acc")["known"]  # one seed: no test, never significant
    bicubic = {"mean": Fields("m", {"psnr": 20.0}), "sd": Fields("s", {"psnr": 0.0}), "fixed": True,
               "values": Fields("v", {"psnr": [20.0]})}
    nets = {"mean": Fields("m", {"psnr": 19.4}), "sd": Fields("s", {"psnr": 0.1}), "fixed": False,
            "values": Fields("v", {"psnr": [19.3, 19.4, 19.5]})}
    against = answers.gap(nets, bicubic, "psnr")
    assert against["test"] == "one-sample t-test" and against["significant"] and against["high"] < 0


def test_gap_and_fields_in_answers(tmp_path):
    (tmp_path / "answers").mkdir()
    shutil.copyfile(PROJECT / "answers" / "_macros.j2", tmp_path / "answers" / "_macros.j2")
    context = {**CONTEXT, "runs": RunTable({"a": seeded("a", [49.5, 50.0, 50.5]),
                                            "b": seeded("b", [39.5, 40.0, 40.5], model="CNN")}),
               "facts": Fields("facts", {"clear": 0, "items": 7})}
    (tmp_path / "answers" / "3.2.md").write_text(
        '{% from "_macros.j2" import stat %}{% set g = gap(runs.a, runs.b, "val_acc") %}'
        "{{ runs.a | pm('val_acc') }}; {{ stat(g, 1, ' points') }}; {{ 'no' if facts.clear else 'zero' }} {{ facts.items }}")
    a = answers.render_answers(tmp_path / "answers", context, questions=("3.2",))["3.2"]
    assert a.state == "answered", a.error
    from scipy import stats

    low, high = stats.ttest_ind([49.5, 50.0, 50.5], [39.5, 40.0, 40.5], equal_var=False).confidence_interval()
    assert (f"50.0 ± 0.5%; +10.0 points, 95% CI {low:+.1f} to {high:+.1f} points, Welch's t-test, "
            "p &lt; 0.001; zero 7") in a.html
    assert answers.problems({"3.2": a}, tmp_path / "answers") == []  # the macro file is not a stray answer
    (tmp_path / "answers" / "3.2.md").write_text("x\n{{ runs.a | pm('val_acx') }}")
    bad = answers.render_answers(tmp_path / "answers", context, questions=("3.2",))["3.2"]
    assert bad.state == "error" and "line 2" in bad.error and "did you mean 'val_acc'" in bad.error


# ----------------------------------------------------------------- answer first, tests in a table

def seeded_view(name: str, accs: list[float]) -> RunView:
    """A run whose entry has per-seed values (for gap)."""
    mean = sum(accs) / len(accs) if accs else float("nan")
    final = Fields(f"runs.{name}.final", {"val_acc": accs[0] if accs else float("nan")})
    return RunView(experiment=Experiment(name, "UNet" if "unet" in name else "CNN", "colourization", title=name.upper(), epochs=25),
                   epochs=25, quick=False, available=bool(accs), seconds=3.0, final=final,
                   best=final, seeds=len(accs), mean=Fields(f"runs.{name}.mean", {"val_acc": mean}),
                   sd=Fields(f"runs.{name}.sd", {"val_acc": 0.5}),
                   values=Fields(f"runs.{name}.values", {"val_acc": accs}), seed_ids=tuple(range(len(accs))))


def render_with(tmp_path: Path, text: str, runs: dict[str, RunView]):
    folder = tmp_path / "answers"
    folder.mkdir(exist_ok=True)
    (folder / "3.2.md").write_text(text)
    context = {**CONTEXT, "runs": RunTable(runs)}
    return answers.render_answers(folder, context, questions=("3.2",))["3.2"]


def test_going_further_parts_are_folded_away_from_the_direct_answer(tmp_path):
    a = render(tmp_path, "Yes: the direct answer.\n\n## Going further: Which skip matters\n\nThe ablation.\n\n"
                         "### Going further: Activations\n\nStatistics.\n")
    assert "direct answer" in a.html and "ablation" not in a.html and "Statistics" not in a.html
    assert [(s.title, "ablation" in s.html, "Statistics" in s.html) for s in a.further] == [
        ("Which skip matters", True, False), ("Activations", False, True)]


def test_every_comparison_becomes_one_row_of_the_tests_table(tmp_path):
    runs = {"p3_unet": seeded_view("p3_unet", [48.4, 48.9, 48.6]),
            "p2_cnn": seeded_view("p2_cnn", [40.1, 39.6, 40.4])}
    text = ('{% set g = gap(runs.p3_unet, runs.p2_cnn, "val_acc", "UNet − CNN, validation accuracy") %}'
            '{% set again = gap(runs.p3_unet, runs.p2_cnn, "val_acc", "UNet − CNN, validation accuracy") %}'
            'Yes ({{ g.verdict }}, test {{ g.row }}; again row {{ again.row }}).')
    a = render_with(tmp_path, text, runs)
    assert "Yes (real difference, test 1; again row 1)." in a.html
    (row,) = a.tests
    cells = row.cells
    assert cells["comparison"] == "UNet − CNN, validation accuracy" and cells["delta"] == "+8.6 points"
    assert cells["test"] == "Welch's t-test" and cells["seeds"] == "3 vs 3" and cells["verdict"] == "real difference"
    assert cells["ci"].startswith("+") and " to +" in cells["ci"]


def test_a_run_that_never_trained_reads_not_run_not_too_few_seeds(tmp_path):
    runs = {"p3_unet": seeded_view("p3_unet", [48.4, 48.9, 48.6]), "p2_cnn": seeded_view("p2_cnn", [])}
    a = render_with(tmp_path, '{% set g = gap(runs.p3_unet, runs.p2_cnn, "val_acc") %}{{ g.verdict }}; '
                              'ran: {{ g.ran }}', runs)
    assert "not run; ran: False" in a.html and a.tests[0].cells["verdict"] == "not run"


def test_rows_of_one_family_are_holm_adjusted_together(tmp_path):
    runs = {n: seeded_view(n, v) for n, v in {"a": [1.0, 1.2, 1.1], "b": [1.5, 1.9, 1.6],
                                              "c": [1.0, 1.3, 1.2]}.items()}
    text = ('{% set x = gap(runs.b, runs.a, "val_acc", "b − a", family="sweep") %}'
            '{% set y = gap(runs.c, runs.a, "val_acc", "c − a", family="sweep") %}ok')
    a = render_with(tmp_path, text, runs)
    from pa3report.compare import holm

    raw = [r.comparison.p for r in a.tests]
    assert [r.p_adjusted for r in a.tests] == holm(raw)
    assert all(r.cells["p"].endswith("(Holm)") for r in a.tests)


def test_words_and_intervals_count_only_what_is_unfolded(tmp_path):
    a = render(tmp_path, "One two three (95% CI +1 to +2).\n\n| a | b |\n|---|---|\n| x y z | 95% CI |\n\n"
                         "## Going further: More\n\nfour five six 95% CI\n")
    assert answers.visible_words(a) == 8  # One two three (95% CI +1 to +2): tables and folds left out
    assert answers.inline_intervals(a) == 1
    table = answers.length_table({"3.2": a})
    assert "3.2" in table and "total" in table and "budget: 2,500 words" in table


def test_verdict_words_in_the_answers_come_from_a_test_or_a_claim():
    """The overview promises that words stating an outcome are picked from a test or a checked claim:
    outside claim blocks and macros, no answer may write "real difference" or "reliably" itself."""
    import re

    tag = re.compile(r"\{%-?\s*(claim|otherwise|endclaim|macro|endmacro)\b.*?-?%\}", re.S)
    for path in sorted((PROJECT / "answers").glob("[0-9]*.md")):
        src, kept, depth, pos = path.read_text(), [], 0, 0
        for m in tag.finditer(src):
            if depth == 0:
                kept.append(src[pos:m.start()])
            depth += 1 if m.group(1) in ("claim", "macro") else -1 if m.group(1).startswith("end") else 0
            pos = m.end()
        kept.append(src[pos:])
        prose = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", " ", "".join(kept), flags=re.S)
        assert not re.search(r"real difference|reliabl", prose, re.I), path.name


def test_a_run_exposes_every_field_of_its_experiment(tmp_path):
    """An answer can quote any setting of the list (optimizer, loss, weight decay), not only a few."""
    e = Experiment("p6_sgd", "UNet", "colourization", title="SGD", epochs=25, optimizer="sgd",
                   weight_decay=1e-4, learn_rate=0.05)
    final = Fields("runs.p6_sgd.final", {"val_acc": 50.0})
    runs = RunTable({"p6_sgd": RunView(experiment=e, epochs=2, quick=True, available=True, seconds=1.0,
                                       final=final, best=final)})
    got = render_with(tmp_path, "{{ runs.p6_sgd.optimizer }}, {{ runs.p6_sgd.loss }}, "
                                "{{ runs.p6_sgd.weight_decay }}, {{ runs.p6_sgd.planned_epochs }}, "
                                "{{ runs.p6_sgd.epochs }}.\n", runs)
    assert "sgd, ce, 0.0001, 25, 2." in got.html
    wrong = render_with(tmp_path, "{{ runs.p6_sgd.optimiser }}\n", runs)
    assert wrong.error and "optimizer" in wrong.error and "weight_decay" in wrong.error
