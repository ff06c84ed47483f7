/* GGUF -> model: config from llama.cpp's metadata keys (<arch>.block_count, ...), tensors used
 * in place from the mapping under their own (llama.cpp) names, tokenizer from tokenizer.ggml.*. */
#include "model_internal.h"

#include <string.h>

#define GGUF_MAX_TENSORS_PER_LAYER 32 /* generous: Llama has 9 per block, GPT-2 12 */
#define GGUF_MAX_LAYERS 1024         /* seer_model_config_check's limit */

static seer_status get_i32(const seer_gguf *g, const char *arch, const char *suffix, int32_t *out, int required,
                           int32_t dflt, seer_err *err) {
    char key[128];
    snprintf(key, sizeof(key), "%s.%s", arch, suffix);
    if (seer_gguf_find_key(g, key) < 0) {
        if (required) return seer_err_set(err, SEER_ERR_FORMAT, "gguf: metadata key '%s' missing", key);
        *out = dflt;
        return SEER_OK;
    }
    int64_t v;
    seer_status st = seer_gguf_get_i64(g, key, &v, err);
    if (st) return st;
    if (v < 0 || v > INT32_MAX) return seer_err_set(err, SEER_ERR_FORMAT, "gguf: %s = %lld out of range", key, (long long)v);
    *out = (int32_t)v;
    return SEER_OK;
}

static seer_status get_f32(const seer_gguf *g, const char *arch, const char *suffix, float *out, float dflt,
                           seer_err *err) {
    char key[128];
    snprintf(key, sizeof(key), "%s.%s", arch, suffix);
    if (seer_gguf_find_key(g, key) < 0) {
        *out = dflt;
        return SEER_OK;
    }
    return seer_gguf_get_f32(g, key, out, err);
}

seer_status model_load_gguf(seer_model *m, const char *path, seer_err *err) {
    seer_status st = seer_gguf_open_file(path, &m->gguf, err);
    if (st) return st;
    const seer_gguf *g = m->gguf;
    seer_gguf_str archs;
    if ((st = seer_gguf_get_str(g, "general.architecture", &archs, err))) return st;
    char arch[32];
    if (archs.len >= sizeof(arch)) return seer_err_set(err, SEER_ERR_UNSUPPORTED, "gguf: architecture name too long");
    memcpy(arch, archs.data, archs.len);
    arch[archs.len] = 0;
    seer_model_config *c = &m->cfg;
    if (seer_arch_from_name(arch, &c->arch) != 0)
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "gguf: architecture '%s' not supported (seer runs llama, gpt2)", arch);
    int32_t rope_dims = 0;
    if ((st = get_i32(g, arch, "block_count", &c->n_layers, 1, 0, err)) ||
        (st = get_i32(g, arch, "embedding_length", &c->d_model, 1, 0, err)) ||
        (st = get_i32(g, arch, "feed_forward_length", &c->d_mlp, 1, 0, err)) ||
        (st = get_i32(g, arch, "attention.head_count", &c->n_heads, 1, 0, err)) ||
        (st = get_i32(g, arch, "attention.head_count_kv", &c->n_kv_heads, 0, c->n_heads, err)) ||
        (st = get_i32(g, arch, "context_length", &c->n_ctx, 0, 2048, err)))
        return st;
    if (c->n_heads <= 0) return seer_err_set(err, SEER_ERR_FORMAT, "gguf: %s.attention.head_count is 0", arch);
    c->d_head = c->d_model / c->n_heads;
    if (c->arch == SEER_ARCH_LLAMA) {
        if ((st = get_f32(g, arch, "attention.layer_norm_rms_epsilon", &c->norm_eps, 1e-5f, err)) ||
            (st = get_f32(g, arch, "rope.freq_base", &c->rope_theta, 10000.0f, err)) ||
            (st = get_i32(g, arch, "rope.dimension_count", &rope_dims, 0, c->d_head, err)))
            return st;
        if (rope_dims != c->d_head)
            return seer_err_set(err, SEER_ERR_UNSUPPORTED, "gguf: partial RoPE (%d of %d dims) not supported", rope_dims,
                                c->d_head);
    } else {
        if ((st = get_f32(g, arch, "attention.layer_norm_epsilon", &c->norm_eps, 1e-5f, err))) return st;
    }
    /* Each block has at most a dozen tensors (GPT-2), plus a few outside the blocks; a file with
     * far more cannot be this model, and registering every one (each name checked against the
     * others) would take quadratic time on a hostile file. */
    int64_t layers = c->n_layers < GGUF_MAX_LAYERS ? c->n_layers : GGUF_MAX_LAYERS;
    int64_t max_tensors = GGUF_MAX_TENSORS_PER_LAYER * (layers + 2);
    if (seer_gguf_n_tensors(g) > max_tensors)
        return seer_err_set(err, SEER_ERR_FORMAT, "gguf: %lld tensors for a %d-layer %s model (at most %lld expected)",
                            (long long)seer_gguf_n_tensors(g), c->n_layers, arch, (long long)max_tensors);
    for (int64_t i = 0; i < seer_gguf_n_tensors(g); i++) {
        const seer_tensor *t = seer_gguf_tensor(g, i);
        if ((st = model_add_tensor(m, t->name, t->type, t->n_dims, t->shape, t->data, 0, err))) return st;
    }
    const seer_tensor *emb = seer_model_find_tensor(m, "token_embd.weight");
    if (!emb || emb->n_dims != 2) return seer_err_set(err, SEER_ERR_FORMAT, "gguf: tensor 'token_embd.weight' missing or not 2-d");
    if (emb->shape[0] > INT32_MAX) return seer_err_set(err, SEER_ERR_FORMAT, "gguf: vocabulary too large");
    c->n_vocab = (int32_t)emb->shape[0];
    c->tied_embeddings = seer_model_find_tensor(m, "output.weight") == NULL;
    if (seer_gguf_find_key(g, "tokenizer.ggml.model") >= 0) {
        st = seer_tok_from_gguf(g, &m->tok, err);
        if (st) return seer_err_wrap(err, "%s: tokenizer: ", path);
    }
    return SEER_OK;
}
