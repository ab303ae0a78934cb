"""Claims: the wording that matches the data, every claim recorded with its verdict."""

from jinja2 import DictLoader, Environment, TemplateSyntaxError, StrictUndefined
import pytest

from pa3report.claims import ClaimExtension, claim_source

TEXT = """Intro.
{% claim a > b %}A is larger ({{ a }} > {{ b }}).{% otherwise %}A is not larger.{% endclaim %}
{% claim ok %}Outer {% claim a > 100 %}huge{% otherwise %}small{% endclaim %} end.{% endclaim %}
"""


def render(text: str, **values):
    env = Environment(loader=DictLoader({"t.md": text}), extensions=[ClaimExtension], undefined=StrictUndefined)
    return env.get_template("t.md").render(**values), env.claims


def test_the_wording_follows_the_condition():
    out, claims = render(TEXT, a=3, b=1, ok=True)
    assert "A is larger (3 > 1)." in out and "not larger" not in out and "Outer small end." in out
    out, claims = render(TEXT, a=1, b=3, ok=False)
    assert "A is not larger." in out and "A is larger" not in out and "Outer" not in out


def test_every_claim_is_recorded_with_condition_and_verdict():
    _, claims = render(TEXT, a=3, b=1, ok=True)
    assert [(c.line, c.condition, c.verdict) for c in claims] == [(2, "a > b", True), (3, "ok", True),
                                                                  (3, "a > 100", False)]
    assert claims[0].text == "A is larger ({{ a }} > {{ b }})."
    assert claims[1].text.startswith("Outer {% claim a > 100 %}huge")


def test_a_claim_without_a_condition_is_an_error():
    with pytest.raises(TemplateSyntaxError, match="a claim needs a condition"):
        render("x\n{% claim %}always true{% endclaim %}")


def test_a_condition_that_cannot_be_evaluated_is_an_error():
    with pytest.raises(Exception, match="missing"):
        render("{% claim missing.value > 1 %}yes{% endclaim %}")


def test_claim_source_finds_the_matching_end():
    src = "a\n{% claim x %}one {% claim y %}two{% endclaim %} three{% otherwise %}no{% endclaim %}"
    assert claim_source(src, 0) == ("x", "one {% claim y %}two{% endclaim %} three")
    assert claim_source(src, 1) == ("y", "two")


# --------------------------------------------------------------------------- the project's answers


def seeded(base: str, model: str, accs: list[float], losses: list[float]):
    from .runkit import run

    return [run(base if s == 0 else f"{base}_s{s}", group=base, seed=s, model=model, val_acc=[a], val_loss=[l])
            for s, (a, l) in enumerate(zip(accs, losses))]


def answer_of(tmp_path, question: str, infos, measured: dict):
    """One answer of the project rendered over hand-made runs and measurements (whose views name
    the networks of the project's experiment list, as the report's do)."""
    from pathlib import Path

    import numpy as np

    from pa3report import answers, measurements
    from pa3report.config import RunSpec, load_experiments
    from pa3report.page import FigureMaker, Page
    from pa3report.answer_context import answer_context
    from pa3report.gathering import Gathered
    from pa3report.runs import RunInfo

    project = Path(__file__).resolve().parents[1]
    listed = {e.name: RunInfo(RunSpec(e), None, "missing") for e in load_experiments(project / "experiments")}
    runs = {r.name: r for r in infos}
    palette = np.random.default_rng(0).random((24, 3)).astype(np.float32)
    page = Page(runs, palette, FigureMaker(tmp_path))
    context = answer_context(Gathered(runs, palette, False), page, measurements.views(measured, listed))
    folder = project / "answers"
    return answers.render_answers(folder, context, questions=(question,))[question]


def full_text(a) -> str:
    """An answer as a reader who opens everything sees it: the answer and its Going-further parts."""
    return " ".join(" ".join([str(a.html), *(str(part.html) for part in a.further)]).split())


def test_when_the_unet_loses_to_the_cnn_3_2_says_so(tmp_path):
    cnn = seeded("p2_cnn", "CNN", [48.4, 48.9, 48.6], [1.30, 1.29, 1.31])
    unet = seeded("p3_unet", "UNet", [40.1, 39.6, 40.4], [1.61, 1.63, 1.60])
    edges = {"p2_cnn": {"acc_edge": [50.0, 51.0, 50.5], "acc_flat": [60.0, 60.5, 61.0], "edge_penalty": [10.0, 9.5, 10.5]},
             "p3_unet": {"acc_edge": [40.0, 41.0, 40.5], "acc_flat": [60.0, 60.5, 61.0], "edge_penalty": [20.0, 19.5, 20.5]},
             "test_images": 1000}
    a = answer_of(tmp_path, "3.2", cnn + unet, {"edges": edges})
    assert a.state == "answered", a.error
    text = " ".join(str(a.html).split())
    assert "<strong>No, both are worse.</strong>" in text and "a real difference (test 2)" in text
    for opposite in ("Yes, both", "Not reliably on both", "the UNet's colours follow the outlines better"):
        assert opposite not in text
    assert "the CNN's colours follow the outlines better" in text  # the edge measurement, the same way round
    verdicts = {c.condition: c.verdict for c in a.claims}
    assert [held for cond, held in verdicts.items() if cond.startswith("loss.")] == [False, True]


def test_when_the_unet_wins_3_2_says_yes(tmp_path):
    cnn = seeded("p2_cnn", "CNN", [40.1, 39.6, 40.4], [1.61, 1.63, 1.60])
    unet = seeded("p3_unet", "UNet", [48.4, 48.9, 48.6], [1.30, 1.29, 1.31])
    a = answer_of(tmp_path, "3.2", cnn + unet, {})
    text = " ".join(str(a.html).split())
    assert "<strong>Yes, both.</strong>" in text and "No, both" not in text
    assert "n/a" not in text and "not measured yet" in text  # the edges were not measured here
    assert [(r.cells["test"], r.cells["seeds"]) for r in a.tests[:2]] == [("Welch's t-test", "3 vs 3")] * 2


def colour_rows(vivid: dict[str, list[float]]) -> dict:
    def row(values, model):
        return {"chroma": [10.0] * len(values), "saturation": [0.2] * len(values), "vivid": values,
                "delta_e": [11.0] * len(values), "pairing": {"model": model, "seeds": list(range(len(values)))}}
    models = {"p1_regression": "RegressionCNN", "p1_regression_lab": "RegressionCNN", "p2_cnn": "CNN"}
    return {"test_images": 1000, "truth": {"chroma": 14.0, "saturation": 0.28, "vivid": 26.0, "delta_e": 0.0},
            "palette": {"chroma": 11.0, "saturation": 0.22, "vivid": 25.0, "delta_e": 7.9},
            **{k: row(v, models[k]) for k, v in vivid.items()}}


def lab_runs():
    from .runkit import run
    return [run(f"p1_regression_lab{'_s' + str(s) if s else ''}", group="p1_regression_lab", seed=s,
                model="RegressionCNN", task="regression", loss="lab") for s in range(3)]


def test_a_still_dull_lab_regression_blames_the_averaging(tmp_path):
    measured = {"colourfulness": colour_rows({"p1_regression": [8.0, 7.5, 8.5], "p1_regression_lab": [9.0, 9.5, 8.8],
                                              "p2_cnn": [16.0, 17.0, 16.5]})}
    a = answer_of(tmp_path, "1.4", lab_runs(), measured)
    assert a.state == "answered", a.error
    text = full_text(a)
    assert "fits squared error averaging in any colour space" in text
    assert "part of the dullness comes from the colour space" not in text


def test_a_lab_regression_as_dull_as_the_rgb_one_clears_the_colour_space(tmp_path):
    """The classifier too noisy to rank, but the CIELAB loss changes nothing and stays far below the truth."""
    measured = {"colourfulness": colour_rows({"p1_regression": [8.0, 5.0, 11.0], "p1_regression_lab": [7.0, 8.0, 6.5],
                                              "p2_cnn": [10.0, 25.0, 14.0]})}
    a = answer_of(tmp_path, "1.4", lab_runs(), measured)
    assert a.state == "answered", a.error
    text = full_text(a)
    assert "no sign here that the colour space causes the dull colours" in text
    assert "fits squared error averaging in any colour space" in text
    assert "part of the dullness comes from the colour space" not in text
    assert "reliably less colourful than the classification CNN" not in text


def test_a_colourful_lab_regression_blames_the_colour_space(tmp_path):
    measured = {"colourfulness": colour_rows({"p1_regression": [8.0, 7.5, 8.5], "p1_regression_lab": [16.2, 16.9, 16.4],
                                              "p2_cnn": [16.0, 17.0, 16.5]})}
    a = answer_of(tmp_path, "1.4", lab_runs(), measured)
    text = full_text(a)
    assert "part of the dullness comes from the colour space" in text and "fits squared error averaging" not in text


