/* Fuzzes the Hugging Face tokenizer.json loader from memory (vocabulary, merges as strings or
 * pairs, added tokens, scheme checks), then runs the tokenizer over texts and every id and
 * checks that it exports to GGUF and reads back the same. */
#include "fuzz.h"

static void fuzz_tok_hf_one(const uint8_t *data, size_t size) {
    seer_tok *t = NULL;
    seer_err err;
    seer_status st = seer_tok_load_hf_buffer((const char *)data, size, &t, &err);
    if (st != SEER_OK) {
        FUZZ_CHECK_ERR(st, err);
        FUZZ_CHECK(t == NULL);
        return;
    }
    FUZZ_CHECK(seer_tok_get_kind(t) == SEER_TOK_GPT2);
    fuzz_exercise_tok(t);
    fuzz_tok_export_roundtrip(t);
    seer_tok_free(t);
}

FUZZ_ENTRY(fuzz_tok_hf_one)
