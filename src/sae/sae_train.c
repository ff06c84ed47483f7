/* Training: Adam over the SAE's parameters in normalised activation space, unit-norm decoder
 * rows (the gradient's component along each row removed before the step, rows renormalised
 * after), b_dec's starting point, dead-latent tracking for AuxK, BatchTopK's inference
 * threshold estimated from the batches, and the state file that makes a resumed run identical
 * to an uninterrupted one. The encoder is trained as W_encT [d_sae, d_in] (rows per latent,
 * as its gradient is accumulated and as the GEMM reads it) and transposed at export. */
#include "sae_internal.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seer/safetensors.h"

enum { P_W_ENC = 0, P_B_ENC, P_W_DEC, P_B_DEC, P_LOG_TH, P_W_SKIP, P_COUNT };
static const char *const param_names[P_COUNT] = {"W_encT", "b_enc", "W_dec", "b_dec", "log_threshold", "W_skip"};
#define SAE_STATE_VERSION "2" /* 2: encoder stored as W_encT */

static const char *const bdec_names[] = {"median", "mean", "zero"};
static_assert(sizeof(bdec_names) / sizeof(bdec_names[0]) == SEER_SAE_BDEC_COUNT, "b_dec init name table");

const char *seer_sae_bdec_init_name(seer_sae_bdec_init b) { return (unsigned)b < SEER_SAE_BDEC_COUNT ? bdec_names[b] : "?"; }

int seer_sae_bdec_init_from_name(const char *name, seer_sae_bdec_init *out) {
    for (int i = 0; i < SEER_SAE_BDEC_COUNT; i++)
        if (!strcmp(name, bdec_names[i])) {
            *out = (seer_sae_bdec_init)i;
            return 0;
        }
    return -1;
}

struct seer_sae_trainer {
    seer_sae_config cfg;
    seer_sae_train_params p;
    seer_sae *sae; /* weights in normalised space (W_enc unused); threshold = exp(log_threshold) */
    float *encT;   /* [d_sae, d_in] */
    float *log_th;
    seer_pool *pool;
    float *param[P_COUNT], *grad[P_COUNT], *m[P_COUNT], *v[P_COUNT];
    int64_t size[P_COUNT];
    sae_grads g;
    sae_work w;
    float *xb, *yb;
    int64_t step, n_steps, tokens;
    seer_rng rng;
    int64_t *since_fired; /* tokens since each latent last fired */
    uint8_t *dead;
    uint8_t *fired;
    float scale_in, scale_out;
    float bt_threshold; /* BatchTopK: running mean of each batch's smallest kept activation */
    double lr;
    seer_sae_data *data;
};

seer_sae_train_params seer_sae_train_default_params(void) {
    seer_sae_train_params p = {0};
    p.batch = 4096;
    p.tokens = 1 << 24;
    p.lr = 2e-4;
    p.lr_scale = 1;
    p.beta1 = 0.9, p.beta2 = 0.999, p.eps = 1e-8;
    p.seed = 1;
    p.normalize_decoder = -1; /* decided by architecture */
    p.normalize_input = 1;
    p.l1_coeff = 5.0;
    p.l0_coeff = 1e-3;
    p.jump_bandwidth = 1e-3;
    p.jump_init_threshold = 1e-3;
    p.auxk_coeff = 1.0 / 32;
    p.auxk = 0;
    p.dead_tokens = 0;
    p.b_dec_init = SEER_SAE_BDEC_MEDIAN;
    p.n_threads = 0;
    return p;
}

void seer_sae_trainer_free(seer_sae_trainer *t) {
    if (!t) return;
    seer_sae_free(t->sae);
    for (int i = 0; i < P_COUNT; i++) free(t->grad[i]), free(t->m[i]), free(t->v[i]);
    free(t->log_th), free(t->encT), free(t->xb), free(t->yb), free(t->since_fired), free(t->dead), free(t->fired);
    sae_work_free(&t->w);
    seer_pool_free(t->pool);
    free(t);
}

