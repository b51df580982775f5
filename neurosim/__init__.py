"""neurosim: spiking neural networks, neuromorphic export and associative memories."""

from neurosim.connectivity import (
    AllToAll,
    Constant,
    DistanceDependent,
    FixedInDegree,
    FixedOutDegree,
    FixedProbability,
    FromArrays,
    Normal,
    OneToOne,
    Uniform,
    from_sparse,
)
from neurosim.network import Network
from neurosim.neurons import LIF, CubaLIF
from neurosim.plasticity import STDP

__version__ = "0.1.0"

__all__ = [
    "Network", "LIF", "CubaLIF", "STDP",
    "OneToOne", "AllToAll", "FixedProbability", "FixedInDegree", "FixedOutDegree", "DistanceDependent",
    "FromArrays", "from_sparse", "Constant", "Uniform", "Normal", "__version__",
]
