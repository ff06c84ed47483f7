/* The training backward: from d(metric)/d(final norm) (left in c->dln by the classifier) down
 * through every block in reverse to the embeddings. Normed inputs and MLP activations are
 * recomputed from the stored residual stream instead of kept; parameter gradients accumulate
 * (+=) and are skipped for frozen tensors; hook gradients are copied out as they complete. */
#include "grad_internal.h"

#include <math.h>
#include <string.h>

/* ---- norms ---- */

typedef struct normb_args {
    float *dx;
    int acc;
    const float *dy, *x, *w, *mean, *rstd;
    int64_t d;
    int layer_norm, want_dw;
} normb_args;

/* RMSNorm:   dx = rstd · (g - x̂ · mean(g · x̂)),            g = dy · w
 * LayerNorm: dx = rstd · (g - mean(g) - x̂ · mean(g · x̂)),  x̂ = (x - mean) · rstd
 * dw += dy · x̂ and db += dy go to this thread's partial sums. */
static void normb_rows(seer_tctx *c, int64_t i0, int64_t i1, int ith, void *ud) {
    const normb_args *a = ud;
    int64_t d = a->d;
    float *pw = c->part + (int64_t)ith * 2 * d, *pb = pw + d;
    for (int64_t i = i0; i < i1; i++) {
        const float *x = a->x + i * d, *dy = a->dy + i * d;
        float m = a->layer_norm ? a->mean[i] : 0.0f, r = a->rstd[i];
        double sg = 0, sgx = 0;
        for (int64_t j = 0; j < d; j++) {
            float xh = (x[j] - m) * r, g = dy[j] * a->w[j];
            sg += g;
            sgx += (double)g * xh;
            if (a->want_dw) {
                pw[j] += dy[j] * xh;
                pb[j] += dy[j];
            }
        }
        float mg = a->layer_norm ? (float)(sg / (double)d) : 0.0f, mgx = (float)(sgx / (double)d);
        float *dx = a->dx + i * d;
        for (int64_t j = 0; j < d; j++) {
            float xh = (x[j] - m) * r, v = r * (dy[j] * a->w[j] - mg - xh * mgx);
            dx[j] = a->acc ? dx[j] + v : v;
        }
    }
}

static void norm_bwd(seer_tctx *c, float *dx, int acc, const float *dy, const float *x, int32_t w, int32_t b,
                     const float *mean, const float *rstd) {
    const seer_tmodel *tm = c->tm;
    int64_t d = tm->cfg.d_model;
    int want = c->pgrad && (tm_trains(tm, w) || tm_trains(tm, b));
    normb_args a = {dx, acc, dy, x, tm_p(tm, w), mean, rstd, d, tm->cfg.arch == SEER_ARCH_GPT2, want};
    if (want) memset(c->part, 0, (size_t)c->nth * 2 * (size_t)d * sizeof(float));
    tc_for(c, c->n, normb_rows, &a);
    if (!want) return;
    for (int t = 0; t < c->nth; t++) {
        const float *pw = c->part + (int64_t)t * 2 * d;
        if (tm_trains(tm, w)) seer_vec_axpy_f32(tm_g(tm, w), 1.0f, pw, d);
        if (tm_trains(tm, b)) seer_vec_axpy_f32(tm_g(tm, b), 1.0f, pw + d, d);
    }
}

/* ---- MLP activations ---- */

typedef struct actb_args {
    float *dg, *du;     /* in: dg holds d(out); out: d(gate) / d(pre), d(up) */
    const float *g, *u; /* u NULL: GELU */
    int64_t h;
} actb_args;

static void actb_rows(seer_tctx *c, int64_t i0, int64_t i1, int ith, void *ud) {
    (void)c, (void)ith;
    const actb_args *a = ud;
    const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
    for (int64_t e = i0 * a->h; e < i1 * a->h; e++) {
        float x = a->g[e], dout = a->dg[e];
        if (a->u) {
            float sg = 1.0f / (1.0f + expf(-x));
            a->du[e] = dout * x * sg;
            a->dg[e] = dout * a->u[e] * sg * (1.0f + x * (1.0f - sg));
        } else {
            float th = tanhf(k * (x + 0.044715f * x * x * x));
            a->dg[e] = dout * (0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * k * (1.0f + 3.0f * 0.044715f * x * x));
        }
    }
}

/* ---- attention ---- */

