"""Associative-memory benchmark: Monte Carlo speed of dense Hebbian dynamics and modern
Hopfield retrieval against plain PyTorch, in one run.

    python benchmarks/memory.py                 # N = 10^4, K = 10, P = 2 and 4; 1 thread
    python benchmarks/memory.py --sweeps 400 --batch 1024 --stored 8192

- ``mc_updates_per_s`` (P = 2) and ``mc_updates_per_s_p4``: single-spin Glauber updates per
  second of the supervised dense Hebbian network (:mod:`neurosim.models.dense_hebbian`, K
  class sums of M examples, one chain, one Numba thread, β finite so that every update draws a
  random number and evaluates an exponential); best of ``--repeats`` timed runs of
  ``--sweeps`` sweeps after a warm-up (compilation excluded).
- ``hopfield_ratio``: time of :func:`neurosim.models.hopfield.torch_layers.retrieve`
  (one update) over the time of the plain ``torch.softmax(β ξ Xᵀ, -1) @ X`` on the same
  tensors (float32, one thread, no autograd): the best of interleaved repeats (order alternated,
  as ``timeit`` advises: the minimum is the least disturbed by other processes);
  ``hopfield_retrievals_per_s``: states retrieved per second by neurosim.

The last line of the output is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="neurons (default 10^4)")
    ap.add_argument("--k", type=int, default=10, help="archetypes (default 10)")
    ap.add_argument("--examples", type=int, default=20, help="examples per archetype (default 20)")
    ap.add_argument("--beta", type=float, default=50.0, help="inverse temperature (default 50: retrieval at P = 2 and 4)")
    ap.add_argument("--sweeps", type=int, default=100, help="sweeps per timed run (default 100)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs (default 5)")
    ap.add_argument("--stored", type=int, default=4096, help="stored patterns of the Hopfield retrieval (default 4096)")
    ap.add_argument("--dim", type=int, default=256, help="pattern dimension (default 256)")
    ap.add_argument("--batch", type=int, default=512, help="states retrieved at once (default 512)")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args(argv)


def mc_rate(args: argparse.Namespace, p: int) -> tuple[float, float]:
    """(best single-spin updates per second over the timed runs, fraction of updates that flipped)."""
    from neurosim.models import dense_hebbian as dh
    from neurosim.models.chain_rng import streams
    from neurosim.models.overlap_mc import sweep

    data = dh.make_dataset(args.k, args.n, args.examples, 0.5, np.random.default_rng(args.seed))
    energy = dh.supervised_energy(data, p)
    sigma, state = data.archetypes[:1], streams(args.seed, 1)
    sigma, state, _ = sweep(energy, sigma, state, args.beta, 1)  # compile or load from cache
    best, flips = np.inf, 0
    for _ in range(args.repeats):
        start = time.perf_counter()
        sigma, state, flipped = sweep(energy, sigma, state, args.beta, args.sweeps)
        best = min(best, time.perf_counter() - start)
        flips += int(flipped[0])
    m = dh.mattis_overlaps(data.archetypes, sigma)[0, 0]
    accepted = flips / (args.repeats * args.sweeps * args.n)
    print(f"dense Hebbian P={p}: N={args.n}, K={args.k}, M={args.examples}, beta={args.beta:g}: "
          f"{args.sweeps * args.n / best:.4g} updates/s ({accepted:.2%} flipped, archetype overlap {m:.3f})")
    return args.sweeps * args.n / best, accepted


def hopfield(args: argparse.Namespace) -> dict[str, float]:
    import torch

    from neurosim.models.hopfield.torch_layers import retrieve

    gen = torch.Generator().manual_seed(args.seed)
    stored = torch.randn(args.stored, args.dim, generator=gen)
    state = stored[: args.batch] + 0.1 * torch.randn(args.batch, args.dim, generator=gen)
    beta = 1.0 / np.sqrt(args.dim)

    def baseline() -> torch.Tensor:
        return torch.softmax(beta * state @ stored.T, dim=-1) @ stored

    def ours() -> torch.Tensor:
        return retrieve(stored, state, beta)

    times: dict = {ours: [], baseline: []}
    with torch.inference_mode():
        diff = (ours() - baseline()).abs().max().item()
        for _ in range(3):
            ours(), baseline()
        for r in range(max(40, 8 * args.repeats)):
            for fn in (ours, baseline) if r % 2 == 0 else (baseline, ours):
                start = time.perf_counter()
                fn()
                times[fn].append(time.perf_counter() - start)
    t_ours, t_base = min(times[ours]), min(times[baseline])
    print(f"modern Hopfield: {args.batch} states, {args.stored} stored patterns of dim {args.dim}: neurosim "
          f"{t_ours * 1e3:.3f} ms, plain torch {t_base * 1e3:.3f} ms, ratio {t_ours / t_base:.3f} "
          f"(max |difference| {diff:.2e})")
    return {"hopfield_ratio": t_ours / t_base, "hopfield_s": t_ours, "baseline_s": t_base,
            "hopfield_retrievals_per_s": args.batch / t_ours, "baseline_retrievals_per_s": args.batch / t_base,
            "hopfield_max_abs_difference": diff}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import numba
    import torch

    numba.set_num_threads(1)
    torch.set_num_threads(1)
    rate2, flipped2 = mc_rate(args, 2)
    rate4, flipped4 = mc_rate(args, 4)
    result = {"n": args.n, "k": args.k, "examples": args.examples, "beta": args.beta, "threads": 1,
              "mc_updates_per_s": rate2, "mc_updates_per_s_p4": rate4, "mc_flip_fraction": flipped2,
              "mc_flip_fraction_p4": flipped4, "stored": args.stored, "dim": args.dim, "batch": args.batch,
              **hopfield(args)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
