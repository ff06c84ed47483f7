/* The model's final norm (ln_final) and unembedding, seen from outside the forward: applied to
 * any residual vector (logit lens), its divisor alone (DLA linearises the norm at it), and
 * single rows of the unembedding (logit-difference directions). */
#include "analysis_internal.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

/* Which final norm each architecture ends with; a new architecture must say. */
static const int arch_layernorm[] = {
    [SEER_ARCH_LLAMA] = 0,
    [SEER_ARCH_GPT2] = 1,
};
static_assert(SEER_ARCH_COUNT == sizeof(arch_layernorm) / sizeof(arch_layernorm[0]), "arch_layernorm covers seer_arch");

static const float *f32_vector(const seer_model *m, const char *name, int64_t d, int required, seer_status *st,
                               seer_err *err) {
    const seer_tensor *t = seer_model_find_tensor(m, name);
    if (!t) {
        if (required && !*st) *st = seer_err_set(err, SEER_ERR_FORMAT, "analysis: model has no tensor '%s'", name);
        return NULL;
    }
    if (t->type != SEER_DTYPE_F32 || seer_tensor_nelem(t) != d) {
        if (!*st)
            *st = seer_err_set(err, SEER_ERR_UNSUPPORTED, "analysis: tensor '%s' must be f32 with %lld elements (is %s, %lld)",
                               name, (long long)d, seer_dtype_name(t->type), (long long)seer_tensor_nelem(t));
        return NULL;
    }
    return t->data;
}

seer_status an_unembed_init(an_unembed *u, const seer_model *m, seer_err *err) {
    const seer_model_config *cfg = seer_model_get_config(m);
    seer_status st = SEER_OK;
    u->m = m;
    u->layernorm = arch_layernorm[cfg->arch];
    u->d = cfg->d_model;
    u->n_vocab = cfg->n_vocab;
    u->eps = cfg->norm_eps;
    u->w = f32_vector(m, "output_norm.weight", u->d, 1, &st, err);
    u->b = u->layernorm ? f32_vector(m, "output_norm.bias", u->d, 1, &st, err) : NULL;
    const char *out = cfg->tied_embeddings ? "token_embd.weight" : "output.weight";
    u->wu = seer_model_find_tensor(m, out);
    if (!st && (!u->wu || u->wu->n_dims != 2 || u->wu->shape[0] != u->n_vocab || u->wu->shape[1] != u->d))
        st = seer_err_set(err, SEER_ERR_FORMAT, "analysis: unembedding '%s' missing or not [%lld, %lld]", out,
                          (long long)u->n_vocab, (long long)u->d);
    return st;
}

void an_final_norm(const an_unembed *u, float *y, const float *x) {
    if (u->layernorm) seer_layernorm_f32(y, x, u->w, u->b, u->d, u->eps);
    else seer_rmsnorm_f32(y, x, u->w, u->d, u->eps);
}

double an_norm_scale(const an_unembed *u, const float *x) {
    double mean = 0, ss = 0;
    if (u->layernorm) {
        for (int64_t i = 0; i < u->d; i++) mean += x[i];
        mean /= (double)u->d;
    }
    for (int64_t i = 0; i < u->d; i++) ss += ((double)x[i] - mean) * ((double)x[i] - mean);
    return sqrt(ss / (double)u->d + (double)u->eps);
}

void an_unembed_row(const an_unembed *u, int32_t id, float *out) {
    size_t row;
    SEER_ASSERT(id >= 0 && id < u->n_vocab);
    SEER_ASSERT(seer_dtype_row_bytes(u->wu->type, u->d, &row, NULL) == SEER_OK);
    seer_vec_to_f32(u->wu->type, (const uint8_t *)u->wu->data + row * (size_t)id, out, u->d);
}

seer_status an_unembed_rows(const an_unembed *u, seer_pool *pool, const float *y, int64_t n, float *logits,
                            seer_err *err) {
    size_t ws = seer_matmul_work_size(u->wu->type, n, u->d);
    if (ws == SIZE_MAX) return seer_err_set(err, SEER_ERR_NOMEM, "analysis: unembedding workspace for %lld rows overflows", (long long)n);
    void *work = ws ? seer_alloc_aligned(ws, 1) : NULL;
    if (ws && !work) return seer_err_set(err, SEER_ERR_NOMEM, "analysis: cannot allocate %zu bytes of workspace", ws);
    seer_matmul(pool, logits, y, n, u->wu->data, u->wu->type, u->n_vocab, u->d, work);
    free(work);
    return SEER_OK;
}
