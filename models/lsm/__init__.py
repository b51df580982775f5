"""Liquid state machines: static LSM, LSM + STDP and the neuron-astrocyte LSM (NALSM)."""
