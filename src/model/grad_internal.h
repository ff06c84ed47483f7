/* Internals shared by the gradient engine's files: the trainable model (one flat f32 buffer and
 * its span table), the training context (activations sized once per (B, T)), and the linear
 * layer, GEMM and row helpers the forward and backward both use. */
#ifndef SEER_GRAD_INTERNAL_H
#define SEER_GRAD_INTERNAL_H

#include "seer/grad.h"
#include "seer/ops.h"

/* Span indices (-1: absent) of one block's tensors. */
typedef struct tlayer {
    int32_t attn_norm, attn_norm_b;
    int32_t wq, wk, wv;   /* Llama */
    int32_t wqkv, bqkv;   /* GPT-2 */
    int32_t wo, bo;
    int32_t ffn_norm, ffn_norm_b;
    int32_t w_gate, w_up, b_up, w_down, b_down;
} tlayer;

struct seer_tmodel {
    seer_model_config cfg;
    float *params, *grads; /* n floats each */
    size_t n;
    seer_tspan *spans;
    int32_t *lora_a, *lora_b; /* per span: its adapter's A and B spans (-1: none) */
    int64_t n_spans, cap_spans;
    int32_t tok_embd, pos_embd, out_norm, out_norm_b, output; /* output == tok_embd when tied */
    tlayer *layers;
    int lora_rank;
    float lora_alpha;
    int decay_norms, decay_embd;
};

static inline float *tm_p(const seer_tmodel *tm, int32_t s) { return s < 0 ? NULL : tm->params + tm->spans[s].offset; }
static inline float *tm_g(const seer_tmodel *tm, int32_t s) { return s < 0 ? NULL : tm->grads + tm->spans[s].offset; }
static inline int tm_trains(const seer_tmodel *tm, int32_t s) { return s >= 0 && tm->spans[s].trainable; }

/* Appends a span of count floats (the buffers are not resized here); returns its index or -1
 * on OOM. */
int32_t tmodel_add_span(seer_tmodel *tm, const char *name, int n_dims, int64_t d0, int64_t d1);
/* Resizes params and grads to tm->n floats, keeping contents; new floats are zero. */
seer_status tmodel_grow(seer_tmodel *tm, size_t old_n, seer_err *err);
/* Fills tm->layers and the global indices from the span names. */
seer_status tmodel_resolve(seer_tmodel *tm, seer_err *err);
/* Parses a hook name for this architecture ("blocks.1.hook_resid_post", "hook_embed"). */
seer_status tmodel_hook_parse(const seer_tmodel *tm, const char *name, seer_hook_point *p, int *layer, seer_err *err);

/* ---- training context ---- */

typedef enum tmode {
    TMODE_EVAL = 0, /* loss (and logits) only */
    TMODE_STEP,     /* loss, then parameter gradients */
    TMODE_HOOKS,    /* metric, then hook gradients only */
} tmode;

/* Where a requested hook's activation and gradient go (indexed by layer and point). */
typedef struct thook {
    float *value, *grad;
} thook;

struct seer_tctx {
    seer_tmodel *tm;
    seer_pool *pool;
    int nth;
    int32_t max_b, max_t;
    size_t max_n; /* max_b * max_t rows */
    size_t bytes;
    int lora_rank;    /* the model's adapter rank when the context was made */
    /* Linear layers run on seer_matmul (AVX-512/AVX2 GEMM, about 1.7x OpenBLAS's Haswell kernels
     * here) with operands transposed into scratch; 1 forces the plain OpenBLAS path, kept as the
     * reference the tests compare against. */
    int gemm_blas;
    void *mm_work;            /* seer_matmul workspace */
    float *wt, *dyt, *xt;     /* transposes: a weight (max matrix), dy (max out, n), x (max in, n) */
    seer_arena arena; /* everything below */

    /* activations kept for the backward, per layer l (rows n = B*T, row i = b*T + t) */
    float *x;            /* (L+1, n, d): input of each block, then the final residual */
    float *xmid;         /* (L, n, d): residual after attention */
    float *mean1, *rstd1, *mean2, *rstd2; /* (L, n) norm statistics (mean: LayerNorm only) */
    float *meanf, *rstdf; /* (n) final norm */
    float *q;            /* (L, n, qw): Llama rotated q (qw = d); GPT-2 qkv (qw = 3d) */
    float *k, *v;        /* (L, n, kvd): Llama rotated k, v */
    float *att;          /* (L, B, H, T, T): attention pattern, 0 where masked */
    float *z;            /* (L, n, d) */
    float *hpre;         /* (L, n, h): gate (Llama) / pre-GELU (GPT-2) */
    float *hup;          /* (L, n, h): up projection (Llama) */

