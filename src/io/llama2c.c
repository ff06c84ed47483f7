/* llama2.c checkpoint reader: checks every header field against sane limits and the total
 * size against the file before handing out views, so a truncated or hostile file is refused. */
#include "seer/llama2c.h"

#include <string.h>

#define L2C_MAX_DIM (1 << 20)
#define L2C_MAX_LAYERS 4096
#define L2C_MAX_VOCAB (1 << 24)
#define L2C_MAX_SEQ (1 << 24)

typedef struct cursor {
    const uint8_t *base;
    size_t size, off;
} cursor;

/* Takes n floats (the caller has checked that the total fits). */
static const float *take(cursor *c, size_t n) {
    const void *p = c->base + c->off; /* 4-byte aligned: the buffer is, and so is every size before */
    c->off += n * sizeof(float);
    return p;
}

static int32_t rd_i32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

static seer_status check_field(const char *name, int64_t v, int64_t lo, int64_t hi, seer_err *err) {
    if (v < lo || v > hi)
        return seer_err_set(err, SEER_ERR_FORMAT, "llama2c: header field %s = %lld out of range [%lld, %lld]", name,
                            (long long)v, (long long)lo, (long long)hi);
    return SEER_OK;
}

seer_status seer_llama2c_parse(const void *data, size_t size, seer_llama2c *out, seer_err *err) {
    memset(out, 0, sizeof(*out));
    const uint8_t *p = data;
    seer_llama2c_header *h = &out->hdr;
    size_t hdr_bytes;
    if (size < 28) return seer_err_set(err, SEER_ERR_FORMAT, "llama2c: file too small for a header (%zu bytes)", size);
    if ((uintptr_t)p % 4 != 0) return seer_err_set(err, SEER_ERR_INVALID, "llama2c: buffer not 4-byte aligned");
    if ((uint32_t)rd_i32(p) == SEER_LLAMA2C_MAGIC) {
        if (size < 256) return seer_err_set(err, SEER_ERR_FORMAT, "llama2c: v1 header needs 256 bytes, file has %zu", size);
        int32_t version = rd_i32(p + 4);
        if (version != 1)
            return seer_err_set(err, SEER_ERR_UNSUPPORTED,
                                "llama2c: checkpoint version %d not supported (only legacy and v1 fp32)", version);
        h->version = 1;
        p += 8;
        hdr_bytes = 256;
    } else {
        hdr_bytes = 28;
    }
    h->dim = rd_i32(p);
    h->hidden_dim = rd_i32(p + 4);
    h->n_layers = rd_i32(p + 8);
    h->n_heads = rd_i32(p + 12);
    h->n_kv_heads = rd_i32(p + 16);
    int32_t vocab = rd_i32(p + 20);
    h->seq_len = rd_i32(p + 24);
    if (h->version == 1) {
        h->shared_classifier = p[28] != 0;
        h->vocab_size = vocab;
    } else {
        /* legacy: a negative vocab size means an untied classifier follows */
        h->shared_classifier = vocab > 0;
        h->vocab_size = vocab == INT32_MIN ? 0 : (vocab < 0 ? -vocab : vocab);
    }
    seer_status st;
    if ((st = check_field("dim", h->dim, 1, L2C_MAX_DIM, err)) || (st = check_field("hidden_dim", h->hidden_dim, 1, L2C_MAX_DIM, err)) ||
        (st = check_field("n_layers", h->n_layers, 1, L2C_MAX_LAYERS, err)) ||
        (st = check_field("n_heads", h->n_heads, 1, h->dim, err)) ||
        (st = check_field("n_kv_heads", h->n_kv_heads, 1, h->n_heads, err)) ||
        (st = check_field("vocab_size", h->vocab_size, 1, L2C_MAX_VOCAB, err)) ||
        (st = check_field("seq_len", h->seq_len, 1, L2C_MAX_SEQ, err)))
        return st;
    if (h->dim % h->n_heads != 0)
        return seer_err_set(err, SEER_ERR_FORMAT, "llama2c: dim %d not divisible by n_heads %d", h->dim, h->n_heads);
    if (h->n_heads % h->n_kv_heads != 0)
        return seer_err_set(err, SEER_ERR_FORMAT, "llama2c: n_heads %d not divisible by n_kv_heads %d", h->n_heads,
                            h->n_kv_heads);
    if ((h->dim / h->n_heads) % 2 != 0)
        return seer_err_set(err, SEER_ERR_FORMAT, "llama2c: head size %d is odd (RoPE needs pairs)", h->dim / h->n_heads);

    /* All products below fit in uint64 given the caps above (2^20 * 2^20 * 2^12 = 2^52). */
    uint64_t L = (uint64_t)h->n_layers, d = (uint64_t)h->dim, hd = (uint64_t)h->hidden_dim;
    uint64_t kvd = d / (uint64_t)h->n_heads * (uint64_t)h->n_kv_heads, V = (uint64_t)h->vocab_size;
    uint64_t head = d / (uint64_t)h->n_heads;
    uint64_t n = V * d + L * d * 2 + L * d * d * 2 + L * kvd * d * 2 + L * hd * d * 3 + d;
    if (!h->shared_classifier) n += V * d;
    uint64_t need = hdr_bytes + n * 4;
    uint64_t rope = (uint64_t)h->seq_len * head * 4; /* legacy freq_cis tables (two of them) */
    if (h->version == 0 && !h->shared_classifier) need += rope; /* tables sit before wcls */
    if (need > size)
        return seer_err_set(err, SEER_ERR_FORMAT,
                            "llama2c: header (dim %d, %d layers, vocab %d) needs %llu bytes, file has %zu (truncated?)",
                            h->dim, h->n_layers, h->vocab_size, (unsigned long long)need, size);
    cursor c = {data, size, hdr_bytes};
    if (h->version == 0) {
        out->token_embedding = take(&c, V * d);
        out->rms_att = take(&c, L * d);
        out->wq = take(&c, L * d * d);
        out->wk = take(&c, L * kvd * d);
        out->wv = take(&c, L * kvd * d);
        out->wo = take(&c, L * d * d);
        out->rms_ffn = take(&c, L * d);
        out->w1 = take(&c, L * hd * d);
        out->w2 = take(&c, L * d * hd);
        out->w3 = take(&c, L * hd * d);
        out->rms_final = take(&c, d);
        if (h->shared_classifier) {
            out->wcls = out->token_embedding;
        } else {
            c.off += rope;
            out->wcls = take(&c, V * d);
        }
    } else {
        out->rms_att = take(&c, L * d);
        out->rms_ffn = take(&c, L * d);
        out->rms_final = take(&c, d);
        out->token_embedding = take(&c, V * d);
        out->wq = take(&c, L * d * d);
        out->wk = take(&c, L * kvd * d);
        out->wv = take(&c, L * kvd * d);
        out->wo = take(&c, L * d * d);
        out->w1 = take(&c, L * hd * d);
        out->w2 = take(&c, L * d * hd);
        out->w3 = take(&c, L * hd * d);
        out->wcls = h->shared_classifier ? out->token_embedding : take(&c, V * d);
    }
    SEER_ASSERT(c.off <= size);
    return SEER_OK;
}
