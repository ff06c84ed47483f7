/* SentencePiece-style tokenizer: llama2.c's golden ids for stories260K from tok512.bin, from the
 * llama.cpp GGUF and from a GGUF written here; the heap encoder against a plain transcription
 * of llama2.c's rescanning merge loop; byte fallback, decoding, streaming; and one corrupt
 * tokenizer.bin / GGUF per check the loaders make, each expecting its own message. */
#include "seer/gguf.h"
#include "seer/tok.h"
#include "test.h"

#include <stdint.h>

#define STORIES "models/stories260K"

/* ---- helpers ---- */

static int read_golden(const char *name, int32_t **ids, size_t *n, char **text, size_t *text_len) {
    char rel[256];
    seer_err err;
    char *bin;
    size_t len;
    snprintf(rel, sizeof(rel), STORIES "/golden/logits_%s.bin", name);
    if (seer_read_file(test_data(rel), &bin, &len, &err) != SEER_OK) return 0;
    int32_t hdr[2];
    memcpy(hdr, bin, sizeof(hdr));
    CHECK(hdr[0] > 0 && (size_t)hdr[0] * 4 + 8 <= len && hdr[1] == 512);
    *n = (size_t)hdr[0];
    *ids = malloc(*n * sizeof(**ids));
    memcpy(*ids, bin + 8, *n * sizeof(**ids));
    free(bin);
    snprintf(rel, sizeof(rel), STORIES "/golden/prompt_%s.txt", name);
    CHECK_OK(seer_read_file(test_data(rel), text, text_len, &err), &err);
    return 1;
}

static int same_ids(const int32_t *got, size_t n, const int32_t *want, size_t m, const char *what) {
    size_t i = 0;
    while (i < n && i < m && got[i] == want[i]) i++;
    test_checks++;
    if (i == n && n == m) return 1;
    test_failures++;
    fprintf(stderr, "%s: ids differ at %zu (got %zu ids, want %zu): got %d, want %d\n", what, i, n, m,
            i < n ? (int)got[i] : -1, i < m ? (int)want[i] : -1);
    return 0;
}

/* Golden ids for both prompts (the file's whole text, trailing newline included, after BOS),
 * and decoding them gives the text back. */
static void check_golden(const seer_tok *t, const char *what) {
    static const char *const names[] = {"story", "shakespeare"};
    for (int k = 0; k < 2; k++) {
        int32_t *want, *ids;
        size_t m, n, tlen;
        char *text, *back, label[128];
        if (!read_golden(names[k], &want, &m, &text, &tlen)) continue;
        snprintf(label, sizeof(label), "%s: %s", what, names[k]);
        seer_err err;
        CHECK_OK(seer_tok_encode(t, text, tlen, 1, &ids, &n, &err), &err);
        same_ids(ids, n, want, m, label);
        CHECK_OK(seer_tok_decode(t, want, m, &back, &err), &err);
        CHECK_MSG(strcmp(back, text) == 0, "%s: decode of the golden ids differs from the prompt", label);
        free(ids);
        free(back);
        free(want);
        free(text);
    }
}

/* llama2.c's encode as written there: look up characters, then rescan every adjacent pair
 * for the best-scoring concatenation after each merge. O(n^2), used as the reference. */
