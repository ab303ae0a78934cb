"""Comparisons a reviewer accepts: the difference of two means, its 95% confidence interval,
the test behind it and its p-value.

Which test depends on how the numbers were obtained:
- two groups of independently seeded runs: Welch's t-test (no equal-variance assumption);
- runs that share seeds and data order (the same network family trained with seed s on both
  sides, e.g. epoch variants of one trajectory, batch sizes, sweep points against the
  baseline): a paired t-test on the per-seed differences;
- seeded runs against a deterministic method (bicubic, the ground truth): a one-sample
  t-test of the runs against that fixed number;
- two deterministic methods: the difference is exact (no test needed).
Fewer than two seeds where a test needs them gives an unknown verdict (NaN), never a guess.
Many comparisons read together (the 6.1 sweep) are corrected with Holm's method.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

ALPHA = 0.05
TESTS = ("Welch's t-test", "paired t-test", "one-sample t-test", "exact")
NAN = float("nan")


@dataclass(frozen=True)
class Comparison:
    """mean(a) − mean(b) with its 95% confidence interval and p-value."""

    test: str  # "Welch's t-test", "paired t-test", "one-sample t-test", "exact", or "" when unknown
    delta: float
    low: float
    high: float
    p: float
    n_a: int
    n_b: int

    @property
    def known(self) -> bool:
        """Whether a verdict exists (enough seeds, finite numbers)."""
        return bool(self.test) and math.isfinite(self.p)

    @property
    def significant(self) -> bool:
        """The difference is real at the 5% level (an exact difference is real when it is not 0)."""
        return self.known and self.p < ALPHA


def _ci(result) -> tuple[float, float]:
    """The 95% confidence interval of a scipy t-test result."""
    ci = result.confidence_interval(1 - ALPHA)
    return float(ci.low), float(ci.high)


def _constant(test: str, n_a: int, n_b: int, delta: float) -> Comparison:
    """No spread (two fixed numbers, or identical per-seed differences or values): the
    difference is exact, and real unless it is 0."""
    return Comparison(test, delta, delta, delta, 0.0 if delta != 0 else 1.0, n_a, n_b)


def compare(a: Sequence[float], b: Sequence[float], *, paired: bool = False,
            a_fixed: bool = False, b_fixed: bool = False) -> Comparison:
    """Compare the per-seed values a and b (a_fixed / b_fixed: that side is one deterministic number)."""
    from scipy import stats

    if paired and len(a) == len(b):
        # seed s against seed s: a seed missing on either side leaves both out, so the
        # remaining values still pair the same seeds
        kept = [(x, y) for x, y in zip(a, b) if math.isfinite(x) and math.isfinite(y)]
        a, b = [x for x, _ in kept], [y for _, y in kept]
    xa = np.asarray([v for v in a if math.isfinite(v)], float)
    xb = np.asarray([v for v in b if math.isfinite(v)], float)
    na, nb = len(xa), len(xb)
    if not na or not nb:
        return Comparison("", NAN, NAN, NAN, NAN, na, nb)
    delta = float(xa.mean() - xb.mean())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy warns on degenerate samples: handled below
        if a_fixed and b_fixed:
            return _constant("exact", na, nb, delta)
        if a_fixed or b_fixed:
            runs, fixed, sign = (xb, float(xa[0]), -1.0) if a_fixed else (xa, float(xb[0]), 1.0)
            if len(runs) < 2:
                return Comparison("", delta, NAN, NAN, NAN, na, nb)
            if np.ptp(runs) == 0:
                return _constant("one-sample t-test", na, nb, delta)
            r = stats.ttest_1samp(runs, fixed)
            low, high = (v - fixed for v in _ci(r))
            low, high = (low, high) if sign > 0 else (-high, -low)
            return Comparison("one-sample t-test", delta, low, high, float(r.pvalue), na, nb)
        if paired and na == nb and na >= 2:
            d = xa - xb
            if np.ptp(d) == 0:
                return _constant("paired t-test", na, nb, delta)
            r = stats.ttest_rel(xa, xb)
            return Comparison("paired t-test", delta, *_ci(r), float(r.pvalue), na, nb)
        if na < 2 or nb < 2:
            return Comparison("", delta, NAN, NAN, NAN, na, nb)
        if np.ptp(xa) == 0 and np.ptp(xb) == 0:
            return _constant("Welch's t-test", na, nb, delta)
        r = stats.ttest_ind(xa, xb, equal_var=False)
        return Comparison("Welch's t-test", delta, *_ci(r), float(r.pvalue), na, nb)


def verdict(c: Comparison, p: float | None = None) -> str:
    """The verdict in words, as tables and answers print it; `p` replaces c.p (a Holm-adjusted one).

    "not run": a side has no value at all (its runs are not trained or not measured);
    "not tested": values exist but too few for a test (one seed).
    """
    if c.n_a == 0 or c.n_b == 0:
        return "not run"
    if not c.known:
        return "not tested (one seed)"
    p = c.p if p is None or not math.isfinite(p) else p
    if c.test == "exact" or p >= ALPHA:
        return "no difference" if c.delta == 0 else "exact difference" if c.test == "exact" else "not reliable"
    return "real difference"


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (NaN stays NaN and does not count as a comparison)."""
    finite = [(p, i) for i, p in enumerate(pvalues) if math.isfinite(p)]
    m = len(finite)
    adjusted = [NAN] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(finite)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted
