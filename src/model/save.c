/* Writing models: GGUF (llama.cpp names and keys, optional quantization), Hugging Face folders
 * (config.json + model.safetensors with HF names, q/k rows permuted back to rotate-half, GPT-2
 * weights transposed back to Conv1D) and llama2.c legacy checkpoints. Every format is written
 * atomically; in f32 every direction is exact. */
#include "model_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Buffers made during a save, freed together at the end. */
typedef struct scratch {
    void **p;
    int64_t n, cap;
} scratch;

static void *scratch_keep(scratch *s, void *p) {
    if (!p) return NULL;
    if (s->n == s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 64;
        void **np = realloc(s->p, (size_t)cap * sizeof(*np));
        if (!np) {
            free(p);
            return NULL;
        }
        s->p = np;
        s->cap = cap;
    }
    s->p[s->n++] = p;
    return p;
}

static void scratch_free(scratch *s) {
    for (int64_t i = 0; i < s->n; i++) free(s->p[i]);
    free(s->p);
}

/* t's data in type `to` (t itself when already so). */
static const void *as_type(const seer_tensor *t, seer_dtype to, scratch *s, seer_err *err) {
    if (t->type == to) return t->data;
    int64_t n = seer_tensor_nelem(t);
    float *f = scratch_keep(s, seer_alloc_aligned((size_t)n, sizeof(float)));
    if (!f) {
        seer_err_set(err, SEER_ERR_NOMEM, "save: out of memory converting '%s'", t->name);
        return NULL;
    }
    if (seer_convert_to_f32(t->type, t->data, f, n, err)) return NULL;
    if (to == SEER_DTYPE_F32) return f;
    size_t bytes;
    if (seer_dtype_row_bytes(to, n, &bytes, err)) return NULL;
    void *o = scratch_keep(s, seer_alloc_aligned(bytes, 1));
    if (!o || seer_convert_from_f32(to, f, o, n, err)) {
        if (!o) seer_err_set(err, SEER_ERR_NOMEM, "save: out of memory");
        return NULL;
    }
    return o;
}

/* The type a tensor is written in: matrices take the requested type when their rows allow it
 * (quantized types need rows of multiples of 32; GPT-2 positions stay f32); vectors stay f32. */
static seer_dtype pick_type(const seer_tensor *t, seer_dtype want) {
    if (want == SEER_DTYPE_COUNT) return t->type;
    if (t->n_dims != 2 || !strcmp(t->name, "position_embd.weight")) return SEER_DTYPE_F32;
    if ((want == SEER_DTYPE_Q8_0 || want == SEER_DTYPE_Q4_0) && t->shape[1] % SEER_QK != 0) return SEER_DTYPE_F32;
    return want;
}

static seer_status save_gguf(const seer_model *m, const char *path, seer_dtype type, seer_err *err) {
    const seer_model_config *c = &m->cfg;
    seer_gguf_writer *w = seer_gguf_writer_init();
    if (!w) return seer_err_set(err, SEER_ERR_NOMEM, "save: out of memory");
    scratch s = {0};
    seer_status st = SEER_OK;
    const char *arch = seer_arch_name(c->arch);
    char key[128];
#define KEY(suffix) (snprintf(key, sizeof(key), "%s.%s", arch, suffix), key)
    seer_gguf_writer_set_str(w, "general.architecture", arch);
    seer_gguf_writer_set_str(w, "general.name", "seer");
    seer_gguf_writer_set_u32(w, KEY("context_length"), (uint32_t)c->n_ctx);
    seer_gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)c->d_model);
    seer_gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)c->n_layers);
    seer_gguf_writer_set_u32(w, KEY("feed_forward_length"), (uint32_t)c->d_mlp);
    seer_gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)c->n_heads);
    seer_gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_heads);
    if (c->arch == SEER_ARCH_LLAMA) {
        seer_gguf_writer_set_u32(w, KEY("rope.dimension_count"), (uint32_t)c->d_head);
        seer_gguf_writer_set_f32(w, KEY("rope.freq_base"), c->rope_theta);
        seer_gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), c->norm_eps);
    } else {
        seer_gguf_writer_set_f32(w, KEY("attention.layer_norm_epsilon"), c->norm_eps);
    }
    seer_gguf_writer_set_u32(w, KEY("vocab_size"), (uint32_t)c->n_vocab);
