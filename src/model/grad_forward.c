/* The training forward: embedding, blocks (Llama: RMSNorm, RoPE, GQA, SwiGLU; GPT-2: LayerNorm,
 * learned positions, fused qkv, GELU) keeping what the backward needs, then the classifier and
 * masked cross-entropy in row chunks, which also produces d(metric)/d(final norm) when a
 * backward follows, so the [B*T, vocab] logits are never stored whole. */
#include "grad_internal.h"

#include <math.h>
#include <string.h>

/* ---- hooks ---- */

void tc_hook_value(seer_tctx *c, seer_hook_point p, int layer, const float *src, int64_t width, int64_t stride) {
    thook *h = tc_hook(c, p, layer);
    if (h && h->value) tc_copy_rows(h->value, src, c->n, width, stride);
}

void tc_hook_grad(seer_tctx *c, seer_hook_point p, int layer, const float *src, int64_t width, int64_t stride) {
    thook *h = tc_hook(c, p, layer);
    if (h && h->grad) tc_copy_rows(h->grad, src, c->n, width, stride);
}

/* ---- row kernels ---- */

typedef struct norm_args {
    float *y;
    const float *x, *w, *b;
    float *mean, *rstd;
    int64_t d;
    float eps;
    int layer_norm;
} norm_args;

static void norm_rows(seer_tctx *c, int64_t i0, int64_t i1, int ith, void *ud) {
    (void)c, (void)ith;
    const norm_args *a = ud;
    int64_t d = a->d;
    for (int64_t i = i0; i < i1; i++) {
        const float *x = a->x + i * d;
        float *y = a->y + i * d;
        double mu = 0, ss = 0;
        if (a->layer_norm) {
            for (int64_t j = 0; j < d; j++) mu += x[j];
            mu /= (double)d;
        }
        for (int64_t j = 0; j < d; j++) ss += ((double)x[j] - mu) * ((double)x[j] - mu);
        float m = (float)mu, r = (float)(1.0 / sqrt(ss / (double)d + (double)a->eps));
        for (int64_t j = 0; j < d; j++) y[j] = (x[j] - m) * r * a->w[j] + (a->b ? a->b[j] : 0.0f);
        if (a->mean) a->mean[i] = m;
        if (a->rstd) a->rstd[i] = r;
    }
}

void tc_norm_rows(seer_tctx *c, float *y, const float *x, int64_t n, int32_t w, int32_t b, float *mean, float *rstd) {
    const seer_tmodel *tm = c->tm;
    norm_args a = {y, x, tm_p(tm, w), tm_p(tm, b), mean, rstd, tm->cfg.d_model, tm->cfg.norm_eps,
                   tm->cfg.arch == SEER_ARCH_GPT2};
    tc_for(c, n, norm_rows, &a);
}

typedef struct rope_args {
    float *x;
    int64_t stride;
    int n_heads;
    float dir;
} rope_args;

static void rope_rows(seer_tctx *c, int64_t i0, int64_t i1, int ith, void *ud) {
    (void)ith;
    const rope_args *a = ud;
    int64_t dh = c->tm->cfg.d_head, half = dh / 2;
    for (int64_t i = i0; i < i1; i++) {
        const float *cs = c->rope_cos + (int64_t)c->pos[i] * half, *sn = c->rope_sin + (int64_t)c->pos[i] * half;
        for (int h = 0; h < a->n_heads; h++) {
            float *v = a->x + i * a->stride + h * dh;
            for (int64_t j = 0; j < half; j++) {
                float v0 = v[2 * j], v1 = v[2 * j + 1], s = a->dir * sn[j];
                v[2 * j] = v0 * cs[j] - v1 * s;
                v[2 * j + 1] = v0 * s + v1 * cs[j];
            }
        }
    }
}

void tc_rope(seer_tctx *c, float *x, int64_t stride, int n_heads, int dir) {
    rope_args a = {x, stride, n_heads, (float)dir};
    tc_for(c, c->n, rope_rows, &a);
}