typedef struct attnb_args {
    int l;
    const float *q, *k, *v;
    int64_t qs, ks;
    const float *dz;  /* (n, d) */
    float *dq, *dk, *dv; /* same strides as q, k, v; zeroed by the caller */
    float *g_pattern, *g_scores; /* hook outputs [B, H, T, T] or NULL */
} attnb_args;

/* One unit is a (sequence, kv head), so each unit owns the dK, dV rows it accumulates into.
 * Per head of the group, as GEMMs over all T x T pairs (masked entries of P are 0):
 *   dP = dZ·Vᵀ,  dV += Pᵀ·dZ,  dS = P ⊙ (dP - rowsum(P ⊙ dP)),  dQ = scale·dS·K,  dK += scale·dSᵀ·Q. */
static void attnb_units(seer_tctx *c, int64_t u0, int64_t u1, int ith, void *ud) {
    const attnb_args *a = ud;
    const seer_model_config *cfg = &c->tm->cfg;
    int64_t H = cfg->n_heads, KV = cfg->n_kv_heads, dh = cfg->d_head, group = H / KV, T = c->T, d = cfg->d_model;
    float scale = 1.0f / sqrtf((float)dh);
    float *dP = c->attd + (size_t)ith * (size_t)c->max_t * (size_t)c->max_t;
    for (int64_t u = u0; u < u1; u++) {
        int64_t b = u / KV, kvh = u % KV;
        const uint8_t *real = c->real + b * T;
        const float *K = a->k + b * T * a->ks + kvh * dh, *V = a->v + b * T * a->ks + kvh * dh;
        float *dK = a->dk + b * T * a->ks + kvh * dh, *dV = a->dv + b * T * a->ks + kvh * dh;
        for (int64_t h = kvh * group; h < (kvh + 1) * group; h++) {
            size_t hu = (size_t)(b * H + h);
            const float *P = c->att + ((size_t)a->l * (size_t)c->B * (size_t)H + hu) * (size_t)T * (size_t)T;
            const float *dZ = a->dz + b * T * d + h * dh, *Q = a->q + b * T * a->qs + h * dh;
            tc_gemm_serial(0, 1, T, T, dh, 1.0f, dZ, d, V, a->ks, 0.0f, dP, T);
            tc_gemm_serial(1, 0, T, dh, T, 1.0f, P, T, dZ, d, 1.0f, dV, a->ks);
            for (int64_t t = 0; t < T; t++) {
                float *g = dP + t * T;
                const float *p = P + t * T;
                if (!real[t]) {
                    memset(g, 0, (size_t)T * sizeof(float));
                    continue;
                }
                for (int64_t s = t + 1; s < T; s++) g[s] = 0.0f;
                for (int64_t s = 0; s <= t; s++)
                    if (!real[s]) g[s] = 0.0f;
                if (a->g_pattern) memcpy(a->g_pattern + (hu * T + t) * T, g, (size_t)(t + 1) * sizeof(float));
                double dot = 0;
                for (int64_t s = 0; s <= t; s++) dot += (double)p[s] * g[s];
                for (int64_t s = 0; s <= t; s++) g[s] = p[s] * (g[s] - (float)dot);
                if (a->g_scores) memcpy(a->g_scores + (hu * T + t) * T, g, (size_t)(t + 1) * sizeof(float));
            }
            tc_gemm_serial(0, 0, T, dh, T, scale, dP, T, K, a->ks, 0.0f, a->dq + b * T * a->qs + h * dh, a->qs);
            tc_gemm_serial(1, 0, T, dh, T, scale, dP, T, Q, a->qs, 1.0f, dK, a->ks);
        }
    }
}

/* ---- blocks ---- */

