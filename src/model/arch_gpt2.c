/* GPT-2 family: LayerNorm with bias, learned positions (added at embedding), fused qkv with
 * bias, GELU (tanh approximation, "gelu_new"), biased MLP, classifier tied to the embedding. */
#include "model_internal.h"

#include <stdio.h>

static seer_status gpt2_resolve(seer_model *m, seer_err *err) {
    const seer_model_config *c = &m->cfg;
    int64_t d = c->d_model, h = c->d_mlp, V = c->n_vocab;
    seer_status st = SEER_OK;
    m->tok_embd = model_need(m, "token_embd.weight", 2, V, d, err, &st);
    m->pos_embd = model_need(m, "position_embd.weight", 2, c->n_ctx, d, err, &st);
    m->out_norm = model_need(m, "output_norm.weight", 1, d, 0, err, &st);
    m->out_norm_b = model_need(m, "output_norm.bias", 1, d, 0, err, &st);
    m->output = c->tied_embeddings ? m->tok_embd : model_need(m, "output.weight", 2, V, d, err, &st);
    if (!st && m->pos_embd->type != SEER_DTYPE_F32)
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "model: position_embd.weight must be f32");
    for (int l = 0; l < c->n_layers && !st; l++) {
        seer_layer *L = &m->layers[l];
        char n[96];
#define NEED(field, suffix, nd, d0, d1)                                                                   \
    snprintf(n, sizeof(n), "blk.%d." suffix, l);                                                         \
    L->field = model_need(m, n, nd, d0, d1, err, &st)
        NEED(attn_norm, "attn_norm.weight", 1, d, 0);
        NEED(attn_norm_b, "attn_norm.bias", 1, d, 0);
        NEED(wqkv, "attn_qkv.weight", 2, 3 * d, d);
        NEED(bqkv, "attn_qkv.bias", 1, 3 * d, 0);
        NEED(wo, "attn_output.weight", 2, d, d);
        NEED(bo, "attn_output.bias", 1, d, 0);
        NEED(ffn_norm, "ffn_norm.weight", 1, d, 0);
        NEED(ffn_norm_b, "ffn_norm.bias", 1, d, 0);
        NEED(w_up, "ffn_up.weight", 2, h, d);
        NEED(b_up, "ffn_up.bias", 1, h, 0);
        NEED(w_down, "ffn_down.weight", 2, d, h);
        NEED(b_down, "ffn_down.bias", 1, d, 0);
#undef NEED
    }
    return st;
}

typedef struct ln_args {
    const float *w, *b;
} ln_args;

static void layernorm_row(seer_ctx *c, int64_t i, void *ud) {
    const ln_args *a = ud;
    int64_t d = c->m->cfg.d_model;
    seer_layernorm_f32(c->xb + i * d, c->x + i * d, a->w, a->b, d, c->m->cfg.norm_eps);
}

static void gelu_row(seer_ctx *c, int64_t i, void *ud) {
    (void)ud;
    int64_t h = c->m->cfg.d_mlp;
    seer_gelu_tanh_f32(c->hb + i * h, h);
}

static void gpt2_forward(seer_ctx *c, const seer_batch *b) {
    const seer_model *m = c->m;
    const seer_model_config *cfg = &m->cfg;
    int64_t n = b->n, d = cfg->d_model, h = cfg->d_mlp;
    int H = cfg->n_heads;
    for (int l = 0; l < cfg->n_layers; l++) {
        const seer_layer *L = &m->layers[l];
        ctx_tap(c, SEER_HP_RESID_PRE, l, c->x, n, d, d, 1);
        ln_args la = {L->attn_norm->data, L->attn_norm_b->data};
        ctx_parallel_rows(c, n, layernorm_row, &la);
        ctx_tap(c, SEER_HP_LN1, l, c->xb, n, d, d, 1);
        ctx_matmul(c, c->q, c->xb, n, L->wqkv); /* qkv (n, 3d) */
        ctx_add_bias(c->q, L->bqkv, n, 3 * d);
        ctx_tap(c, SEER_HP_Q, l, c->q, n, d, 3 * d, H);
        ctx_tap(c, SEER_HP_K, l, c->q + d, n, d, 3 * d, H);
        ctx_tap(c, SEER_HP_V, l, c->q + 2 * d, n, d, 3 * d, H);
        ctx_attention(c, b, l, c->q, 3 * d, c->q + d, c->q + 2 * d, 3 * d, c->att_out);
        ctx_tap(c, SEER_HP_Z, l, c->att_out, n, d, d, H);
        ctx_project_add(c, c->x, c->att_out, n, L->wo, L->bo, SEER_HP_ATTN_OUT, l);
        ctx_tap(c, SEER_HP_RESID_MID, l, c->x, n, d, d, 1);
        la.w = L->ffn_norm->data;
        la.b = L->ffn_norm_b->data;
        ctx_parallel_rows(c, n, layernorm_row, &la);
        ctx_tap(c, SEER_HP_LN2, l, c->xb, n, d, d, 1);
        ctx_matmul(c, c->hb, c->xb, n, L->w_up); /* (n, h) */
        ctx_add_bias(c->hb, L->b_up, n, h);
        ctx_tap(c, SEER_HP_MLP_PRE, l, c->hb, n, h, h, 1);
        ctx_parallel_rows(c, n, gelu_row, NULL);
        ctx_tap(c, SEER_HP_MLP_POST, l, c->hb, n, h, h, 1);
        ctx_project_add(c, c->x, c->hb, n, L->w_down, L->b_down, SEER_HP_MLP_OUT, l);
        ctx_tap(c, SEER_HP_RESID_POST, l, c->x, n, d, d, 1);
    }
}

static void gpt2_final_norm(const seer_model *m, float *y, const float *x) {
    seer_layernorm_f32(y, x, m->out_norm->data, m->out_norm_b->data, m->cfg.d_model, m->cfg.norm_eps);
}

const seer_arch_ops seer_arch_gpt2 = {
    .resolve = gpt2_resolve,
    .forward = gpt2_forward,
    .final_norm = gpt2_final_norm,
};
