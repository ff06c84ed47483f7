/* Fuzzes llama2.c's tokenizer.bin loader from memory, reading every entry the bytes hold and
 * again with a vocabulary size taken from the first byte (as a model's header would give it),
 * then runs the tokenizer over texts and every id, and exports it to GGUF and reads it back. */
#include "fuzz.h"

static void fuzz_tok_llama2c_load(const uint8_t *data, size_t size, int32_t n_vocab) {
    seer_tok *t = NULL;
    seer_err err;
    seer_status st = seer_tok_load_llama2c_buffer(data, size, n_vocab, &t, &err);
    if (st != SEER_OK) {
        FUZZ_CHECK_ERR(st, err);
        FUZZ_CHECK(t == NULL);
        return;
    }
    FUZZ_CHECK(seer_tok_get_kind(t) == SEER_TOK_SPM);
    FUZZ_CHECK(n_vocab < 0 || seer_tok_n_vocab(t) == n_vocab);
    fuzz_exercise_tok(t);
    fuzz_tok_export_roundtrip(t);
    seer_tok_free(t);
}

static void fuzz_tok_llama2c_one(const uint8_t *data, size_t size) {
    fuzz_tok_llama2c_load(data, size, -1);
    if (size > 0) fuzz_tok_llama2c_load(data, size, 1 + data[0] % 64);
}

FUZZ_ENTRY(fuzz_tok_llama2c_one)
