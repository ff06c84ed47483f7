/* Hugging Face folder -> model: config.json (Llama or GPT-2) plus model.safetensors or shards.
 * Names are mapped to llama.cpp's; Llama q/k rows are permuted from HF's rotate-half RoPE
 * layout to interleaved pairs, GPT-2 Conv1D weights ([in, out]) are transposed, so the function
 * computed is the checkpoint's. */
#include "model_internal.h"

#include <cJSON.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

static int json_int(const cJSON *o, const char *key, int32_t *out, int32_t dflt, int required) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        *out = dflt;
        return required ? -1 : 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > INT32_MAX || v->valuedouble != (double)(int64_t)v->valuedouble)
        return -2;
    *out = (int32_t)v->valuedouble;
    return 0;
}

static int json_float(const cJSON *o, const char *key, float *out, float dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsNumber(v)) return -2;
    *out = (float)v->valuedouble;
    return 0;
}

typedef struct int_field {
    const char *key;
    int32_t *dst;
    int32_t dflt;
    int required;
} int_field;

static seer_status read_ints(const cJSON *j, const int_field *f, size_t n, seer_err *err) {
    for (size_t i = 0; i < n; i++) {
        int r = json_int(j, f[i].key, f[i].dst, f[i].dflt, f[i].required);
        if (r == -1) return seer_err_set(err, SEER_ERR_FORMAT, "config.json: '%s' missing", f[i].key);
        if (r == -2) return seer_err_set(err, SEER_ERR_FORMAT, "config.json: '%s' must be a non-negative integer", f[i].key);
    }
    return SEER_OK;
}

seer_status seer_hf_config_parse(const char *text, size_t len, seer_model_config *c, seer_err *err) {
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return seer_err_set(err, SEER_ERR_FORMAT, "config.json: not a JSON object");
    }
    seer_status st = SEER_OK;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(j, "model_type");
    const char *type = cJSON_IsString(mt) ? mt->valuestring : "";
    memset(c, 0, sizeof(*c));
    if (!strcmp(type, "llama") || !strcmp(type, "mistral")) {
        c->arch = SEER_ARCH_LLAMA;
        int32_t head_dim = 0;
        int_field f[] = {
            {"hidden_size", &c->d_model, 0, 1}, {"num_hidden_layers", &c->n_layers, 0, 1},
            {"num_attention_heads", &c->n_heads, 0, 1}, {"intermediate_size", &c->d_mlp, 0, 1},
            {"vocab_size", &c->n_vocab, 0, 1}, {"max_position_embeddings", &c->n_ctx, 2048, 0},
        };
        if ((st = read_ints(j, f, sizeof(f) / sizeof(f[0]), err))) goto out;
        int_field g[] = {{"num_key_value_heads", &c->n_kv_heads, c->n_heads, 0}, {"head_dim", &head_dim, 0, 0}};
        if ((st = read_ints(j, g, 2, err))) goto out;
        if (c->n_heads == 0) {
            st = seer_err_set(err, SEER_ERR_FORMAT, "config.json: num_attention_heads is 0");
            goto out;
        }
        c->d_head = c->d_model / c->n_heads;
        if (head_dim && head_dim != c->d_head) {
            st = seer_err_set(err, SEER_ERR_UNSUPPORTED, "config.json: head_dim %d != hidden_size / heads %d", head_dim, c->d_head);
            goto out;
        }
        if (json_float(j, "rms_norm_eps", &c->norm_eps, 1e-6f) || json_float(j, "rope_theta", &c->rope_theta, 10000.0f)) {
            st = seer_err_set(err, SEER_ERR_FORMAT, "config.json: rms_norm_eps / rope_theta must be numbers");
            goto out;
        }
        const cJSON *rs = cJSON_GetObjectItemCaseSensitive(j, "rope_scaling");
        if (rs && !cJSON_IsNull(rs)) {
            st = seer_err_set(err, SEER_ERR_UNSUPPORTED, "config.json: rope_scaling is not supported");
            goto out;
        }
        const cJSON *tie = cJSON_GetObjectItemCaseSensitive(j, "tie_word_embeddings");
        c->tied_embeddings = cJSON_IsTrue(tie);
    } else if (!strcmp(type, "gpt2")) {
        c->arch = SEER_ARCH_GPT2;
        int_field f[] = {
            {"n_embd", &c->d_model, 0, 1}, {"n_layer", &c->n_layers, 0, 1}, {"n_head", &c->n_heads, 0, 1},
            {"vocab_size", &c->n_vocab, 0, 1}, {"n_positions", &c->n_ctx, 1024, 0}, {"n_inner", &c->d_mlp, 0, 0},
        };
        if ((st = read_ints(j, f, sizeof(f) / sizeof(f[0]), err))) goto out;
        if (c->d_mlp == 0) {
            if (c->d_model > INT32_MAX / 4) {
                st = seer_err_set(err, SEER_ERR_FORMAT, "config.json: n_embd %d too large (4 x n_embd, the default n_inner, overflows)",
                                  c->d_model);
                goto out;
            }
            c->d_mlp = 4 * c->d_model;
        }
        c->n_kv_heads = c->n_heads;
        c->d_head = c->n_heads ? c->d_model / c->n_heads : 0;
        if (json_float(j, "layer_norm_epsilon", &c->norm_eps, 1e-5f)) {
            st = seer_err_set(err, SEER_ERR_FORMAT, "config.json: layer_norm_epsilon must be a number");
            goto out;
        }
        const cJSON *act = cJSON_GetObjectItemCaseSensitive(j, "activation_function");
        if (cJSON_IsString(act) && strcmp(act->valuestring, "gelu_new") != 0 && strcmp(act->valuestring, "gelu_pytorch_tanh") != 0) {
            st = seer_err_set(err, SEER_ERR_UNSUPPORTED, "config.json: activation_function '%s' not supported (gelu_new only)",
                              act->valuestring);
            goto out;
        }
        c->tied_embeddings = 1;
        c->rope_theta = 10000.0f;
    } else {
        st = seer_err_set(err, SEER_ERR_UNSUPPORTED, "config.json: model_type '%s' not supported (llama, gpt2)", type);
    }
