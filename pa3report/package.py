"""The submission zip: name-surname-pa3.zip with README.txt, code/ and html/.

The zip is deterministic (sorted entries, fixed timestamps and permissions), so the same
report and code give the same bytes. After writing it the file is opened again and every
local link of every page in html/ must resolve to an entry of the zip.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterable
from urllib.parse import unquote, urlsplit

from .errors import UserError
from .fsutil import atomic_write
from .inputs import Paths
from .verify import RECORD, with_files

# What code/ holds: enough to rerun everything with `make report`.
CODE_PARTS = ("pa3report", "templates", "experiments", "answers", "Makefile", "pyproject.toml", "README.txt")
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".git", ".venv", "build"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".pt", ".pth", ".ckpt", ".npy", ".npz", ".zip", ".tmp", ".swp")
NOTES_FILE = "notes.txt"
README_TEMPLATE = "README.txt.j2"
EPOCH = (1980, 1, 1, 0, 0, 0)
MAX_BYTES = 10 * 1024 * 1024
_SPECIAL = str.maketrans({"ı": "i", "ß": "ss", "ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d",
                          "þ": "th"})
_APOSTROPHES = "'’ʼ`´"


def clean_name(raw: str | None, what: str) -> str:
    """The name as it can go into a file name: ASCII letters, digits and hyphens.

    'Çelik' -> 'celik', 'van der Berg' -> 'van-der-berg', "O'Neil" -> 'oneil',
    'Jean-Luc' -> 'jean-luc'. The report's header keeps the name as written.
    """
    if raw is None or not raw.strip():
        raise UserError(f"The {what} is missing. Give it as `make zip NAME=ada SURNAME=lovelace` "
                        f"(or --name/--surname); the zip is named name-surname-pa3.zip.")
    text = raw.strip().lower().translate(_SPECIAL)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = "".join(c for c in text if c not in _APOSTROPHES)
    text = re.sub(r"[^a-z0-9]+", "-", text.encode("ascii", "ignore").decode()).strip("-")
    if not re.search("[a-z]", text):
        raise UserError(f"{what} {raw!r}: no Latin letters to name the zip file with; give the "
                        "name in Latin letters (the zip is named name-surname-pa3.zip).")
    return text[:64].strip("-")


def zip_name(name: str, surname: str) -> str:
    return f"{clean_name(name, 'name')}-{clean_name(surname, 'surname')}-pa3.zip"


def _walk(base: Path, prefix: str) -> Iterable[tuple[str, Path]]:
    """Regular files under base (or base itself), never following a symbolic link."""
    if base.is_symlink():
        return  # a linked part could pull in anything from outside the project
    if base.is_file():
        yield prefix, base
        return
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")
                             and not d.endswith(".egg-info"))
        for fname in sorted(filenames):
            if fname.startswith(".") or fname.endswith(SKIP_SUFFIXES):
                continue
            path = Path(dirpath) / fname
            if path.is_symlink() or not path.is_file():
                continue
            rel = path.relative_to(base).as_posix()
            yield f"{prefix}/{rel}", path


def collect(root: Path, html: Path) -> dict[str, bytes]:
    """Every file of code/ and html/ by its name in the zip."""
    entries: dict[str, bytes] = {}
    for part in CODE_PARTS:
        src = root / part
        if src.exists():
            for arc, path in _walk(src, f"code/{part}"):
                entries[arc] = path.read_bytes()
    for arc, path in _walk(html, "html"):
        entries[arc] = path.read_bytes()
    return entries


def readme(root: Path, student: str, state: dict, notes: str) -> bytes:
    """README.txt from the template, with the student's notes (notes.txt) pasted in."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(str(root / "templates")), autoescape=False,
                      undefined=StrictUndefined, keep_trailing_newline=True)
    text = env.get_template(README_TEMPLATE).render(student=student, state=state, notes=notes.strip())
    return text.replace("\r\n", "\n").encode("utf-8")


