"""The overall bar: its plan, its ETA from recorded runs, its quiet mode, and the runner feeding it."""

import io
import json
import re

import pytest
import torch

from pa3report import config
from pa3report.config import Experiment, RunSpec
from pa3report.formats import duration
from pa3report.progress import DEFAULT_CPU, Estimator, Overall, Record, begin, clock, end_steps, step
from pa3report.runner import Runner
from pa3report.inputs import Paths, load_inputs

CPU = torch.device("cpu")


def spec(model="CNN", task="colourization", epochs=10, batch_size=100, num_filters=32, quick=False, name="r"):
    return RunSpec(Experiment(name=name, model=model, task=task, epochs=epochs, batch_size=batch_size,
                              num_filters=num_filters), quick)


def test_estimate_prefers_the_most_similar_recorded_runs():
    dev = "cpu (2 threads)"
    est = Estimator(dev, [Record("UNet", "colourization", 100, 32, dev, 0.002),
                          Record("UNet", "colourization", 20, 32, dev, 0.004),
                          Record("UNet", "colourization", 20, 32, "cpu (1 threads)", 0.008),
                          Record("CNN", "colourization", 100, 32, "cuda (H200)", 0.00001)])
    # same model, task, batch size, filters and device: that record alone
    assert est.epoch_seconds(spec("UNet", batch_size=20)) == pytest.approx(0.004 * 5000)
    # a batch size never recorded: the median over the model's runs on this device
    assert est.per_image(spec("UNet", batch_size=500)) == pytest.approx(0.003)
    # quick runs train on 1000 images
    assert est.seconds(spec("UNet", batch_size=20, quick=True, epochs=25)) == pytest.approx(0.004 * 1000 * 2)
    # nothing similar on this kind of device: the bench's figure, scaled by the filters
    assert est.per_image(spec("CNN")) == DEFAULT_CPU["CNN"]
    assert est.per_image(spec("CNN", num_filters=64)) == pytest.approx(DEFAULT_CPU["CNN"] * 4)
    assert est.seconds(spec("CNN", epochs=10), from_epoch=4) == pytest.approx(DEFAULT_CPU["CNN"] * 5000 * 6)


def test_estimator_reads_the_cache_and_skips_damaged_entries(tmp_path):
    good = tmp_path / "runs" / "a" / "0123456789abcdef"
    good.mkdir(parents=True)
    (good / "meta.json").write_text(json.dumps({
        "experiment": {"model": "UNet", "task": "colourization", "batch_size": 50, "num_filters": 32},
        "hyper": {"epochs": 2, "train_images": 1000}, "seconds": 4.0, "device": "cpu (2 threads)"}))
    bad = tmp_path / "runs" / "b" / "fedcba9876543210"
    bad.mkdir(parents=True)
    (bad / "meta.json").write_text("{not json")
    untimed = tmp_path / "runs" / "c" / "00112233445566aa"
    untimed.mkdir(parents=True)
    (untimed / "meta.json").write_text(json.dumps({
        "experiment": {"model": "UNet", "task": "colourization", "batch_size": 50, "num_filters": 32},
        "hyper": {"epochs": 2}, "device": "cpu (2 threads)"}))  # no seconds: says nothing about cost
    est = Estimator.from_build(tmp_path, "cpu (2 threads)")
    assert len(est.records) == 1 and est.records[0].per_image == pytest.approx(0.002)


def test_clock_reads_like_a_stopwatch():
    assert clock(75) == "1:15" and clock(3725) == "1:02:05"


