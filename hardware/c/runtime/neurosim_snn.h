/*
 * neurosim_snn: a portable C99 runtime for integer spiking networks exported by neurosim
 * (neurosim.hardware.c). No dynamic memory, no floating point, no globals: the caller owns
 * the state (one nsnn_state per stream), the model lives in const arrays (flash) in model.h.
 *
 * Per step and neuron (exactly what neurosim.hardware.c.integer.run computes):
 *   acc = b + sum W x + sum V s(t-1)          int32
 *   c   = acc rounded-shifted by the layer's shift into state units, clamped to +-2^20
 *   CubaLIF: i = sat16(((i*alpha + 2048) >> 12) + c); c = i
 *   hard reset: u = sat16((s(t-1) ? 0 : (u*beta + 2048) >> 12) + c)
 *   soft reset: u = sat16(((u*beta + 2048) >> 12) + c - s(t-1)*theta)
 *   s = u > theta;   leaky readout: u = sat16(((u*beta + 2048) >> 12) + c), output u
 * ">>" of a negative value must be an arithmetic shift (true for gcc, clang, armcc, IAR);
 * neurosim_snn.c refuses to compile otherwise.
 */
#ifndef NEUROSIM_SNN_H
#define NEUROSIM_SNN_H

#include <stdint.h>

#define NSNN_LIF 0
#define NSNN_CUBA 1
#define NSNN_LI 2

#define NSNN_RESET_HARD 0
#define NSNN_RESET_SOFT 1

#define NSNN_Q 12
#define NSNN_CUR_LIMIT ((int32_t)1048576) /* 2^20 */

typedef struct {
    uint8_t kind;           /* NSNN_LIF, NSNN_CUBA or NSNN_LI */
    uint8_t reset;          /* NSNN_RESET_HARD or NSNN_RESET_SOFT (spiking layers) */
    int8_t shift;           /* accumulator -> state units: > 0 rounding right shift, < 0 left shift */
    uint8_t reserved;
    uint16_t n_in;          /* inputs (the network input or the previous layer's spikes) */
    uint16_t n_out;         /* neurons */
    uint16_t u_off;         /* offset of this layer's membranes in nsnn_state.u */
    uint16_t i_off;         /* offset of its synaptic currents in nsnn_state.i (CubaLIF) */
    uint16_t s_off;         /* offset of its spikes in nsnn_state.s (spiking layers) */
    uint16_t reserved2;
    const int8_t *w;        /* [n_out][n_in] */
    const int8_t *w_rec;    /* [n_out][n_out] recurrent weights, or 0 */
    const int32_t *bias;    /* [n_out], accumulator units */
    const int16_t *beta;    /* [n_out], Q12 */
    const int16_t *alpha;   /* [n_out], Q12 (CubaLIF), or 0 */
    const int16_t *theta;   /* [n_out], state units (spiking layers), or 0 */
} nsnn_layer;

/* model.h defines NSNN_N_LAYERS, NSNN_N_INPUT, NSNN_N_OUTPUT, NSNN_U_SIZE, NSNN_I_SIZE,
   NSNN_S_SIZE, NSNN_MAX_N, NSNN_STEPS (and, for neurosim_snn.c only, the weights). */
#include "model.h"

typedef struct {
    int16_t u[NSNN_U_SIZE];   /* membranes of all layers */
    int16_t i[NSNN_I_SIZE];   /* synaptic currents of the CubaLIF layers (size >= 1) */
    int32_t cur[NSNN_MAX_N];  /* scratch: the currents of the layer being updated */
    int8_t s[NSNN_S_SIZE];    /* the last step's spikes of the spiking layers (size >= 1) */
} nsnn_state;

/* Put a state at rest (all zeros). */
void nsnn_reset(nsnn_state *st);

/* One time step: input[NSNN_N_INPUT] (int8, quantised as model.h says) -> readout[NSNN_N_OUTPUT]
   (the leaky readout's membrane, or the last layer's spikes 0/1). */
void nsnn_step(nsnn_state *st, const int8_t *input, int32_t *readout);

#endif /* NEUROSIM_SNN_H */
