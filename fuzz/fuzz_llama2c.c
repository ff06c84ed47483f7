/* Fuzzes llama2.c checkpoints: the parser from memory (every view must lie inside the buffer),
 * then the same bytes loaded as a model through an in-memory file and, when the model is
 * small, one token run through it. */
#include "fuzz.h"
#include "seer/llama2c.h"

/* view holds n floats inside [data, data + size) */
static void fuzz_l2c_in(const float *view, uint64_t n, const uint8_t *data, size_t size) {
    const uint8_t *p = (const uint8_t *)view;
    FUZZ_CHECK(p >= data && p <= data + size && n <= (uint64_t)(data + size - p) / 4);
    fuzz_touch(view, (size_t)n * 4);
}

static void fuzz_l2c_run(const seer_model *m) {
    const seer_model_config *c = seer_model_get_config(m);
    if (seer_model_weight_bytes(m) > (4u << 20)) return;
    seer_ctx_params p = seer_ctx_default_params();
    p.n_ctx = 4;
    p.n_batch = 2;
    p.n_threads = 1;
    seer_ctx *ctx = NULL;
    seer_err err;
    if (seer_ctx_init(m, &p, &ctx, &err) != SEER_OK) return;
    float *logits = malloc(2 * (size_t)c->n_vocab * sizeof(float));
    if (logits) {
        int32_t tok[2] = {0, c->n_vocab - 1}, pos[2] = {0, 1};
        uint8_t want[2] = {1, 1};
        seer_batch b = {.n = 2, .tokens = tok, .pos = pos, .want_logits = want};
        FUZZ_CHECK(seer_ctx_decode(ctx, &b, logits, &err) == SEER_OK);
        free(logits);
    }
    seer_ctx_free(ctx);
}

static void fuzz_llama2c_one(const uint8_t *data, size_t size) {
    seer_llama2c c;
    seer_err err;
    seer_status st = seer_llama2c_parse(data, size, &c, &err);
    if (st != SEER_OK) {
        FUZZ_CHECK_ERR(st, err);
    } else {
        const seer_llama2c_header *h = &c.hdr;
        uint64_t L = (uint64_t)h->n_layers, d = (uint64_t)h->dim, hd = (uint64_t)h->hidden_dim;
        uint64_t V = (uint64_t)h->vocab_size, kvd = d / (uint64_t)h->n_heads * (uint64_t)h->n_kv_heads;
        fuzz_l2c_in(c.token_embedding, V * d, data, size);
        fuzz_l2c_in(c.rms_att, L * d, data, size);
        fuzz_l2c_in(c.wq, L * d * d, data, size);
        fuzz_l2c_in(c.wk, L * kvd * d, data, size);
        fuzz_l2c_in(c.wv, L * kvd * d, data, size);
        fuzz_l2c_in(c.wo, L * d * d, data, size);
        fuzz_l2c_in(c.rms_ffn, L * d, data, size);
        fuzz_l2c_in(c.w1, L * hd * d, data, size);
        fuzz_l2c_in(c.w2, L * d * hd, data, size);
        fuzz_l2c_in(c.w3, L * hd * d, data, size);
        fuzz_l2c_in(c.rms_final, d, data, size);
        fuzz_l2c_in(c.wcls, V * d, data, size);
    }
    /* The model loader sniffs the format, so it also sees inputs the parser refused. */
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof(path));
    if (fd < 0) return;
    seer_model *m = NULL;
    st = seer_model_load(path, NULL, &m, &err);
    if (st == SEER_OK) {
        fuzz_l2c_run(m);
        seer_model_free(m);
    } else {
        FUZZ_CHECK_ERR(st, err);
    }
    close(fd);
}

FUZZ_ENTRY(fuzz_llama2c_one)
