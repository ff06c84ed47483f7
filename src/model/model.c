/* The model object: the tensor registry under llama.cpp names, format detection and loading,
 * config checks, and accessors. Format-specific reading lives in load_*.c. */
#include "model_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static const char *const arch_names[] = {"llama", "gpt2"};
static_assert(SEER_ARCH_COUNT == sizeof(arch_names) / sizeof(arch_names[0]), "arch_names covers seer_arch");
static const char *const format_names[] = {"llama2c", "gguf", "safetensors"};
static_assert(SEER_FORMAT_COUNT == sizeof(format_names) / sizeof(format_names[0]), "format_names covers seer_format");

const char *seer_arch_name(seer_arch a) { return (unsigned)a < SEER_ARCH_COUNT ? arch_names[a] : "unknown"; }
const char *seer_format_name(seer_format f) { return (unsigned)f < SEER_FORMAT_COUNT ? format_names[f] : "unknown"; }

int seer_arch_from_name(const char *name, seer_arch *out) {
    for (int i = 0; i < SEER_ARCH_COUNT; i++) {
        if (strcmp(name, arch_names[i]) == 0) {
            *out = (seer_arch)i;
            return 0;
        }
    }
    return -1;
}

const seer_arch_ops *seer_arch_get(seer_arch a) {
    switch (a) {
    case SEER_ARCH_LLAMA: return &seer_arch_llama;
    case SEER_ARCH_GPT2: return &seer_arch_gpt2;
    default: return NULL;
    }
}

#define CFG_MAX_DIM (1 << 18)
#define CFG_MAX_LAYERS 1024
#define CFG_MAX_VOCAB (1 << 22)
#define CFG_MAX_CTX (1 << 22)

seer_status seer_model_config_check(const seer_model_config *c, seer_err *err) {
    struct {
        const char *name;
        int64_t v, lo, hi;
    } f[] = {
        {"n_vocab", c->n_vocab, 1, CFG_MAX_VOCAB}, {"d_model", c->d_model, 1, CFG_MAX_DIM},
        {"n_layers", c->n_layers, 1, CFG_MAX_LAYERS}, {"n_heads", c->n_heads, 1, c->d_model > 0 ? c->d_model : 1},
        {"n_kv_heads", c->n_kv_heads, 1, c->n_heads > 0 ? c->n_heads : 1}, {"d_head", c->d_head, 1, CFG_MAX_DIM},
        {"d_mlp", c->d_mlp, 1, CFG_MAX_DIM}, {"n_ctx", c->n_ctx, 1, CFG_MAX_CTX},
    };
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (f[i].v < f[i].lo || f[i].v > f[i].hi)
            return seer_err_set(err, SEER_ERR_FORMAT, "model config: %s = %lld out of range [%lld, %lld]", f[i].name,
                                (long long)f[i].v, (long long)f[i].lo, (long long)f[i].hi);
    }
    if ((unsigned)c->arch >= SEER_ARCH_COUNT) return seer_err_set(err, SEER_ERR_FORMAT, "model config: unknown architecture %d", (int)c->arch);
    if (c->n_heads % c->n_kv_heads != 0)
        return seer_err_set(err, SEER_ERR_FORMAT, "model config: n_heads %d not divisible by n_kv_heads %d", c->n_heads,
                            c->n_kv_heads);
    if ((int64_t)c->n_heads * c->d_head != c->d_model)
        return seer_err_set(err, SEER_ERR_FORMAT, "model config: n_heads %d x d_head %d != d_model %d", c->n_heads,
                            c->d_head, c->d_model);
    if (c->arch == SEER_ARCH_LLAMA && c->d_head % 2 != 0)
        return seer_err_set(err, SEER_ERR_FORMAT, "model config: d_head %d is odd (RoPE needs pairs)", c->d_head);
    if (c->arch == SEER_ARCH_GPT2 && c->n_kv_heads != c->n_heads)
        return seer_err_set(err, SEER_ERR_FORMAT, "model config: GPT-2 needs n_kv_heads == n_heads (%d vs %d)",
                            c->n_kv_heads, c->n_heads);
    if (!(c->norm_eps > 0 && c->norm_eps < 1))
        return seer_err_set(err, SEER_ERR_FORMAT, "model config: norm eps %g out of range (0, 1)", (double)c->norm_eps);
    if (c->arch == SEER_ARCH_LLAMA && !(c->rope_theta > 0 && c->rope_theta < 1e12f))
        return seer_err_set(err, SEER_ERR_FORMAT, "model config: rope theta %g out of range", (double)c->rope_theta);
    return SEER_OK;
}

