"""`pa3report verify ZIP`: does a submission's page come from its own code?

`make zip` writes results.json into the zip: every run's recorded final metrics, fingerprint
and device, the digest of each module that computes results, the data's identity, the
palette, and a sha256 of every other file of the zip. verify then checks, cheapest first:

1. every final metric the page's appendix quotes is the recorded one (names run and metric);
2. the modules that compute results are the ones that trained the runs;
3. every other file is as packed (a hand-edited number in the prose, a changed line of code);
4. the cheapest runs (or --runs NAME...) retrained from the zip's own code and experiment
   list, on the grader's copy of the data, reproduce their fingerprint and recorded metrics:
   identically on the same device (its recorded name, e.g. "cpu (AMD EPYC, 2 threads)", and
   the same PyTorch), within TOLERANCE otherwise (another CPU, thread count or GPU orders
   float sums differently, and training amplifies the difference).

The first disagreement ends it with one line naming the run and the metric (exit 1).
"""

from __future__ import annotations

import html as html_mod
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .devices import device_name, pick_device
from .errors import UserError
from .fsutil import sha256_bytes
from .plan import RESULT_MODULES
from .store import SHORT, Store

if TYPE_CHECKING:
    from .gathering import Gathered

RECORD = "html/results.json"  # inside html/, so the zip keeps its three parts
FORMAT = 1
METRICS = ("train_loss", "val_loss", "val_acc", "val_mse")
# Largest difference accepted between a run retrained on another device and its record: absolute
# for accuracy (points), relative for the losses. Three runs trained on an H200 and retrained on a
# 2-core CPU moved by at most 0.80 points and 2.3% (README, "make verify"); about twice that.
TOLERANCE = {"val_acc": 1.5, "train_loss": 0.05, "val_loss": 0.05, "val_mse": 0.05}
RELATIVE = ("train_loss", "val_loss", "val_mse")


class Disagreement(Exception):
    """The zip and what its code computes disagree: exit 1, one line."""

    exit_code = 1


# --------------------------------------------------------------------------- writing the record


def record(gathered: "Gathered", root: Path) -> dict[str, Any]:
    """results.json without its file list (package.build adds the sha256 of every entry)."""
    runs = {}
    for name, info in gathered.runs.items():
        r = info.result
        if r is None:
            continue
        runs[name] = {"fingerprint": r.fingerprint, "epochs": info.spec.epochs,
                      "final": {m: float(r.final[m]) for m in METRICS if m in r.final},
                      "seconds": r.meta.seconds, "device": r.meta.device, "torch": r.meta.torch}
    inputs = gathered.inputs
    return {"format": FORMAT, "runs": runs,
            "code": {m: sha256_bytes((root / "pa3report" / m).read_bytes()) for m in RESULT_MODULES},
            "data": inputs.identity if inputs else "",
            "palette": [[float(v) for v in rgb] for rgb in gathered.palette]}


def with_files(rec: dict[str, Any], entries: Mapping[str, bytes]) -> bytes:
    """The record with the sha256 of every zip entry, as the bytes of results.json."""
    files = {arc: sha256_bytes(data) for arc, data in sorted(entries.items()) if arc != RECORD}
    return (json.dumps({**rec, "files": files}, indent=1, sort_keys=True) + "\n").encode()


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class Retrained:
    name: str
    fingerprint: str
    final: dict[str, float]
    device: str
    torch: str
    seconds: float


def page_number(value: float) -> str:
    """A final metric as the page's appendix prints it (report._number)."""
    return "n/a" if not math.isfinite(value) else f"{value:.4g}"


def appendix_values(page: str, run: str) -> dict[str, str]:
    """The final metrics the appendix row of one run quotes, as text: {metric: '48.74'}."""
    row = re.search(rf'<tr id="run-{re.escape(run)}">(.*?)</tr>', page, re.S)
    if row is None:
        return {}
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    final = cells[1] if len(cells) > 1 else ""
    return {k: html_mod.unescape(v).strip()
            for k, v in re.findall(r'<span class="k">([^<]+)</span>\s*([^<]*)</span>', final)}


