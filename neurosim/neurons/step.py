"""Pure functional step of the generic linear LIF neuron (NumPy reference).

    v'   = v_rest + (v - v_rest) P_vv + i_e P_ve + i_i P_vi + i_ext P_vI
    i_e' = i_e d_e;   i_i' = i_i d_i
    refractory (ref > 0):  v' = v_reset, ref' = ref - 1, no spike
    spike = v' >= v_th  ->  v' = v' - (v_th - v_reset) (soft) or v_reset (hard), ref' = ref_steps

Arriving spikes are not part of the step: they were added to ``v`` (``LIF``) or ``i_e`` /
``i_i`` (``CubaLIF``) before it, see :mod:`neurosim.engine.layout`. The step reads the
engine's tables by their field names (``NeuronState``: vars, v, i_e, i_i, ref, i_ext;
``NeuronTable``: the propagators) and imports no engine module.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def lif_step(state: Any, p: Any) -> tuple[np.ndarray, Any]:
    """Advance all neurons one step; return the spikes and the new state."""
    v_new = p.v_rest + (state.v - p.v_rest) * p.p_vv + state.i_e * p.p_ve + state.i_i * p.p_vi \
        + state.i_ext * p.p_vI
    refractory = state.ref > 0
    v_new = np.where(refractory, p.v_reset, v_new)
    spike = ~refractory & (v_new >= p.v_th)
    v_after = np.where(p.soft != 0, v_new - p.reset_step, p.v_reset)
    variables = np.stack([np.where(spike, v_after, v_new), state.i_e * p.d_e, state.i_i * p.d_i]).astype(state.vars.dtype)
    new = state._replace(
        vars=variables,
        v=variables[0],
        i_e=variables[1],
        i_i=variables[2],
        ref=np.where(spike, p.ref_steps, np.where(refractory, state.ref - 1, state.ref)).astype(np.int32),
    )
    return spike, new
