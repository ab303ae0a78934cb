"""The submission zip: structure, determinism, self-check, refusals."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from pa3report import package
from pa3report.cli import main
from pa3report.errors import UserError

from .reportkit import copy_project, full_project, quick_project

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built():
    return full_project()


@pytest.mark.parametrize("raw, clean", [
    ("Ada", "ada"), ("  LOVELACE ", "lovelace"), ("van der Berg", "van-der-berg"), ("Çelik", "celik"),
    ("Işık", "isik"), ("Jean-Luc", "jean-luc"), ("O'Brien", "obrien"), ("O’Neil", "oneil"), ("Zoë", "zoe"),
    ("Nguyễn Thị", "nguyen-thi"), ("../x", "x"), ("-ada", "ada"), ("李雷", None), ("'-'", None),
    ("", None), (None, None),
])
def test_names_become_safe_file_names(raw, clean):
    if clean is None:
        with pytest.raises(UserError):
            package.clean_name(raw, "name")
    else:
        assert package.clean_name(raw, "name") == clean
    assert package.zip_name("Ada", "Lovelace") == "ada-lovelace-pa3.zip"


def test_zip_has_three_parts_and_nothing_else(built, tmp_path):
    (built.root / "notes.txt").write_text("I also tried a larger palette.\n")
    packed = package.build(built.paths, "Ada", "Lovelace", out_dir=tmp_path)
    assert packed.path.name == "ada-lovelace-pa3.zip" and packed.size < package.MAX_BYTES
    with zipfile.ZipFile(packed.path) as zf:
        names = zf.namelist()
        readme = zf.read("README.txt").decode()
        index = zf.read("html/index.html").decode()
        infos = zf.infolist()
    assert names == sorted(names)
    assert {n.split("/")[0] for n in names} == {"README.txt", "code", "html"}
    for part in ("code/pa3report/report.py", "code/pa3report/models.py", "code/templates/report.html.j2",
                 "code/experiments/tiny.toml", "code/answers/3.2.md", "code/Makefile",
                 "code/pyproject.toml", "html/index.html", "html/img/q3-2-samples.png",
                 "html/activations/p3_unet/act0.png", "html/activations/p3_unet/index.html"):
        assert part in names, part
    for n in names:
        assert not n.startswith("/") and ".." not in n.split("/")
        assert "__pycache__" not in n and not n.endswith((".pyc", ".pt", ".npy"))
        assert not n.startswith(("code/build", "code/.venv", "code/tests"))
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
    assert "Ada Lovelace" in index and "Quick preview" not in index
    assert "Student: Ada Lovelace" in readme and "html/index.html" in readme
    assert "I also tried a larger palette." in readme
    assert package.verify(packed.path) == []


def test_zip_is_deterministic(built, tmp_path):
    a = package.build(built.paths, "ada", "lovelace", out_dir=tmp_path / "a")
    for page in (built.paths.build / "html").rglob("*"):
        os.utime(page, (1_000_000, 1_000_000))  # file times must not leak into the zip
    b = package.build(built.paths, "ada", "lovelace", out_dir=tmp_path / "b")
    assert a.path.read_bytes() == b.path.read_bytes()


def test_verify_catches_broken_links_and_junk(tmp_path):
    bad = tmp_path / "bad.zip"
    package.write_zip(bad, {
        "README.txt": b"x", "code/Makefile": b"all:",
        "html/index.html": b'<img src="img/missing.png" alt=""><a href="/etc/passwd">x</a>'
                           b'<a href="#top">ok</a><a href="https://example.org">ok</a><img src="img/a.png" alt="">',
        "html/img/a.png": b"png", "code/pa3report/__pycache__/x.pyc": b"",
    })
    problems = package.verify(bad)
    assert any("img/missing.png" in p and "does not resolve" in p for p in problems)
    assert any("/etc/passwd" in p and "absolute" in p for p in problems)
    assert any("__pycache__" in p for p in problems)
    assert not any("img/a.png" in p for p in problems)


def test_quick_report_is_refused(tmp_path, monkeypatch, capsys):
    quick = quick_project()
    with pytest.raises(UserError, match="quick"):
        package.build(quick.paths, "ada", "lovelace", out_dir=tmp_path)
    for k, v in quick.env.items():
        monkeypatch.setenv(k, v)
    # only quick results are cached there: the command refuses before touching the report
    assert main(["--root", str(quick.root), "zip", "--name", "ada", "--surname", "lovelace"]) == 2
    err = capsys.readouterr().err
    assert "--quick preview cannot be submitted" in err
    assert not list(quick.paths.build.glob("*.zip"))
    assert json.loads((quick.paths.build / "report.json").read_text())["quick"] is True


def test_zip_command_end_to_end(built, monkeypatch, capsys):
    for k, v in built.env.items():
        monkeypatch.setenv(k, v)
    assert main(["--root", str(built.root), "zip", "--name", "Grace", "--surname", "Hopper"]) == 0
    out = capsys.readouterr().out
    path = built.paths.build / "grace-hopper-pa3.zip"
    assert f"zip: {path}" in out and " MB)" in out
    with zipfile.ZipFile(path) as zf:
        assert "Grace Hopper" in zf.read("html/index.html").decode()
    assert main(["--root", str(built.root), "zip", "--name", "Grace"]) == 2
    assert "surname is missing" in capsys.readouterr().err


def test_a_zip_covers_the_lists_chosen(built, tmp_path, monkeypatch, capsys):
    """A list not chosen need not be trained for the zip; its runs show as not run in it."""
    root, paths = copy_project(built, tmp_path)
    (root / "experiments" / "extra.toml").write_text(
        '[[experiment]]\nname = "extra_bs7"\nquestions = ["3.3"]\nmodel = "UNet"\n'
        'task = "colourization"\nbatch_size = 7\nnum_filters = 4\n')
    for k, v in built.env.items():
        monkeypatch.setenv(k, v)
    assert main(["--root", str(root), "zip", "--name", "Ada", "--surname", "Lovelace"]) == 2
    assert "extra_bs7" in capsys.readouterr().err
    assert main(["--root", str(root), "zip", "--name", "Ada", "--surname", "Lovelace", "--lists", "tiny"]) == 0
    with zipfile.ZipFile(paths.build / "ada-lovelace-pa3.zip") as zf:
        page = zf.read("html/index.html").decode()
    assert 'id="lists-banner"' in page and "Not trained: extra." in page  # said once, at the top
    row = page[page.index('<tr id="run-extra_bs7">'):]
    assert "not run: its list was not chosen for training" in row[:row.index("</tr>")]

def test_apostrophes_and_accents_in_the_header_and_a_safe_zip_name(built, monkeypatch, capsys):
    for k, v in built.env.items():
        monkeypatch.setenv(k, v)
    assert main(["--root", str(built.root), "zip", "--name", "Seán", "--surname", "O'Neil-Ó Briain"]) == 0
    path = built.paths.build / "sean-oneil-o-briain-pa3.zip"
    assert f"zip: {path}" in capsys.readouterr().out
    with zipfile.ZipFile(path) as zf:
        page = zf.read("html/index.html").decode()
        assert "Seán O&#39;Neil-Ó Briain" in page and "Seán O'Neil-Ó Briain" in zf.read("README.txt").decode()