static void block_bwd(seer_tctx *c, int l) {
    const seer_tmodel *tm = c->tm;
    const seer_model_config *cfg = &tm->cfg;
    const tlayer *L = &tm->layers[l];
    int gpt2 = cfg->arch == SEER_ARCH_GPT2;
    int64_t n = c->n, N = (int64_t)c->max_n, d = cfg->d_model, h = cfg->d_mlp;
    int64_t kvd = (int64_t)cfg->n_kv_heads * cfg->d_head;
    const float *X = c->x + l * N * d, *XM = c->xmid + l * N * d, *Z = c->z + l * N * d;
    float *G = c->hpre + l * N * h;
    tc_hook_grad(c, SEER_HP_RESID_POST, l, c->dres, d, d);
    tc_hook_grad(c, SEER_HP_MLP_OUT, l, c->dres, d, d);
    /* MLP */
    tc_norm_rows(c, c->lnb, XM, n, L->ffn_norm, L->ffn_norm_b, NULL, NULL);
    tc_mlp_act(c, l);
    tc_lin_bwd(c, c->dh, 0, c->dres, c->hb, n, (tlin){L->w_down, L->b_down});
    tc_hook_grad(c, SEER_HP_MLP_POST, l, c->dh, h, h);
    actb_args ab = {c->dh, c->dh2, G, gpt2 ? NULL : c->hup + l * N * h, h};
    tc_for(c, n, actb_rows, &ab);
    tc_hook_grad(c, SEER_HP_MLP_PRE, l, c->dh, h, h);
    if (gpt2) {
        tc_lin_bwd(c, c->dln, 0, c->dh, c->lnb, n, (tlin){L->w_up, L->b_up});
    } else {
        tc_hook_grad(c, SEER_HP_MLP_PRE_LINEAR, l, c->dh2, h, h);
        tc_lin_bwd(c, c->dln, 0, c->dh, c->lnb, n, (tlin){L->w_gate, -1});
        tc_lin_bwd(c, c->dln, 1, c->dh2, c->lnb, n, (tlin){L->w_up, -1});
    }
    tc_hook_grad(c, SEER_HP_LN2, l, c->dln, d, d);
    norm_bwd(c, c->dres, 1, c->dln, XM, L->ffn_norm, L->ffn_norm_b, c->mean2 + l * N, c->rstd2 + l * N);
    tc_hook_grad(c, SEER_HP_RESID_MID, l, c->dres, d, d);
    tc_hook_grad(c, SEER_HP_ATTN_OUT, l, c->dres, d, d);
    /* attention */
    float *dz = c->tmpd;
    tc_lin_bwd(c, dz, 0, c->dres, Z, n, (tlin){L->wo, L->bo});
    tc_hook_grad(c, SEER_HP_Z, l, dz, d, d);
    attnb_args aa = {.l = l, .dz = dz};
    thook *hp = tc_hook(c, SEER_HP_PATTERN, l), *hs = tc_hook(c, SEER_HP_ATTN_SCORES, l);
    aa.g_pattern = hp ? hp->grad : NULL;
    aa.g_scores = hs ? hs->grad : NULL;
    if (gpt2) {
        const float *QKV = c->q + l * N * 3 * d;
        aa.q = QKV, aa.k = QKV + d, aa.v = QKV + 2 * d, aa.qs = aa.ks = 3 * d;
        aa.dq = c->dq, aa.dk = c->dq + d, aa.dv = c->dq + 2 * d;
        memset(c->dq, 0, (size_t)(n * 3 * d) * sizeof(float));
    } else {
        aa.q = c->q + l * N * d, aa.k = c->k + l * N * kvd, aa.v = c->v + l * N * kvd, aa.qs = d, aa.ks = kvd;
        aa.dq = c->dq, aa.dk = c->dk, aa.dv = c->dv;
        memset(c->dk, 0, (size_t)(n * kvd) * sizeof(float));
        memset(c->dv, 0, (size_t)(n * kvd) * sizeof(float));
    }
    tc_for(c, (int64_t)c->B * cfg->n_kv_heads, attnb_units, &aa);
    tc_norm_rows(c, c->lnb, X, n, L->attn_norm, L->attn_norm_b, NULL, NULL);
    if (gpt2) {
        tc_hook_grad(c, SEER_HP_Q, l, c->dq, d, 3 * d);
        tc_hook_grad(c, SEER_HP_K, l, c->dq + d, d, 3 * d);
        tc_hook_grad(c, SEER_HP_V, l, c->dq + 2 * d, d, 3 * d);
        tc_lin_bwd(c, c->dln, 0, c->dq, c->lnb, n, (tlin){L->wqkv, L->bqkv});
    } else {
        tc_hook_grad(c, SEER_HP_V, l, c->dv, kvd, kvd);
        tc_hook_grad(c, SEER_HP_ROT_Q, l, c->dq, d, d);
        tc_hook_grad(c, SEER_HP_ROT_K, l, c->dk, kvd, kvd);
        tc_rope(c, c->dq, d, cfg->n_heads, -1);
        tc_rope(c, c->dk, kvd, cfg->n_kv_heads, -1);
        tc_hook_grad(c, SEER_HP_Q, l, c->dq, d, d);
        tc_hook_grad(c, SEER_HP_K, l, c->dk, kvd, kvd);
        tc_lin_bwd(c, c->dln, 0, c->dq, c->lnb, n, (tlin){L->wq, -1});
        tc_lin_bwd(c, c->dln, 1, c->dk, c->lnb, n, (tlin){L->wk, -1});
        tc_lin_bwd(c, c->dln, 1, c->dv, c->lnb, n, (tlin){L->wv, -1});
    }
    tc_hook_grad(c, SEER_HP_LN1, l, c->dln, d, d);
    norm_bwd(c, c->dres, 1, c->dln, X, L->attn_norm, L->attn_norm_b, c->mean1 + l * N, c->rstd1 + l * N);
    tc_hook_grad(c, SEER_HP_RESID_PRE, l, c->dres, d, d);
}

