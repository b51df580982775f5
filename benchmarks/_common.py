"""Helpers shared by the benchmark scripts (``cuba.py``, ``brette2007.py``)."""

from __future__ import annotations


def jit_cache_state(backend: str, models: tuple = ()) -> str | None:
    """``"hit"`` if numba loaded neurosim's block kernel for ``models`` (a layout's compiled models) from its
    on-disk cache, ``"miss"`` if it compiled it; None for other backends or when the kernel cannot be found."""
    if backend != "numba":
        return None
    try:
        from neurosim.engine.numba_backend import block_kernel

        stats = block_kernel(tuple(models)).stats
    except Exception:  # noqa: BLE001  (the engine's internals: a best effort)
        return None
    if sum(stats.cache_hits.values()):
        return "hit"
    return "miss" if sum(stats.cache_misses.values()) else None


def warm_backend(tiny, backend: str, dt: str):
    """Load ``backend`` and run one step of the small network ``tiny`` (numba JIT or a load from its
    cache): ``(engine, seconds, jit cache state)``."""
    import time

    from neurosim.engine.registry import get_backend

    tiny.layout
    t0 = time.perf_counter()
    engine = get_backend(backend)
    tiny.run(dt, backend=engine)
    return engine, time.perf_counter() - t0, jit_cache_state(engine.name, tiny.layout.models)


def build_and_run(build, params, dt: str, seed: int, n_steps: int, engine):
    """Build a network (layout included) and run it for ``n_steps`` steps:
    ``(net, build seconds, run CPU seconds, run wall seconds)``; CPU time is the process's."""
    import time

    t0 = time.perf_counter()
    net = build(params, dt=dt, seed=seed)
    net.layout
    build_s = time.perf_counter() - t0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    net.run(n_steps * net.dt, backend=engine)
    return net, build_s, time.process_time() - cpu0, time.perf_counter() - wall0
