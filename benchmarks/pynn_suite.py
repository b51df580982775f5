"""PyNN's own examples and system scenario tests on ``neurosim.pynn``, unchanged: the counts
behind docs/pynn.md.

    pip download PyNN==0.13.0 --no-deps --no-binary :all: -d /tmp/pynn_src
    tar -xzf /tmp/pynn_src/pynn-0.13.0.tar.gz -C /tmp/pynn_src
    python benchmarks/pynn_suite.py --source /tmp/pynn_src/pynn-0.13.0

Every example runs in its own process as ``python example.py neurosim`` with ``neurosim.pynn``
registered as ``pyNN.neurosim`` (PyNN's ``get_simulator`` imports ``pyNN.<name>``) and
matplotlib on Agg; the scenario tests (``test/system/scenarios``) run under pytest with their
``fixtures.py`` replaced by one that hands every test ``neurosim.pynn``. Prints one line per
example and pytest's summary; the last line is a JSON object with the counts and the names of
what failed.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: examples that take arguments: the runs made of each
ARGUMENTS = {"VAbenchmarks.py": [["CUBA"], ["COBA"], ["CUBA", "--use-views"], ["CUBA", "--use-assembly"]]}

RUNNER = """import runpy, sys, matplotlib
matplotlib.use("Agg")
import neurosim.pynn
sys.modules["pyNN.neurosim"] = neurosim.pynn
script = sys.argv[1]
sys.argv = [script, "neurosim"] + sys.argv[2:]
runpy.run_path(script, run_name="__main__")
"""

FIXTURES = """import sys
import pytest
import neurosim.pynn
sys.modules["pyNN.neurosim"] = neurosim.pynn


def run_with_simulators(*sim_names):
    return pytest.mark.parametrize("sim", [pytest.param(neurosim.pynn, id="neurosim")])
"""


def run_examples(source: Path, work: Path, timeout: float) -> dict[str, bool]:
    examples = work / "examples"
    shutil.copytree(source / "examples", examples)
    (work / "runner.py").write_text(RUNNER)
    outcome = {}
    for script in sorted(examples.glob("*.py")):
        for args in ARGUMENTS.get(script.name, [[]]):
            name = " ".join([script.name, *args])
            try:
                proc = subprocess.run([sys.executable, str(work / "runner.py"), script.name, *args], cwd=examples,
                                      capture_output=True, text=True, timeout=timeout)
                ok, why = proc.returncode == 0, (proc.stderr.strip().splitlines() or [""])[-1][:120]
            except subprocess.TimeoutExpired:
                ok, why = False, f"timed out after {timeout:.0f} s"
            outcome[name] = ok
            print(f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": {why}"), flush=True)
    return outcome


def run_scenarios(source: Path, work: Path) -> tuple[dict[str, int], list[str]]:
    scenarios = work / "scenarios"
    shutil.copytree(source / "test" / "system" / "scenarios", scenarios)
    (scenarios / "fixtures.py").write_text(FIXTURES)
    (scenarios / "__init__.py").touch()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider", "scenarios"],
                          cwd=work, capture_output=True, text=True)
    print(proc.stdout[-4000:])
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|error)", proc.stdout)}
    return counts, re.findall(r"FAILED (\S+)", proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="the unpacked PyNN source distribution")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per example (default 600)")
    args = parser.parse_args()
    if not (args.source / "examples").is_dir() or not (args.source / "test" / "system" / "scenarios").is_dir():
        sys.exit(f"--source: {args.source} has no examples/ and test/system/scenarios/ (unpack PyNN's sdist)")
    with tempfile.TemporaryDirectory() as tmp:
        examples = run_examples(args.source, Path(tmp), args.timeout)
        counts, failed = run_scenarios(args.source, Path(tmp))
    print(json.dumps({"examples_run": sum(examples.values()), "examples": len(examples),
                      "examples_failed": [n for n, ok in examples.items() if not ok],
                      "scenario_tests": counts, "scenario_tests_failed": failed}))


if __name__ == "__main__":
    main()
