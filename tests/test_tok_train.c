/* The BPE tokenizer trainer on the Shakespeare corpus: exact encode/decode round trips (byte
 * fallback included), better compression than bytes and than a smaller vocab, the llama2.c
 * layout, determinism, merges the encoder replays, files written and read back (tokenizer.bin
 * and GGUF), the `seer tokenizer train` command, and bad inputs. */
#include "seer/gguf.h"
#include "seer/tok_train.h"
#include "test.h"

#include <unistd.h>

static char *g_text;
static size_t g_len;

/* Encodes text with BOS and decodes it; 1 when the text comes back exactly. n_ids: tokens
 * without the BOS. */
static int round_trip(const seer_tok *t, const char *text, size_t len, size_t *n_ids) {
    seer_err err = {0};
    int32_t *ids = NULL;
    size_t n = 0;
    char *back = NULL;
    int ok = seer_tok_encode(t, text, len, 1, &ids, &n, &err) == SEER_OK &&
             seer_tok_decode(t, ids, n, &back, &err) == SEER_OK && strlen(back) == len && memcmp(back, text, len) == 0;
    if (!ok) fprintf(stderr, "round trip failed: %s\n", err.msg);
    if (n_ids) *n_ids = n ? n - 1 : 0;
    free(ids);
    free(back);
    return ok;
}

static int same_tok(const seer_tok *a, const seer_tok *b) {
    if (seer_tok_n_vocab(a) != seer_tok_n_vocab(b)) return 0;
    for (int32_t i = 0; i < seer_tok_n_vocab(a); i++) {
        size_t la, lb;
        const char *pa = seer_tok_piece(a, i, &la), *pb = seer_tok_piece(b, i, &lb);
        if (la != lb || memcmp(pa, pb, la) != 0 || seer_tok_score(a, i) != seer_tok_score(b, i)) return 0;
    }
    return 1;
}

