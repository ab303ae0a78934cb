"""Evidence kinds: the registered functions that turn one outline entry into page items.

A kind is a function `(page, question, evidence) -> items`, registered under its name
with `@piece("name")`; the outline (outline.py) names kinds, never functions. The shared
kinds live in this package (architecture, curves, samples, metrics, galleries, ...); every
measurement (pa3report/measurements/) registers itself as a kind under its own name, so
measurements must be discovered (measurements.discover) before a page is built.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ..outline import Evidence, Question
    from ..page import Item, Page

Piece = Callable[["Page", "Question", "Evidence"], list["Item"]]
PIECES: dict[str, Piece] = {}


def piece(kind: str) -> Callable[[Piece], Piece]:
    """Register a function as the builder of one evidence kind."""
    def register(fn: Piece) -> Piece:
        add(kind, fn)
        return fn
    return register


def add(kind: str, fn: Piece) -> None:
    if kind in PIECES and PIECES[kind] is not fn:
        raise ValueError(f"evidence kind {kind!r} is registered twice")
    PIECES[kind] = fn


def discover(package: str = __name__) -> None:
    """Import every module of a package, so each registers what it defines."""
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        importlib.import_module(f"{package}.{info.name}")


def build(page: Page, question: Question, further: str = "") -> list[Item]:
    """The items of one question's unfolded evidence (or of its folded part titled `further`),
    with one "not run yet" notice (where the first one was, naming every missing run and how
    to train them) and no notice twice."""
    discover()
    items: list[Item] = []
    for ev in question.evidence:
        if ev.kind not in PIECES:
            raise KeyError(f"question {question.id}: no evidence kind {ev.kind!r} (known: {', '.join(sorted(PIECES))})")
        if ev.further == further:
            items.extend(PIECES[ev.kind](page, question, ev))
    missing: list[str] = []
    out: list[Item] = []
    for item in items:
        if item["kind"] == "pending":
            # runs of lists not chosen for training: the page's banner and the answers say so once
            chosen = [n for n in item["runs"] if n not in page.runs or page.runs[n].experiment in page.selection]
            if chosen and not missing:
                out.append({"kind": "pending", "runs": missing})
            missing.extend(n for n in chosen if n not in missing)
        elif item not in out or item["kind"] != "note":
            out.append(item)
    return [page.not_run(item["runs"]) if item["kind"] == "pending" else item
            for item in out if item["kind"] != "pending" or item["runs"]]
