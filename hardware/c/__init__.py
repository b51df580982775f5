"""C export for microcontrollers (Cortex-M4/M7 class): an integer model (int8 weights, int16
state, Q12 decays, int32 accumulators), its NumPy emulator (the bit-exact reference) and a
portable C99 runtime (``runtime/neurosim_snn.c``) with ``nsnn_reset()`` / ``nsnn_step()``.

* :func:`quantize` (``integer.quantize``): LayerGraph -> :class:`IntModel`; every rounding is
  documented in :mod:`neurosim.hardware.c.integer`.
* :func:`run` / :func:`emulate`: the integer emulator on int8 / float inputs.
* :func:`export` (the CLI entry) / :func:`export_model`: write ``model.h`` + runtime +
  ``model.json`` into a folder and check the flash/RAM footprint against a profile.
* :func:`run_compiled` / :func:`predict`: compile the folder with gcc and run it.
"""

from neurosim.hardware.c.export import (export, export_model, footprint, model_header, predict, resolve_profile,
                                        run_compiled, write)
from neurosim.hardware.c.integer import IntLayer, IntModel, emulate, load, quantize, quantize_input, run

__all__ = ["IntLayer", "IntModel", "quantize", "quantize_input", "run", "emulate", "load", "export",
           "export_model", "write", "model_header", "footprint", "run_compiled", "predict", "resolve_profile"]