seer_model *model_alloc(void) { return calloc(1, sizeof(seer_model)); }

seer_status model_own(seer_model *m, void *p, seer_err *err) {
    if (m->n_owned == m->cap_owned) {
        int64_t cap = m->cap_owned ? m->cap_owned * 2 : 16;
        void **n = realloc(m->owned, (size_t)cap * sizeof(*n));
        if (!n) {
            free(p);
            return seer_err_set(err, SEER_ERR_NOMEM, "model: out of memory");
        }
        m->owned = n;
        m->cap_owned = cap;
    }
    m->owned[m->n_owned++] = p;
    return SEER_OK;
}

seer_status model_add_tensor(seer_model *m, const char *name, seer_dtype type, int n_dims, const int64_t *shape,
                             void *data, int owned_data, seer_err *err) {
    if (owned_data && model_own(m, data, err)) return SEER_ERR_NOMEM;
    if (seer_model_find_tensor(m, name))
        return seer_err_set(err, SEER_ERR_FORMAT, "model: tensor '%s' appears twice", name);
    if (n_dims < 0 || n_dims > SEER_MAX_DIMS)
        return seer_err_set(err, SEER_ERR_FORMAT, "model: tensor '%s' has %d dims", name, n_dims);
    if (m->n_tensors == m->cap_tensors) {
        int64_t cap = m->cap_tensors ? m->cap_tensors * 2 : 64;
        seer_tensor *n = realloc(m->tensors, (size_t)cap * sizeof(*n));
        if (!n) return seer_err_set(err, SEER_ERR_NOMEM, "model: out of memory");
        m->tensors = n;
        m->cap_tensors = cap;
    }
    char *nm = strdup(name);
    if (!nm || model_own(m, nm, err)) return seer_err_set(err, SEER_ERR_NOMEM, "model: out of memory");
    seer_tensor *t = &m->tensors[m->n_tensors];
    memset(t, 0, sizeof(*t));
    t->name = nm;
    t->type = type;
    t->n_dims = n_dims;
    for (int i = 0; i < n_dims; i++) t->shape[i] = shape[i];
    t->data = data;
    int64_t ne = seer_tensor_nelem(t);
    size_t row;
    if (ne < 0) return seer_err_set(err, SEER_ERR_FORMAT, "model: tensor '%s' element count overflows", name);
    if (seer_dtype_row_bytes(type, ne, &row, err)) return seer_err_wrap(err, "model: tensor '%s': ", name);
    t->nbytes = row;
    m->n_tensors++;
    return SEER_OK;
}