typedef struct embed_args {
    thook *tok_hook; /* hook_embed wants the token part alone (GPT-2 adds positions after) */
} embed_args;

static void embed_rows(seer_tctx *c, int64_t i0, int64_t i1, int ith, void *ud) {
    (void)ith;
    const embed_args *a = ud;
    const seer_tmodel *tm = c->tm;
    int64_t d = tm->cfg.d_model;
    const float *E = tm_p(tm, tm->tok_embd), *P = tm_p(tm, tm->pos_embd);
    for (int64_t i = i0; i < i1; i++) {
        int32_t tok = c->real[i] ? c->tokens[i] : 0; /* padding may hold any id */
        float *x = c->x + i * d;
        memcpy(x, E + (int64_t)tok * d, (size_t)d * sizeof(float));
        if (a->tok_hook && a->tok_hook->value) memcpy(a->tok_hook->value + i * d, x, (size_t)d * sizeof(float));
        if (P)
            for (int64_t j = 0; j < d; j++) x[j] += P[(int64_t)c->pos[i] * d + j];
    }
}

/* ---- attention ---- */

typedef struct attn_args {
    int l;
    const float *q, *k, *v; /* rows of the layer, strides below */
    int64_t qs, ks;
    float *z;         /* (n, d) */
    float *scores;    /* hook output [B, H, T, T] or NULL */
} attn_args;

/* One unit is a (sequence, head): S = scale·Q·Kᵀ for all T x T pairs in one GEMM (the causal
 * half wasted is cheaper than per-key dot products), masked softmax row by row, then Z = P·V.
 * Masked keys get probability 0; a padding query attends to nothing (its output is 0). */
static void attn_fwd_units(seer_tctx *c, int64_t u0, int64_t u1, int ith, void *ud) {
    (void)ith;
    const attn_args *a = ud;
    const seer_model_config *cfg = &c->tm->cfg;
    int64_t H = cfg->n_heads, dh = cfg->d_head, group = cfg->n_heads / cfg->n_kv_heads, T = c->T, d = cfg->d_model;
    float scale = 1.0f / sqrtf((float)dh);
    for (int64_t u = u0; u < u1; u++) {
        int64_t b = u / H, h = u % H, kvh = h / group;
        float *att = c->att + ((size_t)a->l * (size_t)c->B * (size_t)H + (size_t)u) * (size_t)T * (size_t)T;
        const float *Q = a->q + b * T * a->qs + h * dh, *K = a->k + b * T * a->ks + kvh * dh;
        const float *V = a->v + b * T * a->ks + kvh * dh;
        tc_gemm_serial(0, 1, T, T, dh, scale, Q, a->qs, K, a->ks, 0.0f, att, T);
        const uint8_t *real = c->real + b * T;
        for (int64_t t = 0; t < T; t++) {
            float *p = att + t * T;
            if (!real[t]) {
                memset(p, 0, (size_t)T * sizeof(float));
                continue;
            }
            float mx = -INFINITY;
            for (int64_t s = 0; s <= t; s++) {
                if (!real[s]) p[s] = 0.0f;
                else if (p[s] > mx) mx = p[s];
            }
            if (a->scores) memcpy(a->scores + (u * T + t) * T, p, (size_t)(t + 1) * sizeof(float));
            float sum = 0;
            for (int64_t s = 0; s <= t; s++) {
                p[s] = real[s] ? expf(p[s] - mx) : 0.0f;
                sum += p[s];
            }
            float inv = 1.0f / sum; /* the query itself is real, so sum >= 1 */
            for (int64_t s = 0; s <= t; s++) p[s] *= inv;
            memset(p + t + 1, 0, (size_t)(T - t - 1) * sizeof(float));
        }
        tc_gemm_serial(0, 0, T, dh, T, 1.0f, att, T, V, a->ks, 0.0f, a->z + b * T * d + h * dh, d);
    }
}

/* ---- MLP activations ---- */

typedef struct act_args {
    float *out;
    const float *g, *u; /* u NULL: GELU of g */
    int64_t h;
} act_args;