static void test_shakespeare(void) {
    seer_err err = {0};
    seer_tok_train_opts o = seer_tok_train_default(1024);
    seer_tok_train_stats s = {0};
    seer_tok *t = NULL, *t2 = NULL, *small = NULL, *big = NULL;
    const char *texts[1] = {g_text};
    double t0 = seer_time_sec();
    CHECK_OK(seer_tok_train(texts, &g_len, NULL, 1, &o, &t, &s, &err), &err);
    double dt = seer_time_sec() - t0;
    if (!t) return;
    printf("vocab 1024 on %zu bytes: %.3f s (%lld words, %lld distinct, %d characters kept, %d merges)\n", g_len, dt,
           (long long)s.n_words, (long long)s.n_unique, (int)s.n_char_pieces, (int)s.n_merges);
    CHECK_MSG(dt < 10, "training took %.1f s", dt);
    CHECK(s.n_vocab == 1024 && seer_tok_n_vocab(t) == 1024);
    CHECK(s.n_char_pieces > 50 && s.n_char_pieces < 70 && s.n_merges == 1024 - 259 - s.n_char_pieces);
    CHECK(seer_tok_get_kind(t) == SEER_TOK_SPM && seer_tok_bos(t) == 1 && seer_tok_eos(t) == 2);

    /* Layout: control ids, then the 256 byte pieces, then merges by descending score. */
    CHECK(seer_tok_get_type(t, 0) == SEER_TOK_TYPE_UNKNOWN && seer_tok_get_type(t, 1) == SEER_TOK_TYPE_CONTROL);
    int layout_ok = 1;
    for (int b = 0; b < 256; b++) {
        char want[8];
        size_t len;
        snprintf(want, sizeof(want), "<0x%02X>", b);
        const char *p = seer_tok_piece(t, 3 + b, &len);
        layout_ok &= len == 6 && memcmp(p, want, 6) == 0 && seer_tok_get_type(t, 3 + b) == SEER_TOK_TYPE_BYTE;
    }
    for (int32_t i = 260; i < 1024; i++) layout_ok &= seer_tok_score(t, i) < seer_tok_score(t, i - 1);
    for (int32_t i = 259; i < 1024; i++) layout_ok &= seer_tok_get_type(t, i) == SEER_TOK_TYPE_NORMAL;
    CHECK(layout_ok);
    /* The first merge of English text with a dummy space: " t" or "e " like pairs; at least
     * " the" must be among the pieces. */
    CHECK(seer_tok_find_piece(t, " the", 4) > 258);
    size_t l0;
    const char *first = seer_tok_piece(t, 259, &l0);
    CHECK_MSG(l0 == 2, "first merge '%.*s'", (int)l0, first);

    /* Exact round trip of the whole corpus, and compression. */
    size_t n1024 = 0, n512 = 0, n4096 = 0;
    CHECK(round_trip(t, g_text, g_len, &n1024));
    o.vocab_size = 512;
    CHECK_OK(seer_tok_train(texts, &g_len, NULL, 1, &o, &small, NULL, &err), &err);
    o.vocab_size = 4096;
    t0 = seer_time_sec();
    CHECK_OK(seer_tok_train(texts, &g_len, NULL, 1, &o, &big, &s, &err), &err);
    printf("vocab 4096: %.3f s\n", seer_time_sec() - t0);
    if (small && big) {
        CHECK(round_trip(small, g_text, g_len, &n512));
        CHECK(round_trip(big, g_text, g_len, &n4096));
        printf("bytes per token: 512 -> %.2f, 1024 -> %.2f, 4096 -> %.2f\n", (double)g_len / n512,
               (double)g_len / n1024, (double)g_len / n4096);
        CHECK_MSG(g_len > 1.8 * n512 && n512 > n1024 && n1024 > n4096 && g_len > 3 * n4096, "%zu %zu %zu %zu", g_len,
                  n512, n1024, n4096);
        CHECK(s.n_vocab == 4096);
    }

    /* The encoder replays the merges: a learned word-start piece, encoded alone, comes out as
     * that one token (nearly always: SentencePiece's merge-by-score may split a piece learned
     * through another path). */
    int n_tried = 0, n_single = 0;
    for (int32_t id = 259; id < seer_tok_n_vocab(t); id++) {
        size_t len;
        const char *p = seer_tok_piece(t, id, &len);
        if (len < 3 || p[0] != ' ') continue;
        int32_t *ids;
        size_t n;
        if (seer_tok_encode(t, p + 1, len - 1, 0, &ids, &n, &err) != SEER_OK) continue;
        n_tried++;
        n_single += n == 1 && ids[0] == id;
        free(ids);
    }
    printf("word-start pieces that encode to themselves: %d of %d\n", n_single, n_tried);
    CHECK_MSG(n_tried > 200 && n_single >= n_tried * 97 / 100, "%d of %d", n_single, n_tried);

    /* Determinism. */
    o.vocab_size = 1024;
    CHECK_OK(seer_tok_train(texts, &g_len, NULL, 1, &o, &t2, NULL, &err), &err);
    if (t2) CHECK(same_tok(t, t2));

    /* Characters never seen, or left out, go through byte fallback and come back exactly. */
    char *golden = NULL;
    size_t glen = 0;
    if (seer_read_file(test_data("models/stories260K/golden/prompt_shakespeare.txt"), &golden, &glen, &err) == SEER_OK) {
        CHECK(round_trip(t, golden, glen, NULL));
        free(golden);
    }
    const char odd[] = "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80\t\xff\xfe bad \xc3 utf8\x80";
    CHECK(round_trip(t, odd, sizeof(odd) - 1, NULL));

    /* Written as tokenizer.bin and as GGUF, read back by seer_tok_load: the same tokenizer. */
    const char *bin = test_tmp("trained_tok.bin"), *gg = test_tmp("trained_tok.gguf");
    CHECK_OK(seer_tok_save_llama2c(t, bin, &err), &err);
    seer_tok *rb = NULL, *rg = NULL;
    CHECK_OK(seer_tok_load(bin, &rb, &err), &err);
    if (rb) CHECK(same_tok(t, rb) && round_trip(rb, g_text, 20000, NULL));
    seer_gguf_writer *w = seer_gguf_writer_init();
    CHECK_OK(seer_tok_write_gguf(t, w, &err), &err);
    CHECK_OK(seer_gguf_writer_write(w, gg, &err), &err);
    seer_gguf_writer_free(w);
    CHECK_OK(seer_tok_load(gg, &rg, &err), &err);
    if (rg) {
        int32_t *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        CHECK_OK(seer_tok_encode(t, g_text, 50000, 1, &a, &na, &err), &err);
        CHECK_OK(seer_tok_encode(rg, g_text, 50000, 1, &b, &nb, &err), &err);
        CHECK(na == nb && a && b && memcmp(a, b, na * sizeof(*a)) == 0);
        free(a);
        free(b);
    }
    seer_tok_free(rb);
    seer_tok_free(rg);
    seer_tok_free(t);
    seer_tok_free(t2);
    seer_tok_free(small);
    seer_tok_free(big);
}

