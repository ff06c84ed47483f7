/* LoRA adapters on a trainable model: rank-r A [r, in] and B [out, r] appended to the flat
 * buffer after the base weights, W' = W + (alpha / r)·B·A; while adapters exist only they
 * train. Merge folds them into W; save/load keep them apart as safetensors. */
#include "grad_internal.h"
#include "seer/safetensors.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lora_target {
    uint32_t flag;
    const char *suffix; /* matrix name after "blk.N." */
    const char *short_name;
} lora_target;

static const lora_target targets[] = {
    {SEER_LORA_Q, "attn_q.weight", "q"},       {SEER_LORA_K, "attn_k.weight", "k"},
    {SEER_LORA_V, "attn_v.weight", "v"},       {SEER_LORA_O, "attn_output.weight", "o"},
    {SEER_LORA_GATE, "ffn_gate.weight", "gate"}, {SEER_LORA_UP, "ffn_up.weight", "up"},
    {SEER_LORA_DOWN, "ffn_down.weight", "down"}, {SEER_LORA_QKV, "attn_qkv.weight", "qkv"},
};
#define N_TARGETS ((int)(sizeof(targets) / sizeof(targets[0])))

static int32_t span_index(const seer_tmodel *tm, const char *name) {
    const seer_tspan *s = seer_tmodel_find(tm, name);
    return s ? (int32_t)(s - tm->spans) : -1;
}

/* Appends A and B for each base span, freezes the base; A and B start at zero. */
static seer_status lora_attach(seer_tmodel *tm, int rank, float alpha, const int32_t *bases, int n_bases,
                               seer_err *err) {
    if (tm->lora_rank) return seer_err_set(err, SEER_ERR_INVALID, "LoRA: the model has adapters already (merge them first)");
    if (rank < 1) return seer_err_set(err, SEER_ERR_INVALID, "LoRA: rank %d must be at least 1", rank);
    if (!(alpha > 0) || !isfinite(alpha))
        return seer_err_set(err, SEER_ERR_INVALID, "LoRA: alpha %g must be positive and finite", (double)alpha);
    if (n_bases == 0) return seer_err_set(err, SEER_ERR_INVALID, "LoRA: no matrix chosen");
    for (int i = 0; i < n_bases; i++) {
        const seer_tspan *s = &tm->spans[bases[i]];
        int64_t lim = s->shape[0] < s->shape[1] ? s->shape[0] : s->shape[1];
        if (rank > lim)
            return seer_err_set(err, SEER_ERR_RANGE, "LoRA: rank %d exceeds min(out, in) = %lld of '%s'", rank,
                                (long long)lim, s->name);
    }
    int64_t first = tm->n_spans;
    size_t old_n = tm->n;
    for (int i = 0; i < n_bases; i++) {
        char name[SEER_NAME_MAX];
        int64_t out = tm->spans[bases[i]].shape[0], in = tm->spans[bases[i]].shape[1];
        snprintf(name, sizeof(name), "%s.lora_a", tm->spans[bases[i]].name);
        int32_t a = tmodel_add_span(tm, name, 2, rank, in);
        snprintf(name, sizeof(name), "%s.lora_b", tm->spans[bases[i]].name);
        int32_t b = a < 0 ? -1 : tmodel_add_span(tm, name, 2, out, rank);
        if (a < 0 || b < 0) goto out_undo;
        tm->lora_a[bases[i]] = a;
        tm->lora_b[bases[i]] = b;
    }
    seer_status st = tmodel_grow(tm, old_n, err);
    if (st) goto out_undo_st;
    for (int64_t i = 0; i < tm->n_spans; i++) tm->spans[i].trainable = i >= first;
    memset(tm->grads, 0, old_n * sizeof(float));
    tm->lora_rank = rank;
    tm->lora_alpha = alpha;
    return SEER_OK;
out_undo:
    st = seer_err_set(err, SEER_ERR_NOMEM, "LoRA: out of memory");
out_undo_st:
    for (int64_t i = first; i < tm->n_spans; i++) free((char *)tm->spans[i].name);
    tm->n_spans = first;
    tm->n = old_n;
    for (int64_t i = 0; i < first; i++) tm->lora_a[i] = tm->lora_b[i] = -1;
    return st;
}