#undef KEY
    if (m->tok && (st = seer_tok_write_gguf(m->tok, w, err))) goto out;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const seer_tensor *t = &m->tensors[i];
        seer_dtype to = pick_type(t, type);
        const void *d = as_type(t, to, &s, err);
        if (!d) {
            st = err->code ? err->code : SEER_ERR_NOMEM;
            goto out;
        }
        seer_gguf_writer_add_tensor(w, t->name, to, t->n_dims, t->shape, d);
    }
    st = seer_gguf_writer_write(w, path, err);
out:
    seer_gguf_writer_free(w);
    scratch_free(&s);
    return st;
}

/* ---- Hugging Face folder ---- */

static seer_status write_hf_config(const seer_model *m, const char *dir, seer_err *err) {
    const seer_model_config *c = &m->cfg;
    char buf[2048];
    int n;
    if (c->arch == SEER_ARCH_LLAMA) {
        n = snprintf(buf, sizeof(buf),
                     "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n"
                     "  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n  \"num_hidden_layers\": %d,\n"
                     "  \"num_attention_heads\": %d,\n  \"num_key_value_heads\": %d,\n  \"vocab_size\": %d,\n"
                     "  \"max_position_embeddings\": %d,\n  \"rms_norm_eps\": %.9g,\n  \"rope_theta\": %.9g,\n"
                     "  \"hidden_act\": \"silu\",\n  \"tie_word_embeddings\": %s,\n  \"torch_dtype\": \"float32\"\n}\n",
                     c->d_model, c->d_mlp, c->n_layers, c->n_heads, c->n_kv_heads, c->n_vocab, c->n_ctx,
                     (double)c->norm_eps, (double)c->rope_theta, c->tied_embeddings ? "true" : "false");
    } else {
        n = snprintf(buf, sizeof(buf),
                     "{\n  \"architectures\": [\"GPT2LMHeadModel\"],\n  \"model_type\": \"gpt2\",\n"
                     "  \"n_embd\": %d,\n  \"n_inner\": %d,\n  \"n_layer\": %d,\n  \"n_head\": %d,\n"
                     "  \"vocab_size\": %d,\n  \"n_positions\": %d,\n  \"n_ctx\": %d,\n  \"layer_norm_epsilon\": %.9g,\n"
                     "  \"activation_function\": \"gelu_new\",\n  \"tie_word_embeddings\": true\n}\n",
                     c->d_model, c->d_mlp, c->n_layers, c->n_heads, c->n_vocab, c->n_ctx, c->n_ctx, (double)c->norm_eps);
    }
    char *p = seer_path_join(dir, "config.json");
    if (!p) return seer_err_set(err, SEER_ERR_NOMEM, "out of memory");
    seer_status st = seer_write_file_atomic(p, buf, (size_t)n, err);
    free(p);
    return st;
}

/* Interleaved rows (2i, 2i+1) back to rotate-half rows (i, i + half) per head. */
static void *unpermute(const void *data, int64_t rows, size_t row_bytes, int n_heads) {
    uint8_t *p = seer_alloc_aligned((size_t)rows, row_bytes);
    if (!p) return NULL;
    int64_t dh = rows / n_heads, half = dh / 2;
    for (int64_t h = 0; h < n_heads; h++)
        for (int64_t i = 0; i < half; i++)
            for (int64_t k = 0; k < 2; k++)
                memcpy(p + (size_t)(h * dh + k * half + i) * row_bytes, (const uint8_t *)data + (size_t)(h * dh + 2 * i + k) * row_bytes,
                       row_bytes);
    return p;
}

