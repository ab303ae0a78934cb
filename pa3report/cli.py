"""`python -m pa3report ...`: the command line over config, runner and report."""

from __future__ import annotations

import argparse
import errno
import json
import os
import shlex
import sys
import time
from typing import Any
from pathlib import Path

from . import __version__, config, lists
from .errors import UserError
from .hostmem import keep_freed_memory
from .formats import duration
from .progress import Estimator, Overall, end_steps
from .devices import device_name, fallback_note
from .runner import Diverged, Runner, specs_for, summary_line
from .inputs import Paths, load_inputs


def _paths(args: argparse.Namespace) -> Paths:
    return Paths.from_root(Path(args.root))


def _selected(args: argparse.Namespace) -> list[config.Experiment]:
    experiments = config.load_experiments(_paths(args).experiments)
    overrides = config.parse_overrides(getattr(args, "set", None) or [])
    chosen_lists = getattr(args, "lists", None)
    if chosen_lists is not None and args.names:
        raise UserError("Name experiments or choose lists with --lists, not both: --lists trains every "
                        "experiment of those lists.")
    if getattr(args, "all", False) or chosen_lists is not None:
        chosen = lists.select(experiments, chosen_lists).pick(experiments)
    else:
        if not args.names:
            raise UserError("Name at least one experiment, or pass --all (or --lists). "
                            "`python -m pa3report list` shows them.")
        chosen = [config.find(experiments, n) for n in args.names]
    return [config.apply_overrides(e, overrides) for e in chosen]


def _runner(args: argparse.Namespace) -> Runner:
    paths = _paths(args)
    # the overall bar (progress.Overall) replaces training's own per-run bars
    return Runner(paths, load_inputs(paths), show_progress=False)


def table(rows: list[dict[str, object]], right: tuple[str, ...] = ()) -> str:
    """Rows as columns that line up whatever the widths: text to the left, `right` numbers right."""
    import pandas as pd

    frame = pd.DataFrame(rows).astype(str)
    widths = {c: max(len(c), int(frame[c].str.len().max())) for c in frame.columns}

    def line(values: list[str]) -> str:
        cells = [v.rjust(widths[c]) if c in right else v.ljust(widths[c]) for c, v in zip(frame.columns, values)]
        return "  ".join(cells).rstrip()

    return "\n".join([line(list(frame.columns)), *(line(list(r)) for r in frame.itertuples(index=False))])


def cmd_list(args: argparse.Namespace) -> int:
    paths = _paths(args)
    experiments = config.load_experiments(paths.experiments)
    experiments = lists.select(experiments, args.lists).pick(experiments)
    try:
        runner: Runner | None = Runner(paths, load_inputs(paths, download=False))
    except UserError as exc:
        print(f"note: statuses unknown until the data is found ({exc})", file=sys.stderr)
        runner = None
    rows = []
    for spec in specs_for(experiments, args.quick):
        e = spec.experiment
        rows.append({"name": e.name, "list": e.list_name, "questions": ",".join(e.questions) or "-",
                     "model": e.model, "task": e.task, "loss": e.loss, "skips": _skips(e),
                     "epochs": spec.epochs, "batch": e.batch_size,
                     "status": runner.status(spec) if runner else "unknown"})
    print(table(rows, right=("epochs", "batch")))
    return 0


def _skips(e: config.Experiment) -> str:
    """The UNet's skips when some are left out ('all' when none is, '-' for networks without)."""
    if e.model != "UNet":
        return "-"
    return "all" if e.skips == config.default_skips(e.model) else "+".join(e.skips) or "none"


def _failed(failures: list[Diverged]) -> int:
    """Diverged runs as one `error:` line each; exit 2 when there are any."""
    for exc in failures:
        print(f"error: {exc}", file=sys.stderr)
    return UserError.exit_code if failures else 0


def _overall(runner: Runner) -> Overall:
    return Overall(Estimator.from_build(runner.paths.build, device_name(runner.device)))


