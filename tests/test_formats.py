"""One format per kind of number."""

import math

from pa3report import formats


def test_duration_reads_the_same_everywhere():
    assert formats.duration(4.24) == "4.2 s"
    assert formats.duration(42.4) == "42 s"
    assert formats.duration(59.6) == "1 min 0 s"
    assert formats.duration(725) == "12 min 5 s"
    assert formats.duration(3 * 3600 + 125) == "3 h 2 min"
    assert formats.duration(math.nan) == "n/a"


def test_a_rough_duration_reads_as_precisely_as_an_estimate_deserves():
    rough = [formats.duration(s, rough=True) for s in (4, 59.6, 61, 725, 3599, 3600, 5700, -3)]
    assert rough == ["4 s", "1 min", "1 min", "12 min", "1 h", "1 h", "1 h 35 min", "0 s"]
    assert formats.duration(math.nan, rough=True) == "n/a"


def test_metric_and_mean_sd_use_each_metrics_digits_and_unit():
    assert formats.metric(48.64, "val_acc") == "48.6%"
    assert formats.metric(0.008381, "val_mse") == "0.0084"
    assert formats.metric(19.387, "psnr") == "19.39 dB"
    assert formats.mean_sd(48.64, 0.21, "val_acc") == "48.6 ± 0.2%"
    assert formats.mean_sd(1.33549, 0.0161, "val_loss") == "1.335 ± 0.016"
    assert formats.mean_sd(20.4, 0.0, "psnr") == "20.40 dB"  # a formula has no spread
    assert formats.mean_sd(20.4, math.nan, "psnr") == "20.40 dB"  # one seed: none known
    assert formats.mean_sd(math.nan, 1.0, "val_acc") == "n/a"
    assert formats.mean_sd(0.5, 0.25, "unknown") == "0.500 ± 0.250"


def test_small_formatters():
    assert formats.pct(61.25) == "61.2%" and formats.pct(True) == "n/a"
    assert formats.num(1 / 3) == "0.333" and formats.sig(12345.6) == "1.23e+04"
    assert formats.grouped(112344) == "112,344" and formats.grouped(math.inf) == "n/a"
    assert formats.ratio(9.3, 4.0) == "2.3×" and formats.ratio(1, 0) == "n/a"