static void test_small_inputs(void) {
    seer_err err = {0};
    seer_tok *t = NULL;
    seer_tok_train_stats s;
    seer_tok_train_opts o = seer_tok_train_default(1000);
    /* Pairs run out long before 1000 pieces: the vocab is what was learned. */
    const char *tiny = "ab ab ab abc";
    size_t tl = strlen(tiny);
    CHECK_OK(seer_tok_train(&tiny, &tl, NULL, 1, &o, &t, &s, &err), &err);
    if (t) {
        CHECK_MSG(s.n_vocab < 1000 && s.n_vocab == seer_tok_n_vocab(t), "vocab %d", (int)s.n_vocab);
        CHECK(seer_tok_find_piece(t, " ab", 3) > 258);
        CHECK(seer_tok_find_piece(t, "b ", 2) < 0); /* no piece runs on past a space */
        CHECK(round_trip(t, tiny, tl, NULL));
        int32_t *ids;
        size_t n;
        CHECK_OK(seer_tok_encode(t, "ab ab", 5, 0, &ids, &n, &err), &err);
        CHECK(n == 2 && ids[0] == ids[1]);
        free(ids);
        seer_tok_free(t);
    }
    /* A literal "<0x41>" in the text must not become a piece the loader reads as a byte. */
    const char *lit = "<0x41> <0x41> <0x41> <0x41> <0x41> <0x41>";
    size_t ll = strlen(lit);
    CHECK_OK(seer_tok_train(&lit, &ll, NULL, 1, &o, &t, NULL, &err), &err);
    if (t) {
        int bytes = 0;
        for (int32_t i = 0; i < seer_tok_n_vocab(t); i++) bytes += seer_tok_get_type(t, i) == SEER_TOK_TYPE_BYTE;
        CHECK(bytes == 256);
        CHECK(round_trip(t, lit, ll, NULL));
        seer_tok_free(t);
    }
    /* Coverage: a rare character is left to byte fallback; the frequent ones are pieces. */
    char buf[4096];
    size_t bl = 0;
    for (int i = 0; i < 300; i++) bl += (size_t)snprintf(buf + bl, sizeof(buf) - bl, "la ");
    bl += (size_t)snprintf(buf + bl, sizeof(buf) - bl, "\xe2\x82\xac");
    const char *bp = buf;
    o.char_coverage = 0.99;
    CHECK_OK(seer_tok_train(&bp, &bl, NULL, 1, &o, &t, &s, &err), &err);
    if (t) {
        CHECK(s.n_char_pieces == 3); /* ' ', 'l', 'a' */
        CHECK(seer_tok_find_piece(t, "\xe2\x82\xac", 3) < 0);
        CHECK(round_trip(t, buf, bl, NULL));
        seer_tok_free(t);
    }
    o.char_coverage = 1;
    CHECK_OK(seer_tok_train(&bp, &bl, NULL, 1, &o, &t, &s, &err), &err);
    if (t) {
        CHECK(s.n_char_pieces == 4 && seer_tok_find_piece(t, "\xe2\x82\xac", 3) > 258);
        seer_tok_free(t);
    }

    /* Bad inputs. */
    o = seer_tok_train_default(259);
    CHECK_FAILS(seer_tok_train(&tiny, &tl, NULL, 1, &o, &t, NULL, &err), &err, "vocab size 259 is outside 260..");
    o = seer_tok_train_default(512);
    const char *empty = "";
    size_t zero = 0;
    const char *name = "empty.txt";
    CHECK_FAILS(seer_tok_train(&empty, &zero, &name, 1, &o, &t, NULL, &err), &err, "'empty.txt' is empty");
    CHECK_FAILS(seer_tok_train(NULL, NULL, NULL, 0, &o, &t, NULL, &err), &err, "no text");
    o.char_coverage = 0;
    CHECK_FAILS(seer_tok_train(&tiny, &tl, NULL, 1, &o, &t, NULL, &err), &err, "character coverage 0");
    o = seer_tok_train_default(512);
    o.max_piece_bytes = 1;
    CHECK_FAILS(seer_tok_train(&tiny, &tl, NULL, 1, &o, &t, NULL, &err), &err, "max piece length 1");
    o = seer_tok_train_default(512);
    const char *missing = "/nonexistent/corpus.txt";
    CHECK_FAILS(seer_tok_train_files(&missing, 1, &o, &t, NULL, &err), &err, "/nonexistent/corpus.txt");
    CHECK(t == NULL);
    const char *junk = "\xff\xfe\xff";
    size_t jl = 3;
    CHECK_OK(seer_tok_train(&junk, &jl, NULL, 1, &o, &t, NULL, &err), &err); /* only the dummy space is a character */
    if (t) {
        CHECK(round_trip(t, junk, jl, NULL));
        seer_tok_free(t);
    }
}

