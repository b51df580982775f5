"""Named network models of :mod:`neurosim.models` usable as ``[model] name = "..."``.

Each entry names a module exposing a frozen ``Params`` dataclass and
``build(params, dt, seed, precision, record_spikes=False) -> Network``.
"""

from __future__ import annotations

import dataclasses
import importlib

from neurosim.network import Network
from neurosim.scenario.schema import Problem, ScenarioError, suggest

NAMED_MODELS = {"cuba": "neurosim.models.cuba", "brunel2000": "neurosim.models.brunel",
                "song2000": "neurosim.models.song2000", "vogels2011": "neurosim.models.vogels2011",
                "pd14": "neurosim.models.pd14"}


def build_named(name: str, params: dict, dt: float, seed: int, precision: str) -> Network:
    if name not in NAMED_MODELS:
        raise ScenarioError([Problem("model.name", f"unknown model {name!r} (known: {', '.join(NAMED_MODELS)})"
                                                   f"{suggest(name, list(NAMED_MODELS))}")])
    module = importlib.import_module(NAMED_MODELS[name])
    fields = {f.name for f in dataclasses.fields(module.Params)}
    for key in params:
        if key not in fields:
            raise ScenarioError([Problem(f"model.params.{key}", f"unknown parameter of model {name!r}"
                                                                f"{suggest(key, sorted(fields))}")])
    try:
        return module.build(module.Params(**params), dt=dt, seed=seed, precision=precision, record_spikes=False)
    except (TypeError, ValueError) as exc:
        raise ScenarioError([Problem("model.params", str(exc))]) from None