/* Everything but the weights' values: buffers, parameter table, derived settings. */
static seer_status trainer_alloc(const seer_sae_config *c, const seer_sae_train_params *p, seer_sae_data *data,
                                 seer_sae_trainer **out, seer_err *err) {
    *out = NULL;
    seer_status st = seer_sae_config_check(c, err);
    if (st) return st;
    if (data && (seer_sae_data_d_in(data) != c->d_in || seer_sae_data_d_out(data) != c->d_out))
        return seer_err_set(err, SEER_ERR_INVALID, "sae: activations are [.., %lld] -> [.., %lld] but the SAE expects d_in %lld, d_out %lld",
                            (long long)seer_sae_data_d_in(data), (long long)seer_sae_data_d_out(data), (long long)c->d_in,
                            (long long)c->d_out);
    if (p->batch < 1 || p->batch > (1 << 20))
        return seer_err_set(err, SEER_ERR_RANGE, "sae: batch %lld outside [1, %d]", (long long)p->batch, 1 << 20);
    if (p->tokens < p->batch)
        return seer_err_set(err, SEER_ERR_RANGE, "sae: %lld training tokens is less than one batch of %lld", (long long)p->tokens,
                            (long long)p->batch);
    if (!(p->lr > 0) || !(p->beta1 >= 0 && p->beta1 < 1) || !(p->beta2 >= 0 && p->beta2 < 1))
        return seer_err_set(err, SEER_ERR_RANGE, "sae: learning rate %g or betas (%g, %g) out of range", p->lr, p->beta1, p->beta2);
    if (c->arch == SEER_SAE_BATCHTOPK && (int64_t)c->k * p->batch > (int64_t)1 << 31)
        return seer_err_set(err, SEER_ERR_RANGE, "sae: k %d x batch %lld too large", c->k, (long long)p->batch);
    seer_sae_trainer *t = calloc(1, sizeof(*t));
    if (!t) return seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory");
    t->cfg = *c;
    t->p = *p;
    if (t->p.normalize_decoder < 0) t->p.normalize_decoder = c->arch != SEER_SAE_RELU;
    if (t->p.auxk <= 0) t->p.auxk = (int32_t)(c->d_in / 2 > 0 ? c->d_in / 2 : 1);
    if (t->p.auxk > c->d_sae) t->p.auxk = (int32_t)c->d_sae;
    if (t->p.dead_tokens <= 0) {
        int64_t d = t->p.tokens / 10;
        t->p.dead_tokens = d < 10000000 ? (d > t->p.batch ? d : t->p.batch) : 10000000;
    }
    t->n_steps = t->p.tokens / t->p.batch;
    t->lr = t->p.lr * (t->p.lr_scale ? 1.0 / sqrt((double)c->d_sae / 16384.0) : 1.0);
    t->data = data;
    if ((unsigned)t->p.b_dec_init >= SEER_SAE_BDEC_COUNT) {
        st = seer_err_set(err, SEER_ERR_INVALID, "sae: b_dec init %d unknown", (int)t->p.b_dec_init);
        goto fail;
    }
    if ((st = seer_sae_init(c, &t->sae, err)) || (st = seer_pool_init(p->n_threads, &t->pool, err))) goto fail;
    free(t->sae->W_enc);
    t->sae->W_enc = NULL;
    t->size[P_W_ENC] = c->d_in * c->d_sae, t->size[P_B_ENC] = c->d_sae, t->size[P_W_DEC] = c->d_sae * c->d_out;
    t->size[P_B_DEC] = c->d_out;
    t->size[P_LOG_TH] = c->arch == SEER_SAE_JUMPRELU ? c->d_sae : 0;
    t->size[P_W_SKIP] = c->skip ? c->d_out * c->d_in : 0;
    t->encT = calloc((size_t)(c->d_sae * c->d_in), sizeof(float));
    t->param[P_W_ENC] = t->encT, t->param[P_B_ENC] = t->sae->b_enc, t->param[P_W_DEC] = t->sae->W_dec;
    t->param[P_B_DEC] = t->sae->b_dec, t->param[P_W_SKIP] = t->sae->W_skip;
    int ok = t->encT != NULL;
    if (t->size[P_LOG_TH]) ok = ok && (t->param[P_LOG_TH] = t->log_th = calloc((size_t)c->d_sae, sizeof(float)));
    for (int i = 0; i < P_COUNT && ok; i++) {
        if (!t->size[i]) continue;
        t->grad[i] = calloc((size_t)t->size[i], sizeof(float));
        t->m[i] = calloc((size_t)t->size[i], sizeof(float));
        t->v[i] = calloc((size_t)t->size[i], sizeof(float));
        ok = t->grad[i] && t->m[i] && t->v[i];
    }
    ok = ok && (t->xb = malloc((size_t)(p->batch * c->d_in) * sizeof(float)));
    ok = ok && (t->yb = malloc((size_t)(p->batch * c->d_out) * sizeof(float)));
    ok = ok && (t->since_fired = calloc((size_t)c->d_sae, sizeof(int64_t)));
    ok = ok && (t->dead = calloc((size_t)c->d_sae, 1)) && (t->fired = calloc((size_t)c->d_sae, 1));
    if (!ok) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory for training state");
        goto fail;
    }
    t->g.W_encT = t->grad[P_W_ENC], t->g.b_enc = t->grad[P_B_ENC], t->g.W_dec = t->grad[P_W_DEC];
    t->g.b_dec = t->grad[P_B_DEC], t->g.log_threshold = t->grad[P_LOG_TH], t->g.W_skip = t->grad[P_W_SKIP];
    if ((st = sae_work_init(&t->w, c, p->batch, t->p.auxk, t->pool, err))) goto fail;
    t->w.encT = t->encT;
    t->scale_in = t->scale_out = 1;
    *out = t;
    return SEER_OK;
