/* Properties of both tokenizers over seeded random inputs: decode(encode(s)) == s for random
 * valid UTF-8 (ASCII, accents, Greek, Cyrillic, CJK, emoji, whitespace runs), byte-exact round
 * trips of arbitrary bytes (invalid UTF-8, NULs), streaming decode equal to whole decode and
 * emitting only complete characters, loaders surviving mutated files; plus a timing print. */
#include "seer/tok.h"
#include "test.h"

#include <stdint.h>

static size_t put_utf8(char *out, uint32_t cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static uint32_t rnd(seer_rng *r, uint32_t n) { return (uint32_t)(seer_rng_u64(r) % n); }

/* Up to max_chars characters of random valid UTF-8 into out (4 * max_chars + 1 bytes). */
static size_t random_text(seer_rng *r, char *out, int max_chars) {
    static const char *const words[] = {"the", "The", " and", "Once", "upon", "don't", "we'll", "I'm", "you're"};
    static const uint32_t spaces[] = {' ', ' ', ' ', '\t', '\n', '\r', 0xA0, 0x3000, 0x2003};
    int n = (int)rnd(r, (uint32_t)max_chars + 1);
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        uint32_t kind = rnd(r, 12), cp;
        switch (kind) {
        case 0: cp = 0x20 + rnd(r, 95); break;                     /* printable ASCII */
        case 1: cp = 'a' + rnd(r, 26); break;
        case 2: cp = 0xC0 + rnd(r, 0x180 - 0xC0); break;           /* Latin-1 / Extended-A */
        case 3: cp = 0x391 + rnd(r, 0x3C9 - 0x391); break;         /* Greek */
        case 4: cp = 0x410 + rnd(r, 0x44F - 0x410); break;         /* Cyrillic */
        case 5: cp = 0x4E00 + rnd(r, 0x9FFF - 0x4E00); break;      /* CJK */
        case 6: cp = 0x3041 + rnd(r, 0x3096 - 0x3041); break;      /* Hiragana */
        case 7: cp = 0x1F300 + rnd(r, 0x1F64F - 0x1F300); break;   /* emoji */
        case 8: cp = '0' + rnd(r, 10); break;
        case 9: { /* a whitespace run */
            int run = 1 + (int)rnd(r, 4);
            for (int k = 0; k < run - 1 && i < n - 1; k++, i++)
                len += put_utf8(out + len, spaces[rnd(r, sizeof(spaces) / sizeof(spaces[0]))]);
            cp = spaces[rnd(r, sizeof(spaces) / sizeof(spaces[0]))];
            break;
        }
        case 10: { /* a word, counted as one character of the budget */
            const char *w = words[rnd(r, sizeof(words) / sizeof(words[0]))];
            size_t l = strlen(w);
            if (l <= 4) {
                memcpy(out + len, w, l);
                len += l;
                continue;
            }
            cp = 'x';
            break;
        }
        default: cp = 0x5D0 + rnd(r, 27); break; /* Hebrew */
        }
        len += put_utf8(out + len, cp);
    }
    out[len] = 0;
    return len;
}

static int valid_utf8(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint8_t b = (uint8_t)s[i];
        size_t k = b < 0x80 ? 1 : b >= 0xC2 && b < 0xE0 ? 2 : b >= 0xE0 && b < 0xF0 ? 3 : b >= 0xF0 && b < 0xF5 ? 4 : 0;
        if (k == 0 || i + k > n) return 0;
        for (size_t j = 1; j < k; j++)
            if (((uint8_t)s[i + j] & 0xC0) != 0x80) return 0;
        i += k;
    }
    return 1;
}

/* Round trip of one text; streaming must reproduce the whole decode, and (for valid input)
 * emit only complete characters per push. Returns 1 when everything held. */
