import json
import math

import pandas as pd
import pytest
import torch

from pa3report.errors import UserError
from pa3report.store import RunMeta, Store

# meta.json of a run as the runner writes it (shortened experiment and hyper records)
WRITTEN = {"name": "run_a", "fingerprint": "f" * 64, "experiment": {"name": "run_a", "model": "CNN", "skips": []},
           "hyper": {"epochs": 1, "train_images": None}, "quick": False, "trajectory": "t" * 64,
           "final": {"epoch": 1.0, "train_loss": 1.0, "val_loss": 1.5, "val_acc": 20.0, "val_mse": 0.01,
                     "epoch_seconds": 0.1},
           "seconds": 0.1, "device": "cuda (NVIDIA H200)", "torch": "2.11.0+cu130", "palette": "k-means (cached)",
           "finished_at": "2026-12-04T15:05:11+00:00"}


def save_one(store: Store, fp: str = "f" * 64, timed: bool = True, **meta):
    """A one-epoch result of run_a; timed=False: a history without epoch times (nor seconds)."""
    row = {"epoch": 1, "train_loss": 1.0, "val_loss": 1.5, "val_acc": 20.0, "val_mse": 0.01}
    history = pd.DataFrame([{**row, "epoch_seconds": 0.1} if timed else row])
    meta = {"name": "run_a", "fingerprint": fp, "final": history.iloc[-1].to_dict(),
            **({"seconds": 0.1} if timed else {}), **meta}
    return store.save(RunMeta(**meta), history, {"w": torch.ones(3)}, {"prediction": torch.zeros(1, 3, 4, 4)})


def test_save_and_load_round_trip(tmp_path):
    store = Store(tmp_path)
    save_one(store)
    got = store.load("run_a", "f" * 64)
    assert got is not None and got.final["val_acc"] == 20.0
    assert torch.equal(got.weights()["w"], torch.ones(3))
    assert got.samples()["prediction"].shape == (1, 3, 4, 4)
    assert store.fingerprints("run_a") == ["f" * 16]
    assert store.load("run_a", "e" * 64) is None


@pytest.mark.parametrize("victim", ["history.csv", "weights.pt", "samples.pt", "meta.json"])
def test_tampered_files_are_detected(tmp_path, victim, capsys):
    store = Store(tmp_path)
    r = save_one(store)
    path = r.folder / victim
    path.write_bytes(path.read_bytes()[:-5] + b"xxxxx")
    assert store.load("run_a", "f" * 64) is None
    assert "damaged" in capsys.readouterr().err


def test_missing_file_is_detected(tmp_path):
    store = Store(tmp_path)
    r = save_one(store)
    (r.folder / "weights.pt").unlink()
    assert store.load("run_a", "f" * 64, report=False) is None


def test_save_on_full_disk_is_a_clear_error_and_keeps_previous(tmp_path, monkeypatch):
    store = Store(tmp_path)
    save_one(store)
    import pa3report.store as store_mod

    def full(path, data):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(store_mod, "atomic_write", full)
    with pytest.raises(UserError, match="No space left on device.*Free disk space"):
        save_one(store, "a" * 64)
    monkeypatch.undo()
    assert store.load("run_a", "f" * 64) is not None


def test_checkpoint_round_trip_and_damage(tmp_path, capsys):
    store = Store(tmp_path)
    store.save_checkpoint("t" * 64, {"history": [{"epoch": 1}], "model": {"w": torch.ones(2)}})
    assert store.load_checkpoint("t" * 64)["history"] == [{"epoch": 1}]
    path = store.checkpoint_path("t" * 64)
    path.write_bytes(path.read_bytes()[:100])
    assert store.load_checkpoint("t" * 64) is None
    assert "damaged" in capsys.readouterr().err


def test_meta_records_checksums(tmp_path):
    r = save_one(Store(tmp_path))
    meta = json.loads((r.folder / "meta.json").read_text())
    assert set(meta["files"]) == {"history.csv", "weights.pt", "samples.pt"}


def test_meta_json_holds_the_runs_record_and_the_seals_and_reads_back_equal(tmp_path):
    meta = RunMeta.from_record(WRITTEN)
    assert meta.record() == WRITTEN
    store = Store(tmp_path)
    history = pd.DataFrame([WRITTEN["final"]])
    r = store.save(meta, history, {"w": torch.ones(3)}, {"prediction": torch.zeros(1)})
    on_disk = json.loads((r.folder / "meta.json").read_text())
    assert {k: v for k, v in on_disk.items() if k not in ("files", "meta_sha256")} == WRITTEN
    assert store.load("run_a", "f" * 64).meta == meta


def _rewrite_without(folder, *keys):
    """meta.json as a file written before these keys existed (and before it sealed itself)."""
    raw = json.loads((folder / "meta.json").read_text())
    for key in (*keys, "meta_sha256"):
        raw.pop(key)
    (folder / "meta.json").write_text(json.dumps(raw))


def test_a_meta_json_lacking_fields_reads_their_documented_defaults(tmp_path):
    store = Store(tmp_path)
    r = save_one(store, timed=False, **{k: v for k, v in WRITTEN.items()
                                        if k not in ("name", "fingerprint", "final", "seconds")})
    _rewrite_without(r.folder, "experiment", "hyper", "quick", "trajectory", "seconds", "device", "torch",
                     "palette", "finished_at")
    meta = store.load("run_a", "f" * 64).meta
    assert (meta.experiment, meta.hyper, meta.quick, meta.trajectory) == ({}, {}, False, "")
    assert math.isnan(meta.seconds)
    assert (meta.device, meta.torch, meta.palette, meta.finished_at) == ("?", "?", "?", "")
    assert meta.final["val_acc"] == 20.0 and meta.name == "run_a"


def test_a_meta_json_with_a_value_of_the_wrong_type_is_damaged(tmp_path, capsys):
    store = Store(tmp_path)
    r = save_one(store, timed=False)
    raw = json.loads((r.folder / "meta.json").read_text())
    raw.pop("meta_sha256")
    (r.folder / "meta.json").write_text(json.dumps({**raw, "seconds": "soon"}))
    assert store.load("run_a", "f" * 64) is None
    assert "wrong type" in capsys.readouterr().err


def test_metas_read_every_stored_result_but_hidden_and_unreadable_ones(tmp_path):
    store = Store(tmp_path)
    save_one(store, device="a")
    save_one(store, "e" * 64, device="b")
    (store.folder("run_b", "d" * 64)).mkdir(parents=True)
    (store.folder("run_b", "d" * 64) / "meta.json").write_text("{not json")
    hidden = store.folder("run_a", "." + "c" * 63)
    hidden.mkdir()
    (hidden / "meta.json").write_text(json.dumps({"device": "c"}))
    assert [m.device for m in store.metas()] == ["b", "a"]  # in folder order
    assert [m.fingerprint for m in store.metas("run_a")] == ["e" * 64, "f" * 64] and not list(store.metas("x"))


def test_a_lock_waits_or_says_it_is_held(tmp_path):
    from filelock import FileLock

    store = Store(tmp_path)
    with store.lock("report-html") as held:
        assert held and (tmp_path / "locks" / "report-html.lock").exists()
    with FileLock(str(tmp_path / "locks" / "report-html.lock")):
        with store.lock("report-html", wait=False) as held:
            assert not held
    with store.lock("report-html", wait=False) as held:
        assert held