static void naive_encode(const seer_tok *t, const char *text, size_t len, int32_t **out, size_t *n_out) {
    int32_t *tok = malloc((len + 2) * sizeof(*tok));
    size_t n = 0;
    if (len > 0) tok[n++] = seer_tok_find_piece(t, " ", 1);
    for (size_t i = 0; i < len;) {
        size_t g = 1;
        while (i + g < len && g < 4 && ((uint8_t)text[i + g] & 0xC0) == 0x80) g++;
        int32_t id = seer_tok_find_piece(t, text + i, g);
        if (id >= 0 && seer_tok_get_type(t, id) == SEER_TOK_TYPE_NORMAL) {
            tok[n++] = id;
        } else {
            for (size_t j = 0; j < g; j++) tok[n++] = (uint8_t)text[i + j] + 3;
        }
        i += g;
    }
    char buf[256];
    for (;;) {
        float best = -1e30f;
        int32_t best_id = -1;
        size_t best_i = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            size_t la, lb;
            const char *a = seer_tok_piece(t, tok[i], &la), *b = seer_tok_piece(t, tok[i + 1], &lb);
            if (la + lb > sizeof(buf)) continue;
            memcpy(buf, a, la);
            memcpy(buf + la, b, lb);
            int32_t id = seer_tok_find_piece(t, buf, la + lb);
            if (id >= 0 && seer_tok_get_type(t, id) == SEER_TOK_TYPE_NORMAL && seer_tok_score(t, id) > best) {
                best = seer_tok_score(t, id);
                best_id = id;
                best_i = i;
            }
        }
        if (best_id < 0) break;
        tok[best_i] = best_id;
        memmove(tok + best_i + 1, tok + best_i + 2, (n - best_i - 2) * sizeof(*tok));
        n--;
    }
    *out = tok;
    *n_out = n;
}

static void check_against_naive(const seer_tok *t, const char *text, size_t len, const char *what) {
    int32_t *a, *b;
    size_t na, nb;
    seer_err err;
    CHECK_OK(seer_tok_encode(t, text, len, 0, &a, &na, &err), &err);
    naive_encode(t, text, len, &b, &nb);
    same_ids(a, na, b, nb, what);
    free(a);
    free(b);
}

/* A GGUF "llama" tokenizer holding t's pieces, spaces written as U+2581 as llama.cpp does. */
static void *spm_gguf(const seer_tok *t, int with_types, size_t *size) {
    int32_t n = seer_tok_n_vocab(t);
    char **strs = malloc((size_t)n * sizeof(*strs));
    uint64_t *lens = malloc((size_t)n * sizeof(*lens));
    float *scores = malloc((size_t)n * sizeof(*scores));
    int32_t *types = malloc((size_t)n * sizeof(*types));
    for (int32_t i = 0; i < n; i++) {
        size_t len;
        const char *p = seer_tok_piece(t, i, &len);
        strs[i] = malloc(3 * len + 1);
        size_t k = 0;
        for (size_t j = 0; j < len; j++) {
            if (p[j] == ' ') {
                memcpy(strs[i] + k, "\xE2\x96\x81", 3);
                k += 3;
            } else {
                strs[i][k++] = p[j];
            }
        }
        lens[i] = k;
        scores[i] = seer_tok_score(t, i);
        types[i] = (int32_t)seer_tok_get_type(t, i);
    }
    seer_gguf_writer *w = seer_gguf_writer_init();
    seer_gguf_writer_set_str(w, "general.architecture", "llama");
    seer_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    seer_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)strs, lens, (uint64_t)n);
    seer_gguf_writer_set_arr(w, "tokenizer.ggml.scores", SEER_GGUF_TYPE_FLOAT32, scores, (uint64_t)n);
    if (with_types) seer_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", SEER_GGUF_TYPE_INT32, types, (uint64_t)n);
    seer_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    seer_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    seer_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    void *buf = NULL;
    seer_err err;
    CHECK_OK(seer_gguf_writer_write_buffer(w, &buf, size, &err), &err);
    seer_gguf_writer_free(w);
    for (int32_t i = 0; i < n; i++) free(strs[i]);
    free(strs);
    free(lens);
    free(scores);
    free(types);
    return buf;
}

/* ---- tests ---- */

