import dataclasses
from pathlib import Path

import pytest
import torch

from pa3report import config
from pa3report.config import RunSpec
from pa3report.inputs import Paths, load_inputs
from pa3report.plan import code_digest
from pa3report.runner import Runner

CPU = torch.device("cpu")


def make_runner(root: Path, **kw) -> Runner:
    paths = Paths.from_root(root)
    return Runner(paths, load_inputs(paths), device=CPU, show_progress=False, **kw)


def specs(root: Path, quick: bool = False) -> dict[str, RunSpec]:
    return {e.name: RunSpec(e, quick) for e in config.load_experiments(root / "experiments")}


def test_cache_hit_then_config_change_is_a_miss(tiny_experiments):
    runner = make_runner(tiny_experiments)
    s = specs(tiny_experiments)["tiny_reg"]
    assert runner.status(s) == "missing"
    (first,) = runner.run([s])
    assert first.how == "ran" and runner.status(s) == "cached"
    (again,) = runner.run([s])
    assert again.how == "cached" and again.result.fingerprint == first.result.fingerprint
    changed = RunSpec(dataclasses.replace(s.experiment, batch_size=8))
    assert runner.status(changed) == "stale"
    (third,) = runner.run([changed])
    assert third.how == "ran" and third.result.fingerprint != first.result.fingerprint


def test_code_change_invalidates(tiny_experiments, tmp_path):
    s = specs(tiny_experiments)["tiny_reg"]
    runner = make_runner(tiny_experiments)
    runner.run([s])
    module = tmp_path / "train.py"
    module.write_text("x = 1\n")
    before = code_digest([module])
    module.write_text("x = 2\n")
    edited = make_runner(tiny_experiments, code=code_digest([module]))
    assert code_digest([module]) != before
    assert edited.status(s) == "stale"
    assert edited.run([s])[0].how == "ran"


def test_shared_trajectory_equals_separate_runs(tiny_experiments, tmp_path):
    sp = specs(tiny_experiments)
    shared = make_runner(tiny_experiments)
    outs = {o.spec.name: o for o in shared.run([sp["tiny_cnn"], sp["tiny_cnn_e1"]])}
    assert outs["tiny_cnn"].how == "ran" and outs["tiny_cnn_e1"].how == "snapshot"
    # Train the 1-epoch run alone in a fresh build folder.
    alone_root = tmp_path / "alone"
    alone_root.mkdir()
    (alone_root / "experiments").symlink_to(tiny_experiments / "experiments")
    (alone,) = make_runner(alone_root).run([sp["tiny_cnn_e1"]])
    a, b = outs["tiny_cnn_e1"].result, alone.result
    assert a.fingerprint == b.fingerprint
    cols = ["train_loss", "val_loss", "val_acc", "val_mse"]
    assert a.history[cols].equals(b.history[cols])
    for k, v in a.weights().items():
        assert torch.equal(v, b.weights()[k]), k


