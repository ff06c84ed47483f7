/* Private to src/sae: the batch workspace shared by inference and training, the activation
 * functions of each architecture behind one table, and the training loss with its backward. */
#ifndef SEER_SAE_INTERNAL_H
#define SEER_SAE_INTERNAL_H

#include "seer/ops.h"
#include "seer/sae.h"

/* Codes of a batch, one fixed-size slot per row: row b's latents are idx[b·stride ..
 * b·stride + n[b]) with values val[...] (all > 0), sorted by latent. Fixed slots let threads
 * fill rows independently. */
typedef struct sae_codes {
    int32_t *n;   /* [B] */
    int32_t *idx; /* [B * stride] */
    float *val;   /* [B * stride] */
    float *dpre;  /* [B * stride] training: dL/dpre of each code */
    int64_t stride;
} sae_codes;

/* Workspace for batches of up to B tokens. Work is split over pool's threads (NULL: the
 * caller's thread alone); every result is independent of the thread count. */
typedef struct sae_work {
    int64_t B;
    seer_pool *pool;
    int nth;
    const float *encT; /* training: the encoder as [d_sae, d_in] (NULL: use s->W_enc) */
    float *xc;         /* [B, d_in]  encoder input (normalised, b_dec subtracted when applied) */
    float *pre;        /* [B, d_sae] pre-activations */
    float *recon;      /* [B, d_out] */
    sae_codes codes;
    /* training only */
    sae_codes aux;     /* AuxK codes: stride auxk */
    float *aux_recon;  /* [B, d_out] */
    float *dy;         /* [B, d_out] */
    float *sel;        /* [B * d_sae] BatchTopK selection scratch */
    float *scratch;    /* [nth, d_sae] per-thread rows */
    double *row_sse;   /* [B] per-row sums (reduced in row order) */
    double *row_asse;  /* [B] */
    int64_t *csc_ptr;  /* [d_sae + 1] codes grouped by latent for the gradient scatter */
    int64_t *csc_ent;  /* [B * (k_stride + aux stride)] slot index; aux slots offset by B·stride */
} sae_work;

/* auxk: 0 for inference; otherwise training with AuxK codes of up to auxk latents per row. */
seer_status sae_work_init(sae_work *w, const seer_sae_config *c, int64_t B, int32_t auxk, seer_pool *pool, seer_err *err);
void sae_work_free(sae_work *w);

/* Fills w->codes from w->pre for rows [b0, b1). Row-wise architectures are called on slices
 * from several threads; BatchTopK in training selects over the whole batch and is called
 * once with the whole range. Returns the batch's smallest kept activation for BatchTopK
 * training (else 0). */
typedef float (*sae_activate_fn)(const seer_sae *s, sae_work *w, int64_t b0, int64_t b1, int train);
typedef struct sae_arch_ops {
    const char *name;
    sae_activate_fn activate;
    int batchwide; /* training selection spans the batch: run on one thread */
} sae_arch_ops;
const sae_arch_ops *sae_arch_get(seer_sae_arch a);

/* Keeps the k largest positive values of row [n] into idx/val (sorted by index); returns count. */
int64_t sae_topk_row(const float *row, int64_t n, int64_t k, int32_t *idx, float *val);

/* Encodes and decodes n rows of x (already normalised); w->recon receives the output. */
float sae_forward_batch(const seer_sae *s, sae_work *w, const float *x, int64_t n, int train);

/* Runs fn over pool (inline when NULL). */
void sae_parallel(sae_work *w, seer_task_fn fn, void *ctx);
/* [lo, hi) of n items for thread ith of nth. */
static inline void sae_split(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi) {
    *lo = n * ith / nth;
    *hi = n * (ith + 1) / nth;
}

/* Parameters being trained, with their gradients. log_threshold is the JumpReLU parameter.
 * The encoder gradient is always produced as W_encT [d_sae, d_in] (by rows, as it is
 * accumulated); W_enc [d_in, d_sae], when not NULL, also receives it transposed. */
typedef struct sae_grads {
    float *W_enc, *b_enc, *W_dec, *b_dec, *log_threshold, *W_skip;
    float *W_encT;
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
 * overwritten. s->threshold must hold exp(log_threshold) for JumpReLU. lp->auxk must not
 * exceed the auxk the workspace was made for. */
seer_status sae_loss_backward(const seer_sae *s, sae_work *w, const float *x, const float *y, int64_t n,
                              const sae_loss_params *lp, sae_grads *g, sae_loss *out, seer_err *err);

/* ---- .npy arrays (sae_npy.c) ---- */
#define SAE_NPY_MAX_DIMS 8
typedef struct sae_npy {
    seer_dtype type; /* F32, F16 or F64 */
    int n_dims;
    int64_t shape[SAE_NPY_MAX_DIMS];
    int64_t n_elem;
    const void *data; /* inside the parsed buffer (may be unaligned) */
    size_t nbytes;
} sae_npy;
/* Parses a whole .npy image; name is used in messages. */
seer_status sae_npy_parse(const void *buf, size_t len, const char *name, sae_npy *out, seer_err *err);

/* ---- activation sources (sae_data.c) ---- */
/* Sets the seed of the per-buffer shuffles (the trainer's seed). */
void sae_data_set_seed(seer_sae_data *d, uint64_t seed);
/* The next n rows: x [n, d_in] and y [n, d_out] (y is a copy of x for single-hook sources). */
seer_status sae_data_next(seer_sae_data *d, float *x, float *y, int64_t n, seer_err *err);
/* Position: buffer number (-1 before the first) and row within it. */
void sae_data_tell(const seer_sae_data *d, int64_t *buffer, int64_t *row);
seer_status sae_data_seek(seer_sae_data *d, int64_t buffer, int64_t row, seer_err *err);
#endif
