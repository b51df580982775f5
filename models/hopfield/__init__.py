"""Hopfield networks: the classical binary network (:mod:`.classical`), the modern continuous
network in NumPy (:mod:`.modern`) and as PyTorch layers (:mod:`.torch_layers`, imported on
demand so that NumPy users do not load torch).

    from neurosim.models.hopfield import classical, modern
    from neurosim.models.hopfield.torch_layers import Hopfield, HopfieldLayer, HopfieldPooling
"""

from neurosim.models.hopfield import classical, modern

__all__ = ["classical", "modern"]