static int round_trip(const seer_tok *t, const char *s, size_t len, int add_bos, int valid, const char *what,
                      int case_no) {
    seer_err err;
    int32_t *ids;
    size_t n;
    char *back;
    int ok = 1;
    if (seer_tok_encode(t, s, len, add_bos, &ids, &n, &err) != SEER_OK) {
        fprintf(stderr, "%s %d: encode failed: %s\n", what, case_no, err.msg);
        return 0;
    }
    if (seer_tok_decode(t, ids, n, &back, &err) != SEER_OK) {
        free(ids);
        return 0;
    }
    if (memcmp(back, s, len) != 0 || back[len] != 0) {
        fprintf(stderr, "%s %d: decode(encode(s)) != s for %zu bytes\n", what, case_no, len);
        ok = 0;
    }
    size_t whole = strlen(back) < len ? len : strlen(back); /* decoded text may hold NULs */
    char *streamed = malloc(whole + 64);
    size_t at = 0;
    seer_tok_stream st;
    seer_tok_stream_init(&st, t);
    for (size_t i = 0; i < n; i++) {
        char buf[256];
        size_t k = seer_tok_stream_push(&st, ids[i], buf, sizeof(buf));
        if (valid && !valid_utf8(buf, k)) {
            fprintf(stderr, "%s %d: streaming gave an incomplete character at token %zu\n", what, case_no, i);
            ok = 0;
        }
        if (at + k <= whole + 64) memcpy(streamed + at, buf, k);
        at += k;
    }
    char tail[8];
    size_t k = seer_tok_stream_flush(&st, tail, sizeof(tail));
    if (at + k <= whole + 64) memcpy(streamed + at, tail, k);
    at += k;
    if (at != len || memcmp(streamed, back, len) != 0) {
        fprintf(stderr, "%s %d: streaming decode differs from whole decode (%zu vs %zu bytes)\n", what, case_no, at,
                len);
        ok = 0;
    }
    free(streamed);
    free(back);
    free(ids);
    return ok;
}

static void test_round_trips(const seer_tok *spm, const seer_tok *gpt2) {
    seer_rng r;
    seer_rng_seed(&r, 2024);
    char *s = malloc(4 * 300 + 1);
    int bad_spm = 0, bad_gpt2 = 0;
    for (int i = 0; i < 2000; i++) {
        size_t len = random_text(&r, s, 300);
        CHECK(valid_utf8(s, len));
        bad_spm += !round_trip(spm, s, len, 1, 1, "spm text", i);
        bad_gpt2 += !round_trip(gpt2, s, len, i & 1, 1, "gpt2 text", i);
    }
    CHECK_MSG(bad_spm == 0, "%d of 2000 random texts failed the SPM round trip", bad_spm);
    CHECK_MSG(bad_gpt2 == 0, "%d of 2000 random texts failed the GPT-2 round trip", bad_gpt2);
    /* arbitrary bytes: invalid UTF-8, NULs, lone continuation bytes */
    bad_spm = bad_gpt2 = 0;
    for (int i = 0; i < 1000; i++) {
        size_t len = rnd(&r, 120);
        for (size_t j = 0; j < len; j++) {
            uint32_t kind = rnd(&r, 4);
            s[j] = (char)(kind == 0 ? 0 : kind == 1 ? 0x80 + rnd(&r, 0x80) : kind == 2 ? ' ' + rnd(&r, 95) : rnd(&r, 256));
        }
        s[len] = 0;
        bad_spm += !round_trip(spm, s, len, 1, 0, "spm bytes", i);
        bad_gpt2 += !round_trip(gpt2, s, len, 0, 0, "gpt2 bytes", i);
    }
    CHECK_MSG(bad_spm == 0, "%d of 1000 random byte strings failed the SPM round trip", bad_spm);
    CHECK_MSG(bad_gpt2 == 0, "%d of 1000 random byte strings failed the GPT-2 round trip", bad_gpt2);
    free(s);
}

/* Mutated tokenizer files: every load either fails with a message or gives a tokenizer that
 * encodes and decodes without trouble. */
