"""NIR (Neuromorphic Intermediate Representation) export and import (``neurosim.hardware.nir``).

- :func:`to_nir` / :func:`export`: a :class:`~neurosim.hardware.graph.LayerGraph` (a trained model) -> NIR
  graph / ``.nir`` file, in training units with the Euler convention of :mod:`.mapping`
  (τ = dt/(1-β), r = τ/dt, w_in = τ_syn/dt; ``metadata["dt"]``; hard reset only).
- :func:`from_nir` / :func:`to_torch`: a NIR graph (ours, snnTorch's, Norse's) -> LayerGraph ->
  ``neurosim.train.SNN``.
- :func:`network_to_nir` / :func:`to_network`: an engine :class:`~neurosim.network.Network` <-> NIR,
  in SI units, τ chosen so that an Euler step reproduces the engine's exact decay; delays
  become ``Delay`` nodes; IF nodes import as engine LIFs without leak, Affine biases as bias currents.
- :class:`NIRImportWarning`: the importers' warnings (:mod:`.checks`) about a time step the graph
  does not state and layers that can never fire; ``strict=True`` raises them as ``ValueError``.
"""

from neurosim.hardware.nir.checks import NIRImportWarning
from neurosim.hardware.nir.graph_export import export, to_nir
from neurosim.hardware.nir.load import from_nir, to_torch
from neurosim.hardware.nir.network_export import export_network, network_to_nir
from neurosim.hardware.nir.network_import import to_network

__all__ = ["export", "to_nir", "from_nir", "to_torch", "network_to_nir", "export_network", "to_network",
           "NIRImportWarning"]
