"""Surrogate-gradient training of spiking networks in PyTorch (see ``docs/training.md``).

    from neurosim.train.modules import SNN, LIF, CubaLIF, RLIF, RCubaLIF, LI   # layers, container
    from neurosim.train.synapses import SparseLinear                          # event-driven nn.Linear
    from neurosim.train import encoders, losses, surrogates, functional       # coding, losses, steps
    from neurosim.train.snntorch_interop import from_snntorch, to_snntorch
    from neurosim.train.model_io import load_model                            # models of the train task

This package file imports nothing, so that the ``train`` task can register itself without
importing torch; the submodules import torch.
"""
