/* GPT-2 byte-level BPE from JSON/text files: OpenAI's encoder.json + vocab.bpe, the same as
 * Hugging Face's vocab.json + merges.txt, and Hugging Face's tokenizer.json (model.vocab,
 * model.merges as "a b" strings or [a, b] pairs, added_tokens). Ids must be 0..n-1 without
 * gaps; a merge naming a piece the vocabulary lacks is an error, not skipped. */
#include "tok/tok_impl.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static seer_status parse_json(const char *json, size_t len, const char *what, cJSON **out, seer_err *err) {
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (*out) return SEER_OK;
    size_t at = end && end >= json && end <= json + len ? (size_t)(end - json) : 0;
    return seer_err_set(err, SEER_ERR_FORMAT, "%s: malformed JSON near byte %zu of %zu", what, at, len);
}

/* A token id from a JSON number: integral and within the cap. -1 otherwise. */
static int64_t json_id(const cJSON *v) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d < TOK_MAX_VOCAB) || d != floor(d)) return -1;
    return (int64_t)d;
}

/* The error for ids that cannot be contiguous (more ids than entries), naming the first missing
 * id: it lies below n_entries, so a table of that size (bounded by the file) finds it. */
static seer_status first_gap(const cJSON *vocab, const cJSON *added, int64_t n_entries, int64_t max_id,
                             const char *what, seer_err *err) {
    uint8_t *seen = calloc((size_t)n_entries + 1, 1);
    if (!seen) return seer_err_set(err, SEER_ERR_NOMEM, "%s: out of memory", what);
    for (const cJSON *e = vocab->child; e; e = e->next) {
        int64_t id = json_id(e);
        if (id >= 0 && id < n_entries) seen[id] = 1;
    }
    for (const cJSON *e = added ? added->child : NULL; e; e = e->next) {
        int64_t id = json_id(cJSON_GetObjectItemCaseSensitive(e, "id"));
        if (id >= 0 && id < n_entries) seen[id] = 1;
    }
    int64_t gap = 0;
    while (gap < n_entries && seen[gap]) gap++;
    free(seen);
    return seer_err_set(err, SEER_ERR_FORMAT, "%s: ids are not contiguous: no token has id %lld (largest id %lld)", what,
                        (long long)gap, (long long)max_id);
}

/* Builds the vocabulary from a {piece: id} object plus optional added_tokens
 * [{id, content, special}], marking <|endoftext|> and special added tokens as control. */
