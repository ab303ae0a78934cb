"""`python -m pa3report ...`: the command line over config, runner and report."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import config
from .errors import UserError
from .runner import Paths, Runner, load_inputs, specs_for, summary_line


def _paths(args: argparse.Namespace) -> Paths:
    return Paths.from_root(Path(args.root))


def _selected(args: argparse.Namespace) -> list[config.Experiment]:
    experiments = config.load_experiments(_paths(args).experiments)
    overrides = config.parse_overrides(getattr(args, "set", None) or [])
    if getattr(args, "all", False):
        chosen = list(experiments)
    else:
        if not args.names:
            raise UserError("Name at least one experiment, or pass --all. "
                            "`python -m pa3report list` shows them.")
        chosen = [config.find(experiments, n) for n in args.names]
    return [config.apply_overrides(e, overrides) for e in chosen]


def _runner(args: argparse.Namespace) -> Runner:
    paths = _paths(args)
    return Runner(paths, load_inputs(paths), show_progress=None)


def cmd_list(args: argparse.Namespace) -> int:
    paths = _paths(args)
    experiments = config.load_experiments(paths.experiments)
    try:
        runner: Runner | None = Runner(paths, load_inputs(paths, download=False))
    except UserError as exc:
        print(f"note: statuses unknown until the data is found ({exc})", file=sys.stderr)
        runner = None
    print(f"{'name':<24} {'questions':<14} {'model':<14} {'task':<17} {'epochs':>6} {'batch':>5}  status")
    for spec in specs_for(experiments, args.quick):
        e = spec.experiment
        status = runner.status(spec) if runner else "unknown"
        print(f"{e.name:<24} {','.join(e.questions):<14} {e.model:<14} {e.task:<17} "
              f"{spec.epochs:>6} {e.batch_size:>5}  {status}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    experiments = _selected(args)
    runner = _runner(args)
    runner.run(specs_for(experiments, args.quick), force=args.force,
               on_outcome=lambda outcome: print(summary_line(outcome), flush=True))
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    experiments = _selected(args)
    runner = _runner(args)
    out = {}
    for outcome in runner.run(specs_for(experiments, args.quick)):
        r = outcome.result
        out[outcome.spec.name] = {
            "fingerprint": r.fingerprint, "quick": outcome.spec.quick, "cached": outcome.how == "cached",
            "config": r.meta["experiment"], "final": r.final,
            "history": r.history.to_dict(orient="records"),
            "seconds": r.meta["seconds"], "device": r.meta["device"],
        }
    print(json.dumps(out[args.names[0]] if len(out) == 1 else out, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pa3report", description=(
        "Run the experiments of the CNN colourization / super-resolution practical, cache "
        "their results and build the report."))
    parser.add_argument("--root", default=os.getcwd(), help="project folder (default: current)")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, settable: bool = True) -> None:
        p.add_argument("--quick", action="store_true",
                       help="preview: at most 2 epochs on 1000 train / 200 val images")
        if settable:
            p.add_argument("--set", action="append", metavar="KEY=VALUE",
                           help="override a hyper-parameter, e.g. --set epochs=2 (repeatable)")

    p = sub.add_parser("list", help="every experiment, its questions and cache status")
    common(p, settable=False)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="train experiments that are not cached")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--all", action="store_true", help="every experiment in the list")
    p.add_argument("--force", action="store_true", help="retrain even when cached")
    common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("results", help="final metrics and per-epoch history of one configuration")
    p.add_argument("names", nargs=1, metavar="NAME")
    p.add_argument("--json", action="store_true", help="print JSON (the only format)")
    common(p)
    p.set_defaults(func=cmd_results)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted: finished epochs are checkpointed; run the same command again to "
              "resume.", file=sys.stderr)
        return 130
