"""The ``neurosim`` command line.

    neurosim run SCENARIO [--set path=value ...] [--out PATH] [--backend NAME]
                 [--workers N | --scheduler ADDRESS] [--resume] [--quiet] [--checkpoint-every DURATION]
    neurosim validate SCENARIO [--set path=value ...]
    neurosim inspect RESULTS.h5 [--json] [--stats [--bin DURATION] [--max-neurons N]]
    neurosim plot RESULTS.h5 [--out DIR]
    neurosim export SOURCE --target nir|loihi|onnx|c [--profile NAME|PATH] --out PATH
    neurosim export nwb RESULTS.h5 --out FILE.nwb [--force] [--species NAME]
    neurosim data fetch NAME [--dir FOLDER]
    neurosim info
    neurosim --version

Exit status: 0 on success, 2 on bad input (a one-paragraph message naming the field, no
traceback; also a damaged results file, or an output another run is writing), 1 on a runtime
failure (details in the run's log file; a full disk says "no space left on device: PATH"),
128 + the signal on SIGINT (130) or SIGTERM (143), after cleaning up, and 141 when stdout's
reader has gone (``| head``).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from neurosim import __version__, signals

if TYPE_CHECKING:
    from neurosim.scenario.runner import RunOptions

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2
#: a Dask scheduler address: [tcp|tls|ucx|ws|wss://]host:port, host a name, an IPv4 or an [IPv6] address
SCHEDULER_ADDRESS = re.compile(r"(?:(?:tcp|tls|ucx|ws|wss)://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):"
                               r"(\d{1,5})")


def _whole_number(noun: str, minimum: int):
    """An argparse type: a whole number of at least ``minimum`` (``noun`` names it in errors)."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of {noun}, got {text!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {n}")
        return n
    return parse


#: ``--workers``: at least 1; ``--max-neurons``: at least 2 (a pair, for the correlations)
_workers = _whole_number("workers", 1)
_neurons = _whole_number("neurons", 2)


def _address(text: str) -> str:
    """``--scheduler``: a Dask scheduler address such as tcp://10.0.0.5:8786."""
    match = SCHEDULER_ADDRESS.fullmatch(text.strip())
    if not match or not 0 < int(match.group(1)) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a Dask scheduler address like tcp://host:8786")
    return text.strip()


def _checkpoint_every(text: str) -> float:
    """``--checkpoint-every``: a duration of simulated time > 0 ("10 ms", "0.5 s", or seconds)."""
    from neurosim.units import parse_quantity

    try:
        value = parse_quantity(text, "time", "--checkpoint-every")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--checkpoint-every: ")) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a duration > 0, got {text!r}")
    return value


