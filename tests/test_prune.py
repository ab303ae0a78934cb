"""`prune` frees what the current list and code no longer produce, and nothing else."""

import json
import os
import re

import torch

from pa3report import config, prune
from pa3report.config import RunSpec
from pa3report.runner import Runner
from pa3report.inputs import Paths, load_inputs

from .conftest import run_cli, split_lists

CPU = torch.device("cpu")


def current_results(root):
    paths = Paths.from_root(root)
    runner = Runner(paths, load_inputs(paths), device=CPU, show_progress=False)
    experiments = config.load_experiments(root / "experiments")
    return {(e.name, q): runner.cached(RunSpec(e, q)) is not None for e in experiments for q in (False, True)}


def old(path, seconds=3600):
    t = path.stat().st_mtime - seconds
    os.utime(path, (t, t))


def test_prune_keeps_current_results_and_frees_the_rest(tiny_experiments, capsys):
    root, build = tiny_experiments, tiny_experiments / "build"
    assert run_cli(capsys, root, "run", "--all")[0] == 0
    assert run_cli(capsys, root, "run", "tiny_cnn", "--quick")[0] == 0
    assert run_cli(capsys, root, "run", "tiny_reg", "--set", "batch_size=8")[0] == 0  # a variant
    assert run_cli(capsys, root, "report", "--no-run")[0] == 0
    state = json.loads((build / "report.json").read_text())
    used = state["files"]["full"]
    assert used["figures"] and all((build / "figures" / f).is_file() for f in used["figures"])
    assert used["analysis"] is not None
    # leftovers of earlier code: a figure, an analysis and a checkpoint nobody uses any more
    stale_figure = build / "figures" / ("0" * 32 + ".png")
    stale_figure.write_bytes(b"png")
    stale_analysis = build / "analysis" / "analysis-0000000000000000.pt"
    stale_analysis.parent.mkdir(exist_ok=True)
    stale_analysis.write_bytes(b"x" * 1000)
    stale_checkpoint = build / "checkpoints" / "0123456789abcdef.pt"
    stale_checkpoint.write_bytes(b"x" * 1000)
    for p in (stale_figure, stale_analysis, stale_checkpoint):
        old(p)
    in_progress = build / "figures" / ("1" * 32 + ".png")  # drawn after the record: a render under way
    in_progress.write_bytes(b"png")
    before = current_results(root)
    assert before[("tiny_cnn", True)] and before[("tiny_reg", False)]

    code, out, _ = run_cli(capsys, root, "prune", "--dry-run")
    assert code == 0 and "would remove run tiny_reg " in out and "would free" in out
    assert stale_figure.exists() and len(list((build / "runs" / "tiny_reg").iterdir())) == 2

    code, out, _ = run_cli(capsys, root, "prune")
    assert code == 0, out
    assert re.search(r"removing run tiny_reg [0-9a-f]{16}", out)
    assert "removing checkpoint 0123456789abcdef" in out
    assert re.search(r"prune: freed \d+\.\d MB \(1 run, 2 checkpoints, 1 figure, 1 analysis\)", out), out
    assert not stale_figure.exists() and not stale_analysis.exists() and not stale_checkpoint.exists()
    assert in_progress.exists()
    assert all((build / "figures" / f).is_file() for f in used["figures"])
    assert current_results(root) == before  # the list's results, full and quick, untouched
    assert len(list((build / "runs" / "tiny_reg").iterdir())) == 1
    code, out, _ = run_cli(capsys, root, "report", "--no-run")
    assert code == 0 and ", 0 drawn," in out  # every figure the report uses is still cached

    code, out, _ = run_cli(capsys, root, "prune")  # the render that drew it has not recorded it
    assert "(1 figure)" in out and not in_progress.exists()
    code, out, _ = run_cli(capsys, root, "prune")
    assert "freed 0.0 MB (nothing)" in out

    # an edited list: the old tiny_reg is no longer produced
    toml = root / "experiments" / "tiny.toml"
    toml.write_text(toml.read_text().replace('name = "tiny_reg"\nmodel = "RegressionCNN"\ntask = "regression"\n'
                                             'epochs = 2\nbatch_size = 16\nnum_filters = 4',
                                             'name = "tiny_reg"\nmodel = "RegressionCNN"\ntask = "regression"\n'
                                             'epochs = 2\nbatch_size = 16\nnum_filters = 6'))
    code, out, _ = run_cli(capsys, root, "prune")
    assert "removing run tiny_reg" in out and not (build / "runs" / "tiny_reg").exists()
    assert current_results(root)[("tiny_cnn", False)]


