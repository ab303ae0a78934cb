"""Fault injection on what the user hands the tool: data files, the experiment list, the
answers and the project folder that goes into the zip. Each is refused with a message
naming the file, before anything trains, and none of them can run code.

The command line runs in-process (`cli.main`): the same code path as `python -m
pa3report` minus the interpreter start-up; an uncaught exception fails the test.
"""

from __future__ import annotations

import builtins
import html
import io
import os
import pickle
import re
import tarfile
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from pa3report import cifar
from pa3report.errors import UserError
from pa3report.inputs import Paths
from tests.conftest import assert_user_error, make_cifar, run_cli, write_batch


# --------------------------------------------------------------------------- CIFAR input


class Shell:
    """Unpickling this runs a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class Exec:
    """Unpickling this runs Python source."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.exec, (f"open({str(self.marker)!r}, 'w').close()",))


class OpenFile:
    """Unpickling this creates a file through builtins.open (no shell, no exec)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.open, (str(self.marker), "w"))


def _good_batch(rng: np.random.Generator, n: int = 6) -> dict:
    return {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": [7] * n,
            b"batch_label": b"x", b"filenames": [b"f"] * n}


def _poison(folder: Path, marker: Path, name: str, how) -> None:
    batch = _good_batch(np.random.default_rng(0))
    how(batch, marker)
    (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


POISONS = {
    "os.system as the data": lambda b, m: b.__setitem__(b"data", Shell(m)),
    "exec among the labels": lambda b, m: b.__setitem__(b"labels", [7, Exec(m)]),
    "open() in an extra key": lambda b, m: b.__setitem__(b"extra", OpenFile(m)),
}


@pytest.mark.parametrize("kind", list(POISONS))
def test_batch_pickle_that_runs_code_is_refused_and_not_run(project, cifar_dir, tmp_path, capsys, kind):
    marker = tmp_path / "pwned"
    _poison(cifar_dir, marker, "data_batch_2", POISONS[kind])
    code, out, err = run_cli(capsys, project, "run", "--all", "--quick")
    assert_user_error(code, err, str(cifar_dir / "data_batch_2"), "refused", "forbidden object")
    assert not marker.exists()
    assert not (project / "build" / "runs").exists()
    # `list` needs only the files' digests, never their contents: it still lists the runs.
    code, out, err = run_cli(capsys, project, "list")
    assert code == 0 and "refused" not in err and "missing" in out, err
    assert not marker.exists()


def test_poisoned_batch_in_the_projects_own_data_cache(project, cifar_dir, tmp_path, capsys, monkeypatch):
    cache = project / "build" / "data" / cifar.BATCH_DIR
    make_cifar(cache)
    marker = tmp_path / "pwned"
    _poison(cache, marker, "test_batch", POISONS["os.system as the data"])
    monkeypatch.delenv("PA3_DATA")
    monkeypatch.setenv("PA3_OFFLINE", "1")
    code, out, err = run_cli(capsys, project, "run", "--all", "--quick")
    assert_user_error(code, err, str(cache / "test_batch"), "refused")
    assert not marker.exists()
    assert not (project / "build" / "runs").exists()


def _truncate(folder: Path) -> str:
    raw = (folder / "test_batch").read_bytes()
    (folder / "test_batch").write_bytes(raw[: len(raw) // 3])
    return "test_batch"


def _empty(folder: Path) -> str:
    (folder / "data_batch_4").write_bytes(b"")
    return "data_batch_4"


def _wrong_shape(folder: Path) -> str:
    write_batch(folder / "data_batch_3", np.zeros((5, 1024), np.uint8), [7] * 5)
    return "data_batch_3"


def _wrong_dtype(folder: Path) -> str:
    write_batch(folder / "data_batch_1", np.zeros((5, 3072), np.float64), [7] * 5)
    return "data_batch_1"


def _labels_mismatch(folder: Path) -> str:
    write_batch(folder / "data_batch_5", np.zeros((5, 3072), np.uint8), [7] * 4)
    return "data_batch_5"


def _not_a_dict(folder: Path) -> str:
    (folder / "data_batch_2").write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    return "data_batch_2"


def _missing(folder: Path) -> str:
    (folder / "data_batch_3").unlink()
    return "data_batch_3"


BROKEN = {
    "truncated": (_truncate, "truncated or corrupt"),
    "empty": (_empty, "truncated or corrupt"),
    "wrong shape": (_wrong_shape, "(N, 3072)"),
    "wrong dtype": (_wrong_dtype, "(N, 3072)"),
    "labels do not match images": (_labels_mismatch, "labels"),
    "not a dict": (_not_a_dict, "expected a dict"),
    "missing file": (_missing, "missing"),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_broken_batch_is_refused_naming_the_file(project, cifar_dir, capsys, kind):
    damage, words = BROKEN[kind]
    name = damage(cifar_dir)
    code, out, err = run_cli(capsys, project, "run", "--all", "--quick")
    last = assert_user_error(code, err, name, words)
    assert str(cifar_dir) in last
    assert not (project / "build" / "runs").exists()


def _archive(tmp_path: Path, extra: dict[str, bytes] | None = None) -> Path:
    folder = make_cifar(tmp_path / "src" / cifar.BATCH_DIR)
    archive = tmp_path / cifar.CIFAR_ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=cifar.BATCH_DIR)
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive


def test_archive_with_wrong_md5_is_refused_and_nothing_is_extracted(project, tmp_path, capsys, monkeypatch):
    # Besides the batches the archive carries a member that would land outside the cache.
    archive = _archive(tmp_path, {"../../escaped.txt": b"escaped"})
    monkeypatch.setenv("PA3_DATA", str(archive))
    code, out, err = run_cli(capsys, project, "run", "--all", "--quick")
    assert_user_error(code, err, str(archive), "md5", cifar.CIFAR_MD5, "nothing was extracted")
    cache = project / "build" / "data"
    assert not (cache / cifar.BATCH_DIR).exists() and not (cache / (cifar.BATCH_DIR + ".partial")).exists()
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not (project / "build" / "runs").exists()


def test_download_with_wrong_md5_is_refused_and_removed(project, capsys, monkeypatch):
    """Online, no data anywhere: the downloaded file fails its md5, so nothing is unpacked
    and the bad file is not kept for next time."""
    import torchvision.datasets.utils as tvu

    monkeypatch.delenv("PA3_DATA")

    def fake_download(url, root, filename=None, md5=None):
        path = Path(root) / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"<html>captive portal</html>")
        if md5 is not None and not tvu.check_integrity(str(path), md5):
            raise RuntimeError("File not found or corrupted.")
    monkeypatch.setattr(tvu, "download_url", fake_download)
    code, out, err = run_cli(capsys, project, "run", "--all", "--quick")
    assert_user_error(code, err, cifar.CIFAR_URL, "PA3_DATA")
    cache = project / "build" / "data"
    assert not (cache / cifar.CIFAR_ARCHIVE).exists() and not (cache / cifar.BATCH_DIR).exists()


# --------------------------------------------------------------------------- offline


def test_offline_uses_local_data_and_never_touches_the_network(tiny_experiments, cifar_dir, capsys, monkeypatch):
    import socket

    import torchvision.datasets.utils as tvu

    def no_network(*a, **k):
        raise AssertionError("the network was used")
    monkeypatch.setattr(tvu, "download_url", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    # Data from PA3_DATA:
    code, out, err = run_cli(capsys, tiny_experiments, "run", "tiny_cnn_e1")
    assert code == 0, err
    # Data from the project's own cache, no PA3_DATA, downloads forbidden:
    make_cifar(tiny_experiments / "build" / "data" / cifar.BATCH_DIR)
    monkeypatch.delenv("PA3_DATA")
    monkeypatch.setenv("PA3_OFFLINE", "1")
    code, out, err = run_cli(capsys, tiny_experiments, "list")
    assert code == 0 and "note:" not in err, err
    # No data at all and offline: a clear error naming the ways to provide it.
    import shutil
    shutil.rmtree(tiny_experiments / "build" / "data")
    code, out, err = run_cli(capsys, tiny_experiments, "run", "tiny_reg")
    assert_user_error(code, err, "PA3_DATA", cifar.CIFAR_URL, cifar.BATCH_DIR)


# --------------------------------------------------------------------------- experiment list

GOOD = '[[experiment]]\nname = "fine"\nmodel = "CNN"\ntask = "colourization"\nepochs = 1\nnum_filters = 4\n'

BAD_LISTS = {
    "TOML syntax error": ('# a comment\n[[experiment]]\nname = "x"\nmodel = \n', ["zz.toml", "TOML syntax error", "line 4"]),
    "unclosed string": ('[[experiment]]\nname = "x\n', ["zz.toml", "line 2"]),
    "unknown key": (GOOD + "batchsize = 3\n", ["zz.toml", "'fine'", "'batchsize'", "batch_size"]),
    "wrong type": (GOOD + 'batch_size = "ten"\n', ["zz.toml", "'batch_size'", "must be an integer"]),
    "bool for a number": (GOOD + "learn_rate = true\n", ["'learn_rate'", "must be a number"]),
    "float for an integer": (GOOD + "kernel = 3.0\n", ["'kernel'", "must be an integer"]),
    "duplicate name": (GOOD.replace('"fine"', '"tiny_cnn"'), ["zz.toml", "'tiny_cnn'", "duplicate name", "tiny.toml"]),
    "name with ..": (GOOD.replace('"fine"', '"../x"'), ["zz.toml", "'../x'", "not a safe name"]),
    "name with a space": (GOOD.replace('"fine"', '"my run"'), ["'my run'", "not a safe name"]),
    "name with a slash": (GOOD.replace('"fine"', '"a/b"'), ["'a/b'", "not a safe name"]),
    "name with shell": (GOOD.replace('"fine"', '"x;touch pwned"'), ["not a safe name"]),
    "absolute name": (GOOD.replace('"fine"', '"/tmp/x"'), ["not a safe name"]),
    "empty name": (GOOD.replace('"fine"', '""'), ["not a safe name"]),
    "unknown table": ('[experiments]\nname = "x"\n', ["zz.toml", "'experiments'", "[[experiment]]"]),
    "not an array": ('experiment = 3\n', ["zz.toml", "[[experiment]]"]),
    "missing model": ('[[experiment]]\nname = "x"\ntask = "colourization"\n', ["'model' is missing"]),
}


@pytest.mark.parametrize("kind", list(BAD_LISTS))
def test_bad_experiment_list_is_refused_before_anything_runs(tiny_experiments, capsys, kind):
    text, words = BAD_LISTS[kind]
    (tiny_experiments / "experiments" / "zz.toml").write_text(text)
    for command in (["run", "--all"], ["run", "tiny_reg"], ["list"], ["results", "tiny_reg", "--json"]):
        code, out, err = run_cli(capsys, tiny_experiments, *command)
        assert_user_error(code, err, *words)
        assert out == ""
    assert not (tiny_experiments / "build").exists()  # nothing ran, nothing was even created
    assert not (tiny_experiments / "experiments" / "pwned").exists()


@pytest.mark.parametrize("name", ["../x", "tiny_cnn/../../x", "/etc", "tiny cnn"])
def test_unsafe_name_on_the_command_line_is_refused(tiny_experiments, capsys, name):
    code, out, err = run_cli(capsys, tiny_experiments, "run", name)
    assert_user_error(code, err, "No experiment named")
    assert not (tiny_experiments / "build").exists()


# --------------------------------------------------------------------------- answers


class _Attrs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def dangerous(page: str) -> list[str]:
    """Script tags, event handlers and script-capable URLs anywhere in an HTML text."""
    parser = _Attrs()
    parser.feed(page)
    found = []
    for tag, attrs in parser.tags:
        if tag in ("script", "iframe", "object", "embed"):
            found.append(f"<{tag}>")
        for key, value in attrs:
            if key.startswith("on"):
                found.append(f"{tag} {key}")
            url = re.sub(r"[\x00-\x20]", "", html.unescape(value or "")).lower()
            if key in ("href", "src", "action", "formaction", "xlink:href") and \
                    url.startswith(("javascript:", "vbscript:", "data:text", "data:image/svg")):
                found.append(f"{tag} {key}={value}")
    return found


HOSTILE = {
    "script tag": "<script>alert('x')</script>",
    "script via Jinja": '{{ "<scr" ~ "ipt>alert(1)</scr" ~ "ipt>" }}',
    "event handler": '<img src="x.png" onerror="alert(1)">',
    "raw anchor": '<a href="javascript:alert(1)">raw</a>',
    "javascript link": "[click](javascript:alert(1))",
    "upper-case scheme": "[click](JaVaScRiPt:alert(1))",
    "entity-encoded scheme": "[click](javascript&#58;alert(1))",
    "autolink": "<javascript:alert(1)>",
    "reference link": "[click][r]\n\n[r]: javascript:alert(1)",
    "image": "![pic](javascript:alert(1))",
    "vbscript": "[click](vbscript:msgbox(1))",
    "data html": "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "svg image": "![pic](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
}


@pytest.fixture
def answers_mod():
    return pytest.importorskip("pa3report.answers")


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_markdown_is_neutralised(answers_mod, tmp_path, kind):
    folder = tmp_path / "answers"
    folder.mkdir()
    (folder / "1.1.md").write_text(f"Before.\n\n{HOSTILE[kind]}\n\nAfter.\n")
    got = answers_mod.render_answers(folder, {"runs": answers_mod.RunTable()}, questions=["1.1"])["1.1"]
    assert got.state == "answered", got.error
    assert "Before." in got.html and "After." in got.html  # the rest of the answer survives
    assert dangerous(str(got.html)) == [], str(got.html)
    assert "<script" not in str(got.html).lower()


SANDBOX_ESCAPES = {
    "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "globals of a function": "{{ cycler.__init__.__globals__.os.system('touch MARKER') }}",
    "format string": "{{ '{0.__class__.__init__.__globals__}'.format(runs) }}",
    "include outside": '{% include "../../../etc/passwd" %}',
    "import os": '{% import "os" as os %}{{ os.system("touch MARKER") }}',
}


@pytest.mark.parametrize("kind", list(SANDBOX_ESCAPES))
def test_answer_template_cannot_reach_python(answers_mod, tmp_path, kind):
    folder = tmp_path / "answers"
    folder.mkdir()
    marker = tmp_path / "pwned"
    (folder / "2.1.md").write_text("Line one.\n\n" + SANDBOX_ESCAPES[kind].replace("MARKER", str(marker)) + "\n")
    got = answers_mod.render_answers(folder, {"runs": answers_mod.RunTable()}, questions=["2.1"])["2.1"]
    assert got.state == "error" and got.html is None
    assert str(folder / "2.1.md") in got.error
    assert "root:" not in got.error and "<class" not in got.error
    assert not marker.exists()


JINJA_ERRORS = {
    "syntax error": ("Intro.\n\nMore.\n{% if %}\n", "line 4"),
    "unclosed block": ("Intro.\n{% for x in runs %}\n{{ x }}\n", "line"),
    "unknown run": ("Intro.\n\nThe run scored {{ runs.p9_missing.final.val_acc }}.\n", "line 3"),
    "unknown filter": ("Intro.\n{{ 1 | percentage }}\n", "line 2"),
}


@pytest.mark.parametrize("kind", list(JINJA_ERRORS))
def test_broken_answer_names_file_and_line(answers_mod, tmp_path, kind):
    text, where = JINJA_ERRORS[kind]
    folder = tmp_path / "answers"
    folder.mkdir()
    (folder / "3.1.md").write_text(text)
    got = answers_mod.render_answers(folder, {"runs": answers_mod.RunTable()}, questions=["3.1"])["3.1"]
    assert got.state == "error"
    assert got.error.startswith(str(folder / "3.1.md")) and where in got.error, got.error
    if kind == "unknown run":
        assert "p9_missing" in got.error
    found = answers_mod.problems({"3.1": got}, folder)
    assert any(str(folder / "3.1.md") in p for p in found)


def test_hostile_answers_in_the_rendered_report(project, capsys):
    report = pytest.importorskip("pa3report.report")
    gathering = pytest.importorskip("pa3report.gathering")
    from pa3report.inputs import Paths

    answers = project / "answers"
    (answers / "1.1.md").write_text("\n\n".join(HOSTILE.values()) + "\n")
    (answers / "1.2.md").write_text("Fine so far.\n\n{{ runs.no_such_run.final.val_acc }}\n")
    paths = Paths.from_root(project)
    gathered = gathering.gather(paths, quick=True, run_missing=False, show_progress=False)
    page = report.render(paths, gathered).index.read_text(encoding="utf-8")
    assert dangerous(page) == []
    assert "<script>alert" not in page and 'href="javascript:' not in page.lower()
    # The broken answer is shown as an error that names its file and line.
    assert f"{answers / '1.2.md'}, line 3" in html.unescape(page)
    assert "no_such_run" in page


# --------------------------------------------------------------------------- the zip

SECRET = "TOP-SECRET-4711"


def _fake_report(root: Path) -> Path:
    """A finished, complete report in build/ (what `make report` leaves), without training."""
    import json

    build = root / "build"
    (build / "html" / "img").mkdir(parents=True)
    (build / "html" / "index.html").write_text('<html><body><img src="img/a.png"></body></html>')
    (build / "html" / "img" / "a.png").write_bytes(b"\x89PNG fake")
    (build / "report.json").write_text(json.dumps(
        {"quick": False, "missing": [], "student": "Ada Lovelace", "date": "2026-01-01", "unanswered": []}))
    return build


def _outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    (out / "pkg").mkdir(parents=True)
    (out / "secret.txt").write_text(SECRET)
    (out / "pkg" / "secret.py").write_text(f"KEY = '{SECRET}'\n")
    return out


def _zip_text(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


@pytest.fixture
def package_mod():
    return pytest.importorskip("pa3report.package")


def test_zip_skips_symlinks_inside_the_project(package_mod, project, tmp_path):
    out = _outside(tmp_path)
    build = _fake_report(project)
    (project / "answers" / "9.9.md").symlink_to(out / "secret.txt")
    (project / "experiments" / "linked").symlink_to(out / "pkg", target_is_directory=True)
    (project / "templates" / "loop").symlink_to(project, target_is_directory=True)  # a cycle
    (build / "html" / "leak.txt").symlink_to(out / "secret.txt")
    (build / "html" / "img" / "linked").symlink_to(out / "pkg", target_is_directory=True)
    packed = package_mod.build(Paths(project, build), "Ada", "Lovelace")
    entries = _zip_text(packed.path)
    assert "html/index.html" in entries and "code/experiments/handout.toml" in entries
    assert not [n for n in entries if SECRET.encode() in entries[n]]
    assert not [n for n in entries if n.endswith(("9.9.md", "leak.txt", "secret.py")) or "/linked/" in n
                or "/loop/" in n]
    for name in entries:
        if name.startswith("code/"):
            real = (project / name[len("code/"):])
            assert not real.is_symlink() and real.resolve().is_relative_to(project.resolve()), name


@pytest.mark.parametrize("part", ["Makefile", "README.txt", "pa3report", "notes.txt"])
def test_zip_skips_top_level_parts_that_are_symlinks(package_mod, project, tmp_path, part):
    out = _outside(tmp_path)
    build = _fake_report(project)
    target = out / "pkg" if part == "pa3report" else out / "secret.txt"
    (project / part).symlink_to(target, target_is_directory=target.is_dir())
    try:
        packed = package_mod.build(Paths(project, build), "Ada", "Lovelace")
    except UserError as exc:  # refusing the symlink with a clear error is fine too
        assert part in str(exc)
        return
    entries = _zip_text(packed.path)
    assert not [n for n in entries if SECRET.encode() in entries[n]]
