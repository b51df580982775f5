"""Registry of task kinds: what a scenario does. The task adapters of this package
(``simulate``, ``lsm``, ``memory``, ``train``) register themselves when imported.

A task kind declares the top-level tables it adds to the scenario schema, which of the
tables it needs, a ``prepare`` step (complete semantic validation, e.g. building the
network, raising :class:`ScenarioError`) and a ``run`` step that writes results.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from neurosim.scenario.schema import Field


@dataclass(frozen=True)
class TaskKind:
    name: str
    #: top-level tables this task adds to the schema
    tables: dict[str, Field] = field(default_factory=dict)
    #: top-level tables that must be present
    required: tuple[str, ...] = ()
    #: config -> prepared object (raises ScenarioError naming the bad field)
    prepare: Callable[[dict], Any] = lambda cfg: None
    #: (config, prepared, RunContext) -> None; writes metrics and recordings through ctx.writer
    run: Callable[[dict, Any, Any], None] = lambda cfg, prepared, ctx: None
    #: where the task keeps its root seed (sweeps set it per point; results record it)
    seed_path: tuple[str, ...] = ("simulation", "seed")
    doc: str = ""

    def root_seed(self, config: dict) -> int | None:
        """The root seed of a resolved config, if it has one."""
        node: Any = config
        for key in self.seed_path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node


_TASKS: dict[str, TaskKind] = {}
#: modules that register task kinds when imported (kept lazy so the CLI starts fast)
TASK_MODULES = ["neurosim.scenario.simulate", "neurosim.scenario.lsm", "neurosim.scenario.memory.task",
                "neurosim.scenario.train", "neurosim.scenario.stdp_classify", "neurosim.scenario.vpr"]


def register_task(task: TaskKind) -> TaskKind:
    _TASKS[task.name] = task
    return task


def tasks() -> dict[str, TaskKind]:
    for module in TASK_MODULES:
        importlib.import_module(module)
    return dict(_TASKS)