fail:
    seer_sae_trainer_free(t);
    return st;
}

static void normalize_rows(float *w, int64_t rows, int64_t cols) {
    for (int64_t j = 0; j < rows; j++) {
        float *r = w + j * cols;
        double n = sqrt((double)seer_vec_dot_f32(r, r, cols));
        if (n > 0) seer_vec_scale_f32(r, (float)(1.0 / n), cols);
    }
}

seer_status seer_sae_trainer_init(const seer_sae_config *c, const seer_sae_train_params *p, seer_sae_data *data,
                                  seer_sae_trainer **out, seer_err *err) {
    seer_sae_trainer *t;
    seer_status st = trainer_alloc(c, p, data, &t, err);
    if (st) return st;
    sae_data_set_seed(data, t->p.seed);
    seer_rng_seed(&t->rng, t->p.seed);
    int64_t di = c->d_in, dl = c->d_sae, dout = c->d_out;
    /* Decoder rows: random directions of unit norm; encoder: the decoder's transpose when the
     * shapes allow (an SAE), independent random unit columns otherwise. */
    for (int64_t i = 0; i < dl * dout; i++) t->sae->W_dec[i] = seer_rng_normal(&t->rng);
    normalize_rows(t->sae->W_dec, dl, dout);
    if (di == dout) memcpy(t->encT, t->sae->W_dec, (size_t)(dl * di) * sizeof(float)); /* W_encT = W_dec */
    else
        for (int64_t i = 0; i < di * dl; i++) t->encT[i] = seer_rng_normal(&t->rng) / sqrtf((float)di);
    if (t->log_th)
        for (int64_t j = 0; j < dl; j++) {
            t->log_th[j] = (float)log(t->p.jump_init_threshold);
            t->sae->threshold[j] = expf(t->log_th[j]);
        }
    /* Input scale and b_dec from the first rows; the data is rewound afterwards. The median
     * comes from the first of the four samples, unscaled (it scales with the data). */
    int64_t ns = t->p.batch < 65536 ? t->p.batch : 65536, got = 0;
    double sq_in = 0, sq_out = 0;
    double *mean = calloc((size_t)dout, sizeof(*mean));
    float *median = calloc((size_t)dout, sizeof(*median));
    if (!mean || !median) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory");
        goto fail_mean;
    }
    for (int rep = 0; rep < 4; rep++, got += ns) {
        if ((st = sae_data_next(data, t->xb, t->yb, ns, err))) goto fail_mean;
        if (rep == 0 && t->p.b_dec_init == SEER_SAE_BDEC_MEDIAN &&
            (st = seer_sae_geometric_median(t->yb, ns, dout, 100, 1e-5, median, err)))
            goto fail_mean;
        for (int64_t b = 0; b < ns; b++) {
            sq_in += seer_vec_dot_f32(t->xb + b * di, t->xb + b * di, di);
            sq_out += seer_vec_dot_f32(t->yb + b * dout, t->yb + b * dout, dout);
            for (int64_t i = 0; i < dout; i++) mean[i] += t->yb[b * dout + i];
        }
    }
    if (t->p.normalize_input) {
        if (!(sq_in > 0) || !(sq_out > 0)) {
            st = seer_err_set(err, SEER_ERR_INVALID, "sae: the activations are all zero: cannot normalise them");
            goto fail_mean;
        }
        t->scale_in = (float)sqrt((double)di / (sq_in / (double)got));
        t->scale_out = c->d_in == c->d_out && !strcmp(c->hook_in, c->hook_out) ? t->scale_in
                                                                               : (float)sqrt((double)dout / (sq_out / (double)got));
    }
    for (int64_t i = 0; i < dout; i++)
        t->sae->b_dec[i] = t->p.b_dec_init == SEER_SAE_BDEC_MEDIAN ? median[i] * t->scale_out
                           : t->p.b_dec_init == SEER_SAE_BDEC_MEAN ? (float)(mean[i] / (double)got) * t->scale_out
                                                                   : 0.0f;
    free(mean), free(median);
    if ((st = sae_data_seek(data, -1, 0, err))) goto fail;
    *out = t;
    return SEER_OK;
