"""How numbers read on the page: one formatter per kind of number, used by tables and answers.

Non-finite values (a run not cached yet) read "n/a" everywhere. Each metric has one
precision and unit (METRICS), so a value reads the same in a table, a caption and an answer.
"""

from __future__ import annotations

import math
from typing import Any

# Digits and unit of each metric the report prints.
METRICS: dict[str, tuple[int, str]] = {
    "val_acc": (1, "%"), "palette_acc": (1, "%"), "vivid": (1, "%"), "acc_edge": (1, "%"), "acc_flat": (1, "%"),
    "edge_penalty": (1, ""),
    "val_loss": (3, ""), "train_loss": (3, ""), "val_mse": (4, ""),
    "psnr": (2, " dB"), "ssim": (3, ""), "chroma": (1, ""), "saturation": (3, ""),
    "delta_e": (2, ""), "entropy": (2, " bits"), "rare_acc": (1, "%"), "balanced_acc": (1, "%"),
    "top_two_share": (1, "%"),
}


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def pct(value: Any, digits: int = 1) -> str:
    """A value already in percent (val_acc), e.g. 61.2%."""
    return f"{float(value):.{digits}f}%" if finite(value) else "n/a"


def num(value: Any, digits: int = 3) -> str:
    return f"{float(value):.{digits}f}" if finite(value) else "n/a"


def sig(value: Any, digits: int = 3) -> str:
    return f"{float(value):.{digits}g}" if finite(value) else "n/a"


def grouped(value: Any) -> str:
    """An integer with thousands separators: 112,344."""
    return f"{int(value):,}" if finite(value) else "n/a"


def ratio(a: Any, b: Any, digits: int = 1) -> str:
    """a / b as '2.3×'."""
    return f"{float(a) / float(b):.{digits}f}×" if finite(a) and finite(b) and b else "n/a"


def duration(value: Any, rough: bool = False) -> str:
    """Seconds as '4.2 s', '42 s', '12 min 5 s' or '1 h 3 min'; rough (an estimate, never
    negative) to the minute past one: '45 s', '12 min', '1 h 35 min', '1 h'."""
    if not finite(value):
        return "n/a"
    seconds = max(0.0, float(value)) if rough else float(value)
    s = int(round(seconds))
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 and not rough else f"{s} s"
    if rough:
        h, m = divmod(round(s / 60), 60)
        return f"{m} min" if not h else f"{h} h {m} min" if m else f"{h} h"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


def metric(value: Any, name: str, digits: int | None = None) -> str:
    """One value of a metric in its own precision and unit, e.g. 48.6% or 0.0084."""
    d, unit = METRICS.get(name, (3, ""))
    d = d if digits is None else digits
    return f"{float(value):.{d}f}{unit}" if finite(value) else "n/a"


def mean_sd(mean: Any, sd: Any, name: str, digits: int | None = None) -> str:
    """'mean ± sd' of a metric, e.g. 48.6 ± 0.2%. The ± part is left out when there is no
    spread to show: one seed (NaN) or a deterministic method (0)."""
    d, unit = METRICS.get(name, (3, ""))
    d = d if digits is None else digits
    if not finite(mean):
        return "n/a"
    if digits is None and finite(sd) and 0 < sd and round(float(sd), d) == 0:
        d = min(d + 3, -math.floor(math.log10(float(sd))))  # a spread never reads "± 0.000"
    spread = f" ± {float(sd):.{d}f}" if finite(sd) and sd > 0 else ""
    return f"{float(mean):.{d}f}{spread}{unit}"


def p_value(p: Any, named: bool = True) -> str:
    """A p-value as a reader wants it: 'p = 0.03', 'p < 0.001' (named=False: '0.03', '< 0.001')."""
    if not finite(p):
        return "n/a"
    # three decimals below 0.01 and where two would read 0.05 on either side of the threshold
    text = "< 0.001" if p < 0.001 else f"= {p:.3f}" if p < 0.01 or f"{p:.2f}" == "0.05" else f"= {p:.2f}"
    return f"p {text}" if named else text.removeprefix("= ")


def signed(value: Any, digits: int = 1) -> str:
    """A difference with its sign: +1.2, −0.3."""
    return f"{float(value):+.{digits}f}" if finite(value) else "n/a"


def interval(low: Any, high: Any, digits: int = 1, unit: str = "") -> str:
    """A 95% confidence interval: '+1.2 to +3.4 points'. A bound that would round to 0 gets up to
    two more digits, so an interval that just misses 0 does not read as touching it ('-0.0')."""
    if not (finite(low) and finite(high)):
        return "n/a"
    for extra in range(3):
        d = digits + extra
        if all(b == 0 or round(abs(b), d) > 0 for b in (low, high)):
            break
    return f"{low:+.{d}f} to {high:+.{d}f}{unit}"


def difference_unit(metric: str) -> str:
    """The unit of a difference of a metric: percentages differ by points."""
    unit = METRICS.get(metric, (3, ""))[1]
    return " points" if unit == "%" else unit


def seed_counts(test: str, n_a: int, n_b: int) -> str:
    """How many seeds a comparison rests on: '3 pairs', '3 vs 2', '3 vs fixed'."""
    if test == "paired t-test":
        return f"{n_a} pairs"
    if test == "one-sample t-test":
        return f"{max(n_a, n_b)} vs fixed"
    if test == "exact":
        return "fixed vs fixed"
    return f"{n_a} vs {n_b}"