out:
    cJSON_Delete(j);
    return st;
}

/* Copies t into a new f32 buffer (any float type). */
static float *to_f32(const seer_tensor *t, seer_err *err) {
    int64_t n = seer_tensor_nelem(t);
    char what[SEER_NAME_MAX + 32];
    snprintf(what, sizeof(what), "model: converting '%s' to f32", t->name);
    /* the tensor lies inside the file, but widening bf16 doubles it */
    if (seer_mem_check((size_t)n * sizeof(float), what, err)) return NULL;
    float *p = seer_alloc_aligned((size_t)n, sizeof(float));
    if (!p) {
        seer_err_set(err, SEER_ERR_NOMEM, "model: out of memory converting '%s'", t->name);
        return NULL;
    }
    if (seer_convert_to_f32(t->type, t->data, p, n, err)) {
        free(p);
        seer_err_wrap(err, "tensor '%s': ", t->name);
        return NULL;
    }
    return p;
}

/* Rotate-half rows (i, i + half) of each head become interleaved rows (2i, 2i+1). */
static seer_status add_permuted(seer_model *m, const char *name, const seer_tensor *t, int n_heads, seer_err *err) {
    if (n_heads <= 0 || t->n_dims != 2 || t->shape[0] % (2 * (int64_t)n_heads) != 0)
        return seer_err_set(err, SEER_ERR_FORMAT, "tensor '%s': cannot split %lld rows into %d heads", t->name,
                            (long long)t->shape[0], n_heads);
    size_t row;
    if (seer_dtype_row_bytes(t->type, t->shape[1], &row, err)) return SEER_ERR_FORMAT;
    uint8_t *p = seer_alloc_aligned((size_t)t->shape[0], row);
    if (!p) return seer_err_set(err, SEER_ERR_NOMEM, "model: out of memory permuting '%s'", t->name);
    int64_t dh = t->shape[0] / n_heads, half = dh / 2;
    for (int64_t h = 0; h < n_heads; h++)
        for (int64_t i = 0; i < half; i++)
            for (int64_t k = 0; k < 2; k++)
                memcpy(p + (size_t)(h * dh + 2 * i + k) * row, (const uint8_t *)t->data + (size_t)(h * dh + k * half + i) * row, row);
    return model_add_tensor(m, name, t->type, 2, t->shape, p, 1, err);
}

static seer_status add_as_is(seer_model *m, const char *name, const seer_tensor *t, seer_err *err) {
    if (t->n_dims == 1 && t->type != SEER_DTYPE_F32) {
        float *p = to_f32(t, err);
        if (!p) return err->code;
        return model_add_tensor(m, name, SEER_DTYPE_F32, 1, t->shape, p, 1, err);
    }
    return model_add_tensor(m, name, t->type, t->n_dims, t->shape, t->data, 0, err);
}