static void act_rows(seer_tctx *c, int64_t i0, int64_t i1, int ith, void *ud) {
    (void)c, (void)ith;
    const act_args *a = ud;
    for (int64_t i = i0; i < i1; i++) {
        float *o = a->out + i * a->h;
        if (a->u) {
            seer_swiglu_f32(o, a->g + i * a->h, a->u + i * a->h, a->h);
        } else {
            memcpy(o, a->g + i * a->h, (size_t)a->h * sizeof(float));
            seer_gelu_tanh_f32(o, a->h);
        }
    }
}

void tc_mlp_act(seer_tctx *c, int l) {
    const seer_model_config *cfg = &c->tm->cfg;
    int64_t h = cfg->d_mlp;
    size_t off = (size_t)l * c->max_n * (size_t)h;
    act_args a = {c->hb, c->hpre + off, c->hup ? c->hup + off : NULL, h};
    tc_for(c, c->n, act_rows, &a);
}

/* ---- blocks ---- */

typedef struct add_args {
    float *y;
    const float *a, *b;
    int64_t width;
} add_args;

static void add_rows(seer_tctx *c, int64_t i0, int64_t i1, int ith, void *ud) {
    (void)c, (void)ith;
    const add_args *a = ud;
    for (int64_t k = i0 * a->width; k < i1 * a->width; k++) a->y[k] = a->a[k] + a->b[k];
}