fail_mean:
    free(mean), free(median);
fail:
    seer_sae_trainer_free(t);
    return st;
}

/* Adam over w[lo, hi) (moments m, v; bias correction folded into a and epsh). */
static void adam_span(float *w, const float *g, float *m, float *v, int64_t lo, int64_t hi, float a, float epsh, float b1,
                      float b2) {
    for (int64_t q = lo; q < hi; q++) {
        m[q] = b1 * m[q] + (1 - b1) * g[q];
        v[q] = b2 * v[q] + (1 - b2) * g[q] * g[q];
        w[q] -= a * m[q] / (sqrtf(v[q]) + epsh);
    }
}

typedef struct adam_task {
    seer_sae_trainer *t;
    float a, epsh, b1, b2;
} adam_task;

/* Every parameter split evenly over the threads; decoder rows whole, so that each row's
 * radial gradient is removed before its step and the row is renormalised after it (the
 * removal must precede the optimizer: after it, it would do nothing). Elementwise or per row,
 * so the result does not depend on the split. */
static void adam_run(void *ctx, int ith, int nth) {
    adam_task *at = ctx;
    seer_sae_trainer *t = at->t;
    int64_t dout = t->cfg.d_out, lo, hi;
    for (int i = 0; i < P_COUNT; i++) {
        if (!t->size[i]) continue;
        float *w = t->param[i], *g = t->grad[i], *m = t->m[i], *v = t->v[i];
        if (i != P_W_DEC || !t->p.normalize_decoder) {
            sae_split(t->size[i], ith, nth, &lo, &hi);
            adam_span(w, g, m, v, lo, hi, at->a, at->epsh, at->b1, at->b2);
            continue;
        }
        sae_split(t->cfg.d_sae, ith, nth, &lo, &hi);
        for (int64_t j = lo; j < hi; j++) {
            float *gr = g + j * dout, *wr = w + j * dout;
            seer_vec_axpy_f32(gr, -seer_vec_dot_f32(gr, wr, dout), wr, dout);
            adam_span(wr, gr, m + j * dout, v + j * dout, 0, dout, at->a, at->epsh, at->b1, at->b2);
            double n = sqrt((double)seer_vec_dot_f32(wr, wr, dout));
            if (n > 0) seer_vec_scale_f32(wr, (float)(1.0 / n), dout);
        }
    }
}

int64_t seer_sae_trainer_steps_total(const seer_sae_trainer *t) { return t->n_steps; }
int64_t seer_sae_trainer_step_index(const seer_sae_trainer *t) { return t->step; }

