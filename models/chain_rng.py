"""Per-chain random streams for the Monte Carlo kernels: one SplitMix64 generator per chain.

A chain's state is a uint64 advanced by the golden gamma after each draw; initial states
come from a :class:`numpy.random.SeedSequence`, so every chain's numbers depend on the seed
and its index only (never on threads or on how sweeps are split between calls).
"""

from __future__ import annotations

import numpy as np

from neurosim.engine.jit_cache import njit
from neurosim.engine.rng import splitmix64_jit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S11 = np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


def streams(seed: int | np.random.SeedSequence, chains: int) -> np.ndarray:
    """Initial states (uint64) of ``chains`` independent streams."""
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return np.array([c.generate_state(1, np.uint64)[0] for c in seq.spawn(chains)], dtype=np.uint64)


def check_streams(rng_state: np.ndarray, chains: int) -> np.ndarray:
    """A writable uint64 copy of ``rng_state`` with one state per chain; ValueError otherwise."""
    state = np.array(rng_state, dtype=np.uint64).reshape(-1)
    if state.shape != (chains,):
        raise ValueError(f"rng_state: expected {chains} chain states, got {state.shape[0]}")
    return state


@njit(cache=True, inline="always")
def draw(state):
    """(uniform double in [0, 1), next state)."""
    return (splitmix64_jit(state) >> _S11) * _TO_UNIT, state + _GOLDEN


@njit(cache=True, inline="always")
def glauber_accept(de, beta, state):
    """(accept a flip that changes the energy by ``de``?, next state): with probability
    1 / (1 + exp(beta de)) (Glauber); at ``beta = inf`` exactly when ``de < 0``, drawing nothing."""
    if beta == np.inf:
        return de < 0.0, state
    u, state = draw(state)
    return u * (1.0 + np.exp(beta * de)) < 1.0, state
