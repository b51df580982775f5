"""Surrogate-gradient training of spiking networks in PyTorch (imported on demand, never by
``import neurosim``)."""