def cmd_run(args: argparse.Namespace) -> int:
    experiments = _selected(args)
    runner = _runner(args)
    if (note := fallback_note(runner.device)) is not None:
        print(note, file=sys.stderr)
    bar = _overall(runner)
    failures: list[Diverged] = []
    runner.run(specs_for(experiments, args.quick), force=args.force, jobs=args.jobs,
               on_outcome=lambda outcome: bar.write(summary_line(outcome)), progress=bar,
               on_failure=failures.append)
    return _failed(failures)


def _run_command(spec: config.RunSpec, args: argparse.Namespace) -> str:
    parts = ["python -m pa3report run", shlex.quote(spec.name)]
    parts += [f"--set {shlex.quote(item)}" for item in (getattr(args, "set", None) or [])]
    return " ".join(parts + (["--quick"] if spec.quick else []))


def cmd_results(args: argparse.Namespace) -> int:
    """Read a result from the cache; never trains (a read should not cost 25 epochs)."""
    experiments = _selected(args)
    runner = _runner(args)
    out = {}
    for spec in specs_for(experiments, args.quick):
        r = runner.cached(spec)
        if r is None:
            guess = Estimator.from_build(runner.paths.build, device_name(runner.device)).seconds(spec)
            raise UserError(
                f"{spec.name} is not cached with these settings (fingerprint {runner.fingerprint(spec)[:16]}); "
                f"`results` only reads the cache. Train it with `{_run_command(spec, args)}` "
                f"(about {duration(guess, rough=True)} here), then ask again.")
        out[spec.name] = {
            "fingerprint": r.fingerprint, "quick": spec.quick, "cached": True,
            "config": r.meta.experiment, "final": r.final,
            "history": r.history.to_dict(orient="records"),
            "seconds": r.meta.seconds, "device": r.meta.device,
        }
    print(json.dumps(out[args.names[0]] if len(out) == 1 else out, indent=2))
    return 0


def _student(args: argparse.Namespace):
    from .report import Student

    env = Student.from_env(os.environ)
    return Student(args.name if args.name is not None else env.name,
                   args.surname if args.surname is not None else env.surname)


def cmd_report(args: argparse.Namespace) -> int:
    from .gathering import gather
    from .report import render

    paths = _paths(args)
    student = _student(args)

    def early_page(so_far, why: str, bar: Overall) -> None:
        """The page of what is finished, written while training goes on (or on Ctrl-C)."""
        page = render(paths, so_far, student, stage=why)
        when = time.strftime("%H:%M")
        bar.page_written(str(page.index), when)
        bar.write(f"page {why} written at {when}: {page.index} "
                  f"({len(page.missing)} run(s) still to come)")

    gathered = gather(paths, args.quick, run_missing=not args.no_run, jobs=args.jobs,
                      missing_data_ok=args.no_run, chosen=args.lists, on_page=early_page)
    done = render(paths, gathered, student)
    print(f"report: {done.index} ({done.figures} figures, {done.drawn} drawn, {done.seconds:.1f} s)")
    if done.quick:
        print("note: this is a --quick preview; `make report` builds the full one.")
    not_run = [n for n in done.missing if n not in done.failed]
    if not_run:
        print(f"note: not run yet: {', '.join(not_run)}")
    if gathered.left_out:
        left_out = [gathered.runs[n].experiment for n in gathered.left_out]
        print(f"note: {len(left_out)} run(s) of {', '.join(gathered.selection.left_out(left_out))} not "
              f"trained (not chosen); `{gathered.selection.command(left_out)}` trains them.")
    if done.unanswered:
        print(f"note: {len(done.unanswered)} question(s) unanswered or broken; `make check` lists them.")
    # the page is written and marks them; the exit status still says something failed
    reasons = dict.fromkeys(gathered.failures[n] for n in done.failed)  # one per trajectory
    return _failed([Diverged(r) for r in reasons])