def write_zip(path: Path, entries: dict[str, bytes]) -> None:
    """Sorted entries, fixed timestamps and permissions: same entries, same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for arc in sorted(entries):
            info = zipfile.ZipInfo(arc, date_time=EPOCH)
            info.external_attr = 0o100644 << 16
            info.create_system = 3
            stored = arc.endswith((".png", ".jpg", ".zip"))
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            zf.writestr(info, entries[arc], compresslevel=None if stored else 9)
    atomic_write(path, buf.getvalue())


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("href", "src") and value is not None:
                self.links.append(value)


def local_links(html_text: str) -> list[str]:
    """href/src values that point at files (not web, mail, data or in-page links)."""
    parser = _Links()
    parser.feed(html_text)
    out = []
    for link in parser.links:
        parts = urlsplit(link)
        if parts.scheme in ("http", "https", "mailto", "data") or link.startswith("#"):
            continue
        out.append(link)
    return out


def verify(path: Path) -> list[str]:
    """Problems found when reopening the zip; empty when it is fine."""
    problems = []
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        for name in sorted(names):
            if name.startswith("/") or ".." in name.split("/") or re.match(r"^[A-Za-z]:", name):
                problems.append(f"{name}: not a relative path")
            if name.endswith(SKIP_SUFFIXES) or "/__pycache__/" in name:
                problems.append(f"{name}: caches and weights do not belong in the submission")
        for top in ("README.txt", "html/index.html"):
            if top not in names:
                problems.append(f"{top} is missing")
        if not any(n.startswith("code/") for n in names):
            problems.append("code/ is empty")
        for name in sorted(n for n in names if n.startswith("html/") and n.endswith(".html")):
            text = zf.read(name).decode("utf-8")
            for link in local_links(text):
                parts = urlsplit(link)
                if parts.scheme or parts.netloc or parts.path.startswith("/"):
                    problems.append(f"{name}: link {link!r} is absolute; only relative links work offline")
                    continue
                if not parts.path:
                    continue
                target = posixpath.normpath(posixpath.join(posixpath.dirname(name), unquote(parts.path)))
                if target not in names:
                    problems.append(f"{name}: link {link!r} does not resolve inside the zip")
    return problems


@dataclass(frozen=True)
class Packed:
    path: Path
    size: int
    entries: int


def build(paths: Paths, name: str, surname: str, out_dir: Path | None = None,
          record: dict | None = None) -> Packed:
    """Package the current report (must be a full, complete one) and the code; `record`
    (verify.record) becomes results.json, with the sha256 of every other entry."""
    filename = zip_name(name, surname)
    root, html, state_path = paths.root, paths.html, paths.state_file
    if not (html / "index.html").is_file() or not state_path.is_file():
        raise UserError(f"No report in {html}: build it first with `make report`.")
    state = json.loads(state_path.read_text())
    if state.get("quick"):
        raise UserError("The report in build/html is a --quick preview, which cannot be submitted: "
                        "build the full report with `make report` (without QUICK=1), then make the zip.")
    if state.get("missing"):
        raise UserError(f"The report is incomplete ({', '.join(state['missing'])} not run yet); run "
                        "`make report` to finish the runs, then make the zip.")
    notes_path = root / NOTES_FILE
    linked = notes_path.is_symlink()
    notes = notes_path.read_text(encoding="utf-8") if notes_path.is_file() and not linked else ""
    entries = collect(root, html)
    entries["README.txt"] = readme(root, state.get("student", ""), state, notes)
    if record is not None:
        entries[RECORD] = with_files(record, entries)
    out = (out_dir or paths.build) / filename
    write_zip(out, entries)
    problems = verify(out)
    if problems:
        out.unlink()
        raise UserError("The zip failed its own checks and was removed: " + "; ".join(problems[:10])
                        + ("" if len(problems) <= 10 else f"; and {len(problems) - 10} more"))
    return Packed(out, out.stat().st_size, len(entries))