seer_status seer_sae_trainer_step(seer_sae_trainer *t, seer_sae_stats *stats, seer_err *err) {
    const seer_sae_config *c = &t->cfg;
    int64_t B = t->p.batch, di = c->d_in, dl = c->d_sae, dout = c->d_out;
    seer_status st = sae_data_next(t->data, t->xb, t->yb, B, err);
    if (st) return st;
    if (t->scale_in != 1) seer_vec_scale_f32(t->xb, t->scale_in, B * di);
    if (t->scale_out != 1) seer_vec_scale_f32(t->yb, t->scale_out, B * dout);
    for (int64_t j = 0; j < dl; j++) t->dead[j] = t->since_fired[j] >= t->p.dead_tokens;
    sae_loss_params lp = {.l1_coeff = t->p.l1_coeff, .l0_coeff = t->p.l0_coeff, .bandwidth = t->p.jump_bandwidth,
                          .auxk_coeff = t->p.auxk_coeff, .auxk = t->p.auxk, .dead = t->dead};
    sae_loss L;
    if ((st = sae_loss_backward(t->sae, &t->w, t->xb, t->yb, B, &lp, &t->g, &L, err))) return st;

    /* Dead-latent bookkeeping. */
    memset(t->fired, 0, (size_t)dl);
    for (int64_t b = 0; b < B; b++)
        for (int32_t e = 0; e < t->w.codes.n[b]; e++) t->fired[t->w.codes.idx[b * t->w.codes.stride + e]] = 1;
    int64_t n_dead = 0;
    for (int64_t j = 0; j < dl; j++) {
        t->since_fired[j] = t->fired[j] ? 0 : t->since_fired[j] + B;
        n_dead += t->since_fired[j] >= t->p.dead_tokens;
    }

    /* Adam with bias correction. */
    t->step++;
    double b1 = t->p.beta1, b2 = t->p.beta2;
    double c1 = 1.0 - pow(b1, (double)t->step), c2 = 1.0 - pow(b2, (double)t->step);
    adam_task at = {.t = t, .a = (float)(t->lr * sqrt(c2) / c1), .epsh = (float)(t->p.eps * sqrt(c2)), .b1 = (float)b1,
                    .b2 = (float)b2};
    seer_pool_run(t->pool, adam_run, &at);
    if (t->log_th)
        for (int64_t j = 0; j < dl; j++) t->sae->threshold[j] = expf(t->log_th[j]);
    if (c->arch == SEER_SAE_BATCHTOPK && L.batch_min > 0)
        t->bt_threshold = t->step == 1 ? L.batch_min : t->bt_threshold + (L.batch_min - t->bt_threshold) / (float)t->step;
    t->tokens += B;
    if (stats) {
        stats->step = t->step, stats->tokens = t->tokens;
        stats->loss = L.loss, stats->mse = L.mse, stats->fvu = L.fvu, stats->l0 = L.l0, stats->aux = L.aux;
        stats->dead_frac = (double)n_dead / (double)dl;
    }
    return SEER_OK;
}

seer_status seer_sae_trainer_export(const seer_sae_trainer *t, seer_sae **out, seer_err *err) {
    const seer_sae_config *c = &t->cfg;
    seer_status st = seer_sae_init(c, out, err);
    if (st) return st;
    seer_sae *s = *out;
    int64_t di = c->d_in, dl = c->d_sae, dout = c->d_out;
    /* Fold the normalisation in: pre = (x·s_in - b) W + b_enc = (x - b/s_in)(s_in W) + b_enc. */
    float si = t->scale_in, so = t->scale_out;
    for (int64_t j = 0; j < dl; j++)
        for (int64_t i = 0; i < di; i++) s->W_enc[i * dl + j] = t->encT[j * di + i] * si;
    memcpy(s->b_enc, t->sae->b_enc, (size_t)dl * sizeof(float));
    for (int64_t i = 0; i < dl * dout; i++) s->W_dec[i] = t->sae->W_dec[i] / so;
    for (int64_t i = 0; i < dout; i++) s->b_dec[i] = t->sae->b_dec[i] / so;
    if (c->skip)
        for (int64_t i = 0; i < dout * di; i++) s->W_skip[i] = t->sae->W_skip[i] * si / so;
    if (c->arch == SEER_SAE_JUMPRELU) memcpy(s->threshold, t->sae->threshold, (size_t)dl * sizeof(float));
    if (c->arch == SEER_SAE_BATCHTOPK)
        for (int64_t j = 0; j < dl; j++) s->threshold[j] = t->bt_threshold;
    return SEER_OK;
}

/* ---- state file ---- */

static void meta_u64(seer_st_writer *w, const char *key, uint64_t v) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
    seer_st_writer_set_metadata(w, key, buf);
}

static void meta_f32(seer_st_writer *w, const char *key, float v) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    meta_u64(w, key, bits);
}