static void test_sources(const seer_tok *bin_tok, const char *bin, size_t bin_len) {
    seer_err err;
    seer_tok *t;
    /* the buffer entry with the model's vocab size */
    CHECK_OK(seer_tok_load_llama2c_buffer(bin, bin_len, 512, &t, &err), &err);
    if (t) {
        check_golden(t, "tok512.bin buffer");
        seer_tok_free(t);
    }
    /* the folder: stories260K holds tok512.bin (the tok*.bin rule) */
    if (seer_tok_load(test_data(STORIES), &t, &err) == SEER_OK) {
        check_golden(t, "stories260K folder");
        CHECK(seer_tok_get_kind(t) == SEER_TOK_SPM);
        seer_tok_free(t);
    } else {
        CHECK_MSG(0, "folder load: %s", err.msg);
    }
    /* llama.cpp's GGUF */
    CHECK_OK(seer_tok_load(test_data(STORIES "/stories260K.gguf"), &t, &err), &err);
    if (t) {
        CHECK(seer_tok_get_kind(t) == SEER_TOK_SPM);
        CHECK(seer_tok_n_vocab(t) == 512 && seer_tok_bos(t) == 1 && seer_tok_eos(t) == 2);
        CHECK(seer_tok_get_add_bos(t) == 1);
        size_t len;
        const char *p = seer_tok_piece(t, 259, &len);
        CHECK(len == 4 && memcmp(p, "\xE2\x96\x81t", 4) == 0); /* stored with U+2581 */
        CHECK(seer_tok_get_type(t, 3) == SEER_TOK_TYPE_BYTE && seer_tok_get_type(t, 1) == SEER_TOK_TYPE_CONTROL);
        check_golden(t, "stories260K.gguf");
        seer_tok_free(t);
    }
    /* GGUFs written here, with and without token types (bytes then found by their text) */
    for (int with_types = 0; with_types < 2; with_types++) {
        size_t size;
        void *buf = spm_gguf(bin_tok, with_types, &size);
        seer_gguf *g;
        if (!buf) continue;
        CHECK_OK(seer_gguf_open_buffer(buf, size, &g, &err), &err);
        if (g) {
            CHECK_OK(seer_tok_from_gguf(g, &t, &err), &err);
            seer_gguf_free(g);
            if (t) {
                check_golden(t, with_types ? "written gguf" : "written gguf without token_type");
                seer_tok_free(t);
            }
        }
        free(buf);
    }
}