def cmd_prune(args: argparse.Namespace) -> int:
    """Remove results, checkpoints, figures and analysis the current list and code do not produce."""
    from . import prune

    paths = _paths(args)
    todo = prune.plan(paths)
    verb = "would free" if args.dry_run else "freed"
    for removal in todo.remove:
        if removal.kind in ("run", "checkpoint"):
            print(f"{'would remove' if args.dry_run else 'removing'} {removal.label}  "
                  f"({prune.megabytes(prune.size(removal.path))})")
    counts = todo.counts()
    total = todo.bytes()
    freed = total if args.dry_run else prune.apply(paths, todo)
    for note in todo.notes:
        print(f"note: {note}")
    for path in todo.busy:
        print(f"note: {path} kept: its training is running now")
    summary = ", ".join(f"{n} {kind}{'s' if n > 1 and not kind.endswith('s') else ''}"
                        for kind, n in counts.items()) or "nothing"
    print(f"prune: {verb} {prune.megabytes(freed)} ({summary}); kept {todo.kept} current result(s) "
          f"under {paths.build}.")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """List unanswered questions and broken answers; exit 1 when there are any."""
    from . import answers
    from .answer_context import answer_context
    from .gathering import gather
    from .page_context import evidence_page

    paths = _paths(args)
    gathered = gather(paths, args.quick, run_missing=False, missing_data_ok=True)
    # the measurements as far as they are stored: check never computes them (nor reads the images)
    page, views = evidence_page(paths, gathered, compute=False)
    folder = paths.root / "answers"
    rendered = answers.render_answers(folder, answer_context(gathered, page, views))
    print(answers.claim_table(rendered))
    print()
    print(answers.length_table(rendered))
    found = answers.problems(rendered, folder)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} problem(s) in the answers.", file=sys.stderr)
        return 1
    print(f"all {len(config.QUESTIONS)} questions answered; every answer renders.")
    return 0


def cmd_zip(args: argparse.Namespace) -> int:
    from . import package, verify
    from .gathering import gather
    from .report import Student, render

    paths = _paths(args)
    package.zip_name(args.name, args.surname)  # bad names fail before any work
    gathered = gather(paths, quick=False, run_missing=False, chosen=args.lists)
    if gathered.missing:
        raise UserError(
            f"The full results of {len(gathered.missing)} run(s) are not cached: "
            f"{', '.join(gathered.missing)}. A --quick preview cannot be submitted; run "
            f"`{gathered.selection.command()}` (without QUICK=1) to train them, then make the zip.")
    done = render(paths, gathered, Student(args.name.strip(), args.surname.strip()))
    if done.unanswered:
        print(f"warning: {len(done.unanswered)} question(s) unanswered or broken: "
              f"{', '.join(done.unanswered)}", file=sys.stderr)
    packed = package.build(paths, args.name, args.surname, record=verify.record(gathered, paths.root))
    mb = packed.size / (1024 * 1024)
    print(f"zip: {packed.path} ({packed.entries} files, {mb:.2f} MB); every link in html/ resolves.")
    if packed.size > package.MAX_BYTES:
        print(f"warning: {mb:.1f} MB is more than e-mail comfortably carries (10 MB).", file=sys.stderr)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Retrain a submission's cheapest runs from its own code; exit 1 on the first disagreement."""
    from . import verify

    try:
        verify.verify(Path(args.zip), data=args.data, runs=args.runs or (), count=args.count,
                      root=Path(args.root))
    except verify.Disagreement as exc:
        print(f"error: {exc}", file=sys.stderr)
        return verify.Disagreement.exit_code
    return 0


def build_parser() -> argparse.ArgumentParser:
    prog = "pa3report" if Path(sys.argv[0]).name == "pa3report" else "python -m pa3report"
    parser = argparse.ArgumentParser(prog=prog, description=(
        "Run the experiments of the CNN colourization / super-resolution practical, cache "
        "their results and build the report."))
    parser.add_argument("--version", action="version", version=f"pa3report {__version__}")
    parser.add_argument("--root", default=os.getcwd(), help="project folder (default: current)")
    sub = parser.add_subparsers(dest="command", required=True)
    _training_commands(sub)
    _submission_commands(sub)
    return parser


