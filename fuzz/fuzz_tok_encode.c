/* Fuzzes encoding and decoding of arbitrary bytes with two real tokenizers, loaded once:
 * stories260K's SentencePiece tok512.bin and OpenAI's GPT-2 BPE. Both have a token for every
 * byte, so decode(encode(x)) must give x back exactly; streaming decode must equal whole decode;
 * and the same bytes read as token ids (in range or not) must decode without harm. */
#include "fuzz.h"

#ifndef SEER_FUZZ_DATA_DIR
#define SEER_FUZZ_DATA_DIR "../shared"
#endif

static seer_tok *fuzz_enc_toks[2];

static const char *fuzz_enc_data_dir(void) {
    const char *d = getenv("SEER_DATA");
    return d && *d ? d : SEER_FUZZ_DATA_DIR;
}

static void fuzz_enc_free(void) {
    for (int k = 0; k < 2; k++) {
        seer_tok_free(fuzz_enc_toks[k]);
        fuzz_enc_toks[k] = NULL;
    }
}

/* Loads both tokenizers on first use; 0 when the shared data is missing. */
static int fuzz_enc_load(void) {
    static const char *const rel[2] = {"models/stories260K/tok512.bin", "models/gpt2-tokenizer/encoder.json"};
    if (fuzz_enc_toks[0] && fuzz_enc_toks[1]) return 1;
    if (!fuzz_enc_toks[0] && !fuzz_enc_toks[1]) atexit(fuzz_enc_free);
    for (int k = 0; k < 2; k++) {
        char path[1024];
        seer_err err;
        snprintf(path, sizeof(path), "%s/%s", fuzz_enc_data_dir(), rel[k]);
        if (!fuzz_enc_toks[k] && seer_tok_load(path, &fuzz_enc_toks[k], &err) != SEER_OK) {
            fprintf(stderr, "fuzz_tok_encode: %s\n", err.msg);
            return 0;
        }
    }
    return 1;
}

/* Streams ids through a decoder and checks the bytes equal want (the whole decode). The output
 * room is always what is left, so a stream that emitted too much would show as a mismatch. */
static void fuzz_enc_stream(const seer_tok *t, const int32_t *ids, size_t n, const char *want, size_t want_len) {
    size_t cap = want_len + 64, at = 0;
    char *got = malloc(cap);
    FUZZ_CHECK(got != NULL);
    seer_tok_stream s;
    seer_tok_stream_init(&s, t);
    for (size_t i = 0; i < n; i++) at += seer_tok_stream_push(&s, ids[i], got + at, cap - at);
    at += seer_tok_stream_flush(&s, got + at, cap - at);
    FUZZ_CHECK(at == want_len && memcmp(got, want, at) == 0);
    free(got);
}

static void fuzz_enc_roundtrip(const seer_tok *t, const uint8_t *data, size_t size) {
    int32_t *ids = NULL;
    size_t n = 0;
    seer_err err;
    int bos = seer_tok_get_kind(t) == SEER_TOK_SPM;
    FUZZ_CHECK(seer_tok_encode(t, (const char *)data, size, bos, &ids, &n, &err) == SEER_OK);
    for (size_t i = 0; i < n; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < seer_tok_n_vocab(t));
    char *text = NULL;
    FUZZ_CHECK(seer_tok_decode(t, ids, n, &text, &err) == SEER_OK);
    size_t len = strlen(text);
    if (memchr(data, 0, size) == NULL) FUZZ_CHECK(len == size && memcmp(text, data, size) == 0);
    /* (with NUL bytes, strlen stops early; compare through the stream instead) */
    fuzz_enc_stream(t, ids, n, memchr(data, 0, size) ? (const char *)data : text, size);
    free(text);
    free(ids);
}

/* The bytes read as int32 ids, whatever they are. */
static void fuzz_enc_decode_ids(const seer_tok *t, const uint8_t *data, size_t size) {
    size_t n = size / 4;
    int32_t *ids = malloc((n + 1) * sizeof(*ids));
    FUZZ_CHECK(ids != NULL);
    memcpy(ids, data, n * 4);
    char *text = NULL;
    seer_err err;
    FUZZ_CHECK(seer_tok_decode(t, ids, n, &text, &err) == SEER_OK);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) len += seer_tok_decode_piece(t, i ? ids[i - 1] : -1, ids[i], NULL, 0);
    fuzz_enc_stream(t, ids, n, text, len);
    free(text);
    free(ids);
}

static void fuzz_tok_encode_one(const uint8_t *data, size_t size) {
    if (!fuzz_enc_load()) abort(); /* the harness needs the shared data */
    for (int k = 0; k < 2; k++) {
        fuzz_enc_roundtrip(fuzz_enc_toks[k], data, size);
        fuzz_enc_decode_ids(fuzz_enc_toks[k], data, size);
    }
}

FUZZ_ENTRY(fuzz_tok_encode_one)
