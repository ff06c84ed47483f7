/* The trainable model: every parameter in one flat f32 buffer with a matching gradient buffer,
 * and the span table that names them (llama.cpp names, the layout seer_model uses). Made from a
 * seer_model (dequantized) or from a config and a seed; turned back into a seer_model to save. */
#include "grad_internal.h"
#include "model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int32_t tmodel_add_span(seer_tmodel *tm, const char *name, int n_dims, int64_t d0, int64_t d1) {
    if (tm->n_spans == tm->cap_spans) {
        int64_t cap = tm->cap_spans ? tm->cap_spans * 2 : 64;
        seer_tspan *s = realloc(tm->spans, (size_t)cap * sizeof(*s));
        if (!s) return -1;
        tm->spans = s;
        int32_t *a = realloc(tm->lora_a, (size_t)cap * sizeof(*a));
        if (!a) return -1;
        tm->lora_a = a;
        int32_t *b = realloc(tm->lora_b, (size_t)cap * sizeof(*b));
        if (!b) return -1;
        tm->lora_b = b;
        tm->cap_spans = cap;
    }
    char *nm = strdup(name);
    if (!nm) return -1;
    seer_tspan *s = &tm->spans[tm->n_spans];
    memset(s, 0, sizeof(*s));
    s->name = nm;
    s->n_dims = n_dims;
    s->shape[0] = d0;
    s->shape[1] = n_dims == 2 ? d1 : 1;
    s->count = (size_t)d0 * (size_t)(n_dims == 2 ? d1 : 1);
    s->offset = tm->n;
    s->trainable = 1;
    int embd = !strcmp(name, "token_embd.weight") || !strcmp(name, "position_embd.weight");
    s->decay = embd ? tm->decay_embd : n_dims == 2 ? 1 : tm->decay_norms;
    tm->lora_a[tm->n_spans] = tm->lora_b[tm->n_spans] = -1;
    /* keep every span 16-float aligned so SIMD loads of a row start on a cache-line boundary */
    tm->n += (s->count + 15) & ~(size_t)15;
    return (int32_t)tm->n_spans++;
}

seer_status tmodel_grow(seer_tmodel *tm, size_t old_n, seer_err *err) {
    float *p = seer_alloc_aligned(tm->n, sizeof(float));
    float *g = seer_alloc_aligned(tm->n, sizeof(float));
    if (!p || !g) {
        free(p);
        free(g);
        return seer_err_set(err, SEER_ERR_NOMEM, "tmodel: cannot allocate %zu parameters (%zu MiB twice)", tm->n,
                            tm->n * sizeof(float) >> 20);
    }
    if (old_n) {
        memcpy(p, tm->params, old_n * sizeof(float));
        memcpy(g, tm->grads, old_n * sizeof(float));
    }
    memset(p + old_n, 0, (tm->n - old_n) * sizeof(float));
    memset(g + old_n, 0, (tm->n - old_n) * sizeof(float));
    free(tm->params);
    free(tm->grads);
    tm->params = p;
    tm->grads = g;
    return SEER_OK;
}

static int32_t find_span(const seer_tmodel *tm, const char *name) {
    for (int64_t i = 0; i < tm->n_spans; i++)
        if (!strcmp(tm->spans[i].name, name)) return (int32_t)i;
    return -1;
}

/* Adds every tensor of the architecture in seer_model's order. */
static seer_status tmodel_layout(seer_tmodel *tm, seer_err *err) {
    const seer_model_config *c = &tm->cfg;
    int gpt2 = c->arch == SEER_ARCH_GPT2;
    int64_t d = c->d_model, kvd = (int64_t)c->n_kv_heads * c->d_head, h = c->d_mlp, V = c->n_vocab;
    int ok = 1;
    char n[96];
#define SPAN(nd, d0, d1, ...)                                                                             \
    do {                                                                                                  \
        snprintf(n, sizeof(n), __VA_ARGS__);                                                              \
        ok = ok && tmodel_add_span(tm, n, nd, d0, d1) >= 0;                                               \
    } while (0)
    SPAN(2, V, d, "token_embd.weight");
    if (gpt2) SPAN(2, c->n_ctx, d, "position_embd.weight");
    for (int l = 0; l < c->n_layers; l++) {
        SPAN(1, d, 0, "blk.%d.attn_norm.weight", l);
        if (gpt2) {
            SPAN(1, d, 0, "blk.%d.attn_norm.bias", l);
            SPAN(2, 3 * d, d, "blk.%d.attn_qkv.weight", l);
            SPAN(1, 3 * d, 0, "blk.%d.attn_qkv.bias", l);
        } else {
            SPAN(2, d, d, "blk.%d.attn_q.weight", l);
            SPAN(2, kvd, d, "blk.%d.attn_k.weight", l);
            SPAN(2, kvd, d, "blk.%d.attn_v.weight", l);
        }
        SPAN(2, d, d, "blk.%d.attn_output.weight", l);
        if (gpt2) SPAN(1, d, 0, "blk.%d.attn_output.bias", l);
        SPAN(1, d, 0, "blk.%d.ffn_norm.weight", l);
        if (gpt2) SPAN(1, d, 0, "blk.%d.ffn_norm.bias", l);
        else SPAN(2, h, d, "blk.%d.ffn_gate.weight", l);
        SPAN(2, h, d, "blk.%d.ffn_up.weight", l);
        if (gpt2) SPAN(1, h, 0, "blk.%d.ffn_up.bias", l);
        SPAN(2, d, h, "blk.%d.ffn_down.weight", l);
        if (gpt2) SPAN(1, d, 0, "blk.%d.ffn_down.bias", l);
    }
    SPAN(1, d, 0, "output_norm.weight");
    if (gpt2) SPAN(1, d, 0, "output_norm.bias");
    if (!c->tied_embeddings) SPAN(2, V, d, "output.weight");
#undef SPAN
    if (!ok) return seer_err_set(err, SEER_ERR_NOMEM, "tmodel: out of memory");
    seer_status st = tmodel_grow(tm, 0, err);
    if (st) return st;
    return tmodel_resolve(tm, err);
}