SCENARIO_HELP = "a scenario file (.toml); see scenarios/ for examples"
SET_HELP = ("override a value, e.g. simulation.duration='\"2 s\"'; VALUE is read as TOML (1, 0.5, \"x\", [1, 2]); "
            "list indices allowed (model.connections.0.weight=...); numbers without a unit are SI")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="neurosim", description="Spiking networks, associative memories, "
                                "neuromorphic export: run scenarios and read their results.")
    p.add_argument("--version", action="version", version=f"neurosim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a scenario (TOML) and write its results (HDF5)")
    run.add_argument("scenario", help=SCENARIO_HELP)
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE", help=SET_HELP)
    run.add_argument("--out", help="results path (overrides output.path)")
    run.add_argument("--backend", help="simulation backend (overrides simulation.backend)")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_workers, help="run sweep points on a local Dask cluster of N workers")
    where.add_argument("--scheduler", type=_address,
                       help="run sweep points on the Dask cluster at ADDRESS (tcp://host:port)")
    run.add_argument("--resume", action="store_true", help="skip points whose complete results have the same config")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--checkpoint-every", type=_checkpoint_every, metavar="DURATION",
                     help="simulate task: save a checkpoint beside the results every DURATION of simulated time; "
                          "the same command resumes a killed run from it (see docs/checkpoints.md)")

    val = sub.add_parser("validate", help="check a scenario completely without running it")
    val.add_argument("scenario", help=SCENARIO_HELP)
    val.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE", help=SET_HELP)

    ins = sub.add_parser("inspect", help="summarise a results file")
    ins.add_argument("results", help="a results file (.h5) written by neurosim run")
    ins.add_argument("--json", action="store_true", help="print one JSON object")
    ins.add_argument("--stats", action="store_true",
                     help="add spike statistics per population (Elephant): ISI CV, Fano factor, pairwise correlation")
    ins.add_argument("--bin", help="with --stats: bin width of the Fano factor and correlations (default 100 ms)")
    ins.add_argument("--max-neurons", type=_neurons,
                     help="with --stats: neurons sampled per population (default 200)")

    plot = sub.add_parser("plot", help="draw a results file as PNG figures")
    plot.add_argument("results", help="a results file (.h5) written by neurosim run")
    plot.add_argument("--out", help="folder for the PNG files (default: beside the results)")

    exp = sub.add_parser("export", help="export a trained model (or a scenario's) to a hardware target, "
                                        "or results to NWB (export nwb RESULTS.h5 --out FILE.nwb)")
    exp.add_argument("source", help="a trained model (.model.pt), a train results file (.h5) or a scenario (.toml); "
                                    "or nwb, followed by a results file")
    exp.add_argument("results", nargs="?", help="with nwb: the results file (.h5) to write as NWB")
    exp.add_argument("--target", help="nir | loihi | onnx | c")
    exp.add_argument("--force", action="store_true", help="with nwb: replace an existing NWB file")
    exp.add_argument("--species", help="with nwb: the species the model is of (e.g. 'Mus musculus'); DANDI needs one")
    exp.add_argument("--profile", help="target profile: a name (neurosim info lists them) or a TOML file")
    exp.add_argument("--out", required=True, help="output file (nir, loihi .net, onnx) or folder (c)")
    exp.add_argument("--json", action="store_true", help="print the report as one JSON object")

    data = sub.add_parser("data", help="datasets ($NEUROSIM_DATA or the user cache; see neurosim.datasets.store)")
    fetch = data.add_subparsers(dest="data_command", required=True, metavar="fetch").add_parser(
        "fetch", help="download a dataset into its folder (MNIST: md5-checked; robotcar: needs an account)")
    fetch.add_argument("name", choices=("mnist", "nordland", "robotcar"))
    fetch.add_argument("--dir", help="folder to fill (default: $NEUROSIM_DATA/NAME or the user cache)")

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
    from neurosim.scenario.runner import check_output
    from neurosim.scenario.spec import output_path
    from neurosim.scenario.sweep import expand
    from neurosim.scenario.tasks import tasks

    raw, config = _scenario(args)
    check_output(output_path(config), sweep="sweep" in config)
    points = [p.config for p in expand(raw, output_path(config))] if "sweep" in config else [config]
    for cfg in points:
        tasks()[cfg["task"]].prepare(cfg)
    print(f"{args.scenario}: valid ({config['task']}, {len(points)} run{'s' if len(points) > 1 else ''})")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from neurosim.distributed import launched_by_mpirun
    from neurosim.scenario.runner import RunOptions, check_output, run_point
    from neurosim.scenario.schema import Problem, ScenarioError
    from neurosim.scenario.spec import output_path

    raw, config = _scenario(args)
    out = output_path(config)
    check_output(out, sweep="sweep" in config)
    overwrite = config.get("output", {}).get("overwrite", "error")
    if args.checkpoint_every is not None and config.get("task") != "simulate":
        raise BadInput(f"--checkpoint-every: applies to the simulate task, not {config.get('task')!r}")
    if args.checkpoint_every is not None and launched_by_mpirun():
        raise BadInput("--checkpoint-every: a run spread over MPI ranks has no checkpoints; run without it")
    options = RunOptions(resume=args.resume, quiet=args.quiet, argv=tuple(sys.argv),
                         checkpoint_every=args.checkpoint_every)
    if "sweep" not in config:
        if args.workers or args.scheduler:
            print("neurosim: --workers/--scheduler only distribute sweeps; running the single point here",
                  file=sys.stderr)
        metrics = run_point(config, str(out), overwrite, options)
        if not metrics.get("_follower"):  # under mpirun, rank 0 reports
            _report(out, metrics, args.quiet)
        return EXIT_OK
    if launched_by_mpirun():
        raise ScenarioError([Problem("sweep", "sweep points run side by side with --workers or --scheduler; "
                                              "under mpirun run one point (a scenario without [sweep])")])
    return _run_sweep(args, raw, out, overwrite, options)


def _run_sweep(args: argparse.Namespace, raw: dict, out: Path, overwrite: str, options: RunOptions) -> int:
    """Validate every point, refuse existing results up front, run them holding the index's lock."""
    from neurosim.io.lock import OutputLock
    from neurosim.scenario.runner import check_existing
    from neurosim.scenario.spec import config_hash
    from neurosim.scenario.sweep import expand, index_hash, run_sweep, write_index
    from neurosim.scenario.tasks import tasks

    points = expand(raw, out)
    for p in points:  # complete validation of every point before anything runs
        tasks()[p.config["task"]].prepare(p.config)
        check_existing(p.path, config_hash(p.config), overwrite, args.resume)
    if overwrite == "error" and out.exists() and not (args.resume and index_hash(out) == config_hash(raw)):
        raise FileExistsError(errno.EEXIST, "exists", str(out))  # the index of another sweep
    with OutputLock(out):
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


