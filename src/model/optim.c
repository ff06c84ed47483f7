/* AdamW, gradient-norm clipping, gradient scaling and the learning-rate schedule over flat f32
 * spans. Loops are plain and restrict-qualified so the compiler vectorizes them; large updates
 * are split over the pool by element ranges, which cannot change any result. */
#include "seer/optim.h"

#include <assert.h>
#include <math.h>
#include <string.h>

/* Below this many elements in total a step runs on the calling thread: waking the pool costs
 * more than the work. */
#define OPTIM_PAR_MIN 32768
/* The norm is summed in this many fixed chunks of the concatenated gradients, each in double,
 * then the chunks in order: the same sum whatever the thread count. */
#define OPTIM_NORM_CHUNKS 64
/* Squares are first summed in float lanes over blocks this long, then added in double: fast,
 * and the float part never spans enough terms to lose precision that matters. */
#define OPTIM_NORM_BLOCK 256

seer_adamw_cfg seer_adamw_default(void) {
    seer_adamw_cfg c = {0.9, 0.999, 1e-8, 0.01};
    return c;
}

seer_status seer_adamw_check(const seer_adamw_cfg *c, seer_err *err) {
    if (!(c->beta1 >= 0 && c->beta1 < 1))
        return seer_err_set(err, SEER_ERR_INVALID, "adamw: beta1 %g is outside [0, 1)", c->beta1);
    if (!(c->beta2 >= 0 && c->beta2 < 1))
        return seer_err_set(err, SEER_ERR_INVALID, "adamw: beta2 %g is outside [0, 1)", c->beta2);
    if (!(c->eps > 0 && isfinite(c->eps)))
        return seer_err_set(err, SEER_ERR_INVALID, "adamw: eps %g must be positive and finite", c->eps);
    if (!(c->weight_decay >= 0 && isfinite(c->weight_decay)))
        return seer_err_set(err, SEER_ERR_INVALID, "adamw: weight decay %g must be >= 0 and finite",
                            c->weight_decay);
    return SEER_OK;
}

/* ---- splitting spans over threads ---- */

static size_t spans_total(const seer_optim_span *spans, size_t n_spans) {
    size_t total = 0;
    for (size_t i = 0; i < n_spans; i++) total += spans[i].n; /* callers' arrays: cannot overflow */
    return total;
}

typedef void (*span_fn)(const seer_optim_span *s, size_t lo, size_t hi, const void *arg);

typedef struct span_task {
    const seer_optim_span *spans;
    size_t n_spans, total;
    span_fn fn;
    const void *arg;
} span_task;

/* Calls fn on the pieces of spans that fall in the global element range [lo, hi). */
static void span_range(const span_task *t, size_t lo, size_t hi) {
    size_t base = 0;
    for (size_t i = 0; i < t->n_spans && base < hi; i++) {
        const seer_optim_span *s = &t->spans[i];
        size_t a = lo > base ? lo - base : 0, b = hi - base < s->n ? hi - base : s->n;
        if (a < b) t->fn(s, a, b, t->arg);
        base += s->n;
    }
}

static void span_task_run(void *ctx, int ith, int nth) {
    const span_task *t = ctx;
    /* Boundaries on multiples of 64 elements keep each thread's vectors whole. */
    size_t per = (t->total / (size_t)nth + 63) & ~(size_t)63;
    size_t lo = per * (size_t)ith, hi = lo + per;
    if (lo >= t->total) return;
    if (hi > t->total || ith == nth - 1) hi = t->total;
    span_range(t, lo, hi);
}

static void spans_for_each(seer_pool *pool, const seer_optim_span *spans, size_t n_spans, span_fn fn,
                           const void *arg) {
    span_task t = {spans, n_spans, spans_total(spans, n_spans), fn, arg};
    if (t.total >= OPTIM_PAR_MIN && pool) seer_pool_run(pool, span_task_run, &t);
    else span_task_run(&t, 0, 1);
}

/* ---- AdamW ---- */

typedef struct adamw_k {
    float b1, b2, one_b1, one_b2;
    float decay_mul; /* 1 - lr * wd */
    float step_size; /* lr / (1 - beta1^t) */
    float inv_bc2_sqrt; /* 1 / sqrt(1 - beta2^t) */
    float eps;
} adamw_k;

/* gcc's -O2 cost model ("very cheap") leaves this loop scalar; its "cheap" model vectorizes it
 * (4-8x fewer instructions on the one pass over four arrays a step makes). Clang does at -O2. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("vect-cost-model=cheap")))
#endif
static void adamw_range(const seer_optim_span *s, size_t lo, size_t hi, const void *arg) {
    const adamw_k *k = arg;
    float *restrict p = s->param + lo;
    const float *restrict g = s->grad + lo;
    float *restrict m = s->m + lo;
    float *restrict v = s->v + lo;
    size_t n = hi - lo;
    /* Constants in locals: stores through p, m, v could otherwise alias *k and stop the
     * vectorizer. */
    const float dm = s->decay ? k->decay_mul : 1.0f;
    const float b1 = k->b1, b2 = k->b2, ob1 = k->one_b1, ob2 = k->one_b2;
    const float ibc2 = k->inv_bc2_sqrt, eps = k->eps, step = k->step_size;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = b1 * m[i] + ob1 * gi;
        float vi = b2 * v[i] + ob2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * dm - step * (mi / (sqrtf(vi) * ibc2 + eps));
    }
}

