"""The ``memory`` task: associative-memory experiments whose curves are written as metrics.

    task = "memory"
    [memory]
    experiment = "hopfield_capacity"   # or any name of EXPERIMENTS below
    seed = 1                           # root seed of every random draw of the experiment
    threads = 1                        # Numba threads (results do not depend on it)
    [memory.hopfield_capacity]         # the parameters of the chosen experiment (defaults if absent)
    sizes = [500, 1000, 2000]

Each experiment is a module of this package with ``FIELDS`` (its schema: types, bounds,
defaults), ``check(params, path)`` (cross-field rules) and ``run(params, seed, ctx)``. Only
the chosen experiment's table may appear. The seed lives in ``[memory]`` (the task has no
``[simulation]`` table); a sweep varies it with ``"memory.seed" = [...]``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from neurosim.scenario.schema import Field, Problem, ScenarioError, table, validate_table
from neurosim.scenario.tasks import TaskKind, register_task

EXPERIMENTS = ("hopfield_capacity", "hopfield_phases", "modern_hopfield", "dense_capacity", "dense_hebbian",
               "dense_hebbian_phases", "multitask",
               "multitask_phases", "willshaw", "clustered_noise")


def experiment_module(name: str) -> ModuleType:
    return importlib.import_module(f"neurosim.scenario.memory.{name}")


MEMORY = table({
    "experiment": Field("str", required=True, choices=EXPERIMENTS),
    "seed": Field("int", default=0, minimum=0, maximum=2**63 - 1),
    "threads": Field("int", default=1, minimum=1, maximum=4096),
    **{name: table(experiment_module(name).FIELDS) for name in EXPERIMENTS},
})


@dataclass(frozen=True)
class Prepared:
    experiment: str
    params: dict
    seed: int
    threads: int


def prepare(cfg: dict) -> Prepared:
    """Check the ``[memory]`` table completely; the chosen experiment's parameters with defaults."""
    memory = cfg["memory"]
    name = memory["experiment"]
    problems = [Problem(f"memory.{other}", f"not used by experiment {name!r}")
                for other in EXPERIMENTS if other != name and other in memory]
    module = experiment_module(name)
    params = validate_table(memory.get(name, {}), table(module.FIELDS), f"memory.{name}", problems)
    if not problems:
        problems += [Problem(path, message) for path, message in module.check(params, f"memory.{name}")]
    if problems:
        raise ScenarioError(problems)
    return Prepared(name, params, memory["seed"], memory["threads"])


def run(cfg: dict, prepared: Prepared, ctx) -> None:
    import numba

    numba.set_num_threads(min(prepared.threads, numba.config.NUMBA_NUM_THREADS))
    ctx.log.info("memory experiment %s, seed %d, parameters %s", prepared.experiment, prepared.seed, prepared.params)
    experiment_module(prepared.experiment).run(prepared.params, prepared.seed, ctx)


MEMORY_TASK = register_task(TaskKind(
    name="memory", tables={"memory": MEMORY}, required=("memory",), prepare=prepare, run=run, seed_path=("memory", "seed"),
    doc="associative-memory experiments: Hopfield capacity, modern Hopfield, dense memories, Hebbian learning, "
        "multitasking, Willshaw",
))
