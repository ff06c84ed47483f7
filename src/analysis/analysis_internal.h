/* Private to src/analysis: running prompts with taps and keeping what they saw, and the
 * model's final norm and unembedding as the analyses need them (applied to any residual,
 * linearised at a given scale, one unembedding row at a time). */
#ifndef SEER_ANALYSIS_INTERNAL_H
#define SEER_ANALYSIS_INTERNAL_H

#include "seer/analysis.h"

/* Activations of chosen (point, layer) pairs for every token of one batch: rows in batch
 * order, width floats each. Index of a pair: (layer + 1) * SEER_HP_COUNT + point. */
typedef struct an_capture {
    int32_t n_layers;
    int64_t n_slots;
    uint8_t *want;  /* [n_slots] */
    float **buf;    /* [n_slots], NULL until visited */
    int64_t *width; /* [n_slots] */
    int64_t n_rows; /* tokens of the batch */
    seer_status st; /* first failure inside the tap */
    seer_err *err;
} an_capture;

seer_status an_capture_init(an_capture *c, const seer_model *m, int64_t n_rows, seer_err *err);
void an_capture_free(an_capture *c);
void an_capture_want(an_capture *c, seer_hook_point p, int layer);
/* Every point the model's architecture has, at every layer. */
void an_capture_want_all(an_capture *c, const seer_model *m);
/* The saved rows (NULL when the pair was not visited); *width its row width. */
const float *an_capture_get(const an_capture *c, seer_hook_point p, int layer, int64_t *width);
/* The tap callback: ud is the an_capture. */
void an_capture_tap(void *ud, const seer_tap_event *ev);

/* Runs n_seq token sequences as one batch (sequence s at positions 0..len[s]-1), with fn
 * visiting every (point, layer) whose enable[(layer + 1) * SEER_HP_COUNT + point] is set.
 * logits (may be NULL): [rows wanted, n_vocab] for the tokens (counted over all sequences) whose
 * want_rows entry is set, in order; want_rows NULL: every token. */
seer_status an_forward(const seer_model *m, int n_threads, int32_t n_seq, const int32_t *const *tokens,
                       const int32_t *len, const uint8_t *enable, seer_tap_fn fn, void *ud, const uint8_t *want_rows,
                       float *logits, seer_err *err);

/* The final norm (ln_final) and unembedding. */
typedef struct an_unembed {
    const seer_model *m;
    int layernorm;      /* 0: RMSNorm */
    const float *w, *b; /* gain [d], bias [d] or NULL */
    float eps;
    int64_t d, n_vocab;
    const seer_tensor *wu; /* [n_vocab, d], any weight type */
} an_unembed;

seer_status an_unembed_init(an_unembed *u, const seer_model *m, seer_err *err);
/* y = ln_final(x), as the forward computes it. */
void an_final_norm(const an_unembed *u, float *y, const float *x);
/* The divisor ln_final applies to x: sqrt(mean(x^2) + eps), or sqrt(var(x) + eps). */
double an_norm_scale(const an_unembed *u, const float *x);
/* Row id of the unembedding as f32 (out [d]). */
void an_unembed_row(const an_unembed *u, int32_t id, float *out);
/* logits [n, n_vocab] = y [n, d] times the unembedding (pool may be NULL). */
seer_status an_unembed_rows(const an_unembed *u, seer_pool *pool, const float *y, int64_t n, float *logits,
                            seer_err *err);

#endif
