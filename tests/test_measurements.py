"""The measurement registry: what each reads, when it computes, what it caches, what answers see."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import torch

from pa3report import data, evidence, measurements
from pa3report.config import RunSpec, load_experiments
from pa3report.errors import UserError
from pa3report.fields import Fields
from pa3report.measurements import Measurement, Reads
from pa3report.runs import RunInfo

from .conftest import PROJECT
from .runkit import run, runs

CALLS: list[list[str]] = []


def _compute(bench: measurements.Bench) -> dict:
    CALLS.append([r.name for r in bench.runs])
    return {"n": len(bench.runs), "mean": float(bench.truth.mean())}


def _view(found: dict | None, networks) -> Fields:
    return Fields("analysis.probe", {"n": found["n"] if found else math.nan, "reads": [n.name for n in networks]})


@pytest.fixture
def probe():
    """A measurement registered for one test (and removed after it)."""
    CALLS.clear()
    m = measurements.register(Measurement("probe", _compute, _view, reads=Reads(first_seeds=True)))
    yield m
    measurements.unregister("probe")


def probed(name: str, **settings):
    """A run whose `measured` table names the probe."""
    return run(name, measured=(("probe", ""),), **settings)


def test_reads_find_the_entries_that_name_the_measurement_with_their_labels():
    rs = runs(run("a", measured=(("probe", "first"), ("other", "x"))),
              run("a_s1", group="a", seed=1, available=False, measured=(("probe", "first"),)),
              run("b", measured=(("probe", ""),)), run("c", measured=(("other", "y"),)))
    reads = Reads(measurement="probe")
    assert [(n.name, n.label) for n in reads.networks(rs)] == [("a", "first"), ("b", "b")]  # "": by name
    assert [r.name for r in reads.select(rs)] == ["a", "a_s1", "b"]  # every seed
    assert reads.ready(rs)  # computed over whatever seeds are cached
    first = Reads(measurement="probe", first_seeds=True)
    assert [r.name for r in first.select(rs)] == ["a", "b"] and first.ready(rs)
    rs["b"] = run("b", available=False, measured=(("probe", ""),))
    assert not first.ready(rs)  # waits until every run it reads is cached...
    assert not first.ready(runs(run("c")))  # ...and for a list that gives it none


def test_reads_by_fields_in_their_own_order():
    rs = runs(run("big", batch_size=500), run("cnn", model="CNN"), run("small", batch_size=20))
    reads = Reads(pick=lambda e: e.model == "UNet", order=lambda e: e.batch_size)
    assert [(n.name, n.label) for n in reads.networks(rs)] == [("small", "small"), ("big", "big")]


def test_a_renamed_run_keeps_its_measurement(probe, tmp_path):
    """What a measurement reads follows the entry's `measured` table, not its name."""
    rs = runs(probed("renamed"), probed("another"), run("c"))
    images = lambda: torch.zeros((2, 3, 4, 4), dtype=torch.uint8)
    found = measurements.measure(["probe"], rs, np.zeros((4, 3), np.float32), tmp_path, "d", images)
    assert found["probe"]["n"] == 2 and CALLS == [["renamed", "another"]]
    assert measurements.views(found, rs)["analysis"]["probe"]["reads"] == ["renamed", "another"]


# --------------------------------------------------------------------------- the list against the measurements


def project_lists(tmp_path, edit=lambda text: text):
    """A copy of the project's experiment lists, handout.toml edited."""
    folder = tmp_path / "experiments"
    shutil.copytree(PROJECT / "experiments", folder)
    handout = folder / "handout.toml"
    handout.write_text(edit(handout.read_text()))
    return folder


def listed(experiments):
    return {e.name: RunInfo(RunSpec(e), None, "missing") for e in experiments}


def test_a_run_renamed_in_the_list_keeps_its_measurements(tmp_path):
    folder = project_lists(tmp_path, lambda text: text.replace('name = "p2_cnn"', 'name = "my_cnn"'))
    experiments = load_experiments(folder)
    measurements.check(experiments, folder)
    rs = listed(experiments)
    decoding, edges = measurements.REGISTRY["decoding"], measurements.REGISTRY["edges"]
    assert [(n.name, n.label) for n in decoding.networks(rs)] == [("my_cnn", "CNN"), ("p3_unet", "UNet")]
    assert ("my_cnn", "classification CNN") in [(n.name, n.label) for n in edges.networks(rs)]
    assert [r.name for r in decoding.select(rs)][:3] == ["my_cnn", "my_cnn_s1", "my_cnn_s2"]  # every seed
    assert math.isnan(measurements.views({}, rs)["analysis"]["decoding"]["my_cnn"]["argmax"]["psnr"])