def _statistics(args: argparse.Namespace) -> dict | None:
    """``inspect --stats``: the spike statistics of the results file (None without --stats)."""
    from neurosim.io.stats import BIN_S, MAX_NEURONS, spike_statistics
    from neurosim.units import parse_quantity

    if not args.stats:
        if args.bin is not None or args.max_neurons is not None:
            raise BadInput(f"{'--bin' if args.bin is not None else '--max-neurons'}: applies with --stats only")
        return None
    try:
        bin_s = BIN_S if args.bin is None else parse_quantity(args.bin, "time", "--bin")
        if not bin_s > 0:
            raise ValueError(f"--bin: must be a positive duration, got {args.bin!r}")
        return spike_statistics(args.results, bin_s, args.max_neurons or MAX_NEURONS)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def cmd_inspect(args: argparse.Namespace) -> int:
    from neurosim.io.stats import format_statistics
    from neurosim.io.summary import format_summary, summarize

    try:
        summary = summarize(args.results)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    stats = _statistics(args)
    if args.json:
        print(json.dumps(summary if stats is None else {**summary, "stats": stats}))
    else:
        print(format_summary(summary) + ("" if stats is None else "\n\n" + format_statistics(stats)))
    problems = summary.get("problems", [])
    if problems:  # the summary shows them (CORRUPT: lines); the status and stderr say so too
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        return _fail(EXIT_BAD_INPUT, f"{args.results}: corrupt: {problems[0]}{more}")
    return EXIT_OK


def cmd_plot(args: argparse.Namespace) -> int:
    from neurosim.plotting import plot_results

    try:
        paths = plot_results(args.results, args.out)
    except NotADirectoryError as exc:
        raise BadInput(f"{'--out' if args.out else 'the plots folder'}: {exc.filename} is a file, not a folder; "
                       f"give a folder{'' if args.out else ' with --out'}") from None
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    for path in paths:
        print(path)
    if not paths:
        print(f"{args.results}: nothing to plot (no spikes, traces, rates, weights or metric curves)")
    return EXIT_OK


def _export_nwb(args: argparse.Namespace) -> dict:
    """``export nwb RESULTS.h5 --out FILE.nwb [--force] [--species NAME]``."""
    from neurosim.io.nwb import export_nwb

    if args.results is None:
        raise BadInput("export nwb: give the results file, as in: neurosim export nwb RESULTS.h5 --out FILE.nwb")
    if args.profile is not None:
        raise BadInput("--profile: applies to hardware targets, not nwb")
    try:
        return export_nwb(args.results, args.out, overwrite=args.force, species=args.species)
    except FileExistsError as exc:
        raise BadInput(f"--out: {exc.filename} exists; give --force to replace it or choose another --out") from None
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def cmd_export(args: argparse.Namespace) -> int:
    from neurosim.scenario.export import export_source
    from neurosim.scenario.schema import ScenarioError

    nwb = args.source == "nwb" and args.target is None
    if nwb:
        report = _export_nwb(args)
    elif args.target is None:
        raise BadInput("--target: required (nir | loihi | onnx | c); for NWB: neurosim export nwb RESULTS.h5 "
                       "--out FILE.nwb")
    elif args.results is not None or args.force or args.species is not None:
        extra = args.results or ("--force" if args.force else "--species")
        raise BadInput(f"{extra}: unexpected; a hardware export takes one SOURCE (--force and --species apply to nwb)")
    else:
        try:
            report = export_source(args.source, args.target, args.out, args.profile)
        except ScenarioError:
            raise
        except ValueError as exc:
            raise BadInput(str(exc)) from None
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{'nwb' if nwb else args.target} -> {args.out}")
        for key, value in report.items():
            print(f"  {key} = {value}")
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    from neurosim.info import collect, format_info

    print(format_info(collect()))
    return EXIT_OK


def cmd_data(args: argparse.Namespace) -> int:
    from neurosim.datasets import store

    try:
        where = store.fetch(args.name, args.dir)
    except (OSError, ValueError) as exc:
        return _fail(EXIT_FAILURE, f"data fetch {args.name}: {exc}")
    print(f"{args.name} -> {where}")
    return EXIT_OK


COMMANDS = {"run": cmd_run, "validate": cmd_validate, "inspect": cmd_inspect, "plot": cmd_plot, "export": cmd_export,
            "info": cmd_info, "data": cmd_data}


def _fail(code: int, message: str) -> int:
    print(f"neurosim: {message}", file=sys.stderr)
    return code


def _warn(message: Warning | str, category: type[Warning], filename: str, lineno: int, file=None, line=None) -> None:
    """Warnings in the user's terms: one line, no source location."""
    print(f"neurosim: warning: {message}", file=sys.stderr)


def _on_signal(signum: int, frame: object) -> None:
    signals.received.append(signum)
    signal.signal(signum, signal.SIG_DFL)  # a second one stops the process at once
    raise signals.interrupt()


