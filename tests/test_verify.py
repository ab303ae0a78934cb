"""verify: a submission zip agrees with what its own code computes, or one line says where not."""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import pytest

from pa3report import package, verify
from pa3report.cli import main

from .reportkit import full_project


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    built = full_project()
    out = tmp_path_factory.mktemp("zip")
    zipped = package.build(built.paths, "Ada", "Lovelace", out_dir=out,
                           record=verify.record(built.gathered, built.root))
    env = {**os.environ, **built.env}  # as the runs were trained: one thread
    return built, zipped.path, env


def rewrite(src: Path, dest: Path, change) -> Path:
    """A copy of the zip with change(name, bytes) -> bytes applied to every entry."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, change(name, zin.read(name)))
    return dest


def check(zip_path: Path, env, root: Path, **kw) -> tuple[int, list[str], str]:
    lines: list[str] = []
    try:
        verify.verify(zip_path, env=env, root=root, say=lambda line: lines.append(line.removeprefix("verify: ")),
                      count=1, **kw)
    except verify.Disagreement as exc:
        return 1, lines, str(exc)
    return 0, lines, ""


def in_record(change):
    """An entry change for rewrite() that edits only results.json: change(record) mutates it."""
    def edit(arc, data):
        if arc != verify.RECORD:
            return data
        record = json.loads(data)
        change(record)
        return json.dumps(record).encode()
    return edit


def first_run(zip_path: Path) -> tuple[str, dict]:
    with zipfile.ZipFile(zip_path) as zf:
        rec = json.loads(zf.read(verify.RECORD))
    name = verify.cheapest(rec, 1)[0]
    return name, rec


def test_the_zip_records_every_run_and_keeps_its_three_parts(packed):
    built, zip_path, _ = packed
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        rec = json.loads(zf.read(verify.RECORD))
    assert {n.split("/")[0] for n in names} == {"README.txt", "code", "html"}
    assert set(rec["runs"]) == {n for n, r in built.gathered.runs.items() if r.available}
    assert set(rec["files"]) == set(names) - {verify.RECORD}
    one = next(iter(rec["runs"].values()))
    assert set(one) == {"fingerprint", "epochs", "final", "seconds", "device", "torch"}


@pytest.mark.slow
def test_an_untouched_zip_agrees_identically_on_the_device_that_trained_it(packed):
    built, zip_path, env = packed
    code, lines, err = check(zip_path, env, built.root)
    assert code == 0, err
    name, _ = first_run(zip_path)
    assert any(line.startswith(f"{name}: identical") for line in lines), lines
    assert lines[-1].startswith("agreement: 1 run(s) retrained")


def test_a_hand_edited_number_on_the_page_names_the_run_and_metric(packed, tmp_path):
    built, zip_path, env = packed
    name, rec = first_run(zip_path)
    shown = verify.page_number(rec["runs"][name]["final"]["val_loss"])

    def edit(arc, data):
        if arc != "html/index.html":
            return data
        text = data.decode()
        row = re.search(rf'<tr id="run-{name}">.*?</tr>', text, re.S)
        fixed = row.group(0).replace(f'val_loss</span> {shown}', 'val_loss</span> 0.001')
        return text.replace(row.group(0), fixed).encode()

    code, _, err = check(rewrite(zip_path, tmp_path / "edited.zip", edit), env, built.root)
    assert code == 1 and err.startswith(f"{name}: val_loss reads 0.001 on the page"), err


def test_a_hand_edited_recorded_metric_names_the_run_and_metric(packed, tmp_path):
    built, zip_path, env = packed
    name, rec = first_run(zip_path)

    def edit(record):
        record["runs"][name]["final"]["val_acc"] += 5.0

    code, _, err = check(rewrite(zip_path, tmp_path / "edited.zip", in_record(edit)), env, built.root)
    assert code == 1 and err.startswith(f"{name}: val_acc reads") and "in results.json" in err, err


@pytest.mark.parametrize("module, expected", [
    ("train.py", "code/pa3report/train.py is not the code that trained the runs"),
    ("report.py", "code/pa3report/report.py was changed after packing"),
])
def test_a_changed_line_of_code_is_caught(packed, tmp_path, module, expected):
    built, zip_path, env = packed

    def edit(arc, data):
        return data + b"\n# an extra line\n" if arc == f"code/pa3report/{module}" else data

    code, _, err = check(rewrite(zip_path, tmp_path / "edited.zip", edit), env, built.root)
    assert code == 1 and err.startswith(expected), err


@pytest.mark.slow
def test_numbers_the_code_does_not_reproduce_are_caught_by_retraining(packed, tmp_path):
    """Page, record and manifest edited consistently: only retraining can tell."""
    built, zip_path, env = packed
    name, rec = first_run(zip_path)
    old = rec["runs"][name]["final"]["val_acc"]
    new = old + 3.0
    page = {}

    def edit(arc, data):
        if arc == "html/index.html":
            text = data.decode()
            row = re.search(rf'<tr id="run-{name}">.*?</tr>', text, re.S).group(0)
            text = text.replace(row, row.replace(f"val_acc</span> {verify.page_number(old)}",
                                                 f"val_acc</span> {verify.page_number(new)}"))
            page["bytes"] = text.encode()
            return page["bytes"]
        return data

    first = rewrite(zip_path, tmp_path / "page.zip", edit)

    def reseal(record):
        record["runs"][name]["final"]["val_acc"] = new
        record["files"]["html/index.html"] = verify.sha256_bytes(page["bytes"])

    code, lines, err = check(rewrite(first, tmp_path / "resealed.zip", in_record(reseal)), env, built.root)
    assert code == 1 and err.startswith(f"{name}: val_acc retrained is"), (err, lines)


@pytest.mark.slow
def test_another_device_is_held_to_the_stated_tolerance(packed, tmp_path):
    built, zip_path, env = packed
    name, _ = first_run(zip_path)

    def elsewhere(record):
        record["runs"][name]["device"] = "cuda (NVIDIA H200)"

    code, lines, err = check(rewrite(zip_path, tmp_path / "gpu.zip", in_record(elsewhere)), env, built.root)
    assert code == 0, err
    assert any(line.startswith(f"{name}: within the tolerance across devices") for line in lines)


def test_tolerance_is_absolute_for_accuracy_and_relative_for_losses():
    assert verify.within("val_acc", 41.4, 40.0) and not verify.within("val_acc", 41.6, 40.0)
    assert verify.within("val_loss", 1.04, 1.0) and not verify.within("val_loss", 1.06, 1.0)


def test_the_command_line_says_one_error_line_and_exits_1(packed, tmp_path, capsys, monkeypatch):
    built, zip_path, env = packed
    name, _ = first_run(zip_path)

    def edit(arc, data):
        return data + b"\n" if arc == "html/index.html" else data

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    broken = rewrite(zip_path, tmp_path / "edited.zip", edit)
    assert main(["--root", str(built.root), "verify", str(broken), "--runs", name]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: html/index.html was changed after packing (its sha256 is not the recorded one)"]


def test_a_zip_without_a_record_is_a_user_error(tmp_path, capsys):
    plain = tmp_path / "old.zip"
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("README.txt", "hi")
    assert main(["verify", str(plain)]) == 2
    assert "has no html/results.json" in capsys.readouterr().err