static void test_basics(const seer_tok *t) {
    seer_err err;
    int32_t *ids;
    size_t n;
    char *s;
    CHECK(seer_tok_n_vocab(t) == 512 && seer_tok_bos(t) == 1 && seer_tok_eos(t) == 2);
    CHECK(seer_tok_get_kind(t) == SEER_TOK_SPM && strcmp(seer_tok_kind_name(SEER_TOK_SPM), "spm") == 0);
    CHECK(seer_tok_piece(t, 512, NULL) == NULL && seer_tok_piece(t, -1, NULL) == NULL);
    CHECK(seer_tok_get_type(t, 0) == SEER_TOK_TYPE_UNKNOWN && seer_tok_get_type(t, 258) == SEER_TOK_TYPE_BYTE);
    CHECK(seer_tok_get_type(t, 259) == SEER_TOK_TYPE_NORMAL && seer_tok_get_type(t, 600) == SEER_TOK_TYPE_UNDEFINED);
    CHECK(seer_tok_score(t, 260) == -1.0f);

    /* empty text: BOS alone, or nothing (with a freeable array) */
    CHECK_OK(seer_tok_encode(t, "", 0, 1, &ids, &n, &err), &err);
    CHECK(n == 1 && ids[0] == 1);
    free(ids);
    CHECK_OK(seer_tok_encode(t, NULL, 0, 0, &ids, &n, &err), &err);
    CHECK(n == 0 && ids != NULL);
    free(ids);

    /* "东" is not a piece: dummy space, then its three bytes as <0xAB> tokens (ids 3 + byte) */
    CHECK_OK(seer_tok_encode(t, "\xE4\xB8\x9C", 3, 0, &ids, &n, &err), &err);
    int32_t space = seer_tok_find_piece(t, " ", 1);
    CHECK(space >= 0);
    CHECK(n == 4 && ids[0] == space && ids[1] == 3 + 0xE4 && ids[2] == 3 + 0xB8 && ids[3] == 3 + 0x9C);
    free(ids);

    /* merges: " the" is one piece (id 265) */
    CHECK_OK(seer_tok_encode(t, "the", 3, 1, &ids, &n, &err), &err);
    CHECK(n == 2 && ids[0] == 1 && ids[1] == 265);
    free(ids);

    /* decode: the dummy space goes after BOS only; control tokens give nothing */
    int32_t a[] = {1, 265, 2};
    CHECK_OK(seer_tok_decode(t, a, 3, &s, &err), &err);
    CHECK(strcmp(s, "the") == 0);
    free(s);
    CHECK_OK(seer_tok_decode(t, a + 1, 1, &s, &err), &err);
    CHECK(strcmp(s, " the") == 0);
    free(s);
    char buf[8];
    CHECK(seer_tok_decode_piece(t, -1, 1, buf, sizeof(buf)) == 0);
    CHECK(seer_tok_decode_piece(t, -1, 3 + 0x41, buf, sizeof(buf)) == 1 && buf[0] == 'A');
    CHECK(seer_tok_decode_piece(t, 1, 265, buf, 2) == 3 && memcmp(buf, "th", 2) == 0); /* length beyond cap */
    CHECK(seer_tok_decode_piece(t, -1, 9999, buf, sizeof(buf)) == 0);

    /* NULs and invalid UTF-8 go through byte fallback and come back byte for byte */
    static const char odd[] = "a\0b\xff\xc3(\xe2\x82 \x80\x80\x80\x80\x80z";
    CHECK_OK(seer_tok_encode(t, odd, sizeof(odd) - 1, 1, &ids, &n, &err), &err);
    CHECK_OK(seer_tok_decode(t, ids, n, &s, &err), &err);
    CHECK(memcmp(s, odd, sizeof(odd) - 1) == 0 && s[sizeof(odd) - 1] == 0);
    free(s);
    free(ids);

    /* streaming: a character split over byte tokens comes out whole, once complete */
    seer_tok_stream st;
    seer_tok_stream_init(&st, t);
    char out[64];
    CHECK(seer_tok_stream_push(&st, 1, out, sizeof(out)) == 0);
    CHECK(seer_tok_stream_push(&st, space, out, sizeof(out)) == 0); /* the dummy space, dropped */
    CHECK(seer_tok_stream_push(&st, 3 + 0xE4, out, sizeof(out)) == 0);
    CHECK(seer_tok_stream_push(&st, 3 + 0xB8, out, sizeof(out)) == 0);
    CHECK(seer_tok_stream_push(&st, 3 + 0x9C, out, sizeof(out)) == 3 && memcmp(out, "\xE4\xB8\x9C", 3) == 0);
    CHECK(seer_tok_stream_push(&st, 3 + 0xE4, out, sizeof(out)) == 0);
    CHECK(seer_tok_stream_push(&st, 265, out, sizeof(out)) == 5 && memcmp(out, "\xE4 the", 5) == 0);
    CHECK(seer_tok_stream_push(&st, 3 + 0xF0, out, sizeof(out)) == 0);
    CHECK(seer_tok_stream_flush(&st, out, sizeof(out)) == 1 && (uint8_t)out[0] == 0xF0);
    CHECK(seer_tok_stream_flush(&st, out, sizeof(out)) == 0);
}

