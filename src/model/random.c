/* Random-weight models of any shape (tests, benchmarks): normal(0, 0.02) matrices, unit norms,
 * zero biases, from a seed; plus a byte-level SentencePiece-style tokenizer whose merged
 * pieces are built from shorter ones, so encoding really merges. */
#include "model_internal.h"

#include <stdlib.h>
#include <string.h>

static seer_status add_random(seer_model *m, seer_rng *r, const char *name, int n_dims, int64_t d0, int64_t d1, float std,
                              float fill, seer_err *err) {
    int64_t shape[2] = {d0, d1}, n = d0 * (n_dims == 2 ? d1 : 1);
    float *p = seer_alloc_aligned((size_t)n, sizeof(float));
    if (!p) return seer_err_set(err, SEER_ERR_NOMEM, "model random: cannot allocate '%s' (%lld floats)", name, (long long)n);
    for (int64_t i = 0; i < n; i++) p[i] = std > 0 ? std * seer_rng_normal(r) : fill;
    return model_add_tensor(m, name, SEER_DTYPE_F32, n_dims, shape, p, 1, err);
}

/* A llama2.c tokenizer.bin image: specials, 256 byte pieces, merged pieces (score falling),
 * then printable ASCII characters last (as SentencePiece exports single characters). */
static seer_status random_tokenizer(seer_model *m, seer_rng *r, seer_err *err) {
    int32_t V = m->cfg.n_vocab;
    if (V < 259) return SEER_OK;
    int32_t n_chars = V - 259 < 95 ? V - 259 : 95, n_merged = V - 259 - n_chars;
    char **pieces = calloc((size_t)V, sizeof(char *));
    if (!pieces) return seer_err_set(err, SEER_ERR_NOMEM, "model random: out of memory");
    seer_status st = SEER_OK;
    size_t total = 4;
    int32_t first_char = 259 + n_merged;
    for (int32_t i = 0; i < V && !st; i++) {
        char buf[64];
        if (i == 0) snprintf(buf, sizeof(buf), "<unk>");
        else if (i == 1) snprintf(buf, sizeof(buf), "\n<s>\n");
        else if (i == 2) snprintf(buf, sizeof(buf), "\n</s>\n");
        else if (i < 259) snprintf(buf, sizeof(buf), "<0x%02X>", i - 3);
        else if (i >= first_char) snprintf(buf, sizeof(buf), "%c", (char)(32 + (i - first_char)));
        else buf[0] = 0;
        pieces[i] = strdup(buf);
        if (!pieces[i]) st = seer_err_set(err, SEER_ERR_NOMEM, "model random: out of memory");
    }
    /* merged pieces: concatenations of two earlier-known pieces (characters or merges), unique */
    for (int32_t i = 259; i < first_char && !st; i++) {
        for (int tries = 0;; tries++) {
            int32_t na = first_char + (int32_t)(seer_rng_u64(r) % (uint64_t)n_chars);
            int32_t nb = first_char + (int32_t)(seer_rng_u64(r) % (uint64_t)n_chars);
            if (i > 259 && seer_rng_u64(r) % 2) na = 259 + (int32_t)(seer_rng_u64(r) % (uint64_t)(i - 259));
            char buf[128];
            snprintf(buf, sizeof(buf), "%s%s", pieces[na], pieces[nb]);
            if (strlen(buf) > 16) continue;
            int dup = 0;
            for (int32_t k = 259; k < i && !dup; k++) dup = !strcmp(pieces[k], buf);
            if (dup && tries < 100) continue;
            if (dup) snprintf(buf, sizeof(buf), "%s%d", pieces[na], i); /* guaranteed fresh */
            free(pieces[i]);
            pieces[i] = strdup(buf);
            if (!pieces[i]) st = seer_err_set(err, SEER_ERR_NOMEM, "model random: out of memory");
            break;
        }
    }
    for (int32_t i = 0; i < V && !st; i++) total += 8 + strlen(pieces[i]);
    uint8_t *img = st ? NULL : malloc(total);
    if (!st && !img) st = seer_err_set(err, SEER_ERR_NOMEM, "model random: out of memory");
    if (!st) {
        size_t o = 4, maxlen = 0;
        for (int32_t i = 0; i < V; i++) {
            float score = i < 259 ? 0.0f : -(float)(i - 259);
            int32_t len = (int32_t)strlen(pieces[i]);
            if ((size_t)len > maxlen) maxlen = (size_t)len;
            memcpy(img + o, &score, 4);
            memcpy(img + o + 4, &len, 4);
            memcpy(img + o + 8, pieces[i], (size_t)len);
            o += 8 + (size_t)len;
        }
        int32_t ml = (int32_t)maxlen;
        memcpy(img, &ml, 4);
        st = seer_tok_load_llama2c_buffer(img, total, V, &m->tok, err);
    }
    free(img);
    for (int32_t i = 0; i < V; i++) free(pieces[i]);
    free(pieces);
    return st;
}