static seer_status save_hf(const seer_model *m, const char *dir, seer_dtype type, seer_err *err) {
    const seer_model_config *c = &m->cfg;
    if (type == SEER_DTYPE_Q8_0 || type == SEER_DTYPE_Q4_0)
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "save: safetensors holds f32, f16 or bf16, not %s", seer_dtype_name(type));
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return seer_err_set(err, SEER_ERR_IO, "%s: cannot create folder: %s", dir, strerror(errno));
    seer_st_writer *w = seer_st_writer_init();
    if (!w) return seer_err_set(err, SEER_ERR_NOMEM, "save: out of memory");
    seer_st_writer_set_metadata(w, "format", "pt");
    scratch s = {0};
    seer_status st = SEER_OK;
    char *path = NULL;
    for (int64_t i = 0; i < m->n_tensors && !st; i++) {
        const seer_tensor *t = &m->tensors[i];
        seer_dtype to = type == SEER_DTYPE_COUNT ? t->type : (t->n_dims == 2 ? type : SEER_DTYPE_F32);
        if (to == SEER_DTYPE_Q8_0 || to == SEER_DTYPE_Q4_0) to = SEER_DTYPE_F32;
        const void *d = as_type(t, to, &s, err);
        if (!d) {
            st = err->code ? err->code : SEER_ERR_NOMEM;
            break;
        }
        char name[160];
        hf_op op;
        if (hf_name_from_gguf(c->arch, t->name, name, sizeof(name), &op) < 0) {
            st = seer_err_set(err, SEER_ERR_UNSUPPORTED, "save: no Hugging Face name for tensor '%s'", t->name);
            break;
        }
        int64_t shape[2] = {t->shape[0], t->n_dims > 1 ? t->shape[1] : 0};
        if (op == HF_PERMUTE_Q || op == HF_PERMUTE_K) {
            size_t row;
            seer_dtype_row_bytes(to, t->shape[1], &row, NULL);
            d = scratch_keep(&s, unpermute(d, t->shape[0], row, op == HF_PERMUTE_Q ? c->n_heads : c->n_kv_heads));
        } else if (op == HF_CONV1D) {
            /* Conv1D stores [in, out]: transpose in f32, then back to `to` */
            const float *f = as_type(t, SEER_DTYPE_F32, &s, err);
            float *tr = f ? scratch_keep(&s, seer_alloc_aligned((size_t)(t->shape[0] * t->shape[1]), sizeof(float))) : NULL;
            if (tr) {
                for (int64_t o = 0; o < t->shape[0]; o++)
                    for (int64_t in = 0; in < t->shape[1]; in++) tr[in * t->shape[0] + o] = f[o * t->shape[1] + in];
                seer_tensor tt = *t;
                tt.type = SEER_DTYPE_F32;
                tt.data = tr;
                tt.shape[0] = shape[0] = t->shape[1];
                tt.shape[1] = shape[1] = t->shape[0];
                d = as_type(&tt, to, &s, err);
            } else {
                d = NULL;
            }
        }
        if (!d) {
            st = err->code ? err->code : seer_err_set(err, SEER_ERR_NOMEM, "save: out of memory");
            break;
        }
        seer_st_writer_add(w, name, to, t->n_dims, shape, d);
    }
    if (!st) st = write_hf_config(m, dir, err);
    if (!st) {
        path = seer_path_join(dir, "model.safetensors");
        st = path ? seer_st_writer_write(w, path, err) : seer_err_set(err, SEER_ERR_NOMEM, "out of memory");
    }
    if (!st && m->tok) st = seer_tok_save_hf(m->tok, dir, err);
    free(path);
    seer_st_writer_free(w);
    scratch_free(&s);
    return st;
}

/* ---- llama2.c legacy checkpoint ---- */