static void test_naive(const seer_tok *t) {
    /* A slice of Shakespeare, and random strings built from pieces so that many merges
     * compete (ties included: the pieces' scores are distinct, but equal pairs repeat). */
    char *sh;
    size_t sh_len;
    seer_err err;
    if (seer_read_file(test_data("data/tinyshakespeare.txt"), &sh, &sh_len, &err) == SEER_OK) {
        check_against_naive(t, sh, sh_len < 6000 ? sh_len : 6000, "naive vs heap: shakespeare");
        free(sh);
    }
    seer_rng r;
    seer_rng_seed(&r, 7);
    static const char *const extra[] = {" ", "  ", "\n", "é", "東", "\xff", "aaaa", "  the the"};
    char buf[400];
    int bad_before = test_failures;
    for (int k = 0; k < 300 && test_failures == bad_before; k++) {
        size_t len = 0;
        int parts = 1 + (int)(seer_rng_u64(&r) % 30);
        for (int p = 0; p < parts; p++) {
            const char *s;
            size_t l;
            if (seer_rng_u64(&r) % 4 == 0) {
                s = extra[seer_rng_u64(&r) % (sizeof(extra) / sizeof(extra[0]))];
                l = strlen(s);
            } else {
                s = seer_tok_piece(t, 259 + (int32_t)(seer_rng_u64(&r) % 253), &l);
            }
            if (len + l > sizeof(buf)) break;
            memcpy(buf + len, s, l);
            len += l;
        }
        char what[64];
        snprintf(what, sizeof(what), "naive vs heap: random string %d", k);
        check_against_naive(t, buf, len, what);
    }
}

/* One corrupt tokenizer.bin per check, each with its own message. */
static void test_corrupt_llama2c(const char *bin, size_t len) {
    seer_err err;
    seer_tok *t;
    char *b = malloc(len);
    int32_t v;
    CHECK_FAILS(seer_tok_load_llama2c_buffer(bin, 2, -1, &t, &err), &err, "too short for the header");
    CHECK_FAILS(seer_tok_load_llama2c_buffer(bin, len, 0, &t, &err), &err, "vocab size 0 is invalid");
    CHECK_FAILS(seer_tok_load_llama2c_buffer(bin, len, -2, &t, &err), &err, "vocab size -2 is invalid");
    CHECK_FAILS(seer_tok_load_llama2c_buffer(bin, 4, -1, &t, &err), &err, "vocabulary size 0 out of range");
    memcpy(b, bin, len);
    v = -5;
    memcpy(b, &v, 4);
    CHECK_FAILS(seer_tok_load_llama2c_buffer(b, len, -1, &t, &err), &err, "max_token_length -5 is negative");
    /* token 0 is <unk>: score at 4, length at 8, piece at 12..16; token 1 starts at 17 */
    CHECK_FAILS(seer_tok_load_llama2c_buffer(bin, 21, -1, &t, &err), &err, "token 1: entry at byte 17 truncated");
    CHECK_FAILS(seer_tok_load_llama2c_buffer(bin, 14, -1, &t, &err), &err,
                "token 0: piece length 5 at byte 8 runs past the end of the file (2 bytes left)");
    memcpy(b, bin, len);
    v = 0x7fffffff;
    memcpy(b + 8, &v, 4);
    CHECK_FAILS(seer_tok_load_llama2c_buffer(b, len, -1, &t, &err), &err, "piece length 2147483647 at byte 8 runs past");
    v = -1;
    memcpy(b + 8, &v, 4);
    CHECK_FAILS(seer_tok_load_llama2c_buffer(b, len, -1, &t, &err), &err, "token 0: negative piece length -1");
    CHECK_FAILS(seer_tok_load_llama2c_buffer(bin, len, 600, &t, &err), &err, "token 512: entry at byte");
    CHECK_FAILS(seer_tok_load_llama2c_buffer(bin, len, 100, &t, &err), &err, "left after 100 tokens");
    /* every truncation fails cleanly or (at an entry boundary) loads fewer tokens */
    int loaded = 0;
    for (size_t cut = 0; cut < len; cut++) {
        if (seer_tok_load_llama2c_buffer(bin, cut, -1, &t, &err) == SEER_OK) {
            loaded++;
            int32_t *ids;
            size_t n;
            CHECK_OK(seer_tok_encode(t, "Once upon a time", 16, 1, &ids, &n, &err), &err);
            free(ids);
            seer_tok_free(t);
        } else {
            CHECK(err.msg[0] != 0);
        }
    }
    CHECK(loaded == 511); /* entry boundaries before the end, the header-only cut excluded */
    free(b);

    /* through seer_tok_load, the message names the file */
    const char *path = test_tmp("tok_truncated.bin");
    CHECK_OK(seer_write_file_atomic(path, bin, 28, &err), &err);
    CHECK_FAILS(seer_tok_load(path, &t, &err), &err, "tok_truncated.bin: llama2c tokenizer: token");
    CHECK_FAILS(seer_tok_load(test_tmp("no_such_tokenizer.bin"), &t, &err), &err, "cannot open");
    const char *dir = test_tmp("empty_tok_dir");
    mkdir(dir, 0755);
    CHECK_FAILS(seer_tok_load(dir, &t, &err), &err, "holds no tokenizer (looked for tokenizer.json");
}

