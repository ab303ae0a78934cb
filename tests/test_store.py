import json

import pandas as pd
import pytest
import torch

from pa3report.errors import UserError
from pa3report.store import Store


def save_one(store: Store, fp: str = "f" * 64):
    history = pd.DataFrame([{"epoch": 1, "train_loss": 1.0, "val_loss": 1.5, "val_acc": 20.0,
                             "val_mse": 0.01, "epoch_seconds": 0.1}])
    return store.save("run_a", fp, {"final": history.iloc[-1].to_dict(), "seconds": 0.1},
                      history, {"w": torch.ones(3)}, {"prediction": torch.zeros(1, 3, 4, 4)})


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