static seer_status fill_vocab(const cJSON *vocab, const cJSON *added, const char *what, seer_tok **out,
                              seer_err *err) {
    *out = NULL;
    if (!cJSON_IsObject(vocab)) return seer_err_set(err, SEER_ERR_FORMAT, "%s: vocabulary is not a JSON object", what);
    if (added && !cJSON_IsArray(added))
        return seer_err_set(err, SEER_ERR_FORMAT, "%s: \"added_tokens\" is not an array", what);
    int64_t max_id = -1, n_entries = 0;
    for (const cJSON *e = vocab->child; e; e = e->next, n_entries++) {
        int64_t id = json_id(e);
        if (id < 0 && !cJSON_IsNumber(e))
            return seer_err_set(err, SEER_ERR_FORMAT, "%s: piece '%.60s' has an id that is not a number", what,
                                e->string ? e->string : "");
        if (id < 0)
            return seer_err_set(err, SEER_ERR_FORMAT, "%s: piece '%.60s' has id %g, expected an integer in 0..%d", what,
                                e->string ? e->string : "", e->valuedouble, TOK_MAX_VOCAB - 1);
        if (id > max_id) max_id = id;
    }
    for (const cJSON *e = added ? added->child : NULL; e; e = e->next, n_entries++) {
        int64_t id = json_id(cJSON_GetObjectItemCaseSensitive(e, "id"));
        if (id < 0 || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "content")))
            return seer_err_set(err, SEER_ERR_FORMAT, "%s: added token without a valid \"id\" and \"content\"", what);
        if (id > max_id) max_id = id;
    }
    if (max_id < 0) return seer_err_set(err, SEER_ERR_FORMAT, "%s: vocabulary is empty", what);
    /* Ids must run 0..max without gaps, so fewer entries than max + 1 can never fill them: refuse
     * before sizing the tables by an id the file does not back (one entry could ask for 2^24). */
    if (max_id >= n_entries) return first_gap(vocab, added, n_entries, max_id, what, err);
    seer_tok *t = NULL;
    seer_status st = tok_alloc(SEER_TOK_GPT2, max_id + 1, what, &t, err);
    if (st != SEER_OK) return st;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        int32_t id = (int32_t)json_id(e);
        const char *s = e->string ? e->string : "";
        if (t->has_piece[id]) {
            size_t n;
            const char *o = tok_raw(t, id, &n);
            st = seer_err_set(err, SEER_ERR_FORMAT, "%s: id %d is given to both '%.60s' and '%.60s'", what, (int)id, o,
                              s);
            goto out_free;
        }
        st = tok_set_piece(t, id, s, strlen(s), err);
        if (st != SEER_OK) goto out_free;
    }
    for (const cJSON *e = added ? added->child : NULL; e; e = e->next) {
        int32_t id = (int32_t)json_id(cJSON_GetObjectItemCaseSensitive(e, "id"));
        const char *s = cJSON_GetObjectItemCaseSensitive(e, "content")->valuestring;
        size_t len = strlen(s);
        if (t->has_piece[id]) {
            size_t n;
            const char *o = tok_raw(t, id, &n);
            if (n != len || memcmp(o, s, n) != 0) {
                st = seer_err_set(err, SEER_ERR_FORMAT, "%s: added token '%.60s' has id %d, which belongs to '%.60s'",
                                  what, s, (int)id, o);
                goto out_free;
            }
        } else {
            st = tok_set_piece(t, id, s, len, err);
            if (st != SEER_OK) goto out_free;
        }
        t->types[id] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "special")) ? SEER_TOK_TYPE_CONTROL
                                                                                     : SEER_TOK_TYPE_USER_DEFINED;
    }
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (!t->has_piece[id]) {
            st = seer_err_set(err, SEER_ERR_FORMAT, "%s: ids are not contiguous: no token has id %d (largest id %d)",
                              what, (int)id, (int)(t->n_vocab - 1));
            goto out_free;
        }
    }
    tok_gpt2_default_special(t);
    *out = t;
    return SEER_OK;
out_free:
    seer_tok_free(t);
    return st;
}

/* Calls fn on each merge line of a merges.txt / vocab.bpe text (the "#version" line and blank
 * lines skipped, CR stripped); returns the count, or stops at the first failure. */
static seer_status each_merge_line(const char *text, size_t len, seer_tok *t, size_t *count, seer_err *err) {
    size_t line_no = 0, rank = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len;
        size_t n = e - i;
        const char *line = text + i;
        i = nl ? e + 1 : len;
        line_no++;
        if (n > 0 && line[n - 1] == '\r') n--;
        if (n == 0 || (line_no == 1 && n >= 8 && memcmp(line, "#version", 8) == 0)) continue;
        if (t) {
            char what[64];
            snprintf(what, sizeof(what), "merges line %zu", line_no);
            seer_status st = tok_gpt2_add_merge_line(t, line, n, rank, what, err);
            if (st != SEER_OK) return st;
        }
        rank++;
    }
    *count = rank;
    return SEER_OK;
}

seer_status seer_tok_load_gpt2_buffers(const char *vocab_json, size_t vocab_len, const char *merges, size_t merges_len,
                                       seer_tok **out, seer_err *err) {
    *out = NULL;
    cJSON *root;
    seer_status st = parse_json(vocab_json, vocab_len, "vocabulary json", &root, err);
    if (st != SEER_OK) return st;
    seer_tok *t = NULL;
    size_t n_merges = 0;
    st = fill_vocab(root, NULL, "vocabulary json", &t, err);
    if (st == SEER_OK) st = each_merge_line(merges, merges_len, NULL, &n_merges, err);
    if (st == SEER_OK) st = tok_gpt2_finish_vocab(t, n_merges, err);
    if (st == SEER_OK) st = each_merge_line(merges, merges_len, t, &n_merges, err);
    cJSON_Delete(root);
    if (st != SEER_OK) {
        seer_tok_free(t);
        return st;
    }
    *out = t;
    return SEER_OK;
}

/* tokenizer.json must describe GPT-2's scheme; anything else is refused rather than encoded
 * wrongly. */
