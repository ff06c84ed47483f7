/* Fuzzes Hugging Face config.json parsing from memory and the consistency check every loader
 * runs on the result. */
#include "fuzz.h"

static void fuzz_hf_config_one(const uint8_t *data, size_t size) {
    seer_model_config c;
    seer_err err;
    seer_status st = seer_hf_config_parse((const char *)data, size, &c, &err);
    if (st != SEER_OK) {
        FUZZ_CHECK_ERR(st, err);
        return;
    }
    FUZZ_CHECK((unsigned)c.arch < SEER_ARCH_COUNT);
    FUZZ_CHECK(c.n_vocab >= 0 && c.d_model >= 0 && c.n_layers >= 0 && c.n_heads >= 0 && c.n_kv_heads >= 0);
    st = seer_model_config_check(&c, &err);
    if (st != SEER_OK) {
        FUZZ_CHECK_ERR(st, err);
        return;
    }
    FUZZ_CHECK(c.n_heads * c.d_head == c.d_model && c.n_heads % c.n_kv_heads == 0);
}

FUZZ_ENTRY(fuzz_hf_config_one)