/* `seer tokenizer train` when the CLI is built. */
static void test_cli(void) {
    const char *bin = getenv("SEER_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        printf("skip CLI checks: no seer binary (SEER_BIN)\n");
        return;
    }
    const char *out = test_tmp("cli_tok.bin");
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "'%s' tokenizer train -f '%s' --vocab 600 --out '%s' > /dev/null", bin,
             test_data("data/tinyshakespeare.txt"), out);
    CHECK(system(cmd) == 0);
    seer_err err = {0};
    seer_tok *t = NULL;
    CHECK_OK(seer_tok_load(out, &t, &err), &err);
    if (t) {
        CHECK(seer_tok_n_vocab(t) == 600 && round_trip(t, g_text, 10000, NULL));
        seer_tok_free(t);
    }
    snprintf(cmd, sizeof(cmd), "'%s' tokenizer train -f /nonexistent.txt --vocab 600 --out '%s' 2>/dev/null", bin, out);
    CHECK(system(cmd) != 0);
    snprintf(cmd, sizeof(cmd), "'%s' tokenizer train -f '%s' --vocab 100 --out '%s' 2>/dev/null", bin,
             test_data("data/tinyshakespeare.txt"), out);
    CHECK(system(cmd) != 0);
}

int main(void) {
    seer_err err = {0};
    if (seer_read_file(test_data("data/tinyshakespeare.txt"), &g_text, &g_len, &err) != SEER_OK) {
        fprintf(stderr, "skip: %s\n", err.msg);
        return 77;
    }
    test_shakespeare();
    test_small_inputs();
    test_cli();
    free(g_text);
    return test_done("test_tok_train");
}
