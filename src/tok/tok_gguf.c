/* Tokenizer from a GGUF's tokenizer.ggml.* metadata, as llama.cpp's converters write it:
 * model "llama" (SentencePiece pieces with "▁", scores, token types) or "gpt2" (byte-level
 * pieces and "a b" merges). Everything is copied, so the GGUF may be closed afterwards. */
#include "tok/tok_impl.h"

#include <stdlib.h>
#include <string.h>

#define K_MODEL "tokenizer.ggml.model"
#define K_TOKENS "tokenizer.ggml.tokens"
#define K_SCORES "tokenizer.ggml.scores"
#define K_TYPES "tokenizer.ggml.token_type"
#define K_MERGES "tokenizer.ggml.merges"
#define K_PRE "tokenizer.ggml.pre"

static int has_key(const seer_gguf *g, const char *key) { return seer_gguf_find_key(g, key) >= 0; }

/* An optional token id key: -1 when absent or outside the vocabulary (llama.cpp writes
 * 0xFFFFFFFF for "none"); def when absent. */
static int32_t opt_id(const seer_gguf *g, const char *key, int32_t n_vocab, int32_t def) {
    int64_t v;
    if (!has_key(g, key)) return def;
    if (seer_gguf_get_i64(g, key, &v, NULL) != SEER_OK || v < 0 || v >= n_vocab) return -1;
    return (int32_t)v;
}

static int opt_bool(const seer_gguf *g, const char *key, int def) {
    int v;
    if (!has_key(g, key) || seer_gguf_get_bool(g, key, &v, NULL) != SEER_OK) return def;
    return v != 0;
}

/* A fixed-size array key with exactly n elements of type want. */
static seer_status get_fixed_arr(const seer_gguf *g, const char *key, seer_gguf_type want, uint64_t n,
                                 const uint8_t **data, seer_err *err) {
    seer_gguf_type et;
    uint64_t cnt;
    seer_status st = seer_gguf_get_arr(g, key, &et, &cnt, err);
    if (st != SEER_OK) return st;
    if (et != want)
        return seer_err_set(err, SEER_ERR_FORMAT, "gguf: %s has element type %d, expected %d", key, (int)et, (int)want);
    if (cnt != n)
        return seer_err_set(err, SEER_ERR_FORMAT, "gguf: %s has %llu entries but there are %llu tokens", key,
                            (unsigned long long)cnt, (unsigned long long)n);
    *data = seer_gguf_arr_data(g, key);
    if (!*data && n > 0) return seer_err_set(err, SEER_ERR_FORMAT, "gguf: %s: no array data", key);
    return SEER_OK;
}

static seer_status read_tokens(const seer_gguf *g, seer_tok_kind kind, seer_tok **out, seer_err *err) {
    seer_gguf_type et;
    uint64_t n;
    seer_status st = seer_gguf_get_arr(g, K_TOKENS, &et, &n, err);
    if (st != SEER_OK) return st;
    if (et != SEER_GGUF_TYPE_STRING)
        return seer_err_set(err, SEER_ERR_FORMAT, "gguf: %s is not an array of strings", K_TOKENS);
    if (n == 0 || n > TOK_MAX_VOCAB)
        return seer_err_set(err, SEER_ERR_FORMAT, "gguf: %s has %llu tokens (expected 1..%d)", K_TOKENS,
                            (unsigned long long)n, TOK_MAX_VOCAB);
    seer_tok *t = NULL;
    st = tok_alloc(kind, (int64_t)n, "gguf tokenizer", &t, err);
    if (st != SEER_OK) return st;
    for (uint64_t i = 0; i < n; i++) {
        seer_gguf_str s;
        st = seer_gguf_arr_str(g, K_TOKENS, i, &s, err);
        if (st == SEER_OK) st = tok_set_piece(t, (int32_t)i, s.data, (size_t)s.len, err);
        if (st != SEER_OK) goto out_free;
    }
    if (has_key(g, K_SCORES)) {
        const uint8_t *d = NULL;
        st = get_fixed_arr(g, K_SCORES, SEER_GGUF_TYPE_FLOAT32, n, &d, err);
        if (st != SEER_OK) goto out_free;
        memcpy(t->scores, d, n * sizeof(float));
    }
    if (has_key(g, K_TYPES)) {
        const uint8_t *d = NULL;
        st = get_fixed_arr(g, K_TYPES, SEER_GGUF_TYPE_INT32, n, &d, err);
        if (st != SEER_OK) goto out_free;
        for (uint64_t i = 0; i < n; i++) {
            int32_t ty;
            memcpy(&ty, d + 4 * i, 4);
            if (ty < SEER_TOK_TYPE_NORMAL || ty >= SEER_TOK_TYPE_COUNT) {
                st = seer_err_set(err, SEER_ERR_FORMAT, "gguf: %s: token %llu has unknown type %d", K_TYPES,
                                  (unsigned long long)i, (int)ty);
                goto out_free;
            }
            t->types[i] = (uint8_t)ty;
        }
    } else if (kind == SEER_TOK_SPM) {
        for (int32_t id = 0; id < t->n_vocab; id++) {
            size_t len;
            const char *p = tok_raw(t, id, &len);
            if (tok_parse_byte_piece(p, len) >= 0) t->types[id] = SEER_TOK_TYPE_BYTE;
        }
    }
    *out = t;
    return SEER_OK;
out_free:
    seer_tok_free(t);
    return st;
}