static seer_status check_hf_scheme(const cJSON *root, const cJSON *model, seer_err *err) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (cJSON_IsString(type) && strcmp(type->valuestring, "BPE") != 0)
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "tokenizer.json: model type '%.40s' is not supported (only BPE)",
                            type->valuestring);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback")))
        return seer_err_set(err, SEER_ERR_UNSUPPORTED,
                            "tokenizer.json: BPE with byte_fallback (SentencePiece style) is not supported; only GPT-2 "
                            "byte-level BPE");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(pre, "type");
    if (!cJSON_IsString(pt) || strcmp(pt->valuestring, "ByteLevel") != 0)
        return seer_err_set(err, SEER_ERR_UNSUPPORTED,
                            "tokenizer.json: pre_tokenizer '%.40s' is not supported (only GPT-2's ByteLevel)",
                            cJSON_IsString(pt) ? pt->valuestring : "none");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pre, "add_prefix_space")))
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "tokenizer.json: ByteLevel add_prefix_space is not supported");
    if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(pre, "use_regex")))
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "tokenizer.json: ByteLevel without use_regex is not supported");
    return SEER_OK;
}

seer_status seer_tok_load_hf_buffer(const char *json, size_t len, seer_tok **out, seer_err *err) {
    *out = NULL;
    cJSON *root;
    seer_status st = parse_json(json, len, "tokenizer.json", &root, err);
    if (st != SEER_OK) return st;
    seer_tok *t = NULL;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsObject(model)) {
        st = seer_err_set(err, SEER_ERR_FORMAT, "tokenizer.json: no \"model\" object");
        goto out_free;
    }
    st = check_hf_scheme(root, model, err);
    if (st != SEER_OK) goto out_free;
    if (!cJSON_IsArray(merges)) {
        st = seer_err_set(err, SEER_ERR_FORMAT, "tokenizer.json: \"model.merges\" is missing or not an array");
        goto out_free;
    }
    st = fill_vocab(cJSON_GetObjectItemCaseSensitive(model, "vocab"), cJSON_GetObjectItemCaseSensitive(root, "added_tokens"),
                    "tokenizer.json", &t, err);
    if (st != SEER_OK) goto out_free;
    st = tok_gpt2_finish_vocab(t, (size_t)cJSON_GetArraySize(merges), err);
    if (st != SEER_OK) goto out_free;
    size_t rank = 0;
    for (const cJSON *m = merges->child; m; m = m->next, rank++) {
        char what[64];
        snprintf(what, sizeof(what), "tokenizer.json: merge %zu", rank);
        if (cJSON_IsString(m)) {
            st = tok_gpt2_add_merge_line(t, m->valuestring, strlen(m->valuestring), rank, what, err);
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) &&
                   cJSON_IsString(m->child->next)) {
            const char *a = m->child->valuestring, *b = m->child->next->valuestring;
            st = tok_gpt2_add_merge(t, a, strlen(a), b, strlen(b), rank, what, err);
        } else {
            st = seer_err_set(err, SEER_ERR_FORMAT, "%s: expected \"a b\" or [\"a\", \"b\"]", what);
        }
        if (st != SEER_OK) goto out_free;
    }
    cJSON_Delete(root);
    *out = t;
    return SEER_OK;
out_free:
    seer_tok_free(t);
    cJSON_Delete(root);
    return st;
}

seer_status tok_load_hf_file(const char *path, seer_tok **out, seer_err *err) {
    char *text;
    size_t len;
    seer_status st = seer_read_file(path, &text, &len, err);
    if (st != SEER_OK) return st;
    st = seer_tok_load_hf_buffer(text, len, out, err);
    free(text);
    if (st != SEER_OK) seer_err_wrap(err, "%s: ", path);
    return st;
}

seer_status tok_load_gpt2_files(const char *vocab_path, const char *merges_path, seer_tok **out, seer_err *err) {
    char *vocab = NULL, *merges = NULL;
    size_t vlen, mlen;
    seer_status st = seer_read_file(vocab_path, &vocab, &vlen, err);
    if (st == SEER_OK) st = seer_read_file(merges_path, &merges, &mlen, err);
    if (st == SEER_OK) {
        st = seer_tok_load_gpt2_buffers(vocab, vlen, merges, mlen, out, err);
        if (st != SEER_OK) seer_err_wrap(err, "%s + %s: ", vocab_path, merges_path);
    }
    free(vocab);
    free(merges);
    return st;
}
