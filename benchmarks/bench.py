"""Benchmark: the project's training engine against a notebook-style reference loop.

Each measurement runs in its own process (so peak memory is its own):
    python benchmarks/bench.py                 full table (needs the data: PA3_DATA)
    python benchmarks/bench.py --epochs 3      timed epochs per loop (median is reported)

The reference loop is written the way the practical's notebooks train: numpy batches
turned into tensors at every step, the palette quantization done chunk by chunk in
numpy before training, the loss computed on transposed/reshaped outputs, validation
in training-sized batches, and a matplotlib sample figure saved after every epoch.
Both loops use the same data, seed, hyper-parameters and batch order. A third row,
`engine-malloc`, is the engine with glibc's default allocator settings, to show what
keeping freed memory mapped (pa3report/hostmem.py) is worth on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- one measurement


def _runner():
    """The project's runner on this checkout, with its experiment list."""
    from pa3report import config
    from pa3report.runner import Runner
    from pa3report.inputs import Paths, load_inputs

    paths = Paths.from_root(ROOT)
    return Runner(paths, load_inputs(paths), show_progress=False), config.load_experiments(paths.experiments)


def _setup(name: str):
    from pa3report import config
    from pa3report.config import RunSpec

    runner, experiments = _runner()
    return runner, RunSpec(config.find(experiments, name))


