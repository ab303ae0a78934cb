"""Comparisons: the right test for how the numbers were obtained, against scipy and by hand."""

import math

import pytest
from scipy import stats

from pa3report.compare import compare, holm


def test_welch_between_independent_seed_groups():
    a, b = [48.4, 48.6, 48.8], [39.6, 40.0, 40.5]
    c = compare(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert c.test == "Welch's t-test" and math.isclose(c.p, ref.pvalue) and c.significant
    assert math.isclose(c.delta, sum(a) / 3 - sum(b) / 3)
    assert c.low < c.delta < c.high and c.low > 0


def test_paired_uses_the_per_seed_differences():
    a, b = [50.0, 52.0, 47.0], [49.0, 51.2, 45.9]  # a wins by about 1 point on every seed
    paired, independent = compare(a, b, paired=True), compare(a, b)
    assert paired.test == "paired t-test" and paired.significant and not independent.significant
    assert math.isclose(paired.p, stats.ttest_rel(a, b).pvalue)


def test_against_a_deterministic_method():
    c = compare([19.3, 19.4, 19.5], [20.4], b_fixed=True)
    assert c.test == "one-sample t-test" and c.delta < 0 and c.high < 0 and c.significant
    assert math.isclose(c.p, stats.ttest_1samp([19.3, 19.4, 19.5], 20.4).pvalue)
    flipped = compare([20.4], [19.3, 19.4, 19.5], a_fixed=True)
    assert math.isclose(flipped.delta, -c.delta) and math.isclose(flipped.low, -c.high)
    exact = compare([20.4], [19.78], a_fixed=True, b_fixed=True)
    assert exact.test == "exact" and exact.significant and exact.low == exact.high == exact.delta


def test_too_few_seeds_is_unknown_not_a_guess():
    for c in (compare([1.0], [2.0]), compare([1.0], [2.0, 3.0]), compare([1.0], [5.0], b_fixed=True),
              compare([], [1.0, 2.0])):
        assert not c.known and not c.significant and math.isnan(c.p)


def test_no_spread_at_all_is_an_exact_difference():
    c = compare([2.0, 2.0], [1.0, 1.0], paired=True)
    assert c.significant and c.low == c.high == 1.0
    assert not compare([1.0, 1.0], [1.0, 1.0]).significant


def test_holm():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    adjusted = holm([0.001, float("nan"), 0.02])
    assert adjusted[0] == pytest.approx(0.002) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)


def test_a_seed_missing_on_one_side_leaves_the_pair_out():
    """Seed 1 of a is NaN: pairing must drop seed 1 of b too, not pair seed 2 of a with seed 1 of b."""
    nan = float("nan")
    a, b = [50.0, nan, 47.0, 52.0], [49.0, 10.0, 46.0, 51.0]
    c = compare(a, b, paired=True)
    assert c.test == "paired t-test" and c.n_a == c.n_b == 3
    assert math.isclose(c.delta, 1.0) and c.p == 0.0  # every remaining pair differs by exactly 1


def test_verdict_words_say_why_there_is_no_test():
    from pa3report.compare import verdict

    assert verdict(compare([], [1.0, 2.0])) == "not run"
    assert verdict(compare([1.0], [2.0])) == "not tested (one seed)"
    assert verdict(compare([1.0, 1.1, 0.9], [5.0, 5.1, 4.9])) == "real difference"
    assert verdict(compare([1.0, 2.0, 3.1], [1.5, 2.5, 2.0])) == "not reliable"
    assert verdict(compare([1.0, 1.1, 0.9], [5.0, 5.1, 4.9]), p=0.2) == "not reliable"  # after Holm
