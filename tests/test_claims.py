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