static void meta_f64(seer_st_writer *w, const char *key, double v) {
    char buf[48];
    snprintf(buf, sizeof(buf), "%a", v); /* hexadecimal: exact */
    seer_st_writer_set_metadata(w, key, buf);
}

seer_status seer_sae_trainer_save_state(const seer_sae_trainer *t, const char *path, seer_err *err) {
    seer_st_writer *w = seer_st_writer_init();
    if (!w) return seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory");
    const seer_sae_config *c = &t->cfg;
    const seer_sae_train_params *p = &t->p;
    seer_st_writer_set_metadata(w, "seer_sae_state", SAE_STATE_VERSION);
    seer_st_writer_set_metadata(w, "arch", seer_sae_arch_name(c->arch));
    meta_u64(w, "d_in", (uint64_t)c->d_in), meta_u64(w, "d_sae", (uint64_t)c->d_sae), meta_u64(w, "d_out", (uint64_t)c->d_out);
    meta_u64(w, "k", (uint64_t)c->k), meta_u64(w, "skip", (uint64_t)c->skip);
    meta_u64(w, "apply_b_dec_to_input", (uint64_t)c->apply_b_dec_to_input);
    seer_st_writer_set_metadata(w, "hook_in", c->hook_in);
    seer_st_writer_set_metadata(w, "hook_out", c->hook_out);
    seer_st_writer_set_metadata(w, "model_name", c->model_name);
    meta_u64(w, "batch", (uint64_t)p->batch), meta_u64(w, "tokens", (uint64_t)p->tokens);
    meta_f64(w, "lr", p->lr), meta_u64(w, "lr_scale", (uint64_t)p->lr_scale);
    meta_f64(w, "beta1", p->beta1), meta_f64(w, "beta2", p->beta2), meta_f64(w, "eps", p->eps);
    meta_u64(w, "seed", p->seed), meta_u64(w, "normalize_decoder", (uint64_t)p->normalize_decoder);
    meta_u64(w, "normalize_input", (uint64_t)p->normalize_input);
    meta_f64(w, "l1_coeff", p->l1_coeff), meta_f64(w, "l0_coeff", p->l0_coeff);
    meta_f64(w, "jump_bandwidth", p->jump_bandwidth), meta_f64(w, "jump_init_threshold", p->jump_init_threshold);
    meta_f64(w, "auxk_coeff", p->auxk_coeff), meta_u64(w, "auxk", (uint64_t)p->auxk);
    meta_u64(w, "dead_tokens", (uint64_t)p->dead_tokens), meta_u64(w, "b_dec_init", (uint64_t)p->b_dec_init);
    meta_u64(w, "step", (uint64_t)t->step), meta_u64(w, "tokens_seen", (uint64_t)t->tokens);
    for (int i = 0; i < 4; i++) {
        char key[16];
        snprintf(key, sizeof(key), "rng%d", i);
        meta_u64(w, key, t->rng.s[i]);
    }
    int64_t buf, row;
    sae_data_tell(t->data, &buf, &row);
    meta_u64(w, "data_buffer", (uint64_t)(buf + 1)), meta_u64(w, "data_row", (uint64_t)row);
    meta_f32(w, "scale_in", t->scale_in), meta_f32(w, "scale_out", t->scale_out);
    meta_f32(w, "bt_threshold", t->bt_threshold);
    char name[64];
    for (int i = 0; i < P_COUNT; i++) {
        if (!t->size[i]) continue;
        int64_t shape[1] = {t->size[i]};
        seer_st_writer_add(w, param_names[i], SEER_DTYPE_F32, 1, shape, t->param[i]);
        snprintf(name, sizeof(name), "adam_m.%s", param_names[i]);
        seer_st_writer_add(w, name, SEER_DTYPE_F32, 1, shape, t->m[i]);
        snprintf(name, sizeof(name), "adam_v.%s", param_names[i]);
        seer_st_writer_add(w, name, SEER_DTYPE_F32, 1, shape, t->v[i]);
    }
    int64_t shape[1] = {c->d_sae};
    seer_st_writer_add(w, "since_fired", SEER_DTYPE_I64, 1, shape, t->since_fired);
    seer_status st = seer_st_writer_write(w, path, err);
    seer_st_writer_free(w);
    return st;
}

