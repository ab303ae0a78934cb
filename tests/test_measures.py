"""The analysis as the report uses it: which runs it reads, and the view answers quote."""

from __future__ import annotations

import math

import torch

from pa3report import analysis, measures
from pa3report.config import Experiment, RunSpec
from pa3report.evidence import RunInfo


def info(name: str, group: str = "", seed: int = 0, available: bool = True) -> RunInfo:
    e = Experiment(name=name, model="UNet", task="colourization", seed=seed, group=group)
    return RunInfo(RunSpec(e), object() if available else None, "cached" if available else "missing")  # type: ignore[arg-type]


def test_the_runs_each_measurement_reads():
    runs = {r.name: r for r in (info("p3_unet", "p3_unet"), info("p3_unet_s1", "p3_unet", 1, available=False),
                                info("p6_k5"), info("p4_sr_cnn"))}
    assert [r.name for r in measures.needed(runs, "colourfulness")] == ["p3_unet", "p3_unet_s1"]  # every seed
    assert [r.name for r in measures.needed(runs, "large")] == ["p3_unet"]  # the first seed only
    assert measures.needed(runs, "colour_pairs") == []
    assert sorted(measures.results_read(runs)) == ["p3_unet", "p4_sr_cnn"]  # not p6_k5, not the missing seed
    assert set(analysis.GROUPS_READ) | set(analysis.RUNS_READ) == {
        "colourfulness", "sr_quality", "relu_maxpool", "receptive_field", "large"}


def test_view_without_analysis_names_everything():
    v = measures.view(None)
    assert v["available"] is False
    for name in ("p4_sr_cnn", "p4_sr_unet", "bicubic", "bilinear", "nearest", "ceiling"):
        row = v["sr_quality"][name]
        assert math.isnan(row["psnr"]) and row["seeds"] == 0 and math.isnan(row["sd"]["ssim"])
    assert set(v["colourfulness"]) == {"truth", "palette", "p1_regression", "p2_cnn", "p3_unet"}
    assert set(v["large"]) == set(measures.LARGE_KEYS) and math.isnan(v["large"]["horses_64"]["acc_direct"])
    assert math.isnan(v["relu_maxpool"]["max_abs_diff_eval"]) and math.isnan(v["receptive_field"]["p3_unet"])


def test_view_of_seeded_and_deterministic_rows():
    found = {
        "sr_quality": {"bicubic": {"psnr": 20.0, "ssim": 0.6, "palette_acc": 42.0},
                       "p4_sr_unet": {"psnr": (21.0, 0.5), "ssim": (0.7, 0.01), "palette_acc": (45.0, 1.0), "seeds": 3},
                       "p4_sr_cnn": {"psnr": (19.0, 0.0), "ssim": (0.6, 0.0), "palette_acc": (44.0, 0.0), "seeds": 1}},
        "colour_pairs": analysis.colour_pairs(),
        "palette_distances": {"rgb": [0.1, 0.5, 0.52, 0.9], "delta_e": [5.0, 20.0, 40.0, 60.0], "correlation": 0.9},
        "large": {"horses_64": {"grey": torch.zeros(4, 1, 64, 64), "acc_direct": 50.0, "acc_via32": 45.0}},
    }
    v = measures.view(found)
    assert v["sr_quality"]["bicubic"]["sd"]["psnr"] == 0.0  # a formula has no seed spread
    assert v["sr_quality"]["p4_sr_unet"]["psnr_sd"] == 0.5 and v["sr_quality"]["p4_sr_unet"]["seeds"] == 3
    assert math.isnan(v["sr_quality"]["p4_sr_cnn"]["sd"]["psnr"])  # one seed says nothing about the spread
    p = v["palette"]
    assert (p["band_count"], p["band_delta_e_min"], p["band_delta_e_max"]) == (2, 20.0, 40.0)
    pairs = v["pairs"]
    assert pairs["delta_e_min"] < pairs["delta_e_max"] and pairs["count"] == len(found["colour_pairs"])
    assert v["large"]["horses_64"]["images"] == 4 and v["large"]["horses_64"]["size"] == 64
