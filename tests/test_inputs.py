"""Where the project reads and writes, and the shared inputs: data identity and palette."""

from pathlib import Path

import numpy as np

from pa3report.inputs import Paths, load_inputs, palette_path


def test_paths_follow_pa3_build(tmp_path):
    assert Paths.from_root(tmp_path, {}).build == (tmp_path / "build").resolve()
    elsewhere = tmp_path / "drive" / "pa3"
    paths = Paths.from_root(tmp_path, {"PA3_BUILD": str(elsewhere)})
    assert paths.build == elsewhere.resolve() and paths.data_cache == elsewhere.resolve() / "data"
    assert paths.experiments == tmp_path.resolve() / "experiments"


def test_paths_name_every_location_of_the_build_folder(tmp_path):
    paths = Paths.from_root(tmp_path, {})
    named = {"html": paths.html, "report.json": paths.state_file, "figures": paths.figures,
             "analysis": paths.analysis, "palette": paths.palettes, "data": paths.data_cache}
    assert all(path == paths.build / name for name, path in named.items())
    assert paths.store.root == paths.build  # runs/, checkpoints/ and locks/ inside


def test_palette_is_fitted_once_then_read_and_images_load_lazily(project: Path, capsys, monkeypatch):
    monkeypatch.delenv("PA3_PALETTE")  # the fixture's fixed palette would skip the fitting
    paths = Paths.from_root(project)
    first = load_inputs(paths)
    assert "fitting the 24-colour palette" in capsys.readouterr().err
    assert palette_path(paths, first.identity).is_file() and first.palette.shape == (24, 3)
    again = load_inputs(paths)
    assert "fitting" not in capsys.readouterr().err and np.array_equal(first.palette, again.palette)
    assert "horses" not in again.__dict__  # nothing unpickled until the images are needed
    assert again.horses.test.shape[1:] == (3, 32, 32)
    assert again.palette_digest == first.palette_digest