seer_status tmodel_resolve(seer_tmodel *tm, seer_err *err) {
    const seer_model_config *c = &tm->cfg;
    free(tm->layers);
    tm->layers = calloc((size_t)c->n_layers, sizeof(*tm->layers));
    if (!tm->layers) return seer_err_set(err, SEER_ERR_NOMEM, "tmodel: out of memory");
    tm->tok_embd = find_span(tm, "token_embd.weight");
    tm->pos_embd = find_span(tm, "position_embd.weight");
    tm->out_norm = find_span(tm, "output_norm.weight");
    tm->out_norm_b = find_span(tm, "output_norm.bias");
    tm->output = c->tied_embeddings ? tm->tok_embd : find_span(tm, "output.weight");
    char n[96];
    for (int l = 0; l < c->n_layers; l++) {
        tlayer *L = &tm->layers[l];
#define IDX(field, suffix)                                                                                \
    snprintf(n, sizeof(n), "blk.%d." suffix, l);                                                         \
    L->field = find_span(tm, n)
        IDX(attn_norm, "attn_norm.weight");
        IDX(attn_norm_b, "attn_norm.bias");
        IDX(wq, "attn_q.weight");
        IDX(wk, "attn_k.weight");
        IDX(wv, "attn_v.weight");
        IDX(wqkv, "attn_qkv.weight");
        IDX(bqkv, "attn_qkv.bias");
        IDX(wo, "attn_output.weight");
        IDX(bo, "attn_output.bias");
        IDX(ffn_norm, "ffn_norm.weight");
        IDX(ffn_norm_b, "ffn_norm.bias");
        IDX(w_gate, "ffn_gate.weight");
        IDX(w_up, "ffn_up.weight");
        IDX(b_up, "ffn_up.bias");
        IDX(w_down, "ffn_down.weight");
        IDX(b_down, "ffn_down.bias");
#undef IDX
    }
    return SEER_OK;
}

static seer_status tmodel_new(const seer_model_config *c, seer_tmodel **out, seer_err *err) {
    *out = NULL;
    seer_status st = seer_model_config_check(c, err);
    if (st) return st;
    seer_tmodel *tm = calloc(1, sizeof(*tm));
    if (!tm) return seer_err_set(err, SEER_ERR_NOMEM, "tmodel: out of memory");
    tm->cfg = *c;
    tm->decay_embd = 1;
    if ((st = tmodel_layout(tm, err))) {
        seer_tmodel_free(tm);
        return st;
    }
    *out = tm;
    return SEER_OK;
}

seer_status seer_tmodel_from_model(const seer_model *m, seer_tmodel **out, seer_err *err) {
    seer_tmodel *tm;
    seer_status st = tmodel_new(&m->cfg, &tm, err);
    if (st) return st;
    for (int64_t i = 0; i < tm->n_spans && !st; i++) {
        const seer_tspan *s = &tm->spans[i];
        const seer_tensor *t = seer_model_find_tensor(m, s->name);
        if (!t) {
            st = seer_err_set(err, SEER_ERR_FORMAT, "tmodel: model has no tensor '%s'", s->name);
        } else if (seer_tensor_nelem(t) != (int64_t)s->count) {
            st = seer_err_set(err, SEER_ERR_FORMAT, "tmodel: tensor '%s' has %lld elements, expected %zu", s->name,
                              (long long)seer_tensor_nelem(t), s->count);
        } else if ((st = seer_convert_to_f32(t->type, t->data, tm->params + s->offset, (int64_t)s->count, err))) {
            seer_err_wrap(err, "tmodel: tensor '%s': ", s->name);
        }
    }
    if (st) {
        seer_tmodel_free(tm);
        return st;
    }
    *out = tm;
    return SEER_OK;
}