/* Collects the base spans named by matrices x layer_mask; fails on a matrix the arch lacks. */
static seer_status lora_pick(const seer_tmodel *tm, uint32_t matrices, uint64_t layer_mask, int32_t *bases, int *n,
                             seer_err *err) {
    const seer_model_config *c = &tm->cfg;
    *n = 0;
    uint32_t known = 0;
    for (int k = 0; k < N_TARGETS; k++) known |= targets[k].flag;
    if (matrices & ~known) return seer_err_set(err, SEER_ERR_INVALID, "LoRA: unknown matrix flags 0x%x", matrices & ~known);
    for (int k = 0; k < N_TARGETS; k++) {
        if (!(matrices & targets[k].flag)) continue;
        char name[96];
        snprintf(name, sizeof(name), "blk.0.%s", targets[k].suffix);
        if (span_index(tm, name) < 0)
            return seer_err_set(err, SEER_ERR_INVALID, "LoRA: %s models have no '%s' matrix", seer_arch_name(c->arch),
                                targets[k].short_name);
    }
    for (int l = 0; l < c->n_layers; l++) {
        if (!(layer_mask == ~(uint64_t)0 || (l < 64 && ((layer_mask >> l) & 1)))) continue;
        for (int k = 0; k < N_TARGETS; k++) {
            if (!(matrices & targets[k].flag)) continue;
            char name[96];
            snprintf(name, sizeof(name), "blk.%d.%s", l, targets[k].suffix);
            bases[(*n)++] = span_index(tm, name);
        }
    }
    return SEER_OK;
}

seer_status seer_tmodel_lora_add(seer_tmodel *tm, int rank, float alpha, uint32_t matrices, uint64_t layer_mask,
                                 uint64_t seed, seer_err *err) {
    int32_t *bases = calloc((size_t)tm->cfg.n_layers * N_TARGETS, sizeof(*bases));
    if (!bases) return seer_err_set(err, SEER_ERR_NOMEM, "LoRA: out of memory");
    int n = 0;
    seer_status st = lora_pick(tm, matrices, layer_mask, bases, &n, err);
    if (!st) st = lora_attach(tm, rank, alpha, bases, n, err);
    if (!st) {
        /* A ~ N(0, 1/in) so x·Aᵀ keeps x's scale; B = 0 so the model starts unchanged */
        seer_rng r;
        seer_rng_seed(&r, seed);
        for (int i = 0; i < n; i++) {
            const seer_tspan *a = &tm->spans[tm->lora_a[bases[i]]];
            float std = 1.0f / sqrtf((float)a->shape[1]);
            for (size_t k = 0; k < a->count; k++) tm->params[a->offset + k] = std * seer_rng_normal(&r);
        }
    }
    free(bases);
    return st;
}

int seer_tmodel_lora_rank(const seer_tmodel *tm) { return tm->lora_rank; }

/* Drops every adapter (the base keeps its weights) and unfreezes the base. */
static void lora_detach(seer_tmodel *tm) {
    int64_t first = tm->n_spans;
    for (int64_t i = 0; i < tm->n_spans; i++) {
        if (tm->lora_a[i] >= 0 && tm->lora_a[i] < first) first = tm->lora_a[i];
        tm->lora_a[i] = tm->lora_b[i] = -1;
    }
    if (first < tm->n_spans) tm->n = tm->spans[first].offset; /* the buffers keep their size */
    for (int64_t i = first; i < tm->n_spans; i++) free((char *)tm->spans[i].name);
    tm->n_spans = first;
    for (int64_t i = 0; i < tm->n_spans; i++) tm->spans[i].trainable = 1;
    memset(tm->grads, 0, tm->n * sizeof(float));
    tm->lora_rank = 0;
    tm->lora_alpha = 0;
}

seer_status seer_tmodel_lora_merge(seer_tmodel *tm, seer_err *err) {
    if (!tm->lora_rank) return seer_err_set(err, SEER_ERR_INVALID, "LoRA: the model has no adapters to merge");
    float s = tm->lora_alpha / (float)tm->lora_rank;
    int64_t r = tm->lora_rank;
    for (int64_t i = 0; i < tm->n_spans; i++) {
        int32_t a = tm->lora_a[i], b = tm->lora_b[i];
        if (a < 0) continue;
        int64_t out = tm->spans[i].shape[0], in = tm->spans[i].shape[1];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)out, (int)in, (int)r, s, tm_p(tm, b), (int)r,
                    tm_p(tm, a), (int)in, 1.0f, tm_p(tm, (int32_t)i), (int)in);
    }
    lora_detach(tm);
    return SEER_OK;
}

