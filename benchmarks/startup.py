"""Start-up latency: wall time from interpreter launch to the end of neurosim's first step.

    python benchmarks/startup.py [--backend numba] [--n 4000]

A fresh Python process imports neurosim, builds the quickstart-size CUBA network and
simulates one time step; the clock runs from just before the process is launched until
the child reports that the step is done (its exit is not counted). This is done twice:
the first run fills numba's on-disk cache, the second (reported as ``startup_s``) is the
warm start a user sees every time after the first. The child also reports its own
import / build / first-step times, so the remainder is interpreter launch.

The last line of the output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

#: run in the child: prints its phase times as JSON once the first step is done
CHILD = """
import json, time
t0 = time.perf_counter()
from neurosim.models.cuba import Params, build
t1 = time.perf_counter()
net = build(Params(n={n}))
net.layout
t2 = time.perf_counter()
net.run(net.dt, backend={backend!r})
t3 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "build_s": t2 - t1, "first_step_s": t3 - t2}}), flush=True)
"""


def launch(n: int, backend: str) -> dict[str, Any]:
    """Time one fresh process from launch to its first completed step; with the child's phase times."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD.format(n=n, backend=backend)],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    total = time.perf_counter() - t0
    proc.communicate()
    if proc.returncode != 0 or not line:
        raise SystemExit(f"startup child failed with exit status {proc.returncode}")
    phases = json.loads(line)
    return {"startup_s": total, **phases, "interpreter_s": total - sum(phases.values())}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=4000, help="CUBA network size (default 4000)")
    ap.add_argument("--backend", default="numba", help="neurosim backend (default numba)")
    args = ap.parse_args(argv)
    first, warm = launch(args.n, args.backend), launch(args.n, args.backend)
    for label, r in (("first (fills the cache)", first), ("warm", warm)):
        print(f"{label}: {r['startup_s']:.3f} s = interpreter {r['interpreter_s']:.3f} + import {r['import_s']:.3f}"
              f" + build {r['build_s']:.3f} + first step {r['first_step_s']:.3f}")
    print(json.dumps({"n": args.n, "backend": args.backend, **warm, "first_startup_s": first["startup_s"]}))


if __name__ == "__main__":
    main()