/* One corrupt GGUF tokenizer per check. */
static void test_corrupt_gguf(void) {
    static const char *const toks[] = {"<unk>", "<s>", "</s>", "<0xZZ>", "a"};
    float scores[5] = {0, 0, 0, 0, -1};
    int32_t types[5] = {2, 3, 3, 6, 1};
    int32_t bad_types[5] = {2, 3, 3, 1, 9};
    struct {
        const char *needle;
        int model, tokens, scores, types; /* 0 absent, 1 good, 2 bad */
    } cases[] = {
        {"carries no tokenizer", 0, 1, 1, 1},
        {"tokenizer model 'bert' is not supported", 2, 1, 1, 1},
        {"tokenizer.ggml.tokens", 1, 0, 1, 1},
        {"tokenizer.ggml.tokens is not an array of strings", 1, 2, 1, 1},
        {"tokenizer.ggml.scores has 4 entries but there are 5 tokens", 1, 1, 2, 1},
        {"token 4 has unknown type 9", 1, 1, 1, 2},
        {"token 3: byte token's piece '<0xZZ>' is not of the form <0xAB>", 1, 1, 1, 1},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        seer_gguf_writer *w = seer_gguf_writer_init();
        if (cases[c].model) seer_gguf_writer_set_str(w, "tokenizer.ggml.model", cases[c].model == 1 ? "llama" : "bert");
        if (cases[c].tokens == 1) seer_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 5);
        if (cases[c].tokens == 2) seer_gguf_writer_set_arr(w, "tokenizer.ggml.tokens", SEER_GGUF_TYPE_FLOAT32, scores, 5);
        seer_gguf_writer_set_arr(w, "tokenizer.ggml.scores", SEER_GGUF_TYPE_FLOAT32, scores, cases[c].scores == 2 ? 4 : 5);
        seer_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", SEER_GGUF_TYPE_INT32,
                                 cases[c].types == 2 ? bad_types : types, 5);
        void *buf = NULL;
        size_t size;
        seer_err err;
        seer_gguf *g = NULL;
        seer_tok *t;
        CHECK_OK(seer_gguf_writer_write_buffer(w, &buf, &size, &err), &err);
        seer_gguf_writer_free(w);
        if (buf) CHECK_OK(seer_gguf_open_buffer(buf, size, &g, &err), &err);
        if (g) {
            CHECK_FAILS(seer_tok_from_gguf(g, &t, &err), &err, cases[c].needle);
            seer_gguf_free(g);
        }
        free(buf);
    }
}

int main(void) {
    seer_err err;
    char *bin;
    size_t bin_len;
    if (seer_read_file(test_data(STORIES "/tok512.bin"), &bin, &bin_len, &err) != SEER_OK) {
        fprintf(stderr, "skipped: %s\n", err.msg);
        return 77;
    }
    seer_tok *t;
    CHECK_OK(seer_tok_load(test_data(STORIES "/tok512.bin"), &t, &err), &err);
    if (!t) return test_done("test_tok_spm");
    check_golden(t, "tok512.bin");
    test_basics(t);
    test_sources(t, bin, bin_len);
    test_naive(t);
    test_corrupt_llama2c(bin, bin_len);
    test_corrupt_gguf();
    seer_tok_free(t);
    free(bin);
    return test_done("test_tok_spm");
}
