/* llama2.c checkpoints: the v1 layout (magic "ak42") built from the legacy stories260K gives
 * bit-identical logits; every header check has its own error. */
#include "seer/llama2c.h"
#include "seer/model.h"
#include "test.h"

static void logits_of(const char *path, const char *tok, float *out, int T) {
    seer_err err;
    seer_model *m;
    CHECK_OK(seer_model_load(path, tok, &m, &err), &err);
    if (!m) return;
    seer_ctx *c;
    seer_ctx_params p = seer_ctx_default_params();
    p.n_batch = T;
    p.n_ctx = T;
    CHECK_OK(seer_ctx_init(m, &p, &c, &err), &err);
    int32_t toks[16], pos[16];
    uint8_t want[16];
    for (int i = 0; i < T; i++) toks[i] = (i * 37 + 1) % 512, pos[i] = i, want[i] = 1;
    seer_batch b = {.n = T, .tokens = toks, .pos = pos, .want_logits = want};
    CHECK_OK(seer_ctx_decode(c, &b, out, &err), &err);
    seer_ctx_free(c);
    seer_model_free(m);
}

static int32_t hdr_v[7] = {64, 172, 5, 8, 4, 512, 512};

static seer_status parse_hdr(const int32_t *h, size_t extra, seer_err *err) {
    size_t n = 28 + extra;
    int32_t *buf = calloc(1, n + 4);
    memcpy(buf, h, 28);
    seer_llama2c l;
    seer_status st = seer_llama2c_parse(buf, n, &l, err);
    free(buf);
    return st;
}

int main(void) {
    seer_err err;
    char bin[1024], tok[1024];
    snprintf(bin, sizeof(bin), "%s", test_data("models/stories260K/stories260K.bin"));
    snprintf(tok, sizeof(tok), "%s", test_data("models/stories260K/tok512.bin"));
    seer_map map;
    if (seer_map_open(bin, &map, &err)) return 77;
    seer_llama2c l;
    CHECK_OK(seer_llama2c_parse(map.data, map.size, &l, &err), &err);
    const seer_llama2c_header *h = &l.hdr;
    CHECK(h->dim == 64 && h->n_layers == 5 && h->n_kv_heads == 4 && h->shared_classifier == 1 && h->version == 0);

    /* v1: 256-byte header, then norms first, then embeddings and matrices */
    const char *v1 = test_tmp("stories_v1.bin");
    FILE *f = fopen(v1, "wb");
    uint32_t magic = SEER_LLAMA2C_MAGIC;
    int32_t version = 1;
    uint8_t pad[256] = {0};
    fwrite(&magic, 4, 1, f);
    fwrite(&version, 4, 1, f);
    fwrite(hdr_v, 4, 7, f);
    uint8_t shared = 1;
    fwrite(&shared, 1, 1, f);
    fwrite(pad, 1, 256 - 37, f);
    size_t L = 5, d = 64, kvd = 32, hd = 172, V = 512;
    fwrite(l.rms_att, 4, L * d, f);
    fwrite(l.rms_ffn, 4, L * d, f);
    fwrite(l.rms_final, 4, d, f);
    fwrite(l.token_embedding, 4, V * d, f);
    fwrite(l.wq, 4, L * d * d, f);
    fwrite(l.wk, 4, L * kvd * d, f);
    fwrite(l.wv, 4, L * kvd * d, f);
    fwrite(l.wo, 4, L * d * d, f);
    fwrite(l.w1, 4, L * hd * d, f);
    fwrite(l.w2, 4, L * d * hd, f);
    fwrite(l.w3, 4, L * hd * d, f);
    fclose(f);
    enum { T = 12 };
    float a[T * 512], b[T * 512];
    logits_of(bin, tok, a, T);
    logits_of(v1, tok, b, T);
    CHECK_MSG(memcmp(a, b, sizeof(a)) == 0, "v1 checkpoint logits differ from the legacy file's");

    /* v1 with an unknown version, and a v1 header cut short */
    f = fopen(v1, "r+b");
    fseek(f, 4, SEEK_SET);
    version = 2;
    fwrite(&version, 4, 1, f);
    fclose(f);
    seer_model *m;
    CHECK_FAILS(seer_model_load(v1, tok, &m, &err), &err, "version 2 not supported");
    uint32_t short_v1[10] = {SEER_LLAMA2C_MAGIC, 1};
    CHECK_FAILS(seer_llama2c_parse(short_v1, sizeof(short_v1), &l, &err), &err, "v1 header needs 256 bytes");

    /* each header check */
    int32_t bad[7];
#define BAD(field, value, needle)                                                                  \
    memcpy(bad, hdr_v, sizeof(bad));                                                              \
    bad[field] = value;                                                                           \
    CHECK_FAILS(parse_hdr(bad, 0, &err), &err, needle)
    BAD(0, 0, "dim = 0");
    BAD(0, -64, "dim = -64");
    BAD(1, 1 << 30, "hidden_dim");
    BAD(2, INT32_MAX, "n_layers");
    BAD(3, 0, "n_heads");
    BAD(4, 16, "n_kv_heads");
    BAD(5, INT32_MIN, "vocab_size");
    BAD(6, -1, "seq_len");
    BAD(3, 7, "not divisible by n_heads");
    BAD(4, 3, "not divisible by n_kv_heads");
    BAD(3, 64, "odd");
#undef BAD
    CHECK_FAILS(parse_hdr(hdr_v, 100, &err), &err, "truncated");
    /* untied legacy (negative vocab): the classifier follows the RoPE tables */
    int32_t untied[7] = {64, 172, 5, 8, 4, -512, 512};
    CHECK_FAILS(parse_hdr(untied, map.size - 28, &err), &err, "truncated");
    CHECK_FAILS(seer_llama2c_parse(map.data, 27, &l, &err), &err, "too small");
    seer_map_close(&map);
    return test_done("test_llama2c");
}