static seer_status save_llama2c(const seer_model *m, const char *path, seer_dtype type, seer_err *err) {
    const seer_model_config *c = &m->cfg;
    if (c->arch != SEER_ARCH_LLAMA)
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "save: llama2.c checkpoints hold Llama models only, not %s",
                            seer_arch_name(c->arch));
    if (type != SEER_DTYPE_COUNT && type != SEER_DTYPE_F32)
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "save: llama2.c checkpoints are f32 only, not %s", seer_dtype_name(type));
    if (c->norm_eps != 1e-5f || c->rope_theta != 10000.0f)
        return seer_err_set(err, SEER_ERR_UNSUPPORTED,
                            "save: llama2.c fixes norm eps 1e-5 and rope theta 10000; this model has %g and %g",
                            (double)c->norm_eps, (double)c->rope_theta);
    seer_awriter w;
    seer_status st = seer_awriter_open(&w, path, err);
    if (st) return st;
    scratch s = {0};
    int32_t hdr[7] = {c->d_model, c->d_mlp, c->n_layers, c->n_heads, c->n_kv_heads,
                      c->tied_embeddings ? c->n_vocab : -c->n_vocab, c->n_ctx};
    seer_awriter_write(&w, hdr, sizeof(hdr));
    static const char *const order[] = {"attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
                                        "ffn_norm.weight", "ffn_gate.weight", "ffn_down.weight", "ffn_up.weight"};
#define PUT(t)                                                                                                   \
    do {                                                                                                         \
        const void *d_ = as_type((t), SEER_DTYPE_F32, &s, err);                                                  \
        if (!d_) {                                                                                               \
            st = err->code ? err->code : SEER_ERR_NOMEM;                                                         \
            goto out;                                                                                            \
        }                                                                                                        \
        seer_awriter_write(&w, d_, (size_t)seer_tensor_nelem(t) * sizeof(float));                               \
    } while (0)
    PUT(m->tok_embd);
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
        for (int l = 0; l < c->n_layers; l++) {
            const seer_layer *L = &m->layers[l];
            const seer_tensor *t = k == 0 ? L->attn_norm : k == 1 ? L->wq : k == 2 ? L->wk : k == 3 ? L->wv : k == 4 ? L->wo
                                 : k == 5 ? L->ffn_norm : k == 6 ? L->w_gate : k == 7 ? L->w_down : L->w_up;
            PUT(t);
        }
    }
    PUT(m->out_norm);
    /* The legacy layout keeps two RoPE tables here (unused by readers, needed for the offset of
     * an untied classifier); written as llama2.c's exporter computed them. */
    int64_t half = c->d_head / 2;
    for (int part = 0; part < 2; part++) {
        for (int64_t p = 0; p < c->n_ctx; p++) {
            for (int64_t j = 0; j < half; j++) {
                float freq = 1.0f / powf(10000.0f, (float)(2 * j) / (float)c->d_head);
                float v = part == 0 ? cosf((float)p * freq) : sinf((float)p * freq);
                seer_awriter_write(&w, &v, sizeof(v));
            }
        }
    }
    if (!c->tied_embeddings) PUT(m->output);
#undef PUT
    st = seer_awriter_commit(&w, err);
    scratch_free(&s);
    return st;
out:
    seer_awriter_abort(&w);
    scratch_free(&s);
    return st;
}

seer_status seer_model_save(const seer_model *m, seer_format fmt, const char *path, seer_dtype type, seer_err *err) {
    seer_err local;
    if (!err) err = &local;
    err->code = SEER_OK; /* the writers read err->code to tell "failed with a message" apart */
    switch (fmt) {
    case SEER_FORMAT_GGUF: return save_gguf(m, path, type, err);
    case SEER_FORMAT_SAFETENSORS: return save_hf(m, path, type, err);
    case SEER_FORMAT_LLAMA2C: return save_llama2c(m, path, type, err);
    default: return seer_err_set(err, SEER_ERR_INVALID, "save: unknown format %d", (int)fmt);
    }
}