seer_status seer_tmodel_lora_save(const seer_tmodel *tm, const char *path, seer_err *err) {
    if (!tm->lora_rank) return seer_err_set(err, SEER_ERR_INVALID, "LoRA: the model has no adapters to save");
    seer_st_writer *w = seer_st_writer_init();
    if (!w) return seer_err_set(err, SEER_ERR_NOMEM, "LoRA: out of memory");
    char buf[64];
    snprintf(buf, sizeof(buf), "%d", tm->lora_rank);
    seer_st_writer_set_metadata(w, "seer.lora.rank", buf);
    snprintf(buf, sizeof(buf), "%.9g", (double)tm->lora_alpha);
    seer_st_writer_set_metadata(w, "seer.lora.alpha", buf);
    seer_st_writer_set_metadata(w, "seer.arch", seer_arch_name(tm->cfg.arch));
    for (int64_t i = 0; i < tm->n_spans; i++) {
        if (tm->lora_a[i] < 0) continue;
        const seer_tspan *a = &tm->spans[tm->lora_a[i]], *b = &tm->spans[tm->lora_b[i]];
        seer_st_writer_add(w, a->name, SEER_DTYPE_F32, 2, a->shape, tm->params + a->offset);
        seer_st_writer_add(w, b->name, SEER_DTYPE_F32, 2, b->shape, tm->params + b->offset);
    }
    seer_status st = seer_st_writer_write(w, path, err);
    seer_st_writer_free(w);
    if (st) seer_err_wrap(err, "LoRA: '%s': ", path);
    return st;
}

static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

seer_status seer_tmodel_lora_load(seer_tmodel *tm, const char *path, seer_err *err) {
    seer_st *f = NULL;
    seer_status st = seer_st_open_file(path, &f, err);
    if (st) return st;
    int32_t *bases = NULL;
    const char *rs = seer_st_metadata(f, "seer.lora.rank"), *as = seer_st_metadata(f, "seer.lora.alpha");
    char *end = NULL;
    long rank = rs ? strtol(rs, &end, 10) : 0;
    if (!rs || *end || rank < 1 || rank > (1 << 20)) {
        st = seer_err_set(err, SEER_ERR_FORMAT, "LoRA '%s': metadata seer.lora.rank missing or invalid ('%s')", path,
                          rs ? rs : "");
        goto out_close;
    }
    float alpha = as ? strtof(as, &end) : 0;
    if (!as || *end || !(alpha > 0) || !isfinite(alpha)) {
        st = seer_err_set(err, SEER_ERR_FORMAT, "LoRA '%s': metadata seer.lora.alpha missing or invalid ('%s')", path,
                          as ? as : "");
        goto out_close;
    }
    int64_t nt = seer_st_n_tensors(f);
    bases = calloc((size_t)(nt > 0 ? nt : 1), sizeof(*bases));
    if (!bases) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "LoRA: out of memory");
        goto out_close;
    }
    int n = 0;
    for (int64_t i = 0; i < nt && !st; i++) {
        const seer_tensor *t = seer_st_tensor(f, i);
        char base[SEER_NAME_MAX];
        if (has_suffix(t->name, ".lora_b")) continue;
        if (!has_suffix(t->name, ".lora_a") || strlen(t->name) >= sizeof(base)) {
            st = seer_err_set(err, SEER_ERR_FORMAT, "LoRA '%s': tensor '%s' is not an adapter (.lora_a/.lora_b)", path,
                              t->name);
            break;
        }
        snprintf(base, sizeof(base), "%.*s", (int)(strlen(t->name) - 7), t->name);
        int32_t bi = span_index(tm, base);
        if (bi < 0 || tm->spans[bi].n_dims != 2) {
            st = seer_err_set(err, SEER_ERR_FORMAT, "LoRA '%s': adapter for '%s', which the model has no matrix of", path,
                              base);
            break;
        }
        bases[n++] = bi;
    }
    if (!st) st = lora_attach(tm, (int)rank, alpha, bases, n, err);
    if (st) goto out_close;
    for (int i = 0; i < n && !st; i++) {
        for (int ab = 0; ab < 2 && !st; ab++) {
            const seer_tspan *s = &tm->spans[ab ? tm->lora_b[bases[i]] : tm->lora_a[bases[i]]];
            const seer_tensor *t = seer_st_find(f, s->name);
            char want[64], got[64];
            if (!t) {
                st = seer_err_set(err, SEER_ERR_FORMAT, "LoRA '%s': tensor '%s' missing", path, s->name);
            } else if (t->n_dims != 2 || t->shape[0] != s->shape[0] || t->shape[1] != s->shape[1]) {
                st = seer_err_set(err, SEER_ERR_FORMAT, "LoRA '%s': tensor '%s' has shape %s, the model needs %s", path,
                                  s->name, seer_shape_str(t->shape, t->n_dims, got, sizeof(got)),
                                  seer_shape_str(s->shape, 2, want, sizeof(want)));
            } else if (!(t->type == SEER_DTYPE_F32 || t->type == SEER_DTYPE_F16 || t->type == SEER_DTYPE_BF16)) {
                st = seer_err_set(err, SEER_ERR_FORMAT, "LoRA '%s': tensor '%s' has type %s (want F32, F16 or BF16)", path,
                                  s->name, seer_dtype_name(t->type));
            } else {
                st = seer_convert_to_f32(t->type, t->data, tm->params + s->offset, (int64_t)s->count, err);
            }
        }
    }
    if (st) lora_detach(tm);
out_close:
    free(bases);
    seer_st_free(f);
    return st;
}
