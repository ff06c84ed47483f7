/* Writing tokenizers out, for model conversion: GGUF tokenizer.ggml.* metadata as llama.cpp's
 * converters write it (SPM pieces with "▁" for spaces; GPT-2 pieces and "a b" merges in rank
 * order), llama2.c tokenizer.bin, and Hugging Face vocab.json + merges.txt. */
#include "seer/gguf.h"
#include "tok/tok_impl.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#define SPM_SPACE "\xe2\x96\x81" /* U+2581, SentencePiece's visible space */

/* The SPM piece in GGUF form: bytes and control pieces as they are named, other pieces as
 * their text with spaces shown as ▁. Returns a malloc'd string. */
static char *spm_gguf_piece(const seer_tok *t, int32_t id, size_t *out_len) {
    size_t len;
    const char *s;
    seer_tok_type ty = (seer_tok_type)t->types[id];
    int plain = ty == SEER_TOK_TYPE_NORMAL || ty == SEER_TOK_TYPE_UNDEFINED || ty == SEER_TOK_TYPE_USER_DEFINED;
    s = plain ? tok_dec(t, id, &len) : tok_raw(t, id, &len);
    if (!plain) { /* llama2.c writes "\n<s>\n": llama.cpp names it "<s>" */
        while (len && (*s == '\n' || *s == ' ')) s++, len--;
        while (len && (s[len - 1] == '\n' || s[len - 1] == ' ')) len--;
    }
    char *o = malloc(len * 3 + 1);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (plain && s[i] == ' ') {
            memcpy(o + k, SPM_SPACE, 3);
            k += 3;
        } else {
            o[k++] = s[i];
        }
    }
    o[k] = 0;
    *out_len = k;
    return o;
}

typedef struct merge_row {
    int32_t rank, a, b;
} merge_row;

static int cmp_rank(const void *x, const void *y) {
    const merge_row *p = x, *q = y;
    return (p->rank > q->rank) - (p->rank < q->rank);
}

/* GPT-2 merges in rank order (malloc'd; *n rows). */
static merge_row *gpt2_merges(const seer_tok *t, size_t *n) {
    *n = 0;
    if (!t->pairs) return calloc(1, sizeof(merge_row));
    merge_row *rows = malloc((t->n_merges + 1) * sizeof(*rows));
    if (!rows) return NULL;
    for (size_t i = 0; i <= t->pair_mask; i++) {
        if (t->pairs[i].key == UINT64_MAX || *n >= t->n_merges + 1) continue;
        rows[*n].rank = t->pairs[i].rank;
        rows[*n].a = (int32_t)(t->pairs[i].key >> 32);
        rows[*n].b = (int32_t)(t->pairs[i].key & 0xffffffffu);
        (*n)++;
    }
    qsort(rows, *n, sizeof(*rows), cmp_rank);
    return rows;
}

/* Merges are written as "a b" lines (GGUF's tokenizer.ggml.merges, merges.txt), which cannot
 * hold an empty piece or one with a space, nor, in a text file, a line break; a vocabulary read
 * from tokenizer.json's [a, b] pairs may have them. Refused here rather than written unreadable. */
static seer_status check_merge_pieces(const seer_tok *t, const merge_row *rows, size_t n, int text_file,
                                      seer_err *err) {
    for (size_t i = 0; i < n; i++) {
        const int32_t ids[2] = {rows[i].a, rows[i].b};
        for (int k = 0; k < 2; k++) {
            size_t len;
            const char *p = tok_raw(t, ids[k], &len);
            if (len > 0 && !memchr(p, ' ', len) && !(text_file && (memchr(p, '\n', len) || memchr(p, '\r', len))))
                continue;
            return seer_err_set(err, SEER_ERR_UNSUPPORTED,
                                "tokenizer export: merge %zu uses token %d '%.*s', which an \"a b\" merge line cannot "
                                "hold (empty, or with a space%s)",
                                i, (int)ids[k], (int)(len < 60 ? len : 60), p, text_file ? " or line break" : "");
        }
    }
    return SEER_OK;
}