static seer_status read_merges(const seer_gguf *g, seer_tok *t, seer_err *err) {
    seer_gguf_type et;
    uint64_t n;
    seer_status st = seer_gguf_get_arr(g, K_MERGES, &et, &n, err);
    if (st != SEER_OK) return st;
    if (et != SEER_GGUF_TYPE_STRING)
        return seer_err_set(err, SEER_ERR_FORMAT, "gguf: %s is not an array of strings", K_MERGES);
    st = tok_gpt2_finish_vocab(t, (size_t)n, err);
    for (uint64_t i = 0; st == SEER_OK && i < n; i++) {
        seer_gguf_str s;
        char what[64];
        snprintf(what, sizeof(what), "gguf: %s[%llu]", K_MERGES, (unsigned long long)i);
        st = seer_gguf_arr_str(g, K_MERGES, i, &s, err);
        if (st == SEER_OK) st = tok_gpt2_add_merge_line(t, s.data, (size_t)s.len, (size_t)i, what, err);
    }
    return st;
}

seer_status seer_tok_from_gguf(const seer_gguf *g, seer_tok **out, seer_err *err) {
    *out = NULL;
    seer_gguf_str model;
    if (!has_key(g, K_MODEL))
        return seer_err_set(err, SEER_ERR_FORMAT, "gguf: no %s key: the file carries no tokenizer", K_MODEL);
    seer_status st = seer_gguf_get_str(g, K_MODEL, &model, err);
    if (st != SEER_OK) return st;
    seer_tok_kind kind;
    if (model.len == 5 && memcmp(model.data, "llama", 5) == 0) {
        kind = SEER_TOK_SPM;
    } else if (model.len == 4 && memcmp(model.data, "gpt2", 4) == 0) {
        kind = SEER_TOK_GPT2;
        seer_gguf_str pre;
        if (has_key(g, K_PRE) && seer_gguf_get_str(g, K_PRE, &pre, NULL) == SEER_OK &&
            !(pre.len == 5 && memcmp(pre.data, "gpt-2", 5) == 0) && !(pre.len == 7 && memcmp(pre.data, "default", 7) == 0))
            return seer_err_set(err, SEER_ERR_UNSUPPORTED,
                                "gguf: pre-tokenizer '%.*s' is not supported (only GPT-2's: 'gpt-2' or 'default')",
                                (int)(pre.len < 40 ? pre.len : 40), pre.data);
    } else {
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "gguf: tokenizer model '%.*s' is not supported (llama, gpt2)",
                            (int)(model.len < 40 ? model.len : 40), model.data);
    }
    seer_tok *t = NULL;
    st = read_tokens(g, kind, &t, err);
    if (st != SEER_OK) return st;
    int32_t n = t->n_vocab;
    if (kind == SEER_TOK_SPM) {
        /* llama.cpp's defaults for SentencePiece vocabularies when the keys are absent. */
        t->unk = opt_id(g, "tokenizer.ggml.unknown_token_id", n, n > 0 ? 0 : -1);
        t->bos = opt_id(g, "tokenizer.ggml.bos_token_id", n, n > 1 ? 1 : -1);
        t->eos = opt_id(g, "tokenizer.ggml.eos_token_id", n, n > 2 ? 2 : -1);
        t->add_bos = opt_bool(g, "tokenizer.ggml.add_bos_token", 1);
        t->add_space_prefix = opt_bool(g, "tokenizer.ggml.add_space_prefix", 1);
        if (!has_key(g, K_TYPES)) { /* without types, the special ids are all we know */
            if (t->unk >= 0) t->types[t->unk] = SEER_TOK_TYPE_UNKNOWN;
            if (t->bos >= 0) t->types[t->bos] = SEER_TOK_TYPE_CONTROL;
            if (t->eos >= 0) t->types[t->eos] = SEER_TOK_TYPE_CONTROL;
        }
        st = tok_spm_finish(t, err);
    } else {
        t->bos = opt_id(g, "tokenizer.ggml.bos_token_id", n, -1);
        t->eos = opt_id(g, "tokenizer.ggml.eos_token_id", n, -1);
        t->add_bos = opt_bool(g, "tokenizer.ggml.add_bos_token", 0);
        tok_gpt2_default_special(t);
        st = read_merges(g, t, err);
    }
    if (st != SEER_OK) {
        seer_tok_free(t);
        return st;
    }
    *out = t;
    return SEER_OK;
}

seer_status tok_load_gguf_file(const char *path, seer_tok **out, seer_err *err) {
    seer_gguf *g;
    seer_status st = seer_gguf_open_file(path, &g, err);
    if (st == SEER_OK) {
        st = seer_tok_from_gguf(g, out, err);
        seer_gguf_free(g);
    }
    if (st != SEER_OK) seer_err_wrap(err, "%s: ", path);
    return st;
}