/* Conv1D [in, out] -> f32 [out, in]. */
static seer_status add_transposed(seer_model *m, const char *name, const seer_tensor *t, seer_err *err) {
    if (t->n_dims != 2) return seer_err_set(err, SEER_ERR_FORMAT, "tensor '%s': expected 2 dims", t->name);
    float *src = to_f32(t, err);
    if (!src) return err->code;
    int64_t in = t->shape[0], outd = t->shape[1];
    float *p = seer_alloc_aligned((size_t)in * (size_t)outd, sizeof(float));
    if (!p) {
        free(src);
        return seer_err_set(err, SEER_ERR_NOMEM, "model: out of memory transposing '%s'", t->name);
    }
    for (int64_t i = 0; i < in; i++)
        for (int64_t o = 0; o < outd; o++) p[o * in + i] = src[i * outd + o];
    free(src);
    int64_t shape[2] = {outd, in};
    return model_add_tensor(m, name, SEER_DTYPE_F32, 2, shape, p, 1, err);
}

/* One checkpoint tensor into the registry under its llama.cpp name, transformed as needed. */
static seer_status map_tensor(seer_model *m, const seer_tensor *t, seer_err *err) {
    char name[160];
    hf_op op;
    int r = hf_name_to_gguf(m->cfg.arch, t->name, m->cfg.n_layers, name, sizeof(name), &op);
    if (r == 0) return SEER_OK;
    if (r < 0)
        return seer_err_set(err, SEER_ERR_FORMAT, "safetensors: unexpected tensor '%s' for a %s model", t->name,
                            seer_arch_name(m->cfg.arch));
    if (!strcmp(name, "output.weight") && m->cfg.tied_embeddings) return SEER_OK;
    switch (op) {
    case HF_PERMUTE_Q: return add_permuted(m, name, t, m->cfg.n_heads, err);
    case HF_PERMUTE_K: return add_permuted(m, name, t, m->cfg.n_kv_heads, err);
    case HF_CONV1D: return add_transposed(m, name, t, err);
    default: break;
    }
    /* learned positions are read as f32 rows */
    if (!strcmp(name, "position_embd.weight") && t->type != SEER_DTYPE_F32) {
        float *p = to_f32(t, err);
        return p ? model_add_tensor(m, name, SEER_DTYPE_F32, 2, t->shape, p, 1, err) : err->code;
    }
    return add_as_is(m, name, t, err);
}

seer_status model_load_hf(seer_model *m, const char *path, seer_err *err) {
    char *copy = strdup(path);
    if (!copy) return seer_err_set(err, SEER_ERR_NOMEM, "out of memory");
    char *dir = seer_path_is_dir(path) ? strdup(path) : strdup(dirname(copy));
    free(copy);
    char *cfg_path = dir ? seer_path_join(dir, "config.json") : NULL;
    char *text = NULL;
    size_t len = 0;
    seer_status st;
    if (!cfg_path) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((st = seer_read_file(cfg_path, &text, &len, err))) {
        seer_err_wrap(err, "Hugging Face model needs config.json beside the weights: ");
        goto out;
    }
    /* Checked before any tensor is read: q/k rows are split into heads by these counts. */
    if ((st = seer_hf_config_parse(text, len, &m->cfg, err)) || (st = seer_model_config_check(&m->cfg, err))) {
        seer_err_wrap(err, "%s: ", cfg_path);
        goto out;
    }
    if ((st = seer_st_set_open(seer_path_is_dir(path) ? dir : path, &m->st, err))) goto out;
    for (int64_t i = 0; i < seer_st_set_n_tensors(m->st) && !st; i++) {
        const seer_tensor *t = seer_st_set_tensor(m->st, i);
        st = map_tensor(m, t, err);
    }
    if (st) goto out;
    if (m->cfg.arch == SEER_ARCH_LLAMA && !m->cfg.tied_embeddings && !seer_model_find_tensor(m, "output.weight"))
        m->cfg.tied_embeddings = 1; /* some checkpoints omit lm_head and tie implicitly */
    static const char *const tok_files[] = {"tokenizer.json", "vocab.json", "encoder.json", "tokenizer.bin"};
    for (size_t i = 0; i < sizeof(tok_files) / sizeof(tok_files[0]); i++) {
        char *p = seer_path_join(dir, tok_files[i]);
        int found = p && seer_path_exists(p);
        free(p);
        if (found) {
            if ((st = seer_tok_load(dir, &m->tok, err))) seer_err_wrap(err, "%s: tokenizer: ", dir);
            break;
        }
    }
out:
    free(text);
    free(cfg_path);
    free(dir);
    return st;
}
