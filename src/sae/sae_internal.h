/* Private to src/sae: the batch workspace shared by inference and training, the activation
 * functions of each architecture behind one table, and the training loss with its backward. */
#ifndef SEER_SAE_INTERNAL_H
#define SEER_SAE_INTERNAL_H

#include "seer/sae.h"

/* Codes of a batch in compressed rows: row b's latents are idx[ptr[b] .. ptr[b+1]) with their
 * values val[...] (all > 0). */
typedef struct sae_codes {
    int64_t *ptr; /* [B + 1] */
    int32_t *idx; /* [cap] */
    float *val;   /* [cap] */
    int64_t cap;
} sae_codes;

/* Workspace for batches of up to B tokens. */
typedef struct sae_work {
    int64_t B;
    float *xc;    /* [B, d_in]  encoder input (normalised, b_dec subtracted when applied) */
    float *pre;   /* [B, d_sae] pre-activations */
    float *recon; /* [B, d_out] */
    sae_codes codes;
    /* training only */
    sae_codes aux;
    float *aux_recon; /* [B, d_out] */
    float *dy;        /* [B, d_out] */
    float *sel;       /* [B * d_sae] scratch for selection */
} sae_work;

seer_status sae_work_init(sae_work *w, const seer_sae_config *c, int64_t B, int train, seer_err *err);
void sae_work_free(sae_work *w);

/* Fills w->codes from w->pre for n rows. train: BatchTopK selects over the batch (else uses
 * threshold). Returns the batch's smallest kept activation for BatchTopK (else 0). */
typedef float (*sae_activate_fn)(const seer_sae *s, sae_work *w, int64_t n, int train);
typedef struct sae_arch_ops {
    const char *name;
    sae_activate_fn activate;
} sae_arch_ops;
const sae_arch_ops *sae_arch_get(seer_sae_arch a);

/* Keeps the k largest positive values of row [n] into idx/val (sorted by index); returns count. */
int64_t sae_topk_row(const float *row, int64_t n, int64_t k, int32_t *idx, float *val);

/* Encodes and decodes n rows of x (already normalised); w->recon receives the output. */
float sae_forward_batch(const seer_sae *s, sae_work *w, const float *x, int64_t n, int train);

/* Parameters being trained, with their gradients. log_threshold is the JumpReLU parameter. */
typedef struct sae_grads {
    float *W_enc, *b_enc, *W_dec, *b_dec, *log_threshold, *W_skip;
    float *W_encT; /* [d_sae, d_in] scratch: encoder gradient accumulated by rows */
} sae_grads;

typedef struct sae_loss_params {
    double l1_coeff, l0_coeff, bandwidth, auxk_coeff;
    int32_t auxk;
    const uint8_t *dead; /* [d_sae] or NULL */
} sae_loss_params;

typedef struct sae_loss {
    double loss, mse, sparsity, aux, l0, fvu;
    float batch_min; /* BatchTopK: smallest kept activation */
} sae_loss;

/* Forward + backward over n rows: x [n, d_in], y [n, d_out] (normalised). Gradients are
 * overwritten. s->threshold must hold exp(log_threshold) for JumpReLU. */
seer_status sae_loss_backward(const seer_sae *s, sae_work *w, const float *x, const float *y, int64_t n,
                              const sae_loss_params *lp, sae_grads *g, sae_loss *out, seer_err *err);



/* ---- activation sources (sae_data.c) ---- */
/* Sets the seed of the per-buffer shuffles (the trainer's seed). */
void sae_data_set_seed(seer_sae_data *d, uint64_t seed);
/* The next n rows: x [n, d_in] and y [n, d_out] (y is a copy of x for single-hook sources). */
seer_status sae_data_next(seer_sae_data *d, float *x, float *y, int64_t n, seer_err *err);
/* Position: buffer number (-1 before the first) and row within it. */
void sae_data_tell(const seer_sae_data *d, int64_t *buffer, int64_t *row);
seer_status sae_data_seek(seer_sae_data *d, int64_t buffer, int64_t row, seer_err *err);
#endif