    /* scratch (n rows unless said) */
    float *lnb;          /* (n, d) a normed input, recomputed in the backward */
    float *tmpd;         /* (n, d) a block output / dz */
    float *hb;           /* (n, h) MLP post-activation */
    float *dres;         /* (n, d) gradient of the residual stream */
    float *dln;          /* (n, d) gradient of a normed input */
    float *dq, *dk, *dv; /* (n, qw), (n, kvd), (n, kvd); GPT-2 uses dq as dqkv */
    float *dh, *dh2;     /* (n, h) */
    float *lora_t, *lora_u; /* (n, rank) */
    float *logits;       /* (chunk, V) */
    int64_t chunk;       /* classifier rows per pass */
    float *part;         /* (nth, 2d) per-thread partial sums of norm gain/bias gradients */
    float *attd;         /* (nth, T, T) per-thread attention gradient of one head */
    float *row_loss;     /* (n) */
    float *rope_cos, *rope_sin; /* (max_t, d_head / 2) */
    int32_t *pos, *tgt;  /* (n) */
    float *lw;           /* (n) loss weight, already divided by the total */
    uint8_t *real;       /* (n) 1: a real token, 0: padding */

    /* the batch being run */
    int32_t B, T;
    int64_t n;
    const int32_t *tokens;
    tmode mode;
    int pgrad; /* parameter gradients wanted */
    seer_metric metric;
    double wsum;
    thook *hooks; /* [(L + 1) * SEER_HP_COUNT]: [0] global points, [l + 1] layer l */
    int any_hook;
};

static inline thook *tc_hook(seer_tctx *c, seer_hook_point p, int layer) {
    if (!c->any_hook) return NULL;
    thook *h = &c->hooks[(size_t)(layer + 1) * SEER_HP_COUNT + (size_t)p];
    return h->value || h->grad ? h : NULL;
}

/* C [M, N] = op(A)·op(B) + beta·C (row-major, lda/ldb/ldc in floats), split over the pool by
 * columns of C; each thread calls single-threaded OpenBLAS. */
void tc_gemm(seer_tctx *c, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
             const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* The same on the calling thread only, with a scale: C = alpha·op(A)·op(B) + beta·C. */
void tc_gemm_serial(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                    const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* dst [cols, rows] = src [rows, cols]ᵀ, split over the pool. */
void tc_transpose(seer_tctx *c, float *dst, const float *src, int64_t rows, int64_t cols);
/* Runs fn(c, i0, i1, ith, ud) over [0, n) split into contiguous ranges over the pool. */
void tc_for(seer_tctx *c, int64_t n, void (*fn)(seer_tctx *c, int64_t i0, int64_t i1, int ith, void *ud), void *ud);

/* A linear map y [n, out] = x [n, in]·Wᵀ + b (+ (alpha/r)·(x·Aᵀ)·Bᵀ with an adapter). */
typedef struct tlin {
    int32_t w, b; /* span indices (b -1: no bias) */
} tlin;
void tc_lin_fwd(seer_tctx *c, float *y, const float *x, int64_t n, tlin L);
/* dx (= when dx_acc is 0, += otherwise; dx NULL: not wanted) = dy·W (+ adapter part), and,
 * with parameter gradients on, dW += dyᵀ·x, db += Σ dy, dA, dB. */
void tc_lin_bwd(seer_tctx *c, float *dx, int dx_acc, const float *dy, const float *x, int64_t n, tlin L);

/* Copies rows of a hook activation (n rows of width floats, stride apart) into dst [n, width]. */
void tc_copy_rows(float *dst, const float *src, int64_t n, int64_t width, int64_t stride);

/* Forward over the batch already prepared in c (grad_forward.c); then backward (grad_backward.c). */
void tc_forward(seer_tctx *c, float *logits_out, double *metric_out);
void tc_backward(seer_tctx *c);
/* Final/block norms shared by forward and backward: y = norm(x) with c's weights for span
 * indices w, b, also storing mean/rstd when those are non-NULL. */
void tc_norm_rows(seer_tctx *c, float *y, const float *x, int64_t n, int32_t w, int32_t b, float *mean, float *rstd);
/* Rotates interleaved pairs of every head of every row by +angle (dir 1) or -angle (dir -1):
 * the backward of a rotation is the rotation back. */
void tc_rope(seer_tctx *c, float *x, int64_t stride, int n_heads, int dir);
/* hb = silu(gate) * up (Llama) or gelu(pre) (GPT-2) of layer l; the backward recomputes it. */
void tc_mlp_act(seer_tctx *c, int l);
/* Hook copy helpers: when (p, layer) wants a value / gradient, copy n rows of width floats. */
void tc_hook_value(seer_tctx *c, seer_hook_point p, int layer, const float *src, int64_t width, int64_t stride);
void tc_hook_grad(seer_tctx *c, seer_hook_point p, int layer, const float *src, int64_t width, int64_t stride);

#endif
