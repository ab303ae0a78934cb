"""Per-run and total training times of a build folder, for benchmarks/gpu.sh.

    python benchmarks/gpu_timings.py BUILD_DIR OUT_DIR WALL_SECONDS EXPECTED_RUNS
    python benchmarks/gpu_timings.py --repeat BUILD_DIR REPEAT_BUILD_DIR [--quick]

Writes OUT_DIR/timings.csv (one row per finished run, from its meta.json) and appends the
totals to OUT_DIR/summary.txt. --repeat trains BUILD_DIR's cheapest finished run again in
REPEAT_BUILD_DIR and says whether its per-epoch numbers came out identical.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

METRICS = ["train_loss", "val_loss", "val_acc", "val_mse"]


def collect(build: Path) -> list[dict]:
    rows = []
    for meta_path in sorted((build / "runs").glob("*/*/meta.json")):
        meta = json.loads(meta_path.read_text())
        e, hyper = meta["experiment"], meta["hyper"]
        rows.append({"run": meta["name"], "model": e["model"], "task": e["task"], "epochs": hyper["epochs"],
                     "batch_size": e["batch_size"], "quick": meta["quick"], "trajectory": meta["trajectory"][:16],
                     "train_seconds": round(float(meta["seconds"]), 2), "device": meta["device"]})
    return rows


def repeat(build: Path, again: Path, quick: bool) -> int:
    """Train the cheapest finished run of `build` again in `again`; compare the two histories."""
    rows = [r for r in collect(build) if str(r["quick"]) == str(quick)]
    if not rows:
        print("repeat: no finished run to repeat")
        return 1
    cheapest = min(rows, key=lambda r: r["train_seconds"])
    name = cheapest["run"]
    cmd = [sys.executable, "-m", "pa3report", "run", name, "--force", *(["--quick"] if quick else [])]
    proc = subprocess.run(cmd, env={**os.environ, "PA3_BUILD": str(again)}, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr)
        print(f"repeat: {name} failed to train again (exit {proc.returncode})")
        return 1
    (first,) = (build / "runs" / name).glob("*/history.csv")
    (second,) = (again / "runs" / name).glob("*/history.csv")
    a, b = pd.read_csv(first)[METRICS], pd.read_csv(second)[METRICS]
    if a.equals(b):
        print(f"repeat: {name} trained again gives identical numbers ({len(a)} epochs, {', '.join(METRICS)})")
    else:
        worst = (a - b).abs().max()
        print(f"repeat: {name} trained again differs: largest change "
              + ", ".join(f"{m} {worst[m]:.3g}" for m in METRICS))
    return 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--repeat":
        return repeat(Path(argv[1]), Path(argv[2]), "--quick" in argv[3:])
    build, out, wall, expected = Path(argv[0]), Path(argv[1]), float(argv[2]), int(argv[3])
    rows = collect(build)
    with open(out / "timings.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["run", "model", "task", "epochs", "batch_size", "quick",
                                               "trajectory", "train_seconds", "device"])
        writer.writeheader()
        writer.writerows(rows)
    # runs sharing a trajectory trained once: count each trajectory's longest run
    longest: dict[str, float] = {}
    for r in rows:
        longest[r["trajectory"]] = max(longest.get(r["trajectory"], 0.0), r["train_seconds"])
    devices = sorted({r["device"] for r in rows}) or ["none"]
    lines = [f"runs finished: {len(rows)} of {expected}",
             f"trajectories trained: {len(longest)}",
             f"training seconds (sum over trajectories): {sum(longest.values()):.1f}",
             f"wall seconds of the whole list: {wall:.1f}",
             f"devices: {', '.join(devices)}"]
    if len(rows) < expected:
        lines.append(f"NOTE: only {len(rows)} of {expected} runs fitted in the time budget; "
                     "the figures above cover those runs.")
    with open(out / "summary.txt", "a") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
