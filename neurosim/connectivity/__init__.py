"""Connectivity: CSR storage, connectors and weight/delay initialisers."""

from neurosim.connectivity.connectors import (
    AllToAll,
    Connector,
    DistanceDependent,
    FixedInDegree,
    FixedOutDegree,
    FixedProbability,
    FixedTotalNumber,
    FromArrays,
    OneToOne,
    from_sparse,
    grid_positions,
)
from neurosim.connectivity.csr import CSR
from neurosim.connectivity.initializers import Constant, Initializer, Normal, Redrawn, Uniform

__all__ = [
    "CSR", "Connector", "OneToOne", "AllToAll", "FixedProbability", "FixedInDegree", "FixedOutDegree", "FixedTotalNumber",
    "DistanceDependent", "FromArrays", "from_sparse", "grid_positions",
    "Initializer", "Constant", "Uniform", "Normal", "Redrawn",
]