def flops_per_image(spec) -> float:
    """Training FLOPs (forward + backward) per image, counted by PyTorch."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from pa3report.models import build_model
    from pa3report.train import loss_fn

    e = spec.experiment
    model = build_model(e.model, e.kernel, e.num_filters, e.in_channels, head=e.head, skips=e.skips)
    x = torch.rand(8, e.in_channels, 32, 32)
    y = torch.rand(8, 3, 32, 32) if e.head == "rgb" else torch.randint(0, 24, (8, 32, 32))
    with FlopCounterMode(display=False) as counter:
        loss_fn(e.loss, model(x), y).backward()
    return counter.get_total_flops() / 8


def measure_engine(name: str, epochs: int, keep_memory: bool = True) -> dict:
    from pa3report.hostmem import keep_freed_memory
    from pa3report.train import new_state, to_device, train_epoch

    if keep_memory:  # as `python -m pa3report` does at start
        keep_freed_memory()
    runner, spec = _setup(name)
    data = to_device(runner.task_data(spec), runner.device)
    state = new_state(spec, runner.device, len(data.palette))
    times, accs = [], []
    for _ in range(epochs):
        start = time.perf_counter()
        record = train_epoch(state, spec, data, runner.device, show_progress=False)
        times.append(time.perf_counter() - start)
        accs.append(record["val_acc"])
    return {"seconds": times, "val_acc": accs, "images": len(data.x_train),
            "flops_per_image": flops_per_image(spec)}


def _numpy_quantize(rgb, colours, chunk: int = 100):
    """Nearest palette colour, one chunk of images at a time, in numpy."""
    import numpy as np

    out = []
    for i in range(0, len(rgb), chunk):
        block = rgb[i:i + chunk].transpose(0, 2, 3, 1)[..., None, :]  # N H W 1 3
        out.append(((block - colours) ** 2).sum(-1).argmin(-1))
    return np.concatenate(out)


def measure_reference(name: str, epochs: int) -> dict:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import torch
    import torch.nn as nn

    from pa3report import data as data_mod
    from pa3report.train import epoch_order, new_state

    runner, spec = _setup(name)
    e = spec.experiment
    colours = np.asarray(runner.inputs.palette, dtype=np.float32)
    # As the notebooks do: numpy arrays, shuffled by seed, greyscale by channel mean.
    train_rgb = data_mod.shuffled(data_mod.to_unit(runner.inputs.horses.train), e.seed).numpy()
    val_rgb = data_mod.shuffled(data_mod.to_unit(runner.inputs.horses.test), e.seed).numpy()
    start = time.perf_counter()
    train_cat, val_cat = _numpy_quantize(train_rgb, colours), _numpy_quantize(val_rgb, colours)
    setup_seconds = time.perf_counter() - start
    train_grey = train_rgb.mean(axis=1, keepdims=True)
    val_grey = val_rgb.mean(axis=1, keepdims=True)

    device = runner.device  # the notebooks move every batch to the GPU when there is one
    state = new_state(spec, device, len(colours))
    model = state.model.to(memory_format=torch.contiguous_format)
    opt = state.optimizer
    criterion = nn.CrossEntropyLoss()
    k = len(colours)

    def loss_of(outputs, labels):
        flat_out = outputs.transpose(1, 3).contiguous().view(-1, k)
        flat_lab = labels.transpose(1, 2).contiguous().view(-1)
        return criterion(flat_out, flat_lab)

    def plot(grey, cats, pred, path):
        fig, axes = plt.subplots(3, 8, figsize=(8, 3))
        for j in range(8):
            axes[0, j].imshow(grey[j, 0], cmap="gray")
            axes[1, j].imshow(colours[cats[j]])
            axes[2, j].imshow(colours[pred[j]])
        for ax in axes.flat:
            ax.axis("off")
        fig.savefig(path)
        plt.close(fig)

    out_dir = Path(tempfile.mkdtemp(prefix="pa3bench-"))
    times, accs = [], []
    for epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        order = epoch_order(len(train_grey), e.seed, epoch).numpy()
        xs_all, ys_all = train_grey[order], train_cat[order]
        losses = []
        for i in range(0, len(xs_all), e.batch_size):
            images = torch.from_numpy(xs_all[i:i + e.batch_size]).float().to(device)
            labels = torch.from_numpy(ys_all[i:i + e.batch_size]).long().to(device)
            opt.zero_grad()
            outputs = model(images)
            loss = loss_of(outputs, labels)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        plot(xs_all, ys_all, outputs.detach().argmax(1).cpu().numpy(), out_dir / f"train_{epoch}.png")
        model.eval()
        correct = total = 0
        val_losses = []
        with torch.no_grad():
            for i in range(0, len(val_grey), e.batch_size):
                images = torch.from_numpy(val_grey[i:i + e.batch_size]).float().to(device)
                labels = torch.from_numpy(val_cat[i:i + e.batch_size]).long().to(device)
                outputs = model(images)
                val_losses.append(loss_of(outputs, labels).item())
                predicted = outputs.argmax(1)
                correct += (predicted == labels).sum().item()
                total += labels.numel()
        plot(val_grey, val_cat, predicted.cpu().numpy(), out_dir / f"val_{epoch}.png")
        times.append(time.perf_counter() - start)
        accs.append(100.0 * correct / total)
    return {"seconds": times, "val_acc": accs, "images": len(train_grey), "setup_seconds": setup_seconds,
            "flops_per_image": flops_per_image(spec)}


def measure_matmul_peak() -> dict:
    """fp32 matrix products on the device the engine trains on: the ceiling the bound uses."""
    import torch

    from pa3report.devices import pick_device

    device = pick_device()
    n = 2048 if device.type == "cpu" else 8192
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    a, b = torch.rand(n, n, device=device), torch.rand(n, n, device=device)
    a @ b
    sync()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        a @ b
        sync()
        times.append(time.perf_counter() - start)
    return {"gflops": 2 * n ** 3 / min(times) / 1e9}


def one(kind: str, name: str, epochs: int) -> None:
    """Child-process entry: print one measurement as JSON."""
    import torch

    if kind == "engine":
        out = measure_engine(name, epochs)
    elif kind == "engine-malloc":
        out = measure_engine(name, epochs, keep_memory=False)
    elif kind == "reference":
        out = measure_reference(name, epochs)
    else:
        out = measure_matmul_peak()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    from pa3report.devices import device_name, pick_device

    out["device"] = device_name(pick_device())
    print(json.dumps(out))


# --------------------------------------------------------------------------- the table


def child(*args: str, env: dict | None = None, root: Path = ROOT) -> dict:
    """One measurement in a fresh process, by the bench script of the checkout at `root`."""
    env = {**os.environ, **(env or {})}
    if root != ROOT:  # another revision: its own package, the same data and palette
        env["PYTHONPATH"] = str(root)
        env.setdefault("PA3_BUILD", str(ROOT / "build"))
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "bench.py"), *args], capture_output=True,
                          text=True, cwd=root, env=env)
    if proc.returncode != 0:
        sys.exit(f"benchmark step {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def timed(cmd: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def jobs_comparison() -> dict:
    """Two independent quick runs, one after the other vs. two at once, each on a cold cache."""
    out = {}
    for jobs in (1, 2):
        with tempfile.TemporaryDirectory() as build:
            env = {"PA3_BUILD": build}
            # Reuse the palette so only training is timed, and the data folder (or the
            # record of where PA3_DATA pointed) so a machine without internet needs no PA3_DATA.
            for cached in ("palette", "data"):
                if (ROOT / "build" / cached).is_dir():
                    os.symlink(ROOT / "build" / cached, Path(build) / cached)
            out[jobs] = timed([sys.executable, "-m", "pa3report", "run", "p2_cnn", "p4_sr_cnn", "--quick",
                               "--jobs", str(jobs)], env)
    return out


def exported(rev: str) -> Path:
    """The tree of git revision `rev` in a temporary folder (removed at exit)."""
    import atexit
    import shutil

    folder = Path(tempfile.mkdtemp(prefix=f"pa3bench-{rev[:12]}-"))
    atexit.register(shutil.rmtree, folder, True)
    archive = subprocess.run(["git", "archive", "--format=tar", rev], cwd=ROOT, capture_output=True)
    if archive.returncode != 0:
        sys.exit(f"error: git cannot export revision {rev!r}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def against(rev: str, models: list[str], epochs: int, rounds: int = 2) -> None:
    """This checkout's engine against revision `rev`'s, alternating in one run so that both
    see the same machine; the ratio of the medians is what to read."""
    other = exported(rev)
    print(f"engine of {rev} against this checkout, {rounds} alternating rounds of {epochs} epochs each")
    for name in models:
        times: dict[str, list[float]] = {rev: [], "HEAD": []}
        accs: dict[str, float] = {}
        for _ in range(rounds):
            for label, root in ((rev, other), ("HEAD", ROOT)):
                r = child("--one", "engine", name, "--epochs", str(epochs), root=root)
                times[label] += r["seconds"]
                accs[label] = r["val_acc"][-1]
        old, new = statistics.median(times[rev]), statistics.median(times["HEAD"])
        print(f"{name:<9} {rev}: {old:.2f} s/epoch (val acc {accs[rev]:.2f}), HEAD: {new:.2f} s/epoch "
              f"(val acc {accs['HEAD']:.2f}); {rev}/HEAD = {old / new:.2f}x")


def recorded_lists() -> dict[str, tuple[float, int, int]]:
    """Recorded training seconds of each experiment list, each trajectory once:
    {list: (seconds, runs cached, runs listed)}.

    Runs that differ only in epochs share a trajectory, and the longest one's time
    covers the others; results of older code or settings still on disk do not count.
    """
    from pa3report.runner import specs_for

    runner, experiments = _runner()
    longest: dict[str, tuple[float, str]] = {}
    cached: dict[str, int] = {}
    listed: dict[str, int] = {}
    for spec in specs_for(experiments, quick=False):
        name = spec.experiment.list_name
        listed[name] = listed.get(name, 0) + 1
        result = runner.cached(spec, report=False)
        if result is not None:
            cached[name] = cached.get(name, 0) + 1
            key = runner.trajectory(spec)
            if result.meta.seconds > longest.get(key, (0.0, ""))[0]:
                longest[key] = (result.meta.seconds, name)
    seconds = {name: 0.0 for name in listed}
    for value, name in longest.values():
        seconds[name] += value
    return {name: (seconds[name], cached.get(name, 0), listed[name]) for name in listed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per loop (median reported)")
    parser.add_argument("--models", default="p2_cnn,p3_unet")
    parser.add_argument("--skip-epochs", action="store_true", help="only the jobs, full-list and report timings")
    parser.add_argument("--against", metavar="REV",
                        help="only time this checkout's engine against git revision REV's, in one run")
    parser.add_argument("--one", nargs=2, metavar=("KIND", "NAME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one[0], args.one[1], args.epochs)
        return 0

    if args.against:
        against(args.against, list(filter(None, args.models.split(","))), args.epochs)
        return 0
    if args.skip_epochs:
        args.models = ""
    peak = child("--one", "peak", "-")
    print(f"device: {peak['device']}; measured fp32 matmul peak {peak['gflops']:.0f} GFLOP/s\n")
    header = (f"{'run':<9} {'loop':<14} {'s/epoch':>8} {'img/s':>7} {'GFLOP/s':>8} {'% peak':>7} "
              f"{'RSS MB':>7} {'val acc %':>10}")
    print(header)
    print("-" * len(header))
    ratios = {}
    for name in filter(None, args.models.split(",")):
        rows = {}
        for kind in ("reference", "engine-malloc", "engine"):
            r = child("--one", kind, name, "--epochs", str(args.epochs))
            med = statistics.median(r["seconds"])
            gflops = r["flops_per_image"] * r["images"] / med / 1e9  # training FLOPs only
            rows[kind] = r
            print(f"{name:<9} {kind:<14} {med:>8.2f} {r['images'] / med:>7.0f} {gflops:>8.1f} "
                  f"{100 * gflops / peak['gflops']:>6.0f}% {r['peak_rss_mb']:>7.0f} {r['val_acc'][-1]:>10.2f}")
        seconds = {kind: statistics.median(r["seconds"]) for kind, r in rows.items()}
        ratio = seconds["reference"] / seconds["engine"]
        gap = abs(rows["reference"]["val_acc"][-1] - rows["engine"]["val_acc"][-1])
        ratios[name] = ratio
        # An epoch can be no faster than its training FLOPs at the matmul peak (validation
        # and every non-matmul operation for free): the most any engine could gain here.
        floor = rows["engine"]["flops_per_image"] * rows["engine"]["images"] / (peak["gflops"] * 1e9)
        print(f"{name:<9} reference/engine = {ratio:.2f}x; val acc gap after {args.epochs} epochs "
              f"{gap:.2f} points; reference quantization before training "
              f"{rows['reference']['setup_seconds']:.2f}s; keeping freed memory alone "
              f"{seconds['engine-malloc'] / seconds['engine']:.2f}x")
        print(f"{name:<9} bound: training FLOPs at the matmul peak take {floor:.2f}s, so no engine "
              f"can beat {seconds['reference'] / floor:.2f}x here; a 2.5x epoch needs "
              f"{100 * floor * 2.5 / seconds['reference']:.0f}% of the peak\n")

    jobs = jobs_comparison()
    print(f"two independent quick runs, cold cache: --jobs 1 {jobs[1]:.1f}s, --jobs 2 {jobs[2]:.1f}s "
          f"({'pays off' if jobs[2] < 0.9 * jobs[1] else 'does not pay off'} here)")
    lists = recorded_lists()
    for name, (seconds, cached, listed) in lists.items():
        print(f"list {name:<10} {cached:>3} of {listed:>3} runs cached; their trajectories recorded "
              f"{seconds / 60:6.1f} min of training")
    print(f"all lists: {sum(v[0] for v in lists.values()) / 60:.1f} min (as measured when they ran; "
          "run `python -m pa3report run --all` on an empty PA3_BUILD to time it cold)")
    # --no-run: never train here. The first call may still draw figures or measure;
    # the second is what a user waits for once everything is cached.
    cmd = [sys.executable, "-m", "pa3report", "report", "--no-run"]
    timed(cmd)
    print(f"`pa3report report` with everything cached: {timed(cmd):.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
