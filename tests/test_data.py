import numpy as np
import pytest
import torch

from pa3report import cifar, data
from pa3report.errors import UserError
from tests.conftest import make_cifar


def brute_force(rgb: np.ndarray, palette: np.ndarray) -> np.ndarray:
    px = rgb.transpose(0, 2, 3, 1)[..., None, :]  # N H W 1 3
    return ((px - palette) ** 2).sum(-1).argmin(-1)


def test_quantize_equals_brute_force_and_decode_inverts():
    g = torch.Generator().manual_seed(1)
    rgb = torch.rand(6, 3, 8, 12, generator=g)
    palette = torch.rand(24, 3, generator=g)
    classes = data.quantize(rgb, palette)
    assert classes.shape == (6, 8, 12)
    assert np.array_equal(classes.numpy(), brute_force(rgb.numpy().astype(np.float64), palette.numpy().astype(np.float64)))
    decoded = data.decode(classes, palette)
    assert decoded.shape == (6, 3, 8, 12)
    assert torch.equal(data.quantize(decoded, palette), classes)


def test_palette_is_deterministic_and_in_range(tmp_path):
    horses = cifar.load_horses(make_cifar(tmp_path / cifar.BATCH_DIR), warn=False)
    a = data.fit_palette(data.to_unit(horses.train))
    b = data.fit_palette(data.to_unit(horses.train))
    assert a.shape == (24, 3) and np.array_equal(a, b)
    assert a.min() >= 0 and a.max() < 1


def test_palette_file_in_handout_layout(tmp_path):
    pal = np.random.default_rng(0).random((1, 24, 3)).astype(np.float32)
    np.save(tmp_path / "p.npy", pal)
    assert np.array_equal(data.read_palette(tmp_path / "p.npy"), pal[0])
    np.save(tmp_path / "bad.npy", np.zeros((1, 24, 4)))
    with pytest.raises(UserError, match=r"bad.npy.*\(K, 3\)"):
        data.read_palette(tmp_path / "bad.npy")


def test_transforms():
    rgb = torch.rand(2, 3, 32, 32)
    assert torch.allclose(data.greyscale(rgb)[:, 0], rgb.mean(1))
    sr = data.super_resolution_input(rgb)
    assert sr.shape == (2, 3, 32, 32)
    # 8x8 information: every 4x4 block is constant and equals the block mean.
    assert torch.allclose(sr[:, :, :4, :4], rgb[:, :, :4, :4].mean((2, 3), keepdim=True).expand(-1, -1, 4, 4), atol=1e-6)
    assert len(torch.unique(sr[0, 0])) <= 64
    assert data.bilinear_baseline(rgb).shape == (2, 3, 32, 32)
    assert torch.equal(data.to_unit(torch.full((1,), 255, dtype=torch.uint8)), torch.tensor([255 / 256]))


def test_task_data_shapes_and_seeded_shuffle(tmp_path):
    horses = cifar.load_horses(make_cifar(tmp_path / cifar.BATCH_DIR), warn=False)
    pal = data.fit_palette(data.to_unit(horses.train))
    col = data.make_task_data(horses, pal, "colourization", "palette", seed=0)
    assert col.x_train.shape == (40, 1, 32, 32) and col.y_train.shape == (40, 32, 32)
    assert col.y_train.dtype == torch.long and col.sample_x.shape == (8, 1, 32, 32)
    sr = data.make_task_data(horses, pal, "super_resolution", "palette", seed=0, train_images=10, val_images=4)
    assert sr.x_train.shape == (10, 3, 32, 32) and sr.x_val.shape == (4, 3, 32, 32)
    reg = data.make_task_data(horses, pal, "regression", "rgb", seed=0)
    assert reg.y_train.shape == (40, 3, 32, 32)
    other = data.make_task_data(horses, pal, "colourization", "palette", seed=1)
    assert not torch.equal(col.x_train, other.x_train)
    assert torch.equal(col.sample_x, other.sample_x)  # sample images do not depend on the seed
    assert torch.equal(col.x_train, data.make_task_data(horses, pal, "colourization", "palette", seed=0).x_train)


def test_rgb_head_targets_are_the_full_resolution_image(tmp_path):
    """Super-resolution with an RGB head: the small image in, the 32x32 original as the target."""
    horses = cifar.load_horses(make_cifar(tmp_path / cifar.BATCH_DIR), warn=False)
    pal = data.fit_palette(data.to_unit(horses.train))
    sr = data.make_task_data(horses, pal, "super_resolution", "rgb", seed=0, train_images=6, val_images=4)
    assert sr.y_train.shape == (6, 3, 32, 32) and sr.y_train.dtype == torch.float32
    assert torch.equal(sr.y_val, sr.rgb_val)
    assert torch.equal(sr.x_train, data.super_resolution_input(sr.y_train))