static void block_fwd(seer_tctx *c, int l) {
    const seer_tmodel *tm = c->tm;
    const seer_model_config *cfg = &tm->cfg;
    const tlayer *L = &tm->layers[l];
    int gpt2 = cfg->arch == SEER_ARCH_GPT2;
    int64_t n = c->n, N = (int64_t)c->max_n, d = cfg->d_model, h = cfg->d_mlp;
    int64_t kvd = (int64_t)cfg->n_kv_heads * cfg->d_head, H = cfg->n_heads;
    float *X = c->x + l * N * d, *XM = c->xmid + l * N * d, *Xn = c->x + (l + 1) * N * d, *Z = c->z + l * N * d;
    tc_hook_value(c, SEER_HP_RESID_PRE, l, X, d, d);
    /* attention: x += wo · attn(q, k, v of norm(x)) */
    tc_norm_rows(c, c->lnb, X, n, L->attn_norm, L->attn_norm_b, c->mean1 + l * N, c->rstd1 + l * N);
    tc_hook_value(c, SEER_HP_LN1, l, c->lnb, d, d);
    attn_args aa = {.l = l, .z = Z};
    if (gpt2) {
        float *QKV = c->q + l * N * 3 * d; /* (n, 3d) */
        tc_lin_fwd(c, QKV, c->lnb, n, (tlin){L->wqkv, L->bqkv});
        tc_hook_value(c, SEER_HP_Q, l, QKV, d, 3 * d);
        tc_hook_value(c, SEER_HP_K, l, QKV + d, d, 3 * d);
        tc_hook_value(c, SEER_HP_V, l, QKV + 2 * d, d, 3 * d);
        aa.q = QKV, aa.k = QKV + d, aa.v = QKV + 2 * d, aa.qs = aa.ks = 3 * d;
    } else {
        float *Q = c->q + l * N * d, *K = c->k + l * N * kvd, *V = c->v + l * N * kvd;
        tc_lin_fwd(c, Q, c->lnb, n, (tlin){L->wq, -1});
        tc_lin_fwd(c, K, c->lnb, n, (tlin){L->wk, -1});
        tc_lin_fwd(c, V, c->lnb, n, (tlin){L->wv, -1});
        tc_hook_value(c, SEER_HP_Q, l, Q, d, d);
        tc_hook_value(c, SEER_HP_K, l, K, kvd, kvd);
        tc_hook_value(c, SEER_HP_V, l, V, kvd, kvd);
        tc_rope(c, Q, d, cfg->n_heads, 1);
        tc_rope(c, K, kvd, cfg->n_kv_heads, 1);
        tc_hook_value(c, SEER_HP_ROT_Q, l, Q, d, d);
        tc_hook_value(c, SEER_HP_ROT_K, l, K, kvd, kvd);
        aa.q = Q, aa.k = K, aa.v = V, aa.qs = d, aa.ks = kvd;
    }
    thook *hs = tc_hook(c, SEER_HP_ATTN_SCORES, l);
    aa.scores = hs ? hs->value : NULL;
    tc_for(c, c->B * H, attn_fwd_units, &aa);
    thook *hp = tc_hook(c, SEER_HP_PATTERN, l);
    if (hp && hp->value)
        memcpy(hp->value, c->att + (size_t)l * (size_t)c->B * (size_t)H * (size_t)c->T * (size_t)c->T,
               (size_t)c->B * (size_t)H * (size_t)c->T * (size_t)c->T * sizeof(float));
    tc_hook_value(c, SEER_HP_Z, l, Z, d, d);
    tc_lin_fwd(c, c->tmpd, Z, n, (tlin){L->wo, L->bo});
    tc_hook_value(c, SEER_HP_ATTN_OUT, l, c->tmpd, d, d);
    add_args ad = {XM, X, c->tmpd, d};
    tc_for(c, n, add_rows, &ad);
    tc_hook_value(c, SEER_HP_RESID_MID, l, XM, d, d);
    /* MLP: x += w_down · act(norm(x)) */
    tc_norm_rows(c, c->lnb, XM, n, L->ffn_norm, L->ffn_norm_b, c->mean2 + l * N, c->rstd2 + l * N);
    tc_hook_value(c, SEER_HP_LN2, l, c->lnb, d, d);
    float *G = c->hpre + l * N * h;
    if (gpt2) {
        tc_lin_fwd(c, G, c->lnb, n, (tlin){L->w_up, L->b_up});
        tc_hook_value(c, SEER_HP_MLP_PRE, l, G, h, h);
    } else {
        float *U = c->hup + l * N * h;
        tc_lin_fwd(c, G, c->lnb, n, (tlin){L->w_gate, -1});
        tc_lin_fwd(c, U, c->lnb, n, (tlin){L->w_up, -1});
        tc_hook_value(c, SEER_HP_MLP_PRE, l, G, h, h);
        tc_hook_value(c, SEER_HP_MLP_PRE_LINEAR, l, U, h, h);
    }
    tc_mlp_act(c, l);
    tc_hook_value(c, SEER_HP_MLP_POST, l, c->hb, h, h);
    tc_lin_fwd(c, c->tmpd, c->hb, n, (tlin){L->w_down, L->b_down});
    tc_hook_value(c, SEER_HP_MLP_OUT, l, c->tmpd, d, d);
    ad = (add_args){Xn, XM, c->tmpd, d};
    tc_for(c, n, add_rows, &ad);
    tc_hook_value(c, SEER_HP_RESID_POST, l, Xn, d, d);
}

/* ---- classifier and loss ---- */

typedef struct cls_args {
    int64_t r0; /* first row of the chunk */
    int grad;   /* write d(metric)/d(logits) over the logits */
} cls_args;

static void cls_rows(seer_tctx *c, int64_t j0, int64_t j1, int ith, void *ud) {
    (void)ith;
    const cls_args *a = ud;
    int64_t V = c->tm->cfg.n_vocab;
    for (int64_t j = j0; j < j1; j++) {
        int64_t i = a->r0 + j;
        float *z = c->logits + j * V;
        c->row_loss[i] = 0;
        if (c->metric.kind != SEER_METRIC_LOSS) {
            if (i == (int64_t)c->metric.b * c->T + c->metric.t) {
                float m = z[c->metric.token];
                if (c->metric.kind == SEER_METRIC_LOGIT_DIFF) m -= z[c->metric.token2];
                c->row_loss[i] = m;
                if (a->grad) {
                    memset(z, 0, (size_t)V * sizeof(float));
                    z[c->metric.token] += 1.0f;
                    if (c->metric.kind == SEER_METRIC_LOGIT_DIFF) z[c->metric.token2] -= 1.0f;
                }
            } else if (a->grad) {
                memset(z, 0, (size_t)V * sizeof(float));
            }
            continue;
        }
        float w = c->lw[i];
        if (w == 0.0f) {
            if (a->grad) memset(z, 0, (size_t)V * sizeof(float));
            continue;
        }
        float zt = z[c->tgt[i]], mx = seer_vec_max_f32(z, V);
        float sum = seer_vec_exp_sum_f32(z, mx, V); /* z = exp(z - mx) */
        c->row_loss[i] = w * ((logf(sum) + mx) - zt);
        if (a->grad) {
            seer_vec_scale_f32(z, w / sum, V);
            z[c->tgt[i]] -= w;
        }
    }
}

