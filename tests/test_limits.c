/* Resource limits: the memory budget ($SEER_MEM_BUDGET), the context length a model file can
 * ask for, and loaders refusing declared sizes that exceed the file or the budget (GGUF tensors
 * overlapping or outside the data section, tokenizer tables, f32 copies of HF weights). */
#include "test.h"

#include "seer/gguf.h"
#include "seer/model.h"
#include "seer/tok.h"

/* ---- budget ---- */

static void check_budget_env(void) {
    unsetenv("SEER_MEM_BUDGET");
    size_t def = seer_mem_budget();
    CHECK(def > 0);
    static const struct {
        const char *text;
        size_t want; /* 0: not understood, the default applies */
    } cases[] = {
        {"4096", 4096},         {"1M", (size_t)1 << 20}, {"1m", (size_t)1 << 20}, {"3K", 3 * (size_t)1024},
        {"2G", (size_t)2 << 30}, {"1MB", (size_t)1 << 20}, {"1T", (size_t)1 << 40}, {"", 0},
        {"abc", 0},              {"-5", 0},              {"0", 0},                {"2GiB", 0},
        {"1.5G", 0},             {"12 M", 0},            {"99999999999999999999", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setenv("SEER_MEM_BUDGET", cases[i].text, 1);
        size_t got = seer_mem_budget(), want = cases[i].want ? cases[i].want : def;
        CHECK_MSG(got == want, "SEER_MEM_BUDGET='%s': budget %zu, expected %zu", cases[i].text, got, want);
    }
    /* a count of terabytes past size_t saturates rather than wrapping to a small budget */
    setenv("SEER_MEM_BUDGET", "99999999999T", 1);
    CHECK(seer_mem_budget() == SIZE_MAX);

    seer_err err;
    setenv("SEER_MEM_BUDGET", "1M", 1);
    CHECK_OK(seer_mem_check((size_t)1 << 20, "test: exactly the budget", &err), &err);
    CHECK_FAILS(seer_mem_check(((size_t)1 << 20) + 1, "test: one byte more", &err), &err,
                "test: one byte more needs 1.0 MiB, more than the memory budget (1.0 MiB; set SEER_MEM_BUDGET");
    CHECK(err.code == SEER_ERR_NOMEM);
    CHECK_FAILS(seer_mem_check((size_t)3 << 30, "x", &err), &err, "x needs 3.0 GiB");
    CHECK_FAILS(seer_mem_check(SIZE_MAX, "x", &err), &err, "EiB");
    setenv("SEER_MEM_BUDGET", "1000", 1);
    CHECK_FAILS(seer_mem_check(1001, "x", &err), &err, "x needs 1001 B, more than the memory budget (1000 B;");
    unsetenv("SEER_MEM_BUDGET");
}

/* ---- contexts ---- */

static seer_model *tiny_llama(int32_t n_ctx) {
    seer_model_config c = {.arch = SEER_ARCH_LLAMA, .n_vocab = 32, .d_model = 8, .n_layers = 1, .n_heads = 2,
                           .n_kv_heads = 2, .d_head = 4, .d_mlp = 16, .n_ctx = n_ctx, .norm_eps = 1e-5f,
                           .rope_theta = 10000.0f};
    seer_model *m = NULL;
    seer_err err;
    CHECK_OK(seer_model_random(&c, 1, &m, &err), &err);
    return m;
}

static void check_ctx_limits(void) {
    seer_err err;
    /* A file claiming 2^22 positions once sized the cache for all of them by default. */
    seer_model *m = tiny_llama(1 << 22);
    if (!m) return;
    seer_ctx_params p = seer_ctx_default_params();
    p.n_threads = 1;
    p.n_batch = 4;
    seer_ctx *ctx = NULL;
    CHECK_OK(seer_ctx_init(m, &p, &ctx, &err), &err);
    if (ctx) {
        CHECK_MSG(seer_ctx_n_ctx(ctx) == 4096, "default context %d positions, expected the 4096 cap", seer_ctx_n_ctx(ctx));
        CHECK(seer_ctx_kv_bytes(ctx) == (size_t)4096 * 8 * 2 * sizeof(float));
        seer_ctx_free(ctx);
    }
    /* Asked for explicitly, the length is honoured, but only within the budget. */
    setenv("SEER_MEM_BUDGET", "16M", 1);
    p.n_ctx = 1 << 22;
    CHECK_FAILS(seer_ctx_init(m, &p, &ctx, &err), &err,
                "context: KV cache for 4194304 positions x 1 sequences needs 320.0 MiB, more than the memory budget (16.0 MiB;");
    CHECK(ctx == NULL && err.code == SEER_ERR_NOMEM);
    p.n_ctx = 1 << 16;
    p.n_seq = 64;
    CHECK_FAILS(seer_ctx_init(m, &p, &ctx, &err), &err, "x 64 sequences needs");
    p.n_seq = 1;
    p.n_ctx = 1000;
    CHECK_OK(seer_ctx_init(m, &p, &ctx, &err), &err);
    if (ctx) CHECK(seer_ctx_n_ctx(ctx) == 1000);
    seer_ctx_free(ctx);
    ctx = NULL;
    /* the batch scratch counts too */
    p.n_batch = 1 << 22;
    CHECK_FAILS(seer_ctx_init(m, &p, &ctx, &err), &err, "context: scratch for a batch needs");
    unsetenv("SEER_MEM_BUDGET");
    seer_model_free(m);

    /* A model shorter than the cap keeps its own length. */
    m = tiny_llama(100);
    if (!m) return;
    p = seer_ctx_default_params();
    p.n_threads = 1;
    p.n_batch = 4;
    CHECK_OK(seer_ctx_init(m, &p, &ctx, &err), &err);
    if (ctx) CHECK(seer_ctx_n_ctx(ctx) == 100);
    seer_ctx_free(ctx);
    seer_model_free(m);
}

/* ---- GGUF tensor ranges ---- */

typedef struct bytes {
    uint8_t b[1024];
    size_t n;
} bytes;

static void put_le(bytes *o, uint64_t v, int width) {
    for (int i = 0; i < width; i++) o->b[o->n++] = (uint8_t)(v >> (8 * i));
}

static void put_str(bytes *o, const char *s) {
    size_t n = strlen(s);
    put_le(o, n, 8);
    memcpy(o->b + o->n, s, n);
    o->n += n;
}

/* A GGUF v3 file with f32 vectors names[i] of ne[i] elements at offsets off[i], and data_bytes
 * of data after the header (aligned to 32). */
static bytes gguf_with(int n, const char *const *names, const uint64_t *ne, const uint64_t *off, size_t data_bytes) {
    bytes o = {{0}, 0};
    memcpy(o.b, "GGUF", 4);
    o.n = 4;
    put_le(&o, 3, 4);
    put_le(&o, (uint64_t)n, 8);
    put_le(&o, 0, 8);
    for (int i = 0; i < n; i++) {
        put_str(&o, names[i]);
        put_le(&o, 1, 4);
        put_le(&o, ne[i], 8);
        put_le(&o, 0, 4); /* f32 */
        put_le(&o, off[i], 8);
    }
    while (o.n % 32) o.b[o.n++] = 0;
    for (size_t i = 0; i < data_bytes; i++) o.b[o.n++] = (uint8_t)i;
    return o;
}

static void check_gguf_ranges(void) {
    seer_err err;
    seer_gguf *g = NULL;
    static const char *const names[] = {"a", "blk.0.b", "c"};
    /* side by side: fine */
    uint64_t ne[] = {8, 8, 8}, off[] = {0, 32, 64};
    bytes o = gguf_with(3, names, ne, off, 96);
    CHECK_OK(seer_gguf_open_buffer(o.b, o.n, &g, &err), &err);
    if (g) CHECK(seer_gguf_n_tensors(g) == 3);
    seer_gguf_free(g);
    /* the same bytes twice (listed out of order, so sorting is what finds it) */
    uint64_t off2[] = {64, 32, 32};
    o = gguf_with(3, names, ne, off2, 96);
    CHECK_FAILS(seer_gguf_open_buffer(o.b, o.n, &g, &err), &err,
                "gguf: tensor 'c' (offset 32, 32 bytes) overlaps tensor 'blk.0.b' (offset 32, 32 bytes)");
    CHECK(g == NULL && err.code == SEER_ERR_FORMAT);
    /* a longer tensor running into the next one */
    uint64_t ne3[] = {16, 8, 8}, off3[] = {0, 32, 64};
    o = gguf_with(3, names, ne3, off3, 96);
    CHECK_FAILS(seer_gguf_open_buffer(o.b, o.n, &g, &err), &err,
                "gguf: tensor 'blk.0.b' (offset 32, 32 bytes) overlaps tensor 'a' (offset 0, 64 bytes)");
    /* one byte of data short: outside the data section */
    o = gguf_with(3, names, ne, off, 95);
    CHECK_FAILS(seer_gguf_open_buffer(o.b, o.n, &g, &err), &err,
                "gguf: tensor 'c': data at offset 64 (32 bytes) runs past the end of the file (data section holds 95 bytes)");
    /* an offset far past the end, and one whose end would wrap around */
    uint64_t off4[] = {0, 32, (uint64_t)1 << 40};
    o = gguf_with(3, names, ne, off4, 96);
    CHECK_FAILS(seer_gguf_open_buffer(o.b, o.n, &g, &err), &err, "gguf: tensor 'c': data at offset 1099511627776");
    uint64_t off5[] = {0, 32, UINT64_MAX - 31};
    o = gguf_with(3, names, ne, off5, 96);
    CHECK_FAILS(seer_gguf_open_buffer(o.b, o.n, &g, &err), &err, "runs past the end of the file");
}

/* ---- tokenizer tables ---- */

static void check_tok_budget(void) {
    /* 300 distinct two-byte pieces in llama2.c's format */
    static uint8_t buf[4 + 300 * 10];
    size_t n = 0;
    buf[n++] = 2, buf[n++] = 0, buf[n++] = 0, buf[n++] = 0; /* max_token_length */
    for (int i = 0; i < 300; i++) {
        memset(buf + n, 0, 4); /* score 0.0f */
        n += 4;
        buf[n++] = 2, buf[n++] = 0, buf[n++] = 0, buf[n++] = 0;
        buf[n++] = (uint8_t)('a' + i / 26 % 26);
        buf[n++] = (uint8_t)('a' + i % 26);
    }
    seer_err err;
    seer_tok *t = NULL;
    CHECK_OK(seer_tok_load_llama2c_buffer(buf, n, -1, &t, &err), &err);
    if (t) CHECK(seer_tok_n_vocab(t) == 300);
    seer_tok_free(t);
    t = NULL;
    setenv("SEER_MEM_BUDGET", "4K", 1);
    CHECK_FAILS(seer_tok_load_llama2c_buffer(buf, n, -1, &t, &err), &err,
                "llama2c tokenizer: tables for 300 tokens needs");
    CHECK(t == NULL && err.code == SEER_ERR_NOMEM);
    unsetenv("SEER_MEM_BUDGET");
}

/* ---- HF weights widened to f32 ---- */

static void check_hf_budget(void) {
    /* GPT-2 checkpoints store Conv1D weights [in, out]: loading widens and transposes them. */
    seer_model_config c = {.arch = SEER_ARCH_GPT2, .n_vocab = 32, .d_model = 8, .n_layers = 1, .n_heads = 2,
                           .n_kv_heads = 2, .d_head = 4, .d_mlp = 16, .n_ctx = 16, .norm_eps = 1e-5f, .tied_embeddings = 1};
    seer_model *m = NULL;
    seer_err err;
    CHECK_OK(seer_model_random(&c, 1, &m, &err), &err);
    if (!m) return;
    const char *dir = test_tmp("limits_hf");
    CHECK_OK(seer_model_save(m, SEER_FORMAT_SAFETENSORS, dir, SEER_DTYPE_BF16, &err), &err);
    seer_model_free(m);
    m = NULL;
    CHECK_OK(seer_model_load(dir, NULL, &m, &err), &err);
    seer_model_free(m);
    m = NULL;
    setenv("SEER_MEM_BUDGET", "16", 1);
    CHECK_FAILS(seer_model_load(dir, NULL, &m, &err), &err, "' to f32 needs");
    CHECK(strstr(err.msg, "more than the memory budget (16 B;") != NULL);
    CHECK(m == NULL);
    unsetenv("SEER_MEM_BUDGET");
}

int main(void) {
    check_budget_env();
    check_ctx_limits();
    check_gguf_ranges();
    check_tok_budget();
    check_hf_budget();
    return test_done("test_limits");
}