seer_status seer_optim_adamw_step(seer_pool *pool, const seer_adamw_cfg *cfg, float lr, int64_t step,
                                  const seer_optim_span *spans, size_t n_spans, seer_err *err) {
    seer_status st = seer_adamw_check(cfg, err);
    if (st != SEER_OK) return st;
    if (step < 1)
        return seer_err_set(err, SEER_ERR_INVALID, "adamw: step %lld must be >= 1 (the 1-based update count)",
                            (long long)step);
    if (!(lr >= 0 && isfinite(lr)))
        return seer_err_set(err, SEER_ERR_INVALID, "adamw: learning rate %g must be >= 0 and finite", (double)lr);
    for (size_t i = 0; i < n_spans; i++) {
        const seer_optim_span *s = &spans[i];
        if (s->n && (!s->param || !s->grad || !s->m || !s->v))
            return seer_err_set(err, SEER_ERR_INVALID, "adamw: span %zu '%s' (%zu elements) lacks a param, grad, m or v array",
                                i, s->name ? s->name : "", s->n);
    }
    /* Bias corrections in double, as torch computes them in Python floats. */
    double bc1 = 1.0 - pow(cfg->beta1, (double)step);
    double bc2 = 1.0 - pow(cfg->beta2, (double)step);
    adamw_k k = {
        .b1 = (float)cfg->beta1,
        .b2 = (float)cfg->beta2,
        .one_b1 = (float)(1.0 - cfg->beta1),
        .one_b2 = (float)(1.0 - cfg->beta2),
        .decay_mul = (float)(1.0 - (double)lr * cfg->weight_decay),
        .step_size = (float)((double)lr / bc1),
        .inv_bc2_sqrt = (float)(1.0 / sqrt(bc2)),
        .eps = (float)cfg->eps,
    };
    /* beta = 0 gives bc = 1; beta near 1 at step 1 still gives bc = 1 - beta > 0. Only a beta
     * so close to 1 that pow rounds to 1 could give 0. */
    if (!(bc1 > 0) || !(bc2 > 0))
        return seer_err_set(err, SEER_ERR_INVALID, "adamw: bias correction vanishes at step %lld (betas %g, %g)",
                            (long long)step, cfg->beta1, cfg->beta2);
    spans_for_each(pool, spans, n_spans, adamw_range, &k);
    return SEER_OK;
}

/* ---- gradient norm, scaling ---- */

static double sumsq(const float *restrict x, size_t n) {
    double total = 0;
    size_t i = 0;
    for (; i + OPTIM_NORM_BLOCK <= n; i += OPTIM_NORM_BLOCK) {
        float acc[16] = {0};
        for (size_t j = 0; j < OPTIM_NORM_BLOCK; j += 16)
            for (size_t l = 0; l < 16; l++) acc[l] += x[i + j + l] * x[i + j + l];
        double b = 0;
        for (size_t l = 0; l < 16; l++) b += acc[l];
        total += b;
    }
    for (; i < n; i++) total += (double)x[i] * x[i];
    return total;
}

typedef struct norm_task {
    const seer_optim_span *spans;
    size_t n_spans, total;
    double part[OPTIM_NORM_CHUNKS];
} norm_task;

static void norm_chunk(const seer_optim_span *s, size_t lo, size_t hi, const void *arg) {
    double *acc = (double *)(uintptr_t)arg; /* span_fn's arg is const for the other users */
    *acc += sumsq(s->grad + lo, hi - lo);
}

static void norm_task_run(void *ctx, int ith, int nth) {
    norm_task *t = ctx;
    for (int c = ith; c < OPTIM_NORM_CHUNKS; c += nth) {
        size_t lo = t->total / OPTIM_NORM_CHUNKS * (size_t)c, hi = t->total / OPTIM_NORM_CHUNKS * (size_t)(c + 1);
        if (c == OPTIM_NORM_CHUNKS - 1) hi = t->total;
        t->part[c] = 0;
        span_task st = {t->spans, t->n_spans, t->total, norm_chunk, &t->part[c]};
        span_range(&st, lo, hi);
    }
}

static void scale_range(const seer_optim_span *s, size_t lo, size_t hi, const void *arg) {
    const float k = *(const float *)arg;
    float *restrict g = s->grad + lo;
    for (size_t i = 0; i < hi - lo; i++) g[i] *= k;
}