/* "a b" for merge r (malloc'd). */
static char *merge_line(const seer_tok *t, const merge_row *r, size_t *len) {
    size_t la, lb;
    const char *a = tok_raw(t, r->a, &la), *b = tok_raw(t, r->b, &lb);
    *len = 0;
    char *s = malloc(la + lb + 2);
    if (!s) return NULL;
    memcpy(s, a, la);
    s[la] = ' ';
    memcpy(s + la + 1, b, lb);
    s[la + lb + 1] = 0;
    *len = la + lb + 1;
    return s;
}

seer_status seer_tok_write_gguf(const seer_tok *t, struct seer_gguf_writer *w, seer_err *err) {
    int32_t n = t->n_vocab;
    int spm = t->kind == SEER_TOK_SPM;
    char **pieces = calloc((size_t)n, sizeof(char *));
    uint64_t *lens = calloc((size_t)n, sizeof(uint64_t));
    int32_t *types = malloc((size_t)n * sizeof(int32_t));
    seer_status st = SEER_OK;
    if (!pieces || !lens || !types) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "tokenizer export: out of memory");
        goto out;
    }
    for (int32_t i = 0; i < n; i++) {
        size_t len;
        if (spm) {
            pieces[i] = spm_gguf_piece(t, i, &len);
        } else {
            const char *s = tok_raw(t, i, &len);
            pieces[i] = malloc(len + 1);
            if (pieces[i]) memcpy(pieces[i], s, len), pieces[i][len] = 0;
        }
        if (!pieces[i]) {
            st = seer_err_set(err, SEER_ERR_NOMEM, "tokenizer export: out of memory");
            goto out;
        }
        if (len > TOK_MAX_PIECE) { /* each space became 3 bytes of "▁": too long to read back */
            st = seer_err_set(err, SEER_ERR_UNSUPPORTED,
                              "tokenizer export: token %d is %zu bytes in GGUF form, over the %d-byte piece limit",
                              (int)i, len, TOK_MAX_PIECE);
            goto out;
        }
        lens[i] = len;
        types[i] = t->types[i] ? t->types[i] : SEER_TOK_TYPE_NORMAL;
    }
    seer_gguf_writer_set_str(w, "tokenizer.ggml.model", spm ? "llama" : "gpt2");
    if (!spm) seer_gguf_writer_set_str(w, "tokenizer.ggml.pre", "gpt-2");
    seer_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)pieces, lens, (uint64_t)n);
    if (spm) seer_gguf_writer_set_arr(w, "tokenizer.ggml.scores", SEER_GGUF_TYPE_FLOAT32, t->scores, (uint64_t)n);
    seer_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", SEER_GGUF_TYPE_INT32, types, (uint64_t)n);
    if (!spm) {
        size_t nm;
        merge_row *rows = gpt2_merges(t, &nm);
        if (rows && (st = check_merge_pieces(t, rows, nm, 0, err))) {
            free(rows);
            goto out;
        }
        char **lines = rows ? calloc(nm + 1, sizeof(char *)) : NULL;
        uint64_t *ll = rows ? calloc(nm + 1, sizeof(uint64_t)) : NULL;
        int ok = rows && lines && ll;
        for (size_t i = 0; ok && i < nm; i++) {
            size_t len;
            lines[i] = merge_line(t, &rows[i], &len);
            ll[i] = len;
            ok = lines[i] != NULL;
        }
        if (ok) seer_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)lines, ll, nm);
        else st = seer_err_set(err, SEER_ERR_NOMEM, "tokenizer export: out of memory");
        for (size_t i = 0; lines && i < nm; i++) free(lines[i]);
        free(lines);
        free(ll);
        free(rows);
        if (st) goto out;
    }
    /* Written even when absent, as llama.cpp's "none" (0xFFFFFFFF): a missing key would read
     * back as the SentencePiece defaults 0/1/2. */
    seer_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", t->bos >= 0 ? (uint32_t)t->bos : UINT32_MAX);
    seer_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", t->eos >= 0 ? (uint32_t)t->eos : UINT32_MAX);
    seer_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", t->unk >= 0 ? (uint32_t)t->unk : UINT32_MAX);
    seer_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", t->add_bos);
    if (spm) seer_gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", t->add_space_prefix);