seer_status seer_tmodel_random(const seer_model_config *c, uint64_t seed, seer_tmodel **out, seer_err *err) {
    seer_tmodel *tm;
    seer_status st = tmodel_new(c, &tm, err);
    if (st) return st;
    seer_rng r;
    seer_rng_seed(&r, seed);
    for (int64_t i = 0; i < tm->n_spans; i++) {
        const seer_tspan *s = &tm->spans[i];
        float *p = tm->params + s->offset;
        int norm_gain = s->n_dims == 1 && strstr(s->name, "norm.weight");
        int norm_bias = s->n_dims == 1 && strstr(s->name, "norm.bias");
        float std = !strcmp(s->name, "position_embd.weight") ? 0.01f : 0.02f;
        for (size_t k = 0; k < s->count; k++)
            p[k] = norm_gain ? 1.0f : norm_bias ? 0.0f : std * seer_rng_normal(&r);
    }
    *out = tm;
    return SEER_OK;
}

void seer_tmodel_free(seer_tmodel *tm) {
    if (!tm) return;
    for (int64_t i = 0; i < tm->n_spans; i++) free((char *)tm->spans[i].name);
    free(tm->spans);
    free(tm->lora_a);
    free(tm->lora_b);
    free(tm->layers);
    free(tm->params);
    free(tm->grads);
    free(tm);
}

const seer_model_config *seer_tmodel_config(const seer_tmodel *tm) { return &tm->cfg; }

float *seer_tmodel_params(seer_tmodel *tm, size_t *n) {
    if (n) *n = tm->n;
    return tm->params;
}

float *seer_tmodel_grads(seer_tmodel *tm, size_t *n) {
    if (n) *n = tm->n;
    return tm->grads;
}

void seer_tmodel_zero_grads(seer_tmodel *tm) { memset(tm->grads, 0, tm->n * sizeof(float)); }

int64_t seer_tmodel_n_spans(const seer_tmodel *tm) { return tm->n_spans; }

const seer_tspan *seer_tmodel_span(const seer_tmodel *tm, int64_t i) {
    return i >= 0 && i < tm->n_spans ? &tm->spans[i] : NULL;
}

const seer_tspan *seer_tmodel_find(const seer_tmodel *tm, const char *name) {
    int32_t i = find_span(tm, name);
    return i < 0 ? NULL : &tm->spans[i];
}

void seer_tmodel_set_decay(seer_tmodel *tm, int norms_and_biases, int embeddings) {
    tm->decay_norms = norms_and_biases != 0;
    tm->decay_embd = embeddings != 0;
    for (int64_t i = 0; i < tm->n_spans; i++) {
        seer_tspan *s = &tm->spans[i];
        int embd = (int32_t)i == tm->tok_embd || (int32_t)i == tm->pos_embd;
        if (embd) s->decay = tm->decay_embd;
        else if (s->n_dims == 1) s->decay = tm->decay_norms;
    }
}

seer_status seer_tmodel_set_trainable(seer_tmodel *tm, const char *name, int trainable, seer_err *err) {
    int32_t i = find_span(tm, name);
    if (i < 0) return seer_err_set(err, SEER_ERR_INVALID, "tmodel: no tensor '%s'", name);
    tm->spans[i].trainable = trainable != 0;
    if (!trainable) memset(tm->grads + tm->spans[i].offset, 0, tm->spans[i].count * sizeof(float));
    return SEER_OK;
}

seer_status seer_tmodel_to_model(const seer_tmodel *tm, seer_model **out, seer_err *err) {
    *out = NULL;
    seer_model *m = model_alloc();
    if (!m) return seer_err_set(err, SEER_ERR_NOMEM, "tmodel: out of memory");
    m->cfg = tm->cfg;
    m->format = SEER_FORMAT_GGUF;
    seer_status st = SEER_OK;
    for (int64_t i = 0; i < tm->n_spans && !st; i++) {
        const seer_tspan *s = &tm->spans[i];
        if (tm->lora_rank && (strstr(s->name, ".lora_a") || strstr(s->name, ".lora_b"))) continue;
        float *p = seer_alloc_aligned(s->count, sizeof(float));
        if (!p) {
            st = seer_err_set(err, SEER_ERR_NOMEM, "tmodel: cannot copy '%s' (%zu floats)", s->name, s->count);
            break;
        }
        memcpy(p, tm->params + s->offset, s->count * sizeof(float));
        st = model_add_tensor(m, s->name, SEER_DTYPE_F32, s->n_dims, s->shape, p, 1, err);
    }
    if (!st) st = model_resolve(m, err);
    if (st) {
        seer_model_free(m);
        return st;
    }
    *out = m;
    return SEER_OK;
}

seer_status tmodel_hook_parse(const seer_tmodel *tm, const char *name, seer_hook_point *p, int *layer, seer_err *err) {
    return seer_hook_point_parse(&tm->cfg, name, p, layer, err);
}