static void test_mutations(void) {
    seer_err err;
    char *bin, *vocab, *merges;
    size_t bin_len, vocab_len, merges_len;
    seer_rng r;
    seer_rng_seed(&r, 99);
    static const char sample[] = "Once upon a time \xe6\x9d\xb1 \xff\x00 the end";
    if (seer_read_file(test_data("models/stories260K/tok512.bin"), &bin, &bin_len, &err) == SEER_OK) {
        char *b = malloc(bin_len);
        int loaded = 0, failed = 0;
        for (int i = 0; i < 400; i++) {
            memcpy(b, bin, bin_len);
            int flips = 1 + (int)rnd(&r, 4);
            for (int k = 0; k < flips; k++) b[rnd(&r, (uint32_t)bin_len)] = (char)rnd(&r, 256);
            seer_tok *t;
            err.msg[0] = 0;
            if (seer_tok_load_llama2c_buffer(b, bin_len, -1, &t, &err) == SEER_OK) {
                loaded++;
                int32_t *ids;
                size_t n;
                char *back;
                CHECK_OK(seer_tok_encode(t, sample, sizeof(sample) - 1, 1, &ids, &n, &err), &err);
                CHECK_OK(seer_tok_decode(t, ids, n, &back, &err), &err);
                free(back);
                free(ids);
                seer_tok_free(t);
            } else {
                failed++;
                CHECK(err.msg[0] != 0);
            }
        }
        printf("mutated tokenizer.bin: %d loaded, %d refused with a message\n", loaded, failed);
        CHECK(loaded > 0 && failed > 0);
        free(b);
        free(bin);
    }
    /* truncated encoder.json / vocab.bpe: refused, or (merges cut at a line) loaded */
    if (seer_read_file(test_data("models/gpt2-tokenizer/encoder.json"), &vocab, &vocab_len, &err) == SEER_OK &&
        seer_read_file(test_data("models/gpt2-tokenizer/vocab.bpe"), &merges, &merges_len, &err) == SEER_OK) {
        for (int i = 0; i < 6; i++) {
            seer_tok *t;
            size_t cut = rnd(&r, (uint32_t)vocab_len);
            CHECK_FAILS(seer_tok_load_gpt2_buffers(vocab, cut, merges, merges_len, &t, &err), &err, "vocabulary json");
            cut = rnd(&r, (uint32_t)merges_len);
            if (seer_tok_load_gpt2_buffers(vocab, vocab_len, merges, cut, &t, &err) == SEER_OK) {
                int32_t *ids;
                size_t n;
                CHECK_OK(seer_tok_encode(t, sample, sizeof(sample) - 1, 0, &ids, &n, &err), &err);
                free(ids);
                seer_tok_free(t);
            } else {
                CHECK(strstr(err.msg, "merges line") != NULL);
            }
        }
        free(vocab);
        free(merges);
    }
}

static void timing(const seer_tok *spm, const seer_tok *gpt2) {
    char *text;
    size_t len;
    seer_err err;
    if (seer_read_file(test_data("data/tinyshakespeare.txt"), &text, &len, &err) != SEER_OK) return;
    const seer_tok *toks[2] = {spm, gpt2};
    for (int k = 0; k < 2; k++) {
        int32_t *ids;
        size_t n;
        double t0 = seer_time_sec();
        CHECK_OK(seer_tok_encode(toks[k], text, len, 1, &ids, &n, &err), &err);
        double dt = seer_time_sec() - t0;
        char *back;
        t0 = seer_time_sec();
        CHECK_OK(seer_tok_decode(toks[k], ids, n, &back, &err), &err);
        double dt2 = seer_time_sec() - t0;
        CHECK(strcmp(back, text) == 0);
        printf("timing: %s encodes tinyshakespeare.txt (%zu bytes) into %zu tokens in %.3f s (%.1f MB/s); decode %.3f s\n",
               seer_tok_kind_name(seer_tok_get_kind(toks[k])), len, n, dt, (double)len / dt / 1e6, dt2);
        free(back);
        free(ids);
    }
    free(text);
}

int main(void) {
    seer_err err;
    seer_tok *spm, *gpt2;
    if (seer_tok_load(test_data("models/stories260K/tok512.bin"), &spm, &err) != SEER_OK) {
        fprintf(stderr, "skipped: %s\n", err.msg);
        return 77;
    }
    if (seer_tok_load(test_data("models/gpt2-tokenizer"), &gpt2, &err) != SEER_OK) {
        fprintf(stderr, "skipped: %s\n", err.msg);
        seer_tok_free(spm);
        return 77;
    }
    test_round_trips(spm, gpt2);
    test_mutations();
    timing(spm, gpt2);
    seer_tok_free(spm);
    seer_tok_free(gpt2);
    return test_done("test_tok_props");
}
