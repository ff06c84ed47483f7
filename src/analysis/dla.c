/* Direct logit attribution: the final residual at one position is a sum of embeddings, head
 * outputs (hook_z through W_O), attention output biases and MLP outputs; each part's share of
 * logit(A) - logit(B), through the final norm linearised at the scale computed on the real
 * residual (TransformerLens's apply_ln_to_stack: LayerNorm centres each part, every part is
 * divided by the same scale). The final norm's own bias is a constant part. */
#include "analysis_internal.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {
    [SEER_DLA_EMBED] = "embed", [SEER_DLA_POS_EMBED] = "pos_embed", [SEER_DLA_HEAD] = "head",
    [SEER_DLA_ATTN_BIAS] = "attn_bias", [SEER_DLA_MLP] = "mlp", [SEER_DLA_NORM_BIAS] = "norm_bias",
};
static_assert(SEER_DLA_KIND_COUNT == sizeof(kind_names) / sizeof(kind_names[0]), "kind_names covers seer_dla_kind");

const char *seer_dla_kind_name(seer_dla_kind k) { return (unsigned)k < SEER_DLA_KIND_COUNT ? kind_names[k] : "unknown"; }

void seer_dla_result_free(seer_dla_result *r) {
    if (!r) return;
    free(r->c);
    free(r);
}

static double dot(const float *v, const double *g, int64_t d) {
    double s = 0;
    for (int64_t i = 0; i < d; i++) s += (double)v[i] * g[i];
    return s;
}

static void add(seer_dla_result *r, seer_dla_kind k, int32_t layer, int32_t head, double value) {
    seer_dla_component *c = &r->c[r->n++];
    c->kind = k;
    c->layer = layer;
    c->head = head;
    c->value = value;
    switch (k) {
    case SEER_DLA_HEAD: snprintf(c->name, sizeof(c->name), "L%dH%d", layer, head); break;
    case SEER_DLA_ATTN_BIAS: snprintf(c->name, sizeof(c->name), "L%d.attn_bias", layer); break;
    case SEER_DLA_MLP: snprintf(c->name, sizeof(c->name), "L%d.mlp", layer); break;
    case SEER_DLA_NORM_BIAS: snprintf(c->name, sizeof(c->name), "ln_final.bias"); break;
    default: snprintf(c->name, sizeof(c->name), "%s", kind_names[k]); break;
    }
    r->total += value;
}

/* u = W_Oᵀ g: the direction in hook_z space that reads off each head's share (g [d], W_O
 * [d, n_heads * d_head] in any weight type, converted a row at a time). */
static seer_status wo_read(const seer_model *m, int l, const double *g, double *u, float *row, seer_err *err) {
    const seer_model_config *cfg = seer_model_get_config(m);
    int64_t d = cfg->d_model, hd = (int64_t)cfg->n_heads * cfg->d_head;
    char name[64];
    snprintf(name, sizeof(name), "blk.%d.attn_output.weight", l);
    const seer_tensor *w = seer_model_find_tensor(m, name);
    size_t rb;
    if (!w || w->n_dims != 2 || w->shape[0] != d || w->shape[1] != hd || seer_dtype_row_bytes(w->type, hd, &rb, err))
        return seer_err_set(err, SEER_ERR_FORMAT, "dla: '%s' missing or not [%lld, %lld]", name, (long long)d, (long long)hd);
    memset(u, 0, (size_t)hd * sizeof(double));
    for (int64_t i = 0; i < d; i++) {
        seer_vec_to_f32(w->type, (const uint8_t *)w->data + rb * (size_t)i, row, hd);
        for (int64_t j = 0; j < hd; j++) u[j] += g[i] * (double)row[j];
    }
    return SEER_OK;
}