static seer_status get_u64(const seer_st *s, const char *path, const char *key, uint64_t *out, seer_err *err) {
    const char *v = seer_st_metadata(s, key);
    char *end;
    if (!v || !*v) return seer_err_set(err, SEER_ERR_FORMAT, "sae: state %s: metadata '%s' missing", path, key);
    *out = strtoull(v, &end, 10);
    if (*end) return seer_err_set(err, SEER_ERR_FORMAT, "sae: state %s: metadata '%s' = '%s' is not an integer", path, key, v);
    return SEER_OK;
}

static seer_status get_f64(const seer_st *s, const char *path, const char *key, double *out, seer_err *err) {
    const char *v = seer_st_metadata(s, key);
    char *end;
    if (!v || !*v) return seer_err_set(err, SEER_ERR_FORMAT, "sae: state %s: metadata '%s' missing", path, key);
    *out = strtod(v, &end);
    if (*end) return seer_err_set(err, SEER_ERR_FORMAT, "sae: state %s: metadata '%s' = '%s' is not a number", path, key, v);
    return SEER_OK;
}

static seer_status get_f32(const seer_st *s, const char *path, const char *key, float *out, seer_err *err) {
    uint64_t bits = 0;
    seer_status st = get_u64(s, path, key, &bits, err);
    if (st) return st;
    uint32_t b = (uint32_t)bits;
    memcpy(out, &b, 4);
    return SEER_OK;
}

static seer_status get_str(const seer_st *s, const char *path, const char *key, char *out, size_t cap, seer_err *err) {
    const char *v = seer_st_metadata(s, key);
    if (!v) return seer_err_set(err, SEER_ERR_FORMAT, "sae: state %s: metadata '%s' missing", path, key);
    if (strlen(v) >= cap) return seer_err_set(err, SEER_ERR_FORMAT, "sae: state %s: '%s' too long", path, key);
    memcpy(out, v, strlen(v) + 1); /* fits: checked above */
    return SEER_OK;
}

static seer_status get_tensor(const seer_st *s, const char *path, const char *name, seer_dtype type, int64_t n, void *dst,
                              seer_err *err) {
    const seer_tensor *x = seer_st_find(s, name);
    if (!x) return seer_err_set(err, SEER_ERR_FORMAT, "sae: state %s: tensor '%s' missing", path, name);
    if (x->type != type || seer_tensor_nelem(x) != n)
        return seer_err_set(err, SEER_ERR_FORMAT, "sae: state %s: tensor '%s' is %s with %lld elements, expected %s with %lld",
                            path, name, seer_dtype_name(x->type), (long long)seer_tensor_nelem(x), seer_dtype_name(type),
                            (long long)n);
    memcpy(dst, x->data, x->nbytes);
    return SEER_OK;
}