def test_interrupted_run_resumes_and_matches(tiny_experiments, tmp_path, monkeypatch):
    sp = specs(tiny_experiments)["tiny_cnn"]
    runner = make_runner(tiny_experiments)
    import pa3report.train as train_mod
    real = train_mod.train_epoch
    calls = {"n": 0}

    def dies_in_epoch_2(state, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(state, *a, **k)
    monkeypatch.setattr(train_mod, "train_epoch", dies_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        runner.run([sp])
    monkeypatch.setattr(train_mod, "train_epoch", real)
    assert runner.status(sp) == "missing"  # nothing counts as done
    assert runner.store.load_checkpoint(runner.trajectory(sp))["history"][-1]["epoch"] == 1
    (resumed,) = runner.run([sp])
    assert resumed.how == "resumed"
    clean_root = tmp_path / "clean"
    clean_root.mkdir()
    (clean_root / "experiments").symlink_to(tiny_experiments / "experiments")
    (clean,) = make_runner(clean_root).run([sp])
    cols = ["train_loss", "val_loss", "val_acc", "val_mse"]
    assert resumed.result.history[cols].equals(clean.result.history[cols])


def test_quick_has_its_own_fingerprint(tiny_experiments):
    runner = make_runner(tiny_experiments)
    full, quick = specs(tiny_experiments)["tiny_cnn"], specs(tiny_experiments, quick=True)["tiny_cnn"]
    assert runner.fingerprint(full) != runner.fingerprint(quick)
    (q,) = runner.run([quick])
    assert q.result.meta.quick is True and len(q.result.history) == 2
    assert runner.status(full) == "missing"  # a preview is not an old result of the full run


def test_force_retrains(tiny_experiments):
    runner = make_runner(tiny_experiments)
    s = specs(tiny_experiments)["tiny_reg"]
    runner.run([s])
    assert runner.run([s], force=True)[0].how == "ran"


def test_damaged_result_is_recomputed(tiny_experiments):
    runner = make_runner(tiny_experiments)
    s = specs(tiny_experiments)["tiny_reg"]
    (first,) = runner.run([s])
    (first.result.folder / "history.csv").write_text("epoch,train_loss\n1,0.0\n")
    assert runner.status(s) == "damaged"
    assert runner.run([s])[0].how in ("ran", "resumed")
    assert runner.status(s) == "cached"


def test_parallel_jobs_give_the_same_results(tiny_experiments, tmp_path):
    sp = specs(tiny_experiments)
    runner = make_runner(tiny_experiments)
    outs = runner.run([sp["tiny_cnn"], sp["tiny_cnn_e1"], sp["tiny_reg"]], jobs=2)
    assert [o.spec.name for o in outs] == ["tiny_cnn", "tiny_cnn_e1", "tiny_reg"]
    assert {o.how for o in outs} <= {"ran", "snapshot"}
    serial_root = tmp_path / "serial"
    serial_root.mkdir()
    (serial_root / "experiments").symlink_to(tiny_experiments / "experiments")
    serial = make_runner(serial_root).run([sp["tiny_cnn"], sp["tiny_reg"]])
    for a, b in zip([outs[0], outs[2]], serial):
        assert a.result.fingerprint == b.result.fingerprint
        cols = ["train_loss", "val_loss", "val_acc", "val_mse"]
        # Thread counts differ between the two, so allow float reassociation noise.
        assert (a.result.history[cols] - b.result.history[cols]).abs().max().max() < 1e-3
    assert all(o.how == "cached" for o in runner.run([sp["tiny_cnn"], sp["tiny_reg"]], jobs=2))


def test_a_quick_preview_does_not_make_the_full_run_stale(tiny_experiments):
    runner = make_runner(tiny_experiments)
    s = specs(tiny_experiments)["tiny_reg"]
    quick = specs(tiny_experiments, quick=True)["tiny_reg"]
    runner.run([quick])
    assert runner.status(quick) == "cached" and runner.status(s) == "missing"
    runner.run([RunSpec(dataclasses.replace(s.experiment, batch_size=8))])
    assert runner.status(s) == "stale"


# ----------------------------------------------------------------- waves

def _seeded(tiny_experiments: Path) -> dict[str, RunSpec]:
    """The tiny list with seeds [0, 1, 2] on tiny_cnn (and its 1-epoch twin) and on tiny_reg."""
    folder = tiny_experiments / "experiments"
    text = (folder / "tiny.toml").read_text().replace('epochs = 3\n', 'epochs = 3\nseeds = [0, 1, 2]\n')
    text = text.replace('epochs = 1\n', 'epochs = 1\nseeds = [0, 1, 2]\n')
    text = text.replace('epochs = 2\n', 'epochs = 2\nseeds = [0, 1, 2]\n')
    (folder / "tiny.toml").write_text(text)
    return specs(tiny_experiments)


def test_wave_numbers_count_seeds_within_each_entry(tiny_experiments):
    from pa3report.plan import wave_numbers

    sp = _seeded(tiny_experiments)
    waves = wave_numbers(sp.values())
    assert waves["tiny_cnn"] == waves["tiny_cnn_e1"] == waves["tiny_reg"] == 0
    assert waves["tiny_cnn_s1"] == waves["tiny_reg_s1"] == 1
    assert waves["tiny_cnn_s2"] == waves["tiny_cnn_e1_s2"] == 2


def test_first_wave_trains_only_seed_0_of_each_entry_and_keeps_trajectories_whole(tiny_experiments):
    """Seed 0 of every entry trains before any repeat; a 1-epoch run is filed with its 3-epoch
    trajectory (a snapshot), and each wave is reported once, in order, when it is complete."""
    sp = _seeded(tiny_experiments)
    runner = make_runner(tiny_experiments)
    order: list[str] = []
    told: list[tuple[int, int, list[str]]] = []
    runner.run(list(sp.values()), on_outcome=lambda o: order.append(o.spec.name),
               on_wave=lambda w, last: told.append((w, last, list(order))))
    first = order[:3]
    assert sorted(first) == ["tiny_cnn", "tiny_cnn_e1", "tiny_reg"]
    assert order.index("tiny_cnn_e1") < order.index("tiny_cnn")  # snapshot on the way, same trajectory
    assert [(w, last) for w, last, _ in told] == [(0, 2), (1, 2), (2, 2)]
    assert sorted(told[0][2]) == sorted(first)
    assert sorted(told[1][2][3:]) == ["tiny_cnn_e1_s1", "tiny_cnn_s1", "tiny_reg_s1"]
    assert len(told[2][2]) == 9


@pytest.mark.slow
def test_waves_with_parallel_jobs_are_told_in_order(tiny_experiments):
    sp = _seeded(tiny_experiments)
    chosen = [sp[n] for n in ("tiny_reg", "tiny_reg_s1", "tiny_cnn_e1", "tiny_cnn_e1_s1")]
    runner = make_runner(tiny_experiments)
    told: list[int] = []
    filed: list[str] = []
    runner.run(chosen, jobs=2, on_outcome=lambda o: filed.append(o.spec.name),
               on_wave=lambda w, last: told.append((w, len(filed))))
    assert [w for w, _ in told] == [0, 1]
    assert told[0][1] >= 2 and told[1][1] == 4
