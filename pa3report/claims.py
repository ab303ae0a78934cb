"""Checked claims: an answer states a claim only together with the condition that makes it true.

    {% claim gap(runs.p3_unet, runs.p2_cnn, "val_acc").significant %}
      The UNet is more accurate than the CNN …
    {% otherwise %}
      In these runs the UNet is not reliably more accurate …
    {% endclaim %}

The page shows the wording whose condition holds for the current results. Every claim is
recorded with its file, line, condition and verdict, so `check` can list them; a claim
without a condition is a syntax error, and a condition that cannot be evaluated (an
unknown run or field) is an error of that answer, both reported by `check`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.ext import Extension

_TAG = re.compile(r"\{%-?\s*(claim|otherwise|endclaim)\b(.*?)-?%\}", re.S)


@dataclass(frozen=True)
class Claim:
    """One claim as rendered: where it is, what it says, on what condition, and the verdict."""

    file: str
    line: int
    condition: str
    text: str  # the claimed wording as written (Jinja included), shortened
    verdict: bool


def _shorten(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def claim_source(source: str, index: int) -> tuple[str, str]:
    """(condition, claimed wording) of the index-th claim tag (0-based, in source order)."""
    depth, start, condition, seen = 0, None, "", -1
    for m in _TAG.finditer(source):
        kind = m.group(1)
        if start is None:
            seen += kind == "claim"
            if kind == "claim" and seen == index:
                start, condition, depth = m.end(), m.group(2).strip(), 1
            continue
        if kind == "claim":
            depth += 1
        elif kind == "endclaim":
            depth -= 1
        if depth == 0 or (depth == 1 and kind == "otherwise"):
            return condition, _shorten(source[start:m.start()])
    return condition, ""


class ClaimExtension(Extension):
    """The {% claim condition %} … {% otherwise %} … {% endclaim %} tag."""

    tags = {"claim"}

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        environment.extend(claims=[])

    def parse(self, parser: Any) -> nodes.Node:
        lineno = next(parser.stream).lineno
        index = getattr(parser, "claims_seen", 0)  # claims are parsed in source order
        parser.claims_seen = index + 1
        if parser.stream.current.test("block_end"):
            raise TemplateSyntaxError(
                "a claim needs a condition: {% claim <condition on the results> %} … {% otherwise %} … "
                "{% endclaim %}", lineno, parser.name, parser.filename)
        condition = parser.parse_expression()
        body = parser.parse_statements(("name:otherwise", "name:endclaim"))
        otherwise = []
        if next(parser.stream).test("name:otherwise"):
            otherwise = parser.parse_statements(("name:endclaim",), drop_needle=True)
        record = self.call_method("_record", [condition, nodes.Const(parser.name), nodes.Const(lineno),
                                              nodes.Const(index)])
        return nodes.If(record, body, [], otherwise, lineno=lineno)

    def _record(self, value: Any, name: str, line: int, index: int) -> bool:
        verdict = bool(value)
        source = self.environment.loader.get_source(self.environment, name)[0]
        condition, text = claim_source(source, index)
        self.environment.claims.append(Claim(name, line, condition, text, verdict))
        return verdict