static int span_trains(const seer_tmodel *tm, int32_t i) {
    return i >= 0 && (tm_trains(tm, i) || tm_trains(tm, tm->lora_a[i]) || tm_trains(tm, tm->lora_b[i]));
}

static int layer_trains(const seer_tmodel *tm, int l) {
    const tlayer *L = &tm->layers[l];
    const int32_t s[] = {L->attn_norm, L->attn_norm_b, L->wq, L->wk, L->wv, L->wqkv, L->bqkv, L->wo, L->bo,
                         L->ffn_norm, L->ffn_norm_b, L->w_gate, L->w_up, L->b_up, L->w_down, L->b_down};
    for (size_t k = 0; k < sizeof(s) / sizeof(s[0]); k++)
        if (span_trains(tm, s[k])) return 1;
    return 0;
}

/* The lowest layer the backward must reach (-1: the embeddings): in hook mode the lowest hooked
 * layer; in training the lowest layer with something trainable, so LoRA on the top layers of a
 * frozen model does not run the backward through the bottom ones. */
static int lowest_layer(seer_tctx *c) {
    const seer_tmodel *tm = c->tm;
    int L = tm->cfg.n_layers;
    if (c->mode == TMODE_HOOKS) {
        if (tc_hook(c, SEER_HP_EMBED, -1) || tc_hook(c, SEER_HP_POS_EMBED, -1)) return -1;
        for (int l = 0; l < L; l++)
            for (int p = 0; p < SEER_HP_COUNT; p++)
                if (tc_hook(c, (seer_hook_point)p, l)) return l;
        return L;
    }
    if (span_trains(tm, tm->tok_embd) || span_trains(tm, tm->pos_embd)) return -1;
    for (int l = 0; l < L; l++)
        if (layer_trains(tm, l)) return l;
    return L;
}

void tc_backward(seer_tctx *c) {
    const seer_tmodel *tm = c->tm;
    const seer_model_config *cfg = &tm->cfg;
    int64_t n = c->n, d = cfg->d_model, L = cfg->n_layers;
    tc_hook_grad(c, SEER_HP_LN_FINAL, -1, c->dln, d, d);
    int lo = lowest_layer(c);
    if (lo >= L && c->mode == TMODE_HOOKS) return;
    const float *XF = c->x + L * (int64_t)c->max_n * d;
    norm_bwd(c, c->dres, 0, c->dln, XF, tm->out_norm, tm->out_norm_b, c->meanf, c->rstdf);
    for (int l = (int)L - 1; l >= 0 && l >= lo; l--) block_bwd(c, l);
    if (lo >= 0) return;
    tc_hook_grad(c, SEER_HP_EMBED, -1, c->dres, d, d);
    tc_hook_grad(c, SEER_HP_POS_EMBED, -1, c->dres, d, d);
    if (!c->pgrad) return;
    /* rows may share a token: one thread, in row order */
    if (tm_trains(tm, tm->tok_embd)) {
        float *gE = tm_g(tm, tm->tok_embd);
        for (int64_t i = 0; i < n; i++)
            if (c->real[i]) seer_vec_axpy_f32(gE + (int64_t)c->tokens[i] * d, 1.0f, c->dres + i * d, d);
    }
    if (tm_trains(tm, tm->pos_embd)) {
        float *gP = tm_g(tm, tm->pos_embd);
        for (int64_t i = 0; i < n; i++)
            if (c->real[i]) seer_vec_axpy_f32(gP + (int64_t)c->pos[i] * d, 1.0f, c->dres + i * d, d);
    }
}