seer_status seer_model_random(const seer_model_config *c, uint64_t seed, seer_model **out, seer_err *err) {
    *out = NULL;
    seer_status st = seer_model_config_check(c, err);
    if (st) return st;
    seer_model *m = model_alloc();
    if (!m) return seer_err_set(err, SEER_ERR_NOMEM, "model random: out of memory");
    m->cfg = *c;
    m->format = SEER_FORMAT_GGUF;
    seer_rng r;
    seer_rng_seed(&r, seed);
    int64_t d = c->d_model, kvd = (int64_t)c->n_kv_heads * c->d_head, h = c->d_mlp, V = c->n_vocab;
    const float s = 0.02f;
    char n[96];
#define RND(nd, d0, d1, std, fill)                                                                        \
    if (!st) st = add_random(m, &r, n, nd, d0, d1, std, fill, err)
    snprintf(n, sizeof(n), "token_embd.weight");
    RND(2, V, d, s, 0);
    if (c->arch == SEER_ARCH_GPT2) {
        snprintf(n, sizeof(n), "position_embd.weight");
        RND(2, c->n_ctx, d, 0.01f, 0);
    }
    for (int l = 0; l < c->n_layers && !st; l++) {
        const int gpt2 = c->arch == SEER_ARCH_GPT2;
        snprintf(n, sizeof(n), "blk.%d.attn_norm.weight", l);
        RND(1, d, 0, 0, 1.0f);
        if (gpt2) {
            snprintf(n, sizeof(n), "blk.%d.attn_norm.bias", l);
            RND(1, d, 0, 0, 0.0f);
            snprintf(n, sizeof(n), "blk.%d.attn_qkv.weight", l);
            RND(2, 3 * d, d, s, 0);
            snprintf(n, sizeof(n), "blk.%d.attn_qkv.bias", l);
            RND(1, 3 * d, 0, s, 0);
        } else {
            snprintf(n, sizeof(n), "blk.%d.attn_q.weight", l);
            RND(2, d, d, s, 0);
            snprintf(n, sizeof(n), "blk.%d.attn_k.weight", l);
            RND(2, kvd, d, s, 0);
            snprintf(n, sizeof(n), "blk.%d.attn_v.weight", l);
            RND(2, kvd, d, s, 0);
        }
        snprintf(n, sizeof(n), "blk.%d.attn_output.weight", l);
        RND(2, d, d, s, 0);
        if (gpt2) {
            snprintf(n, sizeof(n), "blk.%d.attn_output.bias", l);
            RND(1, d, 0, s, 0);
        }
        snprintf(n, sizeof(n), "blk.%d.ffn_norm.weight", l);
        RND(1, d, 0, 0, 1.0f);
        if (gpt2) {
            snprintf(n, sizeof(n), "blk.%d.ffn_norm.bias", l);
            RND(1, d, 0, 0, 0.0f);
        } else {
            snprintf(n, sizeof(n), "blk.%d.ffn_gate.weight", l);
            RND(2, h, d, s, 0);
        }
        snprintf(n, sizeof(n), "blk.%d.ffn_up.weight", l);
        RND(2, h, d, s, 0);
        if (gpt2) {
            snprintf(n, sizeof(n), "blk.%d.ffn_up.bias", l);
            RND(1, h, 0, s, 0);
        }
        snprintf(n, sizeof(n), "blk.%d.ffn_down.weight", l);
        RND(2, d, h, s, 0);
        if (gpt2) {
            snprintf(n, sizeof(n), "blk.%d.ffn_down.bias", l);
            RND(1, d, 0, s, 0);
        }
    }
    snprintf(n, sizeof(n), "output_norm.weight");
    RND(1, d, 0, 0, 1.0f);
    if (c->arch == SEER_ARCH_GPT2) {
        snprintf(n, sizeof(n), "output_norm.bias");
        RND(1, d, 0, 0, 0.0f);
    }
    if (!c->tied_embeddings) {
        snprintf(n, sizeof(n), "output.weight");
        RND(2, V, d, s, 0);
    }
#undef RND
    if (!st && c->arch == SEER_ARCH_LLAMA) st = random_tokenizer(m, &r, err);
    if (!st) st = model_resolve(m, err);
    if (st) {
        seer_model_free(m);
        return st;
    }
    *out = m;
    return SEER_OK;
}
