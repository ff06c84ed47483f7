/* Tokens and positions as users name them on a command line, and token labels short and safe
 * enough for table headers, JSON and SVG text. */
#include "analysis_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

seer_status seer_analysis_encode(const seer_model *m, const char *text, int32_t **ids, int32_t *n, seer_err *err) {
    *ids = NULL;
    *n = 0;
    const seer_tok *t = seer_model_tok(m);
    if (!t) return seer_err_set(err, SEER_ERR_INVALID, "the model has no tokenizer: pass one with -z");
    size_t k = 0;
    seer_status st = seer_tok_encode(t, text, strlen(text), seer_tok_get_add_bos(t), ids, &k, err);
    if (st) return st;
    if (k == 0 || k > INT32_MAX) {
        free(*ids);
        *ids = NULL;
        return seer_err_set(err, SEER_ERR_INVALID, "prompt '%.40s' encodes to %zu tokens", text, k);
    }
    *n = (int32_t)k;
    return SEER_OK;
}

/* A raw piece, also with SentencePiece's "▁" and a plain space taken for each other (GGUF
 * vocabularies store "▁the", llama2.c tokenizer files " the"). */
static int32_t find_piece(const seer_tok *t, const char *text) {
    int32_t id = seer_tok_find_piece(t, text, strlen(text));
    if (id >= 0) return id;
    size_t n = strlen(text);
    static const char spm_space[3] = {'\xe2', '\x96', '\x81'}; /* "▁", U+2581; alt is not NUL-terminated */
    char *alt = malloc(3 * n + 1);
    if (!alt) return -1;
    for (int pass = 0; pass < 2 && id < 0; pass++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (pass == 0 && !strncmp(text + i, "\xe2\x96\x81", 3)) {
                alt[k++] = ' ';
                i += 2;
            } else if (pass == 1 && text[i] == ' ') {
                memcpy(alt + k, spm_space, sizeof(spm_space));
                k += sizeof(spm_space);
            } else {
                alt[k++] = text[i];
            }
        }
        id = seer_tok_find_piece(t, alt, k);
    }
    free(alt);
    return id;
}

seer_status seer_analysis_parse_token(const seer_model *m, const char *text, int32_t *id, seer_err *err) {
    int32_t V = seer_model_get_config(m)->n_vocab;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (*text && *end == 0 && !errno) {
        if (v < 0 || v >= V)
            return seer_err_set(err, SEER_ERR_RANGE, "token id %ld outside the vocabulary [0, %d)", v, V);
        *id = (int32_t)v;
        return SEER_OK;
    }
    const seer_tok *t = seer_model_tok(m);
    if (!t) return seer_err_set(err, SEER_ERR_INVALID, "token '%s': the model has no tokenizer (give an id, or -z)", text);
    int32_t *ids = NULL;
    size_t n = 0;
    seer_status st = seer_tok_encode(t, text, strlen(text), 0, &ids, &n, err);
    if (st) return st;
    if (n == 1) {
        *id = ids[0];
        free(ids);
        return SEER_OK;
    }
    int32_t raw = find_piece(t, text);
    if (raw >= 0 && raw < V) {
        free(ids);
        *id = raw;
        return SEER_OK;
    }
    char list[160] = "";
    size_t k = 0;
    for (size_t i = 0; i < n && i < 12 && k < sizeof(list) - 16; i++)
        k += (size_t)snprintf(list + k, sizeof(list) - k, "%s%d", i ? " " : "", ids[i]);
    if (n > 12) snprintf(list + k, sizeof(list) - k, " ...");
    free(ids);
    return seer_err_set(err, SEER_ERR_INVALID, "token '%s' encodes to %zu tokens [%s], not one: give a single token or an id",
                        text, n, list);
}

/* Length of the valid UTF-8 character at s (n bytes left), 0 when invalid or cut short. */
static size_t utf8_char(const unsigned char *s, size_t n) {
    size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || len > n || (len == 2 && s[0] < 0xC2)) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

char *seer_analysis_token_label(const seer_tok *t, int32_t prev, int32_t id, char *buf, size_t cap) {
    SEER_ASSERT(cap >= 8);
    char raw[64];
    size_t n = t ? seer_tok_decode_piece(t, prev, id, raw, sizeof(raw)) : 0;
    const char *src = raw;
    int ok = t && n > 0 && n <= sizeof(raw);
    for (size_t i = 0; ok && i < n;) {
        size_t cl = utf8_char((const unsigned char *)raw + i, n - i);
        if (!cl) ok = 0;
        i += cl ? cl : 1;
    }
    if (!ok) { /* control token or a lone byte: the stored piece says what it is */
        size_t pl = 0;
        const char *p = t ? seer_tok_piece(t, id, &pl) : NULL;
        if (!p) {
            snprintf(buf, cap, "#%d", id);
            return buf;
        }
        /* llama2.c stores BOS as "\n<s>\n": the padding is not part of the name */
        while (pl && (*p == '\n' || *p == ' ')) p++, pl--;
        while (pl && (p[pl - 1] == '\n' || p[pl - 1] == ' ')) pl--;
        src = p;
        n = pl;
    }
    size_t k = 0;
    for (size_t i = 0; i < n && k + 5 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c == '\n') k += (size_t)snprintf(buf + k, cap - k, "\\n");
        else if (c == '\t') k += (size_t)snprintf(buf + k, cap - k, "\\t");
        else if (c < 0x20 || c == 0x7F) k += (size_t)snprintf(buf + k, cap - k, "\\x%02X", c);
        else if (c >= 0x80) { /* whole characters only, so a cut never splits one */
            size_t cl = utf8_char((const unsigned char *)src + i, n - i);
            if (!cl) {
                k += (size_t)snprintf(buf + k, cap - k, "\\x%02X", c);
                continue;
            }
            if (k + cl + 1 > cap) break;
            memcpy(buf + k, src + i, cl);
            k += cl;
            i += cl - 1;
        } else buf[k++] = (char)c;
    }
    buf[k] = 0;
    return buf;
}

seer_status seer_analysis_resolve_pos(int32_t pos, int32_t n, int32_t *out, seer_err *err) {
    int64_t p = pos < 0 ? (int64_t)n + pos : pos;
    if (p < 0 || p >= n)
        return seer_err_set(err, SEER_ERR_RANGE, "position %d outside a prompt of %d tokens (use 0..%d, or -1..-%d from the end)",
                            pos, n, n - 1, n);
    *out = (int32_t)p;
    return SEER_OK;
}