seer_status seer_dla_run(const seer_model *m, const int32_t *tokens, int32_t n_tokens, const seer_dla_params *p,
                         seer_dla_result **out, seer_err *err) {
    *out = NULL;
    const seer_model_config *cfg = seer_model_get_config(m);
    int32_t L = cfg->n_layers, H = cfg->n_heads, V = cfg->n_vocab, pos;
    int64_t d = cfg->d_model, dh = cfg->d_head, hd = (int64_t)H * dh;
    seer_status st = seer_analysis_resolve_pos(p->pos, n_tokens, &pos, err);
    if (st) return st;
    if (p->tok_a < 0 || p->tok_a >= V || p->tok_b < 0 || p->tok_b >= V)
        return seer_err_set(err, SEER_ERR_RANGE, "dla: tokens %d and %d must be in the vocabulary [0, %d)", p->tok_a, p->tok_b, V);
    an_unembed u;
    if ((st = an_unembed_init(&u, m, err))) return st;
    int has_pos = seer_hook_point_exists(cfg->arch, SEER_HP_POS_EMBED);

    an_capture cap;
    if ((st = an_capture_init(&cap, m, n_tokens, err))) return st;
    seer_dla_result *r = NULL;
    float *logits = malloc((size_t)V * sizeof(float)), *ua = malloc((size_t)d * sizeof(float));
    float *ub = malloc((size_t)d * sizeof(float)), *row = malloc((size_t)(hd > d ? hd : d) * sizeof(float));
    double *g = calloc((size_t)d, sizeof(double)), *uz = malloc((size_t)hd * sizeof(double));
    uint8_t *want = calloc((size_t)n_tokens, 1);
    size_t n_comp = 3 + (size_t)L * ((size_t)H + 2);
    if (!logits || !ua || !ub || !row || !g || !uz || !want || !(r = calloc(1, sizeof(*r))) ||
        !(r->c = calloc(n_comp, sizeof(*r->c)))) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "dla: out of memory");
        goto out;
    }
    an_capture_want(&cap, SEER_HP_EMBED, -1);
    if (has_pos) an_capture_want(&cap, SEER_HP_POS_EMBED, -1);
    for (int l = 0; l < L; l++) {
        an_capture_want(&cap, SEER_HP_Z, l);
        an_capture_want(&cap, SEER_HP_MLP_OUT, l);
    }
    an_capture_want(&cap, SEER_HP_RESID_POST, L - 1);
    want[pos] = 1;
    const int32_t *seqs[1] = {tokens};
    if ((st = an_forward(m, p->n_threads, 1, seqs, &n_tokens, cap.want, an_capture_tap, &cap, want, logits, err)) ||
        (st = cap.st))
        goto out;
    r->pos = pos;
    r->tok_a = p->tok_a;
    r->tok_b = p->tok_b;
    r->logit_diff = (double)logits[p->tok_a] - (double)logits[p->tok_b];

    /* g: the logit-difference direction read through the norm's gain and 1/scale; centred for
     * LayerNorm, since sum_i (c_i - mean c) g_i = sum_i c_i (g_i - mean g) */
    const float *x = an_capture_get(&cap, SEER_HP_RESID_POST, L - 1, NULL) + (int64_t)pos * d;
    r->scale = an_norm_scale(&u, x);
    an_unembed_row(&u, p->tok_a, ua);
    an_unembed_row(&u, p->tok_b, ub);
    double gmean = 0, bias = 0;
    for (int64_t i = 0; i < d; i++) {
        g[i] = (double)u.w[i] * ((double)ua[i] - (double)ub[i]) / r->scale;
        gmean += g[i];
        if (u.b) bias += (double)u.b[i] * ((double)ua[i] - (double)ub[i]);
    }
    gmean /= (double)d;
    if (u.layernorm)
        for (int64_t i = 0; i < d; i++) g[i] -= gmean;

    add(r, SEER_DLA_EMBED, -1, -1, dot(an_capture_get(&cap, SEER_HP_EMBED, -1, NULL) + (int64_t)pos * d, g, d));
    if (has_pos) add(r, SEER_DLA_POS_EMBED, -1, -1, dot(an_capture_get(&cap, SEER_HP_POS_EMBED, -1, NULL) + (int64_t)pos * d, g, d));
    for (int l = 0; l < L; l++) {
        if ((st = wo_read(m, l, g, uz, row, err))) goto out;
        const float *z = an_capture_get(&cap, SEER_HP_Z, l, NULL) + (int64_t)pos * hd;
        for (int h = 0; h < H; h++) {
            double s = 0;
            for (int64_t j = h * dh; j < (h + 1) * dh; j++) s += (double)z[j] * uz[j];
            add(r, SEER_DLA_HEAD, l, h, s);
        }
        char name[64];
        snprintf(name, sizeof(name), "blk.%d.attn_output.bias", l);
        const seer_tensor *bo = seer_model_find_tensor(m, name);
        if (bo) {
            if (bo->type != SEER_DTYPE_F32 || seer_tensor_nelem(bo) != d) {
                st = seer_err_set(err, SEER_ERR_UNSUPPORTED, "dla: '%s' must be f32 [%lld]", name, (long long)d);
                goto out;
            }
            add(r, SEER_DLA_ATTN_BIAS, l, -1, dot(bo->data, g, d));
        }
        add(r, SEER_DLA_MLP, l, -1, dot(an_capture_get(&cap, SEER_HP_MLP_OUT, l, NULL) + (int64_t)pos * d, g, d));
    }
    if (u.b) add(r, SEER_DLA_NORM_BIAS, -1, -1, bias);
out:
    an_capture_free(&cap);
    free(logits), free(ua), free(ub), free(row), free(g), free(uz), free(want);
    if (st) {
        seer_dla_result_free(r);
        return st;
    }
    *out = r;
    return SEER_OK;
}
