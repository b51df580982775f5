"""The ``neurosim`` command line.

    neurosim run SCENARIO [--set path=value ...] [--out PATH] [--backend NAME]
                 [--workers N | --scheduler ADDRESS] [--resume] [--quiet]
    neurosim validate SCENARIO [--set path=value ...]
    neurosim inspect RESULTS.h5 [--json]
    neurosim plot RESULTS.h5 [--out DIR]
    neurosim export SOURCE --target nir|loihi|onnx|c [--profile NAME|PATH] --out PATH
    neurosim info
    neurosim --version

Exit status: 0 on success, 2 on bad input (a one-paragraph message naming the field, no
traceback), 1 on a runtime failure (details in the run's log file).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from neurosim import __version__

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="neurosim", description="Spiking networks, associative memories, "
                                "neuromorphic export: run scenarios and read their results.")
    p.add_argument("--version", action="version", version=f"neurosim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a scenario (TOML) and write its results (HDF5)")
    run.add_argument("scenario")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                     help="override a value; VALUE is read as TOML (1, 0.5, \"x\", [1, 2]); list indices allowed")
    run.add_argument("--out", help="results path (overrides output.path)")
    run.add_argument("--backend", help="simulation backend (overrides simulation.backend)")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="run sweep points on a local Dask cluster of N workers")
    where.add_argument("--scheduler", help="run sweep points on the Dask cluster at ADDRESS (tcp://host:port)")
    run.add_argument("--resume", action="store_true", help="skip points whose complete results have the same config")
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    val = sub.add_parser("validate", help="check a scenario completely without running it")
    val.add_argument("scenario")
    val.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")

    ins = sub.add_parser("inspect", help="summarise a results file")
    ins.add_argument("results")
    ins.add_argument("--json", action="store_true", help="print one JSON object")

    plot = sub.add_parser("plot", help="draw a results file as PNG figures")
    plot.add_argument("results")
    plot.add_argument("--out", help="folder for the PNG files (default: beside the results)")

    exp = sub.add_parser("export", help="export a trained model (or a scenario's) to a hardware target")
    exp.add_argument("source", help="a trained model (.model.pt), a train results file (.h5) or a scenario (.toml)")
    exp.add_argument("--target", required=True, help="nir | loihi | onnx | c")
    exp.add_argument("--profile", help="target profile: a name (neurosim info lists them) or a TOML file")
    exp.add_argument("--out", required=True, help="output file (nir, loihi .net, onnx) or folder (c)")
    exp.add_argument("--json", action="store_true", help="print the report as one JSON object")

    sub.add_parser("info", help="versions, backends, threads, CUDA")
    return p


def _scenario(args: argparse.Namespace) -> tuple[dict, dict]:
    """(raw config with overrides, resolved config)."""
    from neurosim.scenario.spec import parse_override, read_toml, resolve, set_path

    raw = read_toml(args.scenario)
    overrides = list(args.overrides)
    if getattr(args, "backend", None):
        overrides.append(f'simulation.backend="{args.backend}"')
    if getattr(args, "out", None):
        overrides.append(f"output.path={json.dumps(args.out)}")
    for assignment in overrides:
        keys, value = parse_override(assignment)
        set_path(raw, keys, value, f"--set {assignment}")
    return raw, resolve(raw)


def cmd_validate(args: argparse.Namespace) -> int:
    from neurosim.scenario.spec import output_path
    from neurosim.scenario.sweep import expand
    from neurosim.scenario.tasks import tasks

    raw, config = _scenario(args)
    points = [p.config for p in expand(raw, output_path(config))] if "sweep" in config else [config]
    for cfg in points:
        tasks()[cfg["task"]].prepare(cfg)
    print(f"{args.scenario}: valid ({config['task']}, {len(points)} run{'s' if len(points) > 1 else ''})")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from neurosim.scenario.runner import RunOptions, run_point
    from neurosim.scenario.spec import output_path
    from neurosim.scenario.sweep import expand, run_sweep, write_index
    from neurosim.scenario.tasks import tasks

    raw, config = _scenario(args)
    out = output_path(config)
    overwrite = config.get("output", {}).get("overwrite", "error")
    options = RunOptions(resume=args.resume, quiet=args.quiet, argv=tuple(sys.argv))
    if "sweep" not in config:
        if args.workers or args.scheduler:
            print("neurosim: --workers/--scheduler only distribute sweeps; running the single point here",
                  file=sys.stderr)
        metrics = run_point(config, str(out), overwrite, options)
        _report(out, metrics, args.quiet)
        return EXIT_OK
    points = expand(raw, out)
    for p in points:  # complete validation of every point before anything runs
        tasks()[p.config["task"]].prepare(p.config)
        if not args.resume and overwrite == "error" and p.path.exists():
            raise FileExistsError(str(p.path))
    metrics = run_sweep(points, overwrite, options, args.workers, args.scheduler)
    write_index(out, raw, points, metrics)
    skipped = sum(bool(m.get("_skipped")) for m in metrics)
    print(f"sweep of {len(points)} points ({skipped} resumed) -> {out}")
    return EXIT_OK


def _report(out: Path, metrics: dict, quiet: bool) -> None:
    scalars = {k: v for k, v in metrics.items() if not k.startswith("_") and getattr(v, "ndim", 0) == 0}
    print(f"results -> {out}")
    if not quiet:
        for k in sorted(scalars):
            print(f"  {k} = {float(scalars[k]):.6g}")


class BadInput(ValueError):
    """Input that is not what the command needs: not a results file, a model that does not fit a target."""


def cmd_inspect(args: argparse.Namespace) -> int:
    from neurosim.io.summary import format_summary, summarize

    try:
        summary = summarize(args.results)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    print(json.dumps(summary) if args.json else format_summary(summary))
    return EXIT_OK


def cmd_plot(args: argparse.Namespace) -> int:
    from neurosim.plotting import plot_results

    try:
        paths = plot_results(args.results, args.out)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    for path in paths:
        print(path)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from neurosim.hardware.export import export
    from neurosim.scenario.schema import ScenarioError

    try:
        report = export(args.source, args.target, args.out, args.profile)
    except ScenarioError:
        raise
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.target} -> {args.out}")
        for key, value in report.items():
            print(f"  {key} = {value}")
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    from neurosim.info import collect, format_info

    print(format_info(collect()))
    return EXIT_OK


COMMANDS = {"run": cmd_run, "validate": cmd_validate, "inspect": cmd_inspect, "plot": cmd_plot, "export": cmd_export,
            "info": cmd_info}


def _fail(code: int, message: str) -> int:
    print(f"neurosim: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    from neurosim.scenario.schema import ScenarioError

    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ScenarioError as exc:
        problems = exc.problems
        detail = "; ".join(str(p) for p in problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        return _fail(EXIT_BAD_INPUT, f"invalid scenario: {detail}")
    except FileExistsError as exc:
        return _fail(EXIT_BAD_INPUT, f"output.path: {exc.filename or exc} exists; set output.overwrite = \"overwrite\", "
                                     "choose another --out, or use --resume")
    except FileNotFoundError as exc:
        return _fail(EXIT_BAD_INPUT, f"{exc.filename or exc}: no such file")
    except BadInput as exc:
        return _fail(EXIT_BAD_INPUT, str(exc))
    except KeyboardInterrupt:
        return _fail(130, "interrupted; the partial results were discarded")
    except Exception as exc:  # a runtime failure: say what, the log has the traceback
        return _fail(EXIT_FAILURE, f"run failed: {type(exc).__name__}: {exc}")


if __name__ == "__main__":
    sys.exit(main())
