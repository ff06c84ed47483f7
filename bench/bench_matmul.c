/* Matmul speed: GB/s of weights streamed by the decode GEMV (n = 1) and GFLOP/s of the prefill
 * GEMM (n = 256) for each weight type at the shapes of the 15M and 110M Llama models, on 1 and
 * 2 threads, beside OpenBLAS's sgemm and the machine's plain read bandwidth.
 *
 * usage: bench_matmul [seconds per measurement, default 0.3] [shape filter, e.g. 768x2048]
 * Decode "cold" cycles through copies of the weight totalling 256 MB, so weights come from
 * DRAM as in a real model; "hot" reuses one copy (cache-resident for small shapes). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seer/ops.h"

static double min_sec = 0.3;

/* ---- plain read bandwidth ----------------------------------------------------------------- */

typedef struct read_ctx {
    const float *buf;
    int64_t n;
    float sink[64];
} read_ctx;

static void read_task(void *ctx, int ith, int nth) {
    read_ctx *r = ctx;
    int64_t per = r->n / nth, a = per * ith, b = ith == nth - 1 ? r->n : a + per;
    float s[16] = {0};
    for (int64_t i = a; i + 16 <= b; i += 16)
        for (int j = 0; j < 16; j++) s[j] += r->buf[i + j]; /* vectorised by the compiler */
    float t = 0;
    for (int j = 0; j < 16; j++) t += s[j];
    r->sink[ith % 64] = t;
}

static void bench_bandwidth(seer_pool *pools[3]) {
    int64_t n = (int64_t)256 << 20 >> 2; /* 256 MB of floats */
    float *buf = seer_alloc_aligned((size_t)n, sizeof(float));
    float *dst = seer_alloc_aligned((size_t)n, sizeof(float));
    if (!buf || !dst) {
        fprintf(stderr, "bandwidth: out of memory\n");
        free(buf), free(dst);
        return;
    }
    for (int64_t i = 0; i < n; i++) buf[i] = (float)(i & 1023), dst[i] = 0;
    read_ctx r = {.buf = buf, .n = n};
    for (int t = 1; t <= 2; t++) {
        seer_pool_run(pools[t], read_task, &r);
        double t0 = seer_time_sec(), dt;
        int it = 0;
        do {
            seer_pool_run(pools[t], read_task, &r);
            it++;
            dt = seer_time_sec() - t0;
        } while (dt < min_sec * 2);
        printf("memory read bandwidth, %d thread%s: %.1f GB/s\n", t, t > 1 ? "s" : "", (double)n * 4 * it / dt / 1e9);
    }
    double t0 = seer_time_sec(), dt;
    int it = 0;
    do {
        memcpy(dst, buf, (size_t)n * 4);
        it++;
        dt = seer_time_sec() - t0;
    } while (dt < min_sec * 2);
    printf("memcpy, 1 thread: %.1f GB/s read (+ as much written)\n\n", (double)n * 4 * it / dt / 1e9);
    free(buf);
    free(dst);
}

/* ---- matmul ------------------------------------------------------------------------------- */

typedef struct shape {
    int64_t rows, cols;
    const char *what;
} shape;

static const shape shapes[] = {
    {288, 768, "15M ffn down"},     {768, 288, "15M ffn up"},     {32000, 288, "15M classifier"},
    {768, 768, "110M attention"},   {2048, 768, "110M ffn up"},   {768, 2048, "110M ffn down"},
    {32000, 768, "110M classifier"},
};

static const seer_dtype types[] = {SEER_DTYPE_F32, SEER_DTYPE_F16, SEER_DTYPE_BF16, SEER_DTYPE_Q8_0, SEER_DTYPE_Q4_0};

/* Seconds per call of fn, repeated until min_sec passes (after one warm-up call). */
#define TIME_CALLS(out, call)                                                                      \
    do {                                                                                           \
        call;                                                                                      \
        double t0_ = seer_time_sec(), dt_;                                                         \
        long it_ = 0;                                                                              \
        do {                                                                                       \
            call;                                                                                  \
            it_++;                                                                                 \
            dt_ = seer_time_sec() - t0_;                                                           \
        } while (dt_ < min_sec);                                                                   \
        (out) = dt_ / (double)it_;                                                                 \
    } while (0)

