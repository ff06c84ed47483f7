/* llama2.c checkpoint -> model: per-layer views into the mapped file under llama.cpp names
 * (llama2.c already uses interleaved RoPE pairs, as GGUF does, so nothing is permuted). */
#include "model_internal.h"
#include "seer/llama2c.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

static seer_status add_stack(seer_model *m, const char *fmt, const float *base, int L, int64_t d0, int64_t d1,
                             seer_err *err) {
    int64_t per = d0 * (d1 > 0 ? d1 : 1);
    for (int l = 0; l < L; l++) {
        char name[96];
        snprintf(name, sizeof(name), fmt, l);
        int64_t shape[2] = {d0, d1};
        seer_status st = model_add_tensor(m, name, SEER_DTYPE_F32, d1 > 0 ? 2 : 1, shape, (void *)(base + per * l), 0, err);
        if (st) return st;
    }
    return SEER_OK;
}

/* tokenizer.bin or tok<vocab>.bin in the checkpoint's folder. */
static void find_tokenizer(seer_model *m, const char *path) {
    char *copy = strdup(path);
    if (!copy) return;
    const char *dir = dirname(copy);
    char name[64];
    snprintf(name, sizeof(name), "tok%d.bin", m->cfg.n_vocab);
    const char *cands[] = {name, "tokenizer.bin"};
    for (size_t i = 0; i < 2 && !m->tok; i++) {
        char *p = seer_path_join(dir, cands[i]);
        seer_err e;
        if (p && seer_path_exists(p) && seer_tok_load(p, &m->tok, &e) != SEER_OK) m->tok = NULL;
        free(p);
    }
    free(copy);
}

seer_status model_load_llama2c(seer_model *m, const char *path, seer_err *err) {
    seer_status st = seer_map_open(path, &m->map, err);
    if (st) return st;
    seer_llama2c c;
    st = seer_llama2c_parse(m->map.data, m->map.size, &c, err);
    if (st) return seer_err_wrap(err, "%s: ", path);
    const seer_llama2c_header *h = &c.hdr;
    seer_model_config *cfg = &m->cfg;
    cfg->arch = SEER_ARCH_LLAMA;
    cfg->n_vocab = h->vocab_size;
    cfg->d_model = h->dim;
    cfg->n_layers = h->n_layers;
    cfg->n_heads = h->n_heads;
    cfg->n_kv_heads = h->n_kv_heads;
    cfg->d_head = h->dim / h->n_heads;
    cfg->d_mlp = h->hidden_dim;
    cfg->n_ctx = h->seq_len;
    cfg->norm_eps = 1e-5f;
    cfg->rope_theta = 10000.0f;
    cfg->tied_embeddings = h->shared_classifier;
    int L = h->n_layers;
    int64_t d = h->dim, kvd = (int64_t)cfg->d_head * h->n_kv_heads, hd = h->hidden_dim, V = h->vocab_size;
    int64_t emb[2] = {V, d}, fin[1] = {d};
    if ((st = model_add_tensor(m, "token_embd.weight", SEER_DTYPE_F32, 2, emb, (void *)c.token_embedding, 0, err)) ||
        (st = add_stack(m, "blk.%d.attn_norm.weight", c.rms_att, L, d, 0, err)) ||
        (st = add_stack(m, "blk.%d.attn_q.weight", c.wq, L, d, d, err)) ||
        (st = add_stack(m, "blk.%d.attn_k.weight", c.wk, L, kvd, d, err)) ||
        (st = add_stack(m, "blk.%d.attn_v.weight", c.wv, L, kvd, d, err)) ||
        (st = add_stack(m, "blk.%d.attn_output.weight", c.wo, L, d, d, err)) ||
        (st = add_stack(m, "blk.%d.ffn_norm.weight", c.rms_ffn, L, d, 0, err)) ||
        (st = add_stack(m, "blk.%d.ffn_gate.weight", c.w1, L, hd, d, err)) ||
        (st = add_stack(m, "blk.%d.ffn_down.weight", c.w2, L, d, hd, err)) ||
        (st = add_stack(m, "blk.%d.ffn_up.weight", c.w3, L, hd, d, err)) ||
        (st = model_add_tensor(m, "output_norm.weight", SEER_DTYPE_F32, 1, fin, (void *)c.rms_final, 0, err)))
        return st;
    if (!h->shared_classifier &&
        (st = model_add_tensor(m, "output.weight", SEER_DTYPE_F32, 2, emb, (void *)c.wcls, 0, err)))
        return st;
    find_tokenizer(m, path);
    return SEER_OK;
}
