"""Pure functional step of the generic linear LIF neuron (NumPy reference).

    v   <- v + jump (a_e + a_i);   i_e <- i_e + cur_gain a_e;   i_i <- i_i + cur_gain a_i
    v'  =  v_rest + (v - v_rest) P_vv + i_e P_ve + i_i P_vi + i_ext P_vI
    i_e' = i_e d_e;   i_i' = i_i d_i
    refractory (ref > 0):  v' = v_reset, ref' = ref - 1, no spike
    spike = v' >= v_th  ->  v' = v' - (v_th - v_reset) (soft) or v_reset (hard), ref' = ref_steps

``LIF`` has ``jump = 1`` (delta synapses) and ``CubaLIF`` ``jump = 0`` (current synapses).
"""

from __future__ import annotations

import numpy as np

from neurosim.engine.layout import NeuronState, NeuronTable


def lif_step(state: NeuronState, a_e: np.ndarray, a_i: np.ndarray, p: NeuronTable) -> tuple[np.ndarray, NeuronState]:
    """Advance all neurons one step given the inputs ``a_e``, ``a_i`` arriving now."""
    v = state.v + p.jump * (a_e + a_i)
    i_e = state.i_e + p.cur_gain * a_e
    i_i = state.i_i + p.cur_gain * a_i
    v_new = p.v_rest + (v - p.v_rest) * p.p_vv + i_e * p.p_ve + i_i * p.p_vi + state.i_ext * p.p_vI
    refractory = state.ref > 0
    v_new = np.where(refractory, p.v_reset, v_new)
    spike = ~refractory & (v_new >= p.v_th)
    v_after = np.where(p.soft != 0, v_new - p.reset_step, p.v_reset)
    new = NeuronState(
        v=np.where(spike, v_after, v_new).astype(state.v.dtype),
        i_e=(i_e * p.d_e).astype(state.i_e.dtype),
        i_i=(i_i * p.d_i).astype(state.i_i.dtype),
        ref=np.where(spike, p.ref_steps, np.where(refractory, state.ref - 1, state.ref)).astype(np.int32),
        i_ext=state.i_ext,
    )
    return spike, new