const seer_tensor *seer_model_find_tensor(const seer_model *m, const char *name) {
    for (int64_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

const seer_tensor *model_need(const seer_model *m, const char *name, int n_dims, int64_t d0, int64_t d1,
                              seer_err *err, seer_status *st) {
    if (*st) return NULL;
    SEER_ASSERT(n_dims == 1 || n_dims == 2); /* want[] below holds two dims */
    const seer_tensor *t = seer_model_find_tensor(m, name);
    if (!t) {
        *st = seer_err_set(err, SEER_ERR_FORMAT, "model: tensor '%s' missing", name);
        return NULL;
    }
    int64_t want[2] = {d0, d1};
    int ok = t->n_dims == n_dims;
    for (int i = 0; ok && i < n_dims; i++) ok = t->shape[i] == want[i];
    if (!ok) {
        char a[64], b[64];
        *st = seer_err_set(err, SEER_ERR_FORMAT, "model: tensor '%s': expected shape %s, file has %s", name,
                           seer_shape_str(want, n_dims, a, sizeof(a)), seer_shape_str(t->shape, t->n_dims, b, sizeof(b)));
        return NULL;
    }
    /* matrices are used by seer_matmul, vectors as f32 */
    if (n_dims == 1 && t->type != SEER_DTYPE_F32) {
        *st = seer_err_set(err, SEER_ERR_UNSUPPORTED, "model: tensor '%s': 1-d tensors must be f32, file has %s", name,
                           seer_dtype_name(t->type));
        return NULL;
    }
    if (n_dims == 2 && !(t->type == SEER_DTYPE_F32 || t->type == SEER_DTYPE_F16 || t->type == SEER_DTYPE_BF16 ||
                         t->type == SEER_DTYPE_Q8_0 || t->type == SEER_DTYPE_Q4_0)) {
        *st = seer_err_set(err, SEER_ERR_UNSUPPORTED, "model: tensor '%s': type %s not usable as a weight", name,
                           seer_dtype_name(t->type));
        return NULL;
    }
    if ((uintptr_t)t->data % 4 != 0 && t->type == SEER_DTYPE_F32) {
        *st = seer_err_set(err, SEER_ERR_FORMAT, "model: tensor '%s': data not 4-byte aligned", name);
        return NULL;
    }
    return t;
}

seer_status model_resolve(seer_model *m, seer_err *err) {
    seer_status st = seer_model_config_check(&m->cfg, err);
    if (st) return st;
    free(m->layers);
    m->layers = calloc((size_t)m->cfg.n_layers, sizeof(*m->layers));
    if (!m->layers) return seer_err_set(err, SEER_ERR_NOMEM, "model: out of memory");
    return seer_arch_get(m->cfg.arch)->resolve(m, err);
}

static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Sniffs the format from the path and the first bytes. */
static seer_status detect_format(const char *path, seer_format *out, seer_err *err) {
    if (seer_path_is_dir(path) || has_suffix(path, ".safetensors") || has_suffix(path, "config.json")) {
        *out = SEER_FORMAT_SAFETENSORS;
        return SEER_OK;
    }
    FILE *f = fopen(path, "rb");
    if (!f) return seer_err_set(err, SEER_ERR_IO, "%s: cannot open model", path);
    uint8_t magic[4] = {0};
    size_t n = fread(magic, 1, 4, f);
    (void)fclose(f); /* read only: nothing to lose */
    if (n == 4 && memcmp(magic, "GGUF", 4) == 0) {
        *out = SEER_FORMAT_GGUF;
    } else {
        *out = SEER_FORMAT_LLAMA2C; /* the legacy format has no magic: its parser checks the header */
    }
    return SEER_OK;
}

seer_status seer_model_load(const char *path, const char *tok_path, seer_model **out, seer_err *err) {
    *out = NULL;
    seer_format fmt = SEER_FORMAT_COUNT;
    seer_status st = detect_format(path, &fmt, err);
    if (st) return st;
    seer_model *m = model_alloc();
    if (!m) return seer_err_set(err, SEER_ERR_NOMEM, "model: out of memory");
    m->format = fmt;
    switch (fmt) {
    case SEER_FORMAT_LLAMA2C: st = model_load_llama2c(m, path, err); break;
    case SEER_FORMAT_GGUF: st = model_load_gguf(m, path, err); break;
    case SEER_FORMAT_SAFETENSORS: st = model_load_hf(m, path, err); break;
    default: st = seer_err_set(err, SEER_ERR_UNSUPPORTED, "model: unknown format");
    }
    if (!st) st = model_resolve(m, err);
    if (!st && tok_path) {
        seer_tok_free(m->tok);
        m->tok = NULL;
        st = seer_tok_load(tok_path, &m->tok, err);
    }
    if (!st && m->tok && seer_tok_n_vocab(m->tok) != m->cfg.n_vocab) {
        st = seer_err_set(err, SEER_ERR_FORMAT, "tokenizer has %d tokens but model %s has vocabulary %d",
                          seer_tok_n_vocab(m->tok), path, m->cfg.n_vocab);
    }
    if (st) {
        seer_model_free(m);
        return st;
    }
    *out = m;
    return SEER_OK;
}

void seer_model_free(seer_model *m) {
    if (!m) return;
    seer_tok_free(m->tok);
    for (int64_t i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->tensors);
    free(m->layers);
    seer_gguf_free(m->gguf);
    seer_st_set_free(m->st);
    seer_map_close(&m->map);
    free(m);
}

const seer_model_config *seer_model_get_config(const seer_model *m) { return &m->cfg; }
seer_format seer_model_format(const seer_model *m) { return m->format; }
const seer_tok *seer_model_tok(const seer_model *m) { return m->tok; }
int64_t seer_model_n_tensors(const seer_model *m) { return m->n_tensors; }
const seer_tensor *seer_model_tensor(const seer_model *m, int64_t i) {
    return i >= 0 && i < m->n_tensors ? &m->tensors[i] : NULL;
}

int64_t seer_model_n_params(const seer_model *m) {
    int64_t n = 0;
    for (int64_t i = 0; i < m->n_tensors; i++) n += seer_tensor_nelem(&m->tensors[i]);
    return n;
}

size_t seer_model_weight_bytes(const seer_model *m) {
    size_t n = 0;
    for (int64_t i = 0; i < m->n_tensors; i++) n += m->tensors[i].nbytes;
    return n;
}
