/* Core: fp16/bf16 conversions, q8_0/q4_0 blocks against hand-computed values, arena bounds,
 * overflow checks, PRNG determinism, atomic writes. */
#include "test.h"

static void test_halfs(void) {
    CHECK(seer_fp32_to_fp16(1.0f) == 0x3c00);
    CHECK(seer_fp32_to_fp16(-2.0f) == 0xc000);
    CHECK(seer_fp32_to_fp16(65504.0f) == 0x7bff);
    CHECK(seer_fp32_to_fp16(1e6f) == 0x7c00);
    CHECK(seer_fp32_to_fp16(5.9604644775390625e-08f) == 0x0001);
    CHECK(seer_fp16_to_fp32(0x3555) == 0.333251953125f);
    /* every finite half round-trips */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        if (seer_fp32_to_fp16(seer_fp16_to_fp32((uint16_t)h)) != h) bad++;
    }
    CHECK_MSG(bad == 0, "%d halves do not round-trip", bad);
    /* ties to even: 1 + 2^-11 lies halfway between 1 and 1+2^-10 */
    CHECK(seer_fp32_to_fp16(1.0f + 0.00048828125f) == 0x3c00);
    CHECK(seer_fp32_to_bf16(1.0f) == 0x3f80);
    CHECK(seer_bf16_to_fp32(0xc040) == -3.0f);
    CHECK(seer_fp32_to_bf16(1.00390625f) == 0x3f80); /* halfway, even stays */
}

static void test_quant(void) {
    seer_err err = {0};
    float x[32], y[32];
    for (int i = 0; i < 32; i++) x[i] = (float)(i - 16) / 4.0f; /* -4 .. 3.75 */
    seer_block_q8_0 b8;
    CHECK_OK(seer_convert_from_f32(SEER_DTYPE_Q8_0, x, &b8, 32, &err), &err);
    /* amax 4 -> d = 4/127; x=-4 -> -127, x=2 -> round(63.5)=64 */
    CHECK(seer_fp16_to_fp32(b8.d) == seer_fp16_to_fp32(seer_fp32_to_fp16(4.0f / 127.0f)));
    CHECK(b8.qs[0] == -127);
    CHECK(b8.qs[24] == 64);
    CHECK(b8.qs[16] == 0);
    CHECK_OK(seer_convert_to_f32(SEER_DTYPE_Q8_0, &b8, y, 32, &err), &err);
    check_close(x, y, 32, 4.0f / 127.0f / 2 + 1e-3f, "q8_0 round trip");
    seer_block_q4_0 b4;
    CHECK_OK(seer_convert_from_f32(SEER_DTYPE_Q4_0, x, &b4, 32, &err), &err);
    /* max-magnitude value -4 -> d = 0.5, -4 maps to q=0 (i.e. -8) */
    CHECK(seer_fp16_to_fp32(b4.d) == 0.5f);
    CHECK((b4.qs[0] & 0xf) == 0);
    /* x[16] = 0 -> q = 8 in the high nibble of qs[0] */
    CHECK((b4.qs[0] >> 4) == 8);
    CHECK_OK(seer_convert_to_f32(SEER_DTYPE_Q4_0, &b4, y, 32, &err), &err);
    check_close(x, y, 32, 0.25f + 1e-6f, "q4_0 round trip");
    CHECK_FAILS(seer_convert_to_f32(SEER_DTYPE_Q8_0, &b8, y, 31, &err), &err, "multiple of 32");
    size_t rb;
    CHECK_FAILS(seer_dtype_row_bytes(SEER_DTYPE_F32, INT64_MAX, &rb, &err), &err, "overflow");
}

static void test_arena(void) {
    seer_err err;
    seer_arena a;
    CHECK_OK(seer_arena_init(&a, 1000, &err), &err);
    void *p = seer_arena_alloc(&a, 100);
    CHECK(p && ((uintptr_t)p % 64) == 0);
    CHECK(seer_arena_alloc(&a, 2000) == NULL);
    CHECK(seer_arena_alloc(&a, SIZE_MAX) == NULL);
    CHECK(seer_arena_calloc(&a, SIZE_MAX / 2, 4) == NULL);
    seer_arena_free(&a);
}

static void test_rng(void) {
    seer_rng a, b;
    seer_rng_seed(&a, 42);
    seer_rng_seed(&b, 42);
    int same = 1;
    double sum = 0, sq = 0;
    for (int i = 0; i < 10000; i++) {
        float u = seer_rng_normal(&a), v = seer_rng_normal(&b);
        if (u != v) same = 0;
        sum += u;
        sq += (double)u * u;
    }
    CHECK(same);
    CHECK(fabs(sum / 10000) < 0.05);
    CHECK(fabs(sq / 10000 - 1) < 0.05);
}

static void test_files(void) {
    seer_err err;
    const char *p = test_tmp("core_atomic.bin");
    CHECK_OK(seer_write_file_atomic(p, "hello", 5, &err), &err);
    char *s;
    size_t n;
    CHECK_OK(seer_read_file(p, &s, &n, &err), &err);
    CHECK(n == 5 && strcmp(s, "hello") == 0);
    free(s);
    seer_map m;
    CHECK_FAILS(seer_map_open("/nonexistent/x.bin", &m, &err), &err, "cannot open");
}

int main(void) {
    test_halfs();
    test_quant();
    test_arena();
    test_rng();
    test_files();
    return test_done("test_core");
}
