"""One entry point for every target: ``export(source, target, out, profile)``.

``source`` is a layer graph, a trained model file (``.model.pt``) or a ``train`` results file
holding one (``.h5``); :func:`export_network` exports an engine network (to NIR). Scenarios
(``.toml``) are the scenario layer's business (:mod:`neurosim.scenario.export`). Each target module (``neurosim.hardware.<target>``) has
``export(graph: LayerGraph, out: Path, profile: Profile | None) -> dict`` and checks the model
against the profile (its default when ``profile`` is None); the returned report is JSON-able.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from neurosim.hardware import profiles as _profiles
from neurosim.hardware.graph import LayerGraph, from_model

#: target name -> module with ``export(graph, out, profile)``
TARGETS = {"nir": "neurosim.hardware.nir", "loihi": "neurosim.hardware.loihi", "onnx": "neurosim.hardware.onnx",
           "c": "neurosim.hardware.c"}


def target_module(target: str):
    if target not in TARGETS:
        raise ValueError(f"target: must be one of {', '.join(TARGETS)}, got {target!r}")
    return importlib.import_module(TARGETS[target])


def graph_of(source: str | Path) -> LayerGraph:
    """The layer graph of a trained model file or a ``train`` results file (a results file that
    cannot be read, being truncated, foreign or locked, is a ValueError naming it)."""
    from neurosim.io.reader import open_h5
    from neurosim.io.summary import readable

    path = Path(source)
    results = path.suffix in (".h5", ".hdf5")
    if results:
        open_h5(path).close()  # before importing torch: not HDF5, truncated or locked says so at once
    from neurosim.train.model_io import load_model

    if not results:
        return from_model(*load_model(path))
    with readable(path):
        model, description = load_model(path)
    return from_model(model, description)


Profile = str | Path | _profiles.Profile | None


def export(source: str | Path | LayerGraph, target: str, out: str | Path, profile: Profile = None) -> dict:
    """Export ``source`` to ``target`` at ``out``; returns the target's report (plus target, profile)."""
    module = target_module(target)
    prof = _profiles.resolve(profile, target)
    if isinstance(source, LayerGraph):
        graph = source
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(2, "no such file", str(path))
        graph = graph_of(path)
    return {"target": target, "profile": None if prof is None else prof.name, **module.export(graph, Path(out), prof)}


def export_network(network: Any, dt: float, target: str, out: str | Path, profile: Profile = None) -> dict:
    """Export an engine network (time step ``dt``) to ``target`` (nir only, with no profile)."""
    module = target_module(target)
    prof = _profiles.resolve(profile, target)
    if target != "nir":
        raise ValueError(f"target: a simulate scenario's network exports to nir only, not {target!r}")
    if prof is not None:
        raise ValueError(f"profile: an engine network's NIR export checks no profile, got {prof.name!r}")
    return {"target": target, "profile": None, **module.export_network(network, dt, Path(out))}
