import os
import pickle
import tarfile

import numpy as np
import pytest
import torch

from pa3report import cifar as data
from pa3report.errors import UserError
from tests.conftest import make_cifar, write_batch


def test_reads_both_key_styles(tmp_path):
    a = make_cifar(tmp_path / "a" / data.BATCH_DIR, str_keys=False)
    b = make_cifar(tmp_path / "b" / data.BATCH_DIR, str_keys=True)
    ha, hb = data.load_horses(a, warn=False), data.load_horses(b, warn=False)
    assert ha.train.shape == (40, 3, 32, 32) and ha.test.shape == (16, 3, 32, 32)
    assert ha.train.dtype == torch.uint8
    assert torch.equal(ha.train, hb.train)


def test_horses_only(tmp_path):
    folder = make_cifar(tmp_path / data.BATCH_DIR)
    images, labels = data.read_batch(folder / "data_batch_1")
    horses = data.load_horses(folder, warn=False)
    assert torch.equal(horses.train[:8], torch.from_numpy(images[labels == data.HORSE]))


class Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/pa3_pwned",))


def test_malicious_pickle_is_refused_and_not_run(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Boom(), b"labels": []}, protocol=2))
    if os.path.exists("/tmp/pa3_pwned"):
        os.unlink("/tmp/pa3_pwned")
    with pytest.raises(UserError, match="data_batch_1.*refused.*forbidden object"):
        data.read_batch(path)
    assert not os.path.exists("/tmp/pa3_pwned")


def test_truncated_batch_names_the_file(tmp_path):
    folder = make_cifar(tmp_path / data.BATCH_DIR)
    raw = (folder / "test_batch").read_bytes()
    (folder / "test_batch").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(UserError, match="test_batch.*truncated or corrupt"):
        data.load_horses(folder, warn=False)


def test_wrong_shape_is_refused(tmp_path):
    path = tmp_path / "data_batch_1"
    write_batch(path, np.zeros((2, 100), np.uint8), [7, 7])
    with pytest.raises(UserError, match=r"data_batch_1.*\(N, 3072\)"):
        data.read_batch(path)


def test_archive_with_wrong_md5_is_refused_before_extraction(tmp_path):
    folder = make_cifar(tmp_path / "src" / data.BATCH_DIR)
    archive = tmp_path / data.CIFAR_ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=data.BATCH_DIR)
    cache = tmp_path / "cache"
    with pytest.raises(UserError, match="md5.*not the official.*nothing was extracted"):
        data.locate(cache, {"PA3_DATA": str(archive)})
    assert not (cache / data.BATCH_DIR).exists()


def test_folder_with_unofficial_checksums_warns_once(tmp_path, capsys):
    folder = make_cifar(tmp_path / data.BATCH_DIR)
    assert data.locate(tmp_path / "cache", {"PA3_DATA": str(folder)}) == folder
    assert data.locate(tmp_path / "cache", {"PA3_DATA": str(folder.parent)}) == folder
    data.load_horses(folder)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "differ from the official" in err[0]


def test_offline_error_names_url_and_variable(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tvu

    def offline(*a, **k):
        raise OSError("Name or service not known")
    monkeypatch.setattr(tvu, "download_url", offline)
    with pytest.raises(UserError) as info:
        data.locate(tmp_path / "cache", {})
    text = str(info.value)
    assert data.CIFAR_URL in text and "PA3_DATA" in text and "data_batch_1" in text


def test_missing_given_path(tmp_path):
    with pytest.raises(UserError, match="no such file or folder"):
        data.locate(tmp_path, {"PA3_DATA": str(tmp_path / "nope")})