out:
    for (int32_t i = 0; pieces && i < n; i++) free(pieces[i]);
    free(pieces);
    free(lens);
    free(types);
    return st;
}

seer_status seer_tok_save_llama2c(const seer_tok *t, const char *path, seer_err *err) {
    if (t->kind != SEER_TOK_SPM)
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "tokenizer export: llama2.c tokenizer.bin holds SentencePiece-style vocabularies only");
    seer_awriter w;
    seer_status st = seer_awriter_open(&w, path, err);
    if (st) return st;
    int32_t max_len = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        size_t len;
        int plain = t->types[i] == SEER_TOK_TYPE_NORMAL || t->types[i] == SEER_TOK_TYPE_UNDEFINED;
        if (plain) tok_dec(t, i, &len);
        else tok_raw(t, i, &len);
        if ((int32_t)len > max_len) max_len = (int32_t)len;
    }
    seer_awriter_write(&w, &max_len, 4);
    for (int32_t i = 0; i < t->n_vocab; i++) {
        size_t len;
        /* llama2.c pieces hold plain spaces: write decoded text for ordinary pieces */
        int plain = t->types[i] == SEER_TOK_TYPE_NORMAL || t->types[i] == SEER_TOK_TYPE_UNDEFINED;
        const char *s = plain ? tok_dec(t, i, &len) : tok_raw(t, i, &len);
        int32_t l32 = (int32_t)len;
        seer_awriter_write(&w, &t->scores[i], 4);
        seer_awriter_write(&w, &l32, 4);
        seer_awriter_write(&w, s, len);
    }
    return seer_awriter_commit(&w, err);
}

static seer_status save_gpt2_hf(const seer_tok *t, const char *dir, seer_err *err) {
    seer_status st = SEER_OK;
    cJSON *vocab = cJSON_CreateObject();
    char *json = NULL, *vpath = seer_path_join(dir, "vocab.json"), *mpath = seer_path_join(dir, "merges.txt");
    merge_row *rows = NULL;
    seer_awriter w;
    if (!vocab || !vpath || !mpath) goto nomem;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        size_t len;
        const char *s = tok_raw(t, i, &len);
        char *k = strndup(s, len);
        if (!k) goto nomem;
        cJSON *num = cJSON_CreateNumber(i);
        if (!num) {
            free(k);
            goto nomem;
        }
        cJSON_AddItemToObject(vocab, k, num);
        free(k);
    }
    json = cJSON_PrintUnformatted(vocab);
    if (!json) goto nomem;
    if ((st = seer_write_file_atomic(vpath, json, strlen(json), err))) goto out;
    size_t nm;
    rows = gpt2_merges(t, &nm);
    if (!rows) goto nomem;
    if ((st = check_merge_pieces(t, rows, nm, 1, err))) goto out;
    if ((st = seer_awriter_open(&w, mpath, err))) goto out;
    seer_awriter_write(&w, "#version: 0.2\n", 14);
    for (size_t i = 0; i < nm; i++) {
        size_t len;
        char *line = merge_line(t, &rows[i], &len);
        if (!line) {
            seer_awriter_abort(&w);
            goto nomem;
        }
        seer_awriter_write(&w, line, len);
        seer_awriter_write(&w, "\n", 1);
        free(line);
    }
    st = seer_awriter_commit(&w, err);
    goto out;
nomem:
    st = seer_err_set(err, SEER_ERR_NOMEM, "tokenizer export: out of memory");
out:
    cJSON_Delete(vocab);
    free(json);
    free(vpath);
    free(mpath);
    free(rows);
    return st;
}

seer_status seer_tok_save_hf(const seer_tok *t, const char *dir, seer_err *err) {
    if (t->kind == SEER_TOK_GPT2) return save_gpt2_hf(t, dir, err);
    char *p = seer_path_join(dir, "tokenizer.bin");
    if (!p) return seer_err_set(err, SEER_ERR_NOMEM, "out of memory");
    seer_status st = seer_tok_save_llama2c(t, p, err);
    free(p);
    return st;
}