def test_without_the_ablation_list_the_answer_says_so(tmp_path):
    measured = {"colourfulness": colour_rows({"p1_regression": [8.0, 7.5, 8.5], "p2_cnn": [16.0, 17.0, 16.5]})}
    a = answer_of(tmp_path, "1.4", [], measured)
    assert a.state == "answered", a.error
    assert "The CIELAB runs that test this are not in the experiment list." in full_text(a)


def test_rebalancing_that_helps_rare_colours_is_said_with_its_price(tmp_path):
    from .runkit import run
    infos = [run(f"p3_unet_rebalanced{'_s' + str(s) if s else ''}", group="p3_unet_rebalanced", seed=s,
                 loss="rebalanced", epochs=25) for s in range(3)]

    def row(rare, overall):
        return {"palette_acc": overall, "balanced_acc": [30.0] * 3, "rare_acc": rare, "vivid": [20.0] * 3,
                "chroma": [10.0] * 3, "delta_e": [11.0] * 3, "pairing": {"model": "UNet", "seeds": [0, 1, 2]}}
    measured = {"rebalance": {"test_images": 1000, "rare_colours": 9, "rare_share": 12.0,
                              "p3_unet": row([10.0, 11.0, 10.5], [48.5, 48.7, 48.6]),
                              "p3_unet_rebalanced": row([20.0, 21.5, 20.7], [45.0, 45.6, 45.1])}}
    a = answer_of(tmp_path, "6.1", infos, measured)
    assert a.state == "answered", a.error
    text = full_text(a)
    assert "more of the rare colours come out right, fewer pixels overall" in text


def test_rebalancing_that_costs_colour_difference_says_so_not_overall(tmp_path):
    from .runkit import run
    infos = [run(f"p3_unet_rebalanced{'_s' + str(s) if s else ''}", group="p3_unet_rebalanced", seed=s,
                 loss="rebalanced", epochs=25) for s in range(3)]

    def row(rare, overall, delta_e):
        return {"palette_acc": overall, "balanced_acc": [30.0] * 3, "rare_acc": rare, "vivid": [20.0] * 3,
                "chroma": [10.0] * 3, "delta_e": delta_e, "pairing": {"model": "UNet", "seeds": [0, 1, 2]}}
    measured = {"rebalance": {"test_images": 1000, "rare_colours": 9, "rare_share": 12.0,
                              "p3_unet": row([10.0, 11.0, 10.5], [48.5, 48.7, 48.6], [10.80, 10.85, 10.78]),
                              "p3_unet_rebalanced": row([20.0, 21.5, 20.7], [48.0, 49.1, 48.3],
                                                        [10.98, 11.02, 10.95])}}
    a = answer_of(tmp_path, "6.1", infos, measured)
    assert a.state == "answered", a.error
    text = full_text(a)
    assert "without a reliable loss in pixel accuracy" in text
    assert "In ΔE2000, though, its colours are reliably further from the truth." in text


def large_rows(de: dict[str, tuple[float, float, float]], acc: dict[str, tuple[float, float, float]]) -> dict:
    import torch
    out = {}
    for key in de:
        size = int(key.rsplit("_", 1)[1])
        out[key] = {"grey": torch.zeros(2, 1, size, size),
                    **{f"de_{p}": v for p, v in zip(("direct", "via32", "chroma"), de[key])},
                    **{f"acc_{p}": v for p, v in zip(("direct", "via32", "chroma"), acc[key])}}
    return out


def test_6_3_says_the_two_measures_rank_the_detour_differently_and_names_the_kept_lightness(tmp_path):
    # the real runs' pattern: direct wins on palette accuracy, the detour on ΔE for the horses only,
    # and colour only already helps at 32×32, where nothing is enlarged
    de = {"horses_32": (9.2, 9.2, 8.6), "horses_64": (10.5, 9.8, 8.3), "horses_128": (12.0, 9.9, 8.4),
          "photos_128": (13.7, 14.9, 13.3), "photos_256": (14.1, 15.2, 13.4)}
    acc = {k: (52.0, 46.0, 64.0) for k in de}
    a = answer_of(tmp_path, "6.3", [], {"large": large_rows(de, acc)})
    assert a.state == "answered", a.error
    text = full_text(a)
    assert "On palette accuracy (table above) direct use wins at every enlarged size tried" in text
    assert "on ΔE2000 the detour is closer to the truth at 2 of them" in text
    assert "Part of that can be the kept lightness alone" in text
    assert "the swap already lowers ΔE2000 from 9.20 to 8.60" in text
    assert "consistent with colour varying slowly" not in text