def test_overall_bar_counts_runs_and_scales_the_eta_by_the_pace(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("pa3report.progress.time.monotonic", lambda: now[0])
    est = Estimator("cpu (2 threads)")
    a, a5 = spec("CNN", epochs=10, name="a"), spec("CNN", epochs=5, name="a5")
    b = spec("UNet", epochs=4, name="b")
    out = io.StringIO()
    bar = Overall(est, enabled=True, file=out, tick=3600)
    bar.plan({"ta": [a, a5], "tb": [b]})
    per_a, per_b = est.epoch_seconds(a), est.epoch_seconds(b)
    assert bar.total == pytest.approx(10 * per_a + 4 * per_b)
    assert bar.status().startswith("0 of 3 runs") and f"about {duration(bar.total, rough=True)} left" in bar.status()
    bar.epoch("ta", 0, started=True)
    now[0] += per_a * 2  # this machine runs at half the recorded speed
    bar.epoch("ta", 1)
    assert bar.remaining() == pytest.approx((9 * per_a + 4 * per_b) * 2)
    assert "a epoch 1/10" in bar.status()
    bar.done("snapshot")
    bar.done("cached")  # cache hits were never part of the plan
    assert bar.status().startswith("1 of 3 runs")
    bar.failed("tb", 1)
    assert bar.total_runs == 2
    bar.close()
    text = out.getvalue()
    assert "training" in text and "1 of 3 runs" in text and "elapsed" in text


def test_resumed_epochs_do_not_count_as_this_sessions_pace(monkeypatch):
    now = [0.0]
    monkeypatch.setattr("pa3report.progress.time.monotonic", lambda: now[0])
    est = Estimator("cpu (2 threads)")
    a = spec("CNN", epochs=10, name="a")
    bar = Overall(est, enabled=False)
    bar.plan({"ta": [a]})
    bar.epoch("ta", 8, started=True)  # a checkpoint had 8 epochs
    assert bar.work_done == pytest.approx(8 * est.epoch_seconds(a))
    assert bar.remaining() == pytest.approx(2 * est.epoch_seconds(a))
    now[0] += est.epoch_seconds(a)
    bar.epoch("ta", 9)
    assert bar.remaining() == pytest.approx(est.epoch_seconds(a))


def test_quiet_without_a_terminal(capsys):
    bar = Overall(Estimator("cpu"))  # pytest's stdout is not a terminal
    assert not bar.enabled
    bar.plan({"t": [spec()]})
    bar.write("p2_cnn  ran  summary")
    bar.close()
    with step("analysis"):
        pass
    out, err = capsys.readouterr()
    assert out == "p2_cnn  ran  summary\n" and err == ""


def test_step_says_what_runs_and_how_long():
    out = io.StringIO()
    with step("analysis: measuring", enabled=True, file=out):
        pass
    finish = begin("report: the page", enabled=True, file=out)
    finish()
    finish()  # once only
    assert re.fullmatch(r"analysis: measuring \.\.\. done \(\d+\.\d s\)\n"
                        r"report: the page \.\.\. done \(\d+\.\d s\)\n", out.getvalue())


def test_an_error_inside_a_step_starts_on_a_line_of_its_own():
    out = io.StringIO()
    begin("analysis: measuring", enabled=True, file=out)
    end_steps()
    print("error: something", file=out)
    assert out.getvalue() == "analysis: measuring ...\nerror: something\n"


class Recorder:
    """Stands in for Overall: remembers what the runner tells it."""

    def __init__(self):
        self.plans, self.epochs, self.dones, self.waves, self.closed = [], [], [], [], False

    def wave(self, wave, last):
        self.waves.append((wave, last))

    def plan(self, trajectories):
        self.plans.append({t: sorted(s.name for s in m) for t, m in trajectories.items()})

    def epoch(self, trajectory, epoch, started=False):
        self.epochs.append((epoch, started))

    def done(self, how):
        self.dones.append(how)

    def failed(self, trajectory, names):
        pass

    def close(self):
        self.closed = True


@pytest.mark.parametrize("jobs", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_runner_reports_plan_epochs_and_results(tiny_experiments, jobs):
    paths = Paths.from_root(tiny_experiments)
    runner = Runner(paths, load_inputs(paths), device=CPU, show_progress=False)
    specs = [RunSpec(e) for e in config.load_experiments(tiny_experiments / "experiments")]
    rec = Recorder()
    runner.run(specs, progress=rec, jobs=jobs)
    # tiny_cnn (3 epochs) and tiny_cnn_e1 share one trajectory; tiny_reg has 2 epochs
    assert sorted(map(sorted, (list(p.values()) for p in rec.plans))) == [[["tiny_cnn", "tiny_cnn_e1"], ["tiny_reg"]]]
    assert sorted(rec.epochs) == sorted([(0, True), (1, False), (2, False), (3, False), (0, True), (1, False),
                                         (2, False)])
    assert sorted(rec.dones) == ["ran", "ran", "snapshot"] and rec.closed
    again = Recorder()
    runner.run(specs, progress=again, jobs=jobs)
    assert again.plans == [{}] and again.epochs == [] and again.dones == ["cached"] * 3
