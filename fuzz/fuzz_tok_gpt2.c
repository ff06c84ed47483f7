/* Fuzzes the GPT-2 vocabulary loader (vocab.json / encoder.json plus merges.txt / vocab.bpe)
 * from memory: the input is the JSON, a NUL byte, then the merges text (all JSON when there is
 * no NUL). The tokenizer is then run over texts and every id, and exported to GGUF and read
 * back. */
#include "fuzz.h"

static void fuzz_tok_gpt2_one(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t vlen = nul ? (size_t)(nul - data) : size;
    const char *merges = nul ? (const char *)nul + 1 : "";
    size_t mlen = nul ? size - vlen - 1 : 0;
    seer_tok *t = NULL;
    seer_err err;
    seer_status st = seer_tok_load_gpt2_buffers((const char *)data, vlen, merges, mlen, &t, &err);
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

FUZZ_ENTRY(fuzz_tok_gpt2_one)
