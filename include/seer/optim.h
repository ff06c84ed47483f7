/* Optimizer pieces for training on flat f32 arrays: AdamW, global gradient-norm clipping, the
 * learning-rate schedule and gradient-accumulation helpers.
 *
 * How the pieces fit: a model's trainable tensors are listed as spans (param, grad, Adam m and
 * v, each n floats, plus whether weight decay applies: matrices yes, norms and biases usually
 * no). One training step is
 *
 *     seer_optim_zero_grads(spans, n);                 // before the first micro-batch
 *     for k in 0..n_accum: forward + backward (grads +=)
 *     seer_optim_scale_grads(pool, spans, n, 1.0f / n_accum);
 *     seer_optim_clip_grad_norm(pool, spans, n, 1.0f, &norm, &err);
 *     lr = seer_optim_lr_at(&sched, step);            // step counts updates done, from 0
 *     seer_optim_adamw_step(pool, &cfg, lr, step + 1, spans, n, &err);
 *
 * The parameters are the fp32 master weights. Every result is independent of the thread count
 * (the norm is summed in fixed chunks in a fixed order), so a resumed run reproduces an
 * uninterrupted one bit for bit. */
#ifndef SEER_OPTIM_H
#define SEER_OPTIM_H

#include "seer/core.h"
#include "seer/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One trainable tensor seen as n contiguous floats. m and v start at zero; they are the
 * optimizer state a checkpoint saves. */
typedef struct seer_optim_span {
    const char *name; /* for messages; may be NULL */
    float *param;     /* n: fp32 master weights */
    float *grad;      /* n */
    float *m;         /* n: first moment (may be NULL for clip/scale/zero only) */
    float *v;         /* n: second moment */
    size_t n;
    int decay; /* apply weight decay to this span */
} seer_optim_span;

/* Hyperparameters, named as torch.optim.AdamW names them. Doubles, as Python floats are: the
 * factors the f32 loop uses (1 - beta2, ...) are rounded once from the exact values. */
typedef struct seer_adamw_cfg {
    double beta1;        /* 0.9 */
    double beta2;        /* 0.999 (0.95 is common for language models) */
    double eps;          /* 1e-8 */
    double weight_decay; /* 0.01; decoupled: p -= lr * wd * p, before the Adam update */
} seer_adamw_cfg;

/* torch.optim.AdamW's defaults: betas (0.9, 0.999), eps 1e-8, weight_decay 0.01. */
seer_adamw_cfg seer_adamw_default(void);
/* Checks betas in [0, 1), eps > 0 and finite, weight_decay >= 0 and finite. */
seer_status seer_adamw_check(const seer_adamw_cfg *cfg, seer_err *err);

/* One AdamW update of every span at learning rate lr; step is the 1-based update count t used
 * for bias correction (1 - beta^t). For each element, as torch.optim.AdamW computes it:
 *     p *= 1 - lr * wd                       (spans with decay only)
 *     m  = beta1 * m + (1 - beta1) * g
 *     v  = beta2 * v + (1 - beta2) * g^2
 *     p -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * Spans above a few thousand elements in total are split over the pool (p may be NULL). */
seer_status seer_optim_adamw_step(seer_pool *pool, const seer_adamw_cfg *cfg, float lr, int64_t step,
                                  const seer_optim_span *spans, size_t n_spans, seer_err *err);

/* The global L2 norm of all gradients, written to *norm. When max_norm > 0 and the norm exceeds
 * it, every gradient is scaled by max_norm / (norm + 1e-6), as torch.nn.utils.clip_grad_norm_.
 * A non-finite norm is an error naming the first span holding a non-finite gradient (grads are
 * left unchanged), so a diverging run stops instead of writing NaN into the weights. */
seer_status seer_optim_clip_grad_norm(seer_pool *pool, const seer_optim_span *spans, size_t n_spans, float max_norm,
                                      float *norm, seer_err *err);

/* grads *= s (1 / n_accum after accumulating n_accum micro-batches). */
void seer_optim_scale_grads(seer_pool *pool, const seer_optim_span *spans, size_t n_spans, float s);
/* grads = 0. */
void seer_optim_zero_grads(const seer_optim_span *spans, size_t n_spans);

/* ---- learning-rate schedule ---- */

typedef enum seer_lr_kind {
    SEER_LR_CONSTANT = 0, /* warmup, then lr_max */
    SEER_LR_COSINE,       /* warmup, then cosine from lr_max down to lr_min at total_steps */
    SEER_LR_COUNT
} seer_lr_kind;

typedef struct seer_lr_sched {
    seer_lr_kind kind;
    float lr_max;
    float lr_min;          /* cosine only */
    int64_t warmup_steps;  /* 0 for none */
    int64_t total_steps;   /* cosine only: the step at which lr reaches lr_min */
} seer_lr_sched;

const char *seer_lr_kind_name(seer_lr_kind k); /* "constant", "cosine" */
int seer_lr_kind_from_name(const char *name, seer_lr_kind *out); /* 0 ok, -1 unknown */
/* Checks rates finite with 0 <= lr_min <= lr_max, warmup >= 0, and for cosine
 * total_steps > warmup_steps. */
seer_status seer_lr_check(const seer_lr_sched *s, seer_err *err);
/* The rate for update number step (0-based: the number of updates done before this one).
 * Warmup is linear and reaches lr_max at its last step: lr_max * (step + 1) / warmup_steps.
 * Cosine: lr_min + (lr_max - lr_min) * (1 + cos(pi * p)) / 2 with
 * p = (step - warmup) / (total - warmup) clamped to [0, 1]. Computed in double. */
float seer_optim_lr_at(const seer_lr_sched *s, int64_t step);

#ifdef __cplusplus
}
#endif
#endif