static void classifier(seer_tctx *c, float *logits_out, double *metric) {
    const seer_tmodel *tm = c->tm;
    int64_t n = c->n, d = tm->cfg.d_model, V = tm->cfg.n_vocab;
    int grad = c->mode != TMODE_EVAL;
    const float *W = tm_p(tm, tm->output);
    thook *hl = tc_hook(c, SEER_HP_LOGITS, -1);
    for (int64_t r0 = 0; r0 < n; r0 += c->chunk) {
        int64_t rows = n - r0 < c->chunk ? n - r0 : c->chunk;
        if (c->gemm_blas) tc_gemm(c, 0, 1, rows, V, d, c->lnb + r0 * d, d, W, d, 0.0f, c->logits, V);
        else seer_matmul(c->pool, c->logits, c->lnb + r0 * d, rows, W, SEER_DTYPE_F32, V, d, c->mm_work); /* (rows, V) */
        if (logits_out) memcpy(logits_out + r0 * V, c->logits, (size_t)(rows * V) * sizeof(float));
        if (hl && hl->value) memcpy(hl->value + r0 * V, c->logits, (size_t)(rows * V) * sizeof(float));
        cls_args a = {r0, grad};
        tc_for(c, rows, cls_rows, &a);
        if (!grad) continue;
        if (hl && hl->grad) memcpy(hl->grad + r0 * V, c->logits, (size_t)(rows * V) * sizeof(float));
        /* dln = dlogits · W;  dW += dlogitsᵀ · ln. OpenBLAS for both: seer_matmul would need
         * Wᵀ (a second copy of the classifier) for the first, and runs the second's shape
         * (vocab x chunk rows of X) at half OpenBLAS's speed. */
        tc_gemm(c, 0, 0, rows, d, V, c->logits, V, W, d, 0.0f, c->dln + r0 * d, d);
        if (c->pgrad && tm_trains(tm, tm->output))
            tc_gemm(c, 1, 0, V, d, rows, c->logits, V, c->lnb + r0 * d, d, 1.0f, tm_g(tm, tm->output), d);
    }
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += c->row_loss[i];
    *metric = s;
}

void tc_forward(seer_tctx *c, float *logits_out, double *metric) {
    const seer_tmodel *tm = c->tm;
    const seer_model_config *cfg = &tm->cfg;
    int64_t d = cfg->d_model, L = cfg->n_layers;
    embed_args ea = {tc_hook(c, SEER_HP_EMBED, -1)};
    tc_for(c, c->n, embed_rows, &ea);
    if (tm->pos_embd >= 0) {
        thook *hp = tc_hook(c, SEER_HP_POS_EMBED, -1);
        if (hp && hp->value)
            for (int64_t i = 0; i < c->n; i++)
                memcpy(hp->value + i * d, tm_p(tm, tm->pos_embd) + (int64_t)c->pos[i] * d, (size_t)d * sizeof(float));
    }
    for (int l = 0; l < L; l++) block_fwd(c, l);
    float *XF = c->x + L * (int64_t)c->max_n * d;
    tc_norm_rows(c, c->lnb, XF, c->n, tm->out_norm, tm->out_norm_b, c->meanf, c->rstdf);
    tc_hook_value(c, SEER_HP_LN_FINAL, -1, c->lnb, d, d);
    classifier(c, logits_out, metric);
}
