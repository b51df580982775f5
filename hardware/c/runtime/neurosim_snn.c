/* neurosim_snn: the integer spiking-network step (see neurosim_snn.h). Portable C99. */
#define NSNN_MODEL_DATA /* this translation unit holds the model's const arrays */
#include "neurosim_snn.h"

/* ">>" on negative values must be an arithmetic shift (floor division by a power of two). */
typedef char nsnn_requires_arithmetic_shift[((-1) >> 1) == -1 ? 1 : -1];

static int32_t nsnn_sat16(int32_t v)
{
    return v > 32767 ? 32767 : (v < -32768 ? -32768 : v);
}

/* (v * d + 2048) >> 12 with d a Q12 decay in [0, 4096] */
static int32_t nsnn_decay(int32_t v, int32_t d)
{
    return (v * d + ((int32_t)1 << (NSNN_Q - 1))) >> NSNN_Q;
}

/* accumulator -> current in state units, clamped to +-2^20 */
static int32_t nsnn_current(int32_t acc, int shift)
{
    int32_t c;
    if (shift > 0) {
        c = (acc + ((int32_t)1 << (shift - 1))) >> shift;
    } else if (shift == 0) {
        c = acc;
    } else {
        const int32_t lim = NSNN_CUR_LIMIT >> (-shift);
        c = acc > lim ? lim : (acc < -lim ? -lim : acc);
        return c * ((int32_t)1 << (-shift));
    }
    return c > NSNN_CUR_LIMIT ? NSNN_CUR_LIMIT : (c < -NSNN_CUR_LIMIT ? -NSNN_CUR_LIMIT : c);
}

void nsnn_reset(nsnn_state *st)
{
    uint32_t k;
    for (k = 0; k < NSNN_U_SIZE; ++k) st->u[k] = 0;
    for (k = 0; k < NSNN_I_SIZE; ++k) st->i[k] = 0;
    for (k = 0; k < NSNN_S_SIZE; ++k) st->s[k] = 0;
    for (k = 0; k < NSNN_MAX_N; ++k) st->cur[k] = 0;
}

void nsnn_step(nsnn_state *st, const int8_t *input, int32_t *readout)
{
    const int8_t *x = input;
    uint32_t l, j, k;
    for (l = 0; l < NSNN_N_LAYERS; ++l) {
        const nsnn_layer *L = &nsnn_layers[l];
        const uint32_t n_in = L->n_in, n_out = L->n_out;
        int16_t *u = st->u + L->u_off;
        int8_t *s = st->s + L->s_off;
        /* 1. currents (all before any update: the recurrent term needs the previous spikes) */
        for (j = 0; j < n_out; ++j) {
            const int8_t *w = L->w + j * n_in;
            int32_t acc = L->bias ? L->bias[j] : 0;
            for (k = 0; k < n_in; ++k) acc += (int32_t)w[k] * (int32_t)x[k];
            if (L->w_rec) {
                const int8_t *v = L->w_rec + j * n_out;
                for (k = 0; k < n_out; ++k)
                    if (s[k]) acc += v[k];
            }
            st->cur[j] = nsnn_current(acc, L->shift);
        }
        /* 2. neuron updates */
        for (j = 0; j < n_out; ++j) {
            int32_t c = st->cur[j];
            int32_t v;
            if (L->kind == NSNN_CUBA) {
                int16_t *i = st->i + L->i_off;
                c = nsnn_sat16(nsnn_decay(i[j], L->alpha[j]) + c);
                i[j] = (int16_t)c;
            }
            if (L->kind == NSNN_LI) {
                u[j] = (int16_t)nsnn_sat16(nsnn_decay(u[j], L->beta[j]) + c);
                continue;
            }
            if (L->reset == NSNN_RESET_SOFT)
                v = nsnn_decay(u[j], L->beta[j]) + c - (s[j] ? L->theta[j] : 0);
            else
                v = (s[j] ? 0 : nsnn_decay(u[j], L->beta[j])) + c;
            u[j] = (int16_t)nsnn_sat16(v);
            s[j] = (int8_t)(u[j] > L->theta[j]);
        }
        x = s;
    }
    {
        const nsnn_layer *L = &nsnn_layers[NSNN_N_LAYERS - 1];
        for (j = 0; j < L->n_out; ++j)
            readout[j] = (L->kind == NSNN_LI) ? (int32_t)st->u[L->u_off + j] : (int32_t)st->s[L->s_off + j];
    }
}