seer_status seer_sae_trainer_resume(const char *path, seer_sae_data *data, int n_threads, seer_sae_trainer **out,
                                    seer_err *err) {
    *out = NULL;
    seer_st *s = NULL;
    seer_status st = seer_st_open_file(path, &s, err);
    if (st) return st;
    seer_sae_config c = {0};
    seer_sae_train_params p = seer_sae_train_default_params();
    char arch[32];
    uint64_t u[24];
    double f[8];
    const char *ver = seer_st_metadata(s, "seer_sae_state");
    if (!ver) {
        st = seer_err_set(err, SEER_ERR_FORMAT, "sae: %s is not a seer SAE training state", path);
        goto out;
    }
    if (strcmp(ver, SAE_STATE_VERSION) != 0) {
        st = seer_err_set(err, SEER_ERR_UNSUPPORTED, "sae: %s is a version %s training state; this seer resumes version %s only",
                          path, ver, SAE_STATE_VERSION);
        goto out;
    }
#define U(i, key) if ((st = get_u64(s, path, key, &u[i], err))) goto out
#define F(i, key) if ((st = get_f64(s, path, key, &f[i], err))) goto out
    if ((st = get_str(s, path, "arch", arch, sizeof(arch), err))) goto out;
    if (seer_sae_arch_from_name(arch, &c.arch)) {
        st = seer_err_set(err, SEER_ERR_FORMAT, "sae: state %s: architecture '%s' unknown", path, arch);
        goto out;
    }
    U(0, "d_in"); U(1, "d_sae"); U(2, "d_out"); U(3, "k"); U(4, "skip"); U(5, "apply_b_dec_to_input");
    U(6, "batch"); U(7, "tokens"); U(8, "lr_scale"); U(9, "seed"); U(10, "normalize_decoder");
    U(11, "normalize_input"); U(12, "auxk"); U(13, "dead_tokens"); U(14, "b_dec_init"); U(15, "step");
    U(16, "tokens_seen"); U(17, "rng0"); U(18, "rng1"); U(19, "rng2"); U(20, "rng3"); U(21, "data_buffer"); U(22, "data_row");
    F(0, "lr"); F(1, "beta1"); F(2, "beta2"); F(3, "eps"); F(4, "l1_coeff"); F(5, "l0_coeff"); F(6, "jump_bandwidth");
    F(7, "jump_init_threshold");
#undef U
#undef F
    double auxc;
    if ((st = get_f64(s, path, "auxk_coeff", &auxc, err))) goto out;
    if (u[0] > (1u << 24) || u[1] > (1u << 24) || u[2] > (1u << 24) || u[3] > (1u << 24)) {
        st = seer_err_set(err, SEER_ERR_FORMAT, "sae: state %s: sizes out of range", path);
        goto out;
    }
    c.d_in = (int64_t)u[0], c.d_sae = (int64_t)u[1], c.d_out = (int64_t)u[2], c.k = (int32_t)u[3], c.skip = u[4] != 0;
    c.apply_b_dec_to_input = u[5] != 0;
    if ((st = get_str(s, path, "hook_in", c.hook_in, sizeof(c.hook_in), err)) ||
        (st = get_str(s, path, "hook_out", c.hook_out, sizeof(c.hook_out), err)) ||
        (st = get_str(s, path, "model_name", c.model_name, sizeof(c.model_name), err)))
        goto out;
    p.batch = (int64_t)u[6], p.tokens = (int64_t)u[7], p.lr_scale = (int)u[8], p.seed = u[9];
    p.normalize_decoder = (int)u[10], p.normalize_input = (int)u[11], p.auxk = (int32_t)u[12];
    p.dead_tokens = (int64_t)u[13], p.b_dec_init = (seer_sae_bdec_init)u[14];
    p.n_threads = n_threads;
    p.lr = f[0], p.beta1 = f[1], p.beta2 = f[2], p.eps = f[3], p.l1_coeff = f[4], p.l0_coeff = f[5];
    p.jump_bandwidth = f[6], p.jump_init_threshold = f[7], p.auxk_coeff = auxc;
    seer_sae_trainer *t;
    if ((st = trainer_alloc(&c, &p, data, &t, err))) goto out;
    t->step = (int64_t)u[15], t->tokens = (int64_t)u[16];
    for (int i = 0; i < 4; i++) t->rng.s[i] = u[17 + i];
    char name[64];
    for (int i = 0; i < P_COUNT && !st; i++) {
        if (!t->size[i]) continue;
        st = get_tensor(s, path, param_names[i], SEER_DTYPE_F32, t->size[i], t->param[i], err);
        snprintf(name, sizeof(name), "adam_m.%s", param_names[i]);
        if (!st) st = get_tensor(s, path, name, SEER_DTYPE_F32, t->size[i], t->m[i], err);
        snprintf(name, sizeof(name), "adam_v.%s", param_names[i]);
        if (!st) st = get_tensor(s, path, name, SEER_DTYPE_F32, t->size[i], t->v[i], err);
    }
    if (!st) st = get_tensor(s, path, "since_fired", SEER_DTYPE_I64, c.d_sae, t->since_fired, err);
    if (!st) st = get_f32(s, path, "scale_in", &t->scale_in, err);
    if (!st) st = get_f32(s, path, "scale_out", &t->scale_out, err);
    if (!st) st = get_f32(s, path, "bt_threshold", &t->bt_threshold, err);
    if (!st && t->log_th)
        for (int64_t j = 0; j < c.d_sae; j++) t->sae->threshold[j] = expf(t->log_th[j]);
    if (!st) {
        sae_data_set_seed(data, p.seed);
        st = sae_data_seek(data, (int64_t)u[21] - 1, (int64_t)u[22], err);
    }
    if (st) {
        seer_sae_trainer_free(t);
        goto out;
    }
    *out = t;
out:
    seer_st_free(s);
    return st;
}