def test_the_lists_of_ablations_and_the_sweep_are_optional(tmp_path):
    folder = project_lists(tmp_path)
    for name in ("ablations.toml", "sweep.toml"):
        (folder / name).unlink()
    measurements.check(load_experiments(folder), folder)


def test_a_measurement_no_entry_names_is_an_error(tmp_path):
    folder = project_lists(tmp_path, lambda text: "\n".join(
        line for line in text.split("\n") if not line.startswith("decoding = ")))
    with pytest.raises(UserError) as err:
        measurements.check(load_experiments(folder), folder)
    message = str(err.value)
    assert "measurement 'decoding' reads no run of" in message and str(folder) in message
    assert 'measured = {decoding = "label"}' in message and "\n" not in message


def test_a_list_that_names_no_measurement_shows_what_it_has(tmp_path):
    """A small list of its own (no `measured` anywhere) is no error: its measurements find nothing."""
    (tmp_path / "one.toml").write_text('[[experiment]]\nname = "x"\nmodel = "CNN"\ntask = "colourization"\n')
    measurements.check(load_experiments(tmp_path), tmp_path)


@pytest.mark.parametrize("table, words", [
    ('{decodng = "CNN"}', ["one.toml", "experiment 'x'", "key 'measured'", "'decodng'", "did you mean 'decoding'"]),
    ('{batch_scaling = ""}', ["'batch_scaling' finds its runs itself", "question 3.3", "remove it"]),
])
def test_a_measured_table_names_measurements_that_are_given_their_runs(tmp_path, table, words):
    (tmp_path / "one.toml").write_text(
        f'[[experiment]]\nname = "x"\nmodel = "CNN"\ntask = "colourization"\nmeasured = {table}\n')
    with pytest.raises(UserError) as err:
        measurements.check(load_experiments(tmp_path), tmp_path)
    for word in words:
        assert word in str(err.value)


def test_measure_caches_by_the_runs_it_reads(probe, tmp_path):
    rs = runs(probed("a"), probed("b"), run("c"))
    images = lambda: torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    palette = np.zeros((4, 3), np.float32)
    first = measurements.measure(["probe", "curves"], rs, palette, tmp_path, "data-1", images)
    mean = float(data.to_unit(images()).mean())  # the test images as the networks see them
    assert first == {"probe": {"n": 2, "mean": mean}} and CALLS == [["a", "b"]]
    rs["c"] = run("c", val_acc=[1.0, 2.0])  # a run it does not read changes: still cached
    assert measurements.measure(["probe"], rs, palette, tmp_path, "data-1", images) == first and len(CALLS) == 1
    rs["b"] = probed("b", val_acc=[5.0])  # its own run retrained (new fingerprint)...
    rs["b"].result = rs["b"].result.__class__("b", "fp-new", rs["b"].result.meta, rs["b"].result.history,
                                              rs["b"].result.folder)
    measurements.measure(["probe"], rs, palette, tmp_path, "data-1", images)
    assert len(CALLS) == 2
    measurements.measure(["probe"], rs, palette, tmp_path, "data-2", images)  # ...or other data: again
    assert len(CALLS) == 3


def test_measure_without_data_or_runs_or_permission_to_compute(probe, tmp_path):
    rs = runs(probed("a"), probed("b", available=False))
    palette = np.zeros((4, 3), np.float32)
    assert measurements.measure(["probe"], rs, palette, tmp_path, "d", None) == {"probe": None}  # waits for b
    rs = runs(probed("a"), probed("b"))
    assert measurements.measure(["probe"], rs, palette, tmp_path, None, None) == {"probe": None}  # no data
    assert measurements.measure(["probe"], rs, palette, tmp_path, "d", None, compute=False) == {"probe": None}
    assert CALLS == []


def test_registering_makes_an_evidence_kind_and_a_view(probe):
    assert "probe" in evidence.PIECES
    views = measurements.views({}, {})
    assert math.isnan(views["analysis"]["probe"]["n"]) and views["analysis"]["available"] is False
    assert views["sweep"]["count"] == 0  # the sweep sits at the top level, as `sweep`
    measurements.unregister("probe")
    assert "probe" not in evidence.PIECES and "probe" not in measurements.views({}, {})["analysis"]


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