def check_files(zf: zipfile.ZipFile, rec: Mapping[str, Any]) -> None:
    names = set(zf.namelist()) - {RECORD}
    files: Mapping[str, str] = rec.get("files", {})
    for arc in sorted(names | set(files)):
        if arc not in files:
            raise Disagreement(f"{arc} was added after packing: results.json does not list it")
        if arc not in names:
            raise Disagreement(f"{arc} is missing: results.json lists it")
        if sha256_bytes(zf.read(arc)) != files[arc]:
            raise Disagreement(f"{arc} was changed after packing (its sha256 is not the recorded one)")


def check_page(page: str, rec: Mapping[str, Any]) -> None:
    for name, run in rec["runs"].items():
        shown = appendix_values(page, name)
        if not shown:
            raise Disagreement(f"{name}: the page's appendix has no row for this recorded run")
        for metric, value in run["final"].items():
            if shown.get(metric) != page_number(value):
                raise Disagreement(f"{name}: {metric} reads {shown.get(metric, 'nothing')} on the page but "
                                   f"{page_number(value)} in results.json")


def check_code(code: Path, rec: Mapping[str, Any]) -> None:
    for module, digest in rec["code"].items():
        path = code / "pa3report" / module
        if not path.is_file() or sha256_bytes(path.read_bytes()) != digest:
            raise Disagreement(f"code/pa3report/{module} is not the code that trained the runs")


def cheapest(rec: Mapping[str, Any], count: int) -> list[str]:
    """The `count` runs with the least recorded training time, one per network where possible."""
    ranked = sorted(rec["runs"], key=lambda n: (rec["runs"][n]["seconds"], n))
    picked: list[str] = []
    seen: set[str] = set()
    for name in ranked:  # first one of each trajectory's kind of network (regression, palette, ...)
        family = name.split("_")[0]
        if family not in seen and len(picked) < count:
            picked.append(name)
            seen.add(family)
    for name in ranked:
        if len(picked) >= count:
            break
        if name not in picked:
            picked.append(name)
    return picked


def within(metric: str, got: float, want: float) -> bool:
    if metric in RELATIVE:
        return abs(got - want) <= TOLERANCE[metric] * max(abs(want), 1e-12)
    return abs(got - want) <= TOLERANCE[metric]


def compare_run(name: str, got: Retrained, want: Mapping[str, Any]) -> str:
    """One line on the agreement of a retrained run; Disagreement when it disagrees."""
    if got.fingerprint != want["fingerprint"]:
        raise Disagreement(f"{name}: retrained under fingerprint {got.fingerprint[:SHORT]}, recorded "
                           f"{want['fingerprint'][:SHORT]}: the settings, code, data or palette differ")
    same_kind = (got.device, got.torch) == (want["device"], want["torch"])
    for metric, value in want["final"].items():
        mine = got.final.get(metric, math.nan)
        if same_kind and mine != value:
            raise Disagreement(f"{name}: {metric} retrained is {mine!r}, recorded {value!r}, both on "
                               f"{got.device} with torch {got.torch}: the same device must give identical numbers")
        if not same_kind and not within(metric, mine, value):
            limit = (f"{TOLERANCE[metric]:.0%} relative" if metric in RELATIVE
                     else f"{TOLERANCE[metric]:g} points")
            raise Disagreement(f"{name}: {metric} retrained on {got.device} is {mine:.6g}, recorded {value:.6g} "
                               f"on {want['device']}: further apart than the {limit} allowed across devices")
    if same_kind:
        return (f"{name}: identical; val_acc {got.final.get('val_acc', math.nan):.4g}, recorded "
                f"{want['final'].get('val_acc', math.nan):.4g}")
    apart = ", ".join(
        f"{m} {got.final[m] - v:+.2f} points" if m not in RELATIVE else
        f"{m} {100 * (got.final[m] - v) / abs(v):+.1f}%" for m, v in want["final"].items() if m in got.final)
    return (f"{name}: within the tolerance across devices ({got.device} against {want['device']}): "
            f"retrained minus recorded {apart}")


