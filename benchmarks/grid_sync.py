"""Cost of one grid-wide synchronisation on this GPU (numba.cuda cooperative groups).

    python benchmarks/grid_sync.py          # needs a CUDA GPU

The persistent kernel of the cuda backend synchronises the grid a few times per time step, so
this cost bounds its step time from below. Each kernel loops ``--syncs`` times over a
``grid.sync()`` (or ``cuda.syncthreads()`` for one block); the wall time of a launch, less
that of the same kernel with no loop, divided by the loop count is the cost per sync. The
last output line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

from neurosim.engine.cuda_compat import restore_numpy_aliases

restore_numpy_aliases()  # before numba.cuda compiles anything
from numba import cuda  # noqa: E402


@cuda.jit
def grid_loop(n, out):
    g = cuda.cg.this_grid()
    for _ in range(n):
        g.sync()
    if cuda.grid(1) == 0:
        out[0] = n


@cuda.jit
def block_loop(n, out):
    for _ in range(n):
        cuda.syncthreads()
    if cuda.grid(1) == 0:
        out[0] = n


def per_sync(kernel, blocks: int, threads: int, n: int) -> float:
    out = cuda.device_array(1, "int64")
    kernel[blocks, threads](1, out)
    cuda.synchronize()
    best = []
    for loops in (0, n):
        t0 = time.perf_counter()
        kernel[blocks, threads](loops, out)
        cuda.synchronize()
        best.append(time.perf_counter() - t0)
    return (best[1] - best[0]) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--syncs", type=int, default=20000)
    args = ap.parse_args()
    sms = cuda.get_current_device().MULTIPROCESSOR_COUNT
    out = {"multiprocessors": sms, "syncthreads_1x256_us": 1e6 * per_sync(block_loop, 1, 256, args.syncs)}
    for blocks, threads in ((1, 256), (sms, 256), (2 * sms, 256), (4 * sms, 256), (sms, 1024)):
        try:
            out[f"grid_{blocks}x{threads}_us"] = 1e6 * per_sync(grid_loop, blocks, threads, args.syncs)
        except Exception as exc:  # noqa: BLE001  (a grid too large to be co-resident)
            out[f"grid_{blocks}x{threads}_us"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
