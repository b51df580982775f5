"""Neuron models: validated parameter dataclasses in SI units with exact propagators."""

from neurosim.neurons.base import NeuronModel
from neurosim.neurons.cuba_lif import CubaLIF
from neurosim.neurons.lif import LIF

__all__ = ["NeuronModel", "LIF", "CubaLIF"]