static void bench_shape(const shape *s, seer_pool *pools[3]) {
    seer_err err = {0};
    const int64_t N = 256;
    seer_rng rng;
    seer_rng_seed(&rng, 7);
    float *wf = malloc(sizeof(float) * (size_t)(s->rows * s->cols));
    float *x = malloc(sizeof(float) * (size_t)(N * s->cols));
    float *y = malloc(sizeof(float) * (size_t)(N * s->rows));
    if (!wf || !x || !y) goto out_free;
    for (int64_t i = 0; i < s->rows * s->cols; i++) wf[i] = seer_rng_normal(&rng) * 0.05f;
    for (int64_t i = 0; i < N * s->cols; i++) x[i] = seer_rng_normal(&rng);
    printf("%lld x %lld (%s)\n", (long long)s->rows, (long long)s->cols, s->what);
    printf("  %-6s %8s | %14s %14s | %14s %14s\n", "type", "MB", "decode hot", "decode cold", "prefill 1t",
           "prefill 2t");
    for (size_t ti = 0; ti < sizeof(types) / sizeof(types[0]); ti++) {
        seer_dtype t = types[ti];
        if ((t == SEER_DTYPE_Q8_0 || t == SEER_DTYPE_Q4_0) && s->cols % 32) continue;
        size_t rb;
        if (seer_dtype_row_bytes(t, s->cols, &rb, &err)) continue;
        size_t wbytes = rb * (size_t)s->rows;
        size_t copies = ((size_t)256 << 20) / wbytes + 1;
        uint8_t *w = seer_alloc_aligned(copies, wbytes);
        size_t ws = seer_matmul_work_size(t, N, s->cols);
        void *work = ws ? seer_alloc_aligned(ws, 1) : NULL;
        if (!w || (ws && !work)) {
            free(w), free(work);
            continue;
        }
        seer_convert_from_f32(t, wf, w, s->rows * s->cols, &err);
        for (size_t c = 1; c < copies; c++) memcpy(w + c * wbytes, w, wbytes);

        double hot[3], cold[3], pre[3];
        for (int th = 1; th <= 2; th++) {
            TIME_CALLS(hot[th], seer_matmul(pools[th], y, x, 1, w, t, s->rows, s->cols, work));
            size_t c = 0;
            TIME_CALLS(cold[th], (seer_matmul(pools[th], y, x, 1, w + (c++ % copies) * wbytes, t, s->rows, s->cols,
                                              work)));
            TIME_CALLS(pre[th], seer_matmul(pools[th], y, x, N, w, t, s->rows, s->cols, work));
        }
        double flop = 2.0 * (double)N * (double)s->rows * (double)s->cols;
        printf("  %-6s %8.2f | 1t %5.1f GB/s 1t %5.1f GB/s | %6.1f GFLOP/s %6.1f GFLOP/s\n", seer_dtype_name(t),
               (double)wbytes / 1e6, wbytes / hot[1] / 1e9, wbytes / cold[1] / 1e9, flop / pre[1] / 1e9,
               flop / pre[2] / 1e9);
        printf("  %-6s %8s | 2t %5.1f GB/s 2t %5.1f GB/s | %6.0f us/call  %6.0f us/call (decode cold %.0f/%.0f us)\n",
               "", "", wbytes / hot[2] / 1e9, wbytes / cold[2] / 1e9, pre[1] * 1e6, pre[2] * 1e6, cold[1] * 1e6,
               cold[2] * 1e6);
        free(w);
        free(work);
    }
    /* OpenBLAS on the same f32 prefill, as the reference point */
    float *w = malloc(sizeof(float) * (size_t)(s->rows * s->cols));
    if (w) {
        memcpy(w, wf, sizeof(float) * (size_t)(s->rows * s->cols));
        double sec[3];
        for (int th = 1; th <= 2; th++) {
            openblas_set_num_threads(th);
            TIME_CALLS(sec[th], cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)s->rows,
                                            (int)s->cols, 1.0f, x, (int)s->cols, w, (int)s->cols, 0.0f, y,
                                            (int)s->rows));
        }
        openblas_set_num_threads(1);
        double flop = 2.0 * (double)N * (double)s->rows * (double)s->cols;
        printf("  %-6s %8s | %31s | %6.1f GFLOP/s %6.1f GFLOP/s\n", "sgemm", "OpenBLAS", "", flop / sec[1] / 1e9,
               flop / sec[2] / 1e9);
        free(w);
    }
    printf("\n");
out_free:
    free(wf);
    free(x);
    free(y);
}

int main(int argc, char **argv) {
    if (argc > 1) min_sec = atof(argv[1]);
    const char *filter = argc > 2 ? argv[2] : NULL;
    seer_err err = {0};
    seer_pool *pools[3] = {NULL, NULL, NULL};
    for (int t = 1; t <= 2; t++) {
        if (seer_pool_init(t, &pools[t], &err)) {
            fprintf(stderr, "bench_matmul: %s\n", err.msg);
            return 1;
        }
    }
    printf("SIMD level: %s; OpenBLAS: %s\n\n", seer_simd_name(seer_simd_level()), openblas_get_config());
    if (!filter) bench_bandwidth(pools);
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        char name[64];
        snprintf(name, sizeof(name), "%lldx%lld", (long long)shapes[i].rows, (long long)shapes[i].cols);
        if (!filter || strcmp(filter, name) == 0) bench_shape(&shapes[i], pools);
    }
    seer_pool_free(pools[1]);
    seer_pool_free(pools[2]);
    return 0;
}