def common(p: argparse.ArgumentParser, settable: bool = True) -> None:
    p.add_argument("--quick", action="store_true",
                   help="preview: at most 2 epochs on 1000 train / 200 val images")
    if settable:
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a hyper-parameter, e.g. --set epochs=2 (repeatable)")


def choose(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--lists", type=lists.parse, metavar="LIST[,LIST]",
                   help=f"{what} only the experiments of these lists (experiments/LIST.toml), "
                        "e.g. handout or handout,sweep (default: every list)")


def _training_commands(sub: Any) -> None:
    """list, run, results and report: what trains and what shows the results."""
    p = sub.add_parser("list", help="every experiment, its list, questions and cache status")
    choose(p, "show")
    common(p, settable=False)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="train experiments that are not cached")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--all", action="store_true", help="every experiment in the list")
    p.add_argument("--force", action="store_true", help="retrain even when cached")
    choose(p, "train")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="train N independent runs at once, sharing the CPU cores (default 1)")
    common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("results", help="final metrics and per-epoch history of one cached configuration "
                                       "(never trains; `run` does)")
    p.add_argument("names", nargs=1, metavar="NAME")
    p.add_argument("--json", action="store_true", help="print JSON (the only format)")
    common(p)
    p.set_defaults(func=cmd_results)

    p = sub.add_parser("report", help="run what is not cached, then build build/html/index.html")
    p.add_argument("--no-run", action="store_true",
                   help="render only what is cached; missing runs are marked as not run yet")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="train up to N missing trajectories in parallel (default 1)")
    p.add_argument("--name", help="student's first name for the header (default: $PA3_NAME)")
    p.add_argument("--surname", help="student's surname for the header (default: $PA3_SURNAME)")
    choose(p, "train")
    common(p, settable=False)
    p.set_defaults(func=cmd_report)


def _submission_commands(sub: Any) -> None:
    """check, zip, verify and prune: what readies, packs and checks a submission."""
    p = sub.add_parser("check", help="list unanswered questions and broken answers (exit 1 if any)")
    common(p, settable=False)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("zip", help="package the full report and the code as name-surname-pa3.zip")
    p.add_argument("--name", required=False, default=None, help="student's first name")
    p.add_argument("--surname", required=False, default=None, help="student's surname")
    choose(p, "require")
    p.set_defaults(func=cmd_zip)

    p = sub.add_parser("verify", help="check a submission zip: its files as packed, its page's numbers "
                                      "as recorded, and its cheapest runs retrained from its own code")
    p.add_argument("zip", metavar="ZIP", help="the submission, name-surname-pa3.zip")
    p.add_argument("--runs", nargs="+", metavar="NAME", help="retrain these recorded runs instead")
    p.add_argument("--count", type=int, default=2, metavar="N",
                   help="how many of the cheapest runs to retrain (default 2)")
    p.add_argument("--data", metavar="PATH", help="the CIFAR-10 folder (default: PA3_DATA, or the one "
                                                  "this project last used)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("prune", help="remove cached runs, checkpoints, figures and analysis that the "
                                     "current experiment list and code no longer produce")
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    p.set_defaults(func=cmd_prune)


_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    keep_freed_memory()
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        end_steps()  # an unfinished "step ..." line: the message starts a line of its own
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        end_steps()
        if exc.errno not in _DISK_ERRORS:
            raise
        # A full disk or a folder without write permission: the user's to fix, not a bug.
        print(f"error: {exc.filename or 'a file'}: {exc.strerror}. Free disk space or fix the "
              "folder's permissions, then run the same command again; results and checkpoints "
              "already saved are kept.", file=sys.stderr)
        return UserError.exit_code
    except KeyboardInterrupt:
        end_steps()
        print("\ninterrupted: finished epochs are checkpointed; run the same command again to "
              "resume.", file=sys.stderr)
        return 130