seer_status seer_optim_clip_grad_norm(seer_pool *pool, const seer_optim_span *spans, size_t n_spans, float max_norm,
                                      float *norm, seer_err *err) {
    *norm = 0;
    if (!(max_norm >= 0) || isinf(max_norm))
        return seer_err_set(err, SEER_ERR_INVALID, "clip: max norm %g must be >= 0 and finite (0 turns clipping off)",
                            (double)max_norm);
    norm_task t = {.spans = spans, .n_spans = n_spans, .total = spans_total(spans, n_spans)};
    if (t.total >= OPTIM_PAR_MIN && pool) seer_pool_run(pool, norm_task_run, &t);
    else norm_task_run(&t, 0, 1);
    double ss = 0;
    for (int c = 0; c < OPTIM_NORM_CHUNKS; c++) ss += t.part[c];
    double nrm = sqrt(ss);
    *norm = (float)nrm;
    if (!isfinite(nrm)) {
        for (size_t i = 0; i < n_spans; i++)
            for (size_t j = 0; j < spans[i].n; j++)
                if (!isfinite(spans[i].grad[j]))
                    return seer_err_set(err, SEER_ERR_RANGE,
                                        "clip: gradient of '%s' holds %g at element %zu: the gradient norm is not "
                                        "finite (lower the learning rate or check the loss)",
                                        spans[i].name ? spans[i].name : "?", (double)spans[i].grad[j], j);
        return seer_err_set(err, SEER_ERR_RANGE, "clip: gradient norm overflows (%g)", nrm);
    }
    if (max_norm > 0 && nrm > max_norm) {
        float k = (float)((double)max_norm / (nrm + 1e-6));
        spans_for_each(pool, spans, n_spans, scale_range, &k);
    }
    return SEER_OK;
}

void seer_optim_scale_grads(seer_pool *pool, const seer_optim_span *spans, size_t n_spans, float s) {
    if (s == 1.0f) return;
    spans_for_each(pool, spans, n_spans, scale_range, &s);
}

void seer_optim_zero_grads(const seer_optim_span *spans, size_t n_spans) {
    for (size_t i = 0; i < n_spans; i++)
        if (spans[i].n) memset(spans[i].grad, 0, spans[i].n * sizeof(float));
}

/* ---- schedule ---- */

static const char *const lr_kind_names[] = {"constant", "cosine"};
static_assert(SEER_LR_COUNT == sizeof(lr_kind_names) / sizeof(lr_kind_names[0]), "lr_kind_names");

const char *seer_lr_kind_name(seer_lr_kind k) {
    return (unsigned)k < SEER_LR_COUNT ? lr_kind_names[k] : "?";
}

int seer_lr_kind_from_name(const char *name, seer_lr_kind *out) {
    for (int i = 0; i < SEER_LR_COUNT; i++)
        if (!strcmp(name, lr_kind_names[i])) {
            *out = (seer_lr_kind)i;
            return 0;
        }
    return -1;
}

seer_status seer_lr_check(const seer_lr_sched *s, seer_err *err) {
    if ((unsigned)s->kind >= SEER_LR_COUNT)
        return seer_err_set(err, SEER_ERR_INVALID, "lr schedule: unknown kind %d", (int)s->kind);
    if (!(s->lr_max >= 0 && isfinite(s->lr_max)))
        return seer_err_set(err, SEER_ERR_INVALID, "lr schedule: learning rate %g must be >= 0 and finite",
                            (double)s->lr_max);
    if (s->warmup_steps < 0)
        return seer_err_set(err, SEER_ERR_INVALID, "lr schedule: warmup steps %lld must be >= 0",
                            (long long)s->warmup_steps);
    if (s->kind == SEER_LR_COSINE) {
        if (!(s->lr_min >= 0 && s->lr_min <= s->lr_max))
            return seer_err_set(err, SEER_ERR_INVALID, "lr schedule: min learning rate %g must be in [0, %g]",
                                (double)s->lr_min, (double)s->lr_max);
        if (s->total_steps <= s->warmup_steps)
            return seer_err_set(err, SEER_ERR_INVALID,
                                "lr schedule: cosine needs total steps (%lld) above the warmup steps (%lld)",
                                (long long)s->total_steps, (long long)s->warmup_steps);
    }
    return SEER_OK;
}

float seer_optim_lr_at(const seer_lr_sched *s, int64_t step) {
    if (step < 0) step = 0;
    if (step < s->warmup_steps) return (float)((double)s->lr_max * (double)(step + 1) / (double)s->warmup_steps);
    if (s->kind != SEER_LR_COSINE) return s->lr_max;
    double p = (double)(step - s->warmup_steps) / (double)(s->total_steps - s->warmup_steps);
    if (p > 1) p = 1;
    const double pi = 3.14159265358979323846;
    return (float)((double)s->lr_min + ((double)s->lr_max - (double)s->lr_min) * 0.5 * (1.0 + cos(pi * p)));
}