def retrain(code: Path, names: list[str], palette: list[list[float]], data: Path,
            build: Path, env: Mapping[str, str]) -> dict[str, Retrained]:
    """Train `names` with the zip's own package and experiment list in a fresh build folder."""
    import numpy as np

    palette_file = build.parent / "palette.npy"
    np.save(palette_file, np.asarray([palette], dtype=np.float32))
    child = {**env, "PYTHONPATH": str(code), "PA3_BUILD": str(build), "PA3_DATA": str(data),
             "PA3_PALETTE": str(palette_file), "PA3_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "pa3report", "run", *names, "--force"], cwd=code,
                          env=child, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise Disagreement(f"retraining {', '.join(names)} with the zip's code failed: {last}")
    out = {}
    for name in names:
        metas = list(Store(build).metas(name))
        if len(metas) != 1:
            raise Disagreement(f"{name}: retraining left {len(metas)} results instead of one")
        meta = metas[0]
        out[name] = Retrained(name, meta.fingerprint, dict(meta.final), meta.device, meta.torch, meta.seconds)
    return out


def find_data(data: str | None, env: Mapping[str, str], root: Path) -> Path:
    """The grader's CIFAR-10 folder: --data, PA3_DATA, or the one this project last used."""
    from . import cifar
    from .inputs import Paths

    if data:
        env = {**env, "PA3_DATA": data}
    try:
        return cifar.locate(Paths.from_root(root, dict(env)).data_cache, dict(env), download=False)
    except UserError as exc:
        raise UserError(f"verify retrains runs, so it needs the CIFAR-10 data: give --data PATH or "
                        f"PA3_DATA=PATH ({exc})") from None


def verify(zip_path: Path, data: str | None = None, runs: Iterable[str] = (), count: int = 2,
           env: Mapping[str, str] | None = None, root: Path | None = None,
           say: Any = print) -> list[str]:
    """Check a submission zip; the lines said on the way. Disagreement on the first mismatch."""
    env = dict(os.environ if env is None else env)
    if not zip_path.is_file():
        raise UserError(f"{zip_path}: no such file; give the submission zip (name-surname-pa3.zip).")
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile:
        raise UserError(f"{zip_path}: not a zip file.") from None
    with zf, tempfile.TemporaryDirectory(prefix="pa3verify-") as tmp:
        if RECORD not in zf.namelist():
            raise UserError(f"{zip_path}: has no {RECORD}, so there is nothing to verify against; it was not "
                            "made by `make zip` of this version.")
        rec = json.loads(zf.read(RECORD))
        if rec.get("format") != FORMAT:
            raise UserError(f"{zip_path}: {RECORD} is of format {rec.get('format')!r}; this verify reads {FORMAT}.")
        lines: list[str] = []

        def note(line: str) -> None:
            lines.append(line)
            say(f"verify: {line}")

        check_page(zf.read("html/index.html").decode("utf-8"), rec)
        note(f"the page quotes the recorded final metrics of all {len(rec['runs'])} runs")
        zf.extractall(tmp)
        code = Path(tmp) / "code"
        check_code(code, rec)
        note("the modules that compute results are the ones that trained the runs")
        check_files(zf, rec)
        note(f"all {len(rec['files'])} files are as packed")
        chosen = list(runs) or cheapest(rec, count)
        unknown = [n for n in chosen if n not in rec["runs"]]
        if unknown:
            raise UserError(f"--runs {' '.join(unknown)}: not a recorded run of this zip "
                            f"(recorded: {', '.join(sorted(rec['runs']))}).")
        folder = find_data(data, env, root or Path.cwd())
        from .cifar import fingerprint_files

        if rec["data"] and fingerprint_files(folder)[0] != rec["data"]:
            raise UserError(f"{folder}: not the CIFAR-10 files these runs were trained on (their digest "
                            "differs), so retrained runs cannot match; give the same copy with --data PATH.")
        device = device_name(pick_device(env))
        note(f"retraining {', '.join(chosen)} from the zip's code on {device} "
             f"(data: {folder}) ...")
        start = time.perf_counter()
        build = Path(tmp) / "build"
        retrained = retrain(code, chosen, rec["palette"], folder, build, env)
        for name in chosen:
            note(compare_run(name, retrained[name], rec["runs"][name]))
        note(f"agreement: {len(chosen)} run(s) retrained in {time.perf_counter() - start:.0f} s")
        shutil.rmtree(build, ignore_errors=True)
        return lines
