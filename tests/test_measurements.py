"""The measurement registry: what each reads, when it computes, what it caches, what answers see."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pa3report import data, evidence, measurements
from pa3report.fields import Fields
from pa3report.measurements import Measurement, Reads

from .runkit import run, runs

CALLS: list[list[str]] = []


def _compute(bench: measurements.Bench) -> dict:
    CALLS.append([r.name for r in bench.runs])
    return {"n": len(bench.runs), "mean": float(bench.truth.mean())}


def _view(found: dict | None) -> Fields:
    return Fields("analysis.probe", {"n": found["n"] if found else math.nan})


@pytest.fixture
def probe():
    """A measurement registered for one test (and removed after it)."""
    CALLS.clear()
    m = measurements.register(Measurement("probe", _compute, _view, reads=Reads(entries=("a",), runs=("b",))))
    yield m
    measurements.unregister("probe")


def test_reads_select_every_seed_of_an_entry_and_wait_for_named_runs():
    rs = runs(run("a"), run("a_s1", group="a", seed=1, available=False), run("b"), run("c"))
    reads = Reads(entries=("a",), runs=("b",))
    assert [r.name for r in reads.select(rs)] == ["a", "a_s1", "b"]
    assert reads.ready(rs)
    assert not Reads(runs=("b", "z")).ready(rs)  # a named run that is not cached (or not listed)
    assert Reads(entries=("zz",)).ready(rs)  # entries: computed over whatever seeds are cached


def test_measure_caches_by_the_runs_it_reads(probe, tmp_path):
    rs = runs(run("a"), run("b"), run("c"))
    images = lambda: torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    palette = np.zeros((4, 3), np.float32)
    first = measurements.measure(["probe", "curves"], rs, palette, tmp_path, "data-1", images)
    mean = float(data.to_unit(images()).mean())  # the test images as the networks see them
    assert first == {"probe": {"n": 2, "mean": mean}} and CALLS == [["a", "b"]]
    rs["c"] = run("c", val_acc=[1.0, 2.0])  # a run it does not read changes: still cached
    assert measurements.measure(["probe"], rs, palette, tmp_path, "data-1", images) == first and len(CALLS) == 1
    rs["b"] = run("b", val_acc=[5.0])  # its own run retrained (new fingerprint)...
    rs["b"].result = rs["b"].result.__class__("b", "fp-new", rs["b"].result.meta, rs["b"].result.history,
                                              rs["b"].result.folder)
    measurements.measure(["probe"], rs, palette, tmp_path, "data-1", images)
    assert len(CALLS) == 2
    measurements.measure(["probe"], rs, palette, tmp_path, "data-2", images)  # ...or other data: again
    assert len(CALLS) == 3


def test_measure_without_data_or_runs_or_permission_to_compute(probe, tmp_path):
    rs = runs(run("a"), run("b", available=False))
    palette = np.zeros((4, 3), np.float32)
    assert measurements.measure(["probe"], rs, palette, tmp_path, "d", None) == {"probe": None}  # waits for b
    rs = runs(run("a"), run("b"))
    assert measurements.measure(["probe"], rs, palette, tmp_path, None, None) == {"probe": None}  # no data
    assert measurements.measure(["probe"], rs, palette, tmp_path, "d", None, compute=False) == {"probe": None}
    assert CALLS == []


def test_registering_makes_an_evidence_kind_and_a_view(probe):
    assert "probe" in evidence.PIECES
    views = measurements.views({})
    assert math.isnan(views["analysis"]["probe"]["n"]) and views["analysis"]["available"] is False
    assert views["sweep"]["count"] == 0  # the sweep sits at the top level, as `sweep`
    measurements.unregister("probe")
    assert "probe" not in evidence.PIECES and "probe" not in measurements.views({})["analysis"]


def test_seeded_row():
    row = measurements.seeded_row("o", {"x": [1.0, 3.0], "y": 2.0}, ("x", "y"))
    assert (row["x"], row["x_sd"], row["seeds"]) == (2.0, math.sqrt(2), 2)
    assert row["y_sd"] == 0.0 and row["mean"]["y"] == 2.0 and row.owner == "o"
    empty = measurements.seeded_row("o", None, ("x",))
    assert math.isnan(empty["x"]) and math.isnan(empty["sd"]["x"]) and not empty["available"]


def test_over_seeds_gives_one_value_per_cached_seed():
    rs = [run("a"), run("a_s1", group="a", seed=1), run("b", available=False), run("c")]
    bench = measurements.Bench([r for r in rs if r.available], np.zeros((2, 3), np.float32), None)
    got = bench.over_seeds(["a", "b"], lambda r: {"seed": r.experiment.seed, "twice": 2 * r.experiment.seed})
    assert got == {"a": {"seed": [0.0, 1.0], "twice": [0.0, 2.0],  # b has no cached seed: left out
                         "pairing": {"model": "UNet", "seeds": [0, 1]}}}


def test_rows_of_one_network_with_the_same_seeds_are_compared_seed_by_seed():
    from pa3report import answers

    def row(model, values):
        return measurements.seeded_row("r", {"x": values, "pairing": {"model": model, "seeds": [0, 1, 2]}}, ("x",))

    long, short = row("UNet", [50.0, 52.0, 47.0]), row("UNet", [49.0, 51.2, 45.9])
    assert answers.gap(long, short, "x")["test"] == "paired t-test"
    assert answers.gap(long, row("CNN", [49.0, 51.2, 45.9]), "x")["test"] == "Welch's t-test"