def test_lists_not_chosen_keep_their_results(tiny_experiments, capsys):
    """Leaving a list out of LISTS means "do not train it now": its cached results are still
    shown by the report and still current for prune."""
    root, build = tiny_experiments, tiny_experiments / "build"
    split_lists(root)
    assert run_cli(capsys, root, "run", "--all")[0] == 0
    code, out, err = run_cli(capsys, root, "report", "--no-run", "--lists", "handout")
    assert code == 0, err
    assert "not trained" not in out and "Not run yet" not in (build / "html" / "index.html").read_text()
    before = current_results(root)
    assert before[("tiny_reg", False)] and before[("tiny_cnn", False)]
    code, out, _ = run_cli(capsys, root, "prune")
    assert code == 0 and "removing run" not in out
    assert current_results(root) == before


def test_figures_are_kept_while_no_report_recorded_them(tiny_experiments, capsys):
    build = tiny_experiments / "build"
    assert run_cli(capsys, tiny_experiments, "report", "--no-run")[0] == 0
    state = json.loads((build / "report.json").read_text())
    del state["files"]  # a report written before files were recorded
    (build / "report.json").write_text(json.dumps(state))
    figure = next((build / "figures").glob("*.png"))
    old(figure)
    code, out, _ = run_cli(capsys, tiny_experiments, "prune")
    assert code == 0 and "note: figures: kept" in out and figure.exists()


def test_last_quick_and_last_full_report_are_both_kept(tiny_experiments, capsys):
    build = tiny_experiments / "build"
    assert run_cli(capsys, tiny_experiments, "report", "--no-run", "--quick")[0] == 0
    assert run_cli(capsys, tiny_experiments, "report", "--no-run")[0] == 0
    files = json.loads((build / "report.json").read_text())["files"]
    assert set(files) == {"quick", "full"}


def test_a_checkpoint_whose_training_runs_is_left(tiny_experiments, capsys):
    from filelock import FileLock

    build = tiny_experiments / "build"
    (build / "checkpoints").mkdir(parents=True)
    busy = build / "checkpoints" / "00000000000000aa.pt"
    busy.write_bytes(b"x")
    (build / "locks").mkdir()
    paths = Paths.from_root(tiny_experiments)
    with FileLock(str(build / "locks" / "00000000000000aa.lock")):
        todo = prune.plan(paths)
        assert prune.Removal(busy, "checkpoint", "00000000000000aa") in todo.remove
        prune.apply(paths, todo)
    assert busy.exists() and todo.busy == [busy]


def test_the_plan_names_each_removal_by_kind_and_leaves_what_a_writer_is_doing(tiny_experiments):
    """Nothing trained: a stale result, a stray file beside results, a result being written
    (hidden) and a stale checkpoint, all from the store's own layout."""
    paths = Paths.from_root(tiny_experiments)
    store = paths.store
    stale = store.folder("gone", "ab" * 32)
    stale.mkdir(parents=True)
    stray = stale.parent.parent / "tiny_reg" / "notes.txt"
    stray.parent.mkdir()
    stray.write_text("x")
    writing = stray.parent / ".0123456789abcdef.partial"
    writing.mkdir()
    checkpoint = store.checkpoint_path("cd" * 32)
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"x")
    todo = prune.plan(paths)
    assert todo.remove == [prune.Removal(stale, "run", f"gone {'ab' * 8}"),
                           prune.Removal(stray, "run", "tiny_reg notes.txt"),
                           prune.Removal(checkpoint, "checkpoint", "cd" * 8)]
    assert todo.counts() == {"run": 2, "checkpoint": 1} and todo.kept == 0
    assert [r.label for r in todo.remove][-1] == f"checkpoint {'cd' * 8}"
    prune.apply(paths, todo)
    assert not (stale.parent.exists() or stray.exists() or checkpoint.exists()) and writing.is_dir()