def _catch_signals() -> Callable[[], None]:
    """Route SIGINT and SIGTERM (unless ignored) to :func:`_on_signal`; return what restores
    the previous handlers."""
    signals.received.clear()
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            if signal.getsignal(signum) is not signal.SIG_IGN:
                previous[signum] = signal.signal(signum, _on_signal)
        except ValueError:  # not the main thread: leave the signals alone
            break

    unraisable = sys.unraisablehook

    def quiet_swallowed_interrupt(info: "sys.UnraisableHookArgs") -> None:
        """Say nothing when our interrupt lands where Python cannot propagate it (a weakref or
        ``__del__`` callback): :func:`signals.check` raises it again between blocks."""
        if not (isinstance(info.exc_value, KeyboardInterrupt) and signals.received):
            unraisable(info)
    sys.unraisablehook = quiet_swallowed_interrupt

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook = unraisable
    return restore


def _interrupted(exc: BaseException, command: str) -> int:
    """Exit status 128 + signal and one line: what was kept, what was discarded."""
    name = getattr(exc, "signal_name", "SIGTERM" if signal.SIGTERM in signals.received else "SIGINT")
    finished = getattr(exc, "finished", None)
    if finished is not None:
        message = (f"interrupted ({name}) after {finished} of {exc.total} sweep points: the finished points are "
                   "kept and the unfinished ones discarded; run the same command with --resume to continue")
    elif command in ("run", "export"):
        message = f"interrupted ({name}); the partial results were discarded"
    else:
        message = f"interrupted ({name})"
    return _fail(128 + signal.Signals[name].value, message)


def _stdout_gone() -> int:
    """The reader of stdout went away (``neurosim inspect f.h5 | head``): stop quietly, as Unix
    tools do (status 128 + SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # what is still buffered goes nowhere at exit
        os.close(devnull)
    except (OSError, ValueError):  # not a real file (captured output)
        pass
    return 128 + getattr(signal, "SIGPIPE", 13)


def _exists(exc: FileExistsError) -> str:
    """``output.path: PATH exists; what to do``, saying "exists" once."""
    reason = exc.strerror if exc.filename and exc.strerror != os.strerror(errno.EEXIST) else "exists"
    if reason == "exists":
        hint = '; set output.overwrite = "overwrite", choose another --out, or use --resume'
    elif reason.startswith("exists"):
        hint = '; set output.overwrite = "overwrite" or choose another --out'
    else:
        hint = ""
    return f"output.path: {exc.filename or exc} {reason}{hint}"


def _runtime_failure(exc: Exception, command: str) -> int:
    """A failure while running: another run writing the output (2), a full disk (1, one line),
    an interruption that surfaced as another error, anything else (1; the log has the traceback)."""
    from neurosim.io.lock import OutputBusy
    from neurosim.io.writer import disk_full

    if isinstance(exc, OutputBusy):
        return _fail(EXIT_BAD_INPUT, str(exc))
    if signals.received:  # e.g. a compiler interrupted half way raising its own error
        return _interrupted(exc, command)
    if disk_full(exc):
        where = exc.filename if isinstance(exc, OSError) and exc.filename else "the output's disk (see the log)"
        return _fail(EXIT_FAILURE, f"no space left on device: {where}")
    return _fail(EXIT_FAILURE, f"run failed: {type(exc).__name__}: {exc}")


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    from neurosim.scenario.schema import ScenarioError

    warnings.showwarning = _warn
    args = _parser().parse_args(argv)
    restore_signals = _catch_signals()
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a reader that went away (`| head`) shows here, not at exit
        if signals.received:  # the signal's exception was swallowed and the command finished anyway
            name = signal.Signals(signals.received[0]).name
            return _fail(128 + signals.received[0], f"interrupted ({name}) after the command had finished; "
                                                    "its results were kept")
        return code
    except BrokenPipeError:
        return _stdout_gone()
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (Terminated)
        return _interrupted(exc, args.command)
    except ScenarioError as exc:
        problems = exc.problems
        detail = "; ".join(str(p) for p in problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        return _fail(EXIT_BAD_INPUT, f"invalid scenario: {detail}")
    except FileExistsError as exc:
        return _fail(EXIT_BAD_INPUT, _exists(exc))
    except FileNotFoundError as exc:
        return _fail(EXIT_BAD_INPUT, f"{exc.filename or exc}: no such file")
    except (IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        return _fail(EXIT_BAD_INPUT, f"{exc.filename or exc}: {(exc.strerror or str(exc)).lower()}")
    except BadInput as exc:
        return _fail(EXIT_BAD_INPUT, str(exc))
    except Exception as exc:  # a runtime failure: say what, the log has the traceback
        return _runtime_failure(exc, args.command)
    finally:
        restore_signals()


if __name__ == "__main__":
    sys.exit(main())
