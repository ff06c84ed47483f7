/* Matmul speed: GB/s of weights streamed by the decode GEMV (n = 1) and GFLOP/s of the prefill
 * GEMM (n = 256) for each weight type at the shapes of the 15M and 110M Llama models, on 1 and
 * 2 threads, beside OpenBLAS's sgemm and the machine's plain read bandwidth.
 *
 * usage: bench_matmul [seconds per measurement, default 0.3] [only: bandwidth | model | shapes |
 * attention | 768x2048 ...]
 * Decode "cold" cycles through copies of the weight totalling 256 MB, so weights come from
 * DRAM as in a real model; "hot" reuses one copy (cache-resident for small shapes). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seer/ops.h"

static double min_sec = 0.3;

/* Seconds per call: the best of 5 batches, each repeating the call for min_sec / 5 after a
 * warm-up call. The machine may be shared; the best batch is the one least disturbed. */
#define TIME_CALLS(out, call)                                                                      \
    do {                                                                                           \
        call;                                                                                      \
        double best_ = 1e30;                                                                       \
        for (int b_ = 0; b_ < 5; b_++) {                                                           \
            double t0_ = seer_time_sec(), dt_;                                                     \
            long it_ = 0;                                                                          \
            do {                                                                                   \
                call;                                                                              \
                it_++;                                                                             \
                dt_ = seer_time_sec() - t0_;                                                       \
            } while (dt_ < min_sec / 5);                                                           \
            if (dt_ / (double)it_ < best_) best_ = dt_ / (double)it_;                              \
        }                                                                                          \
        (out) = best_;                                                                             \
    } while (0)

/* ---- plain read bandwidth ----------------------------------------------------------------- */

typedef struct read_ctx {
    const float *buf;
    int64_t n;
    float sink[64];
} read_ctx;

/* Streams this thread's share of the buffer with the SIMD max kernel (one load per 64 bytes,
 * nothing written): the fastest plain read the library can do. */
static void read_task(void *ctx, int ith, int nth) {
    read_ctx *r = ctx;
    int64_t per = r->n / nth / 16 * 16, a = per * ith, b = ith == nth - 1 ? r->n : a + per;
    r->sink[ith % 64] = seer_vec_max_f32(r->buf + a, b - a);
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
        double sec;
        TIME_CALLS(sec, seer_pool_run(pools[t], read_task, &r));
        printf("memory read bandwidth, %d thread%s: %.1f GB/s\n", t, t > 1 ? "s" : "", (double)n * 4 / sec / 1e9);
    }
    double sec;
    TIME_CALLS(sec, memcpy(dst, buf, (size_t)n * 4));
    printf("memcpy, 1 thread: %.1f GB/s read (+ as much written)\n\n", (double)n * 4 / sec / 1e9);
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
               (double)wbytes / 1e6, (double)wbytes / hot[1] / 1e9, (double)wbytes / cold[1] / 1e9,
               flop / pre[1] / 1e9, flop / pre[2] / 1e9);
        printf("  %-6s %8s | 2t %5.1f GB/s 2t %5.1f GB/s | %6.0f us/call  %6.0f us/call (decode cold %.0f/%.0f us)\n",
               "", "", (double)wbytes / hot[2] / 1e9, (double)wbytes / cold[2] / 1e9, pre[1] * 1e6, pre[2] * 1e6,
               cold[1] * 1e6, cold[2] * 1e6);
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

/* ---- whole models: the matmuls of one token ---------------------------------------------- */

/* Every matmul of a Llama forward pass (attention and norms left out), each layer's weights in
 * their own allocation as in a loaded model: decode is one token (classifier included), prefill
 * 256 tokens with the classifier for the last one only, as llama-bench counts. An upper bound
 * on the model's tokens/s from the matmuls alone. */
typedef struct model_shape {
    const char *name;
    int64_t dim, hidden, layers, vocab;
} model_shape;

static const model_shape models[] = {{"15M", 288, 768, 6, 32000}, {"110M", 768, 2048, 12, 32000}};

static void bench_model(const model_shape *ms, seer_dtype t, seer_pool *pools[3]) {
    seer_err err = {0};
    enum { PER_LAYER = 7 };
    const int64_t N = 256;
    int64_t nw = ms->layers * PER_LAYER + 1;
    int64_t *rows = calloc((size_t)nw, sizeof(*rows)), *cols = calloc((size_t)nw, sizeof(*cols));
    void **w = calloc((size_t)nw, sizeof(*w));
    int64_t maxdim = ms->hidden > ms->vocab ? ms->hidden : ms->vocab;
    float *x = malloc(sizeof(float) * (size_t)(N * (ms->hidden > ms->dim ? ms->hidden : ms->dim)));
    float *y = malloc(sizeof(float) * (size_t)(N * maxdim));
    float *tmp = malloc(sizeof(float) * (size_t)(ms->vocab * ms->dim));
    size_t ws = seer_matmul_work_size(t, N, ms->hidden > ms->dim ? ms->hidden : ms->dim);
    void *work = ws ? seer_alloc_aligned(ws, 1) : NULL;
    size_t total = 0;
    seer_rng rng;
    seer_rng_seed(&rng, 11);
    if (!rows || !cols || !w || !x || !y || !tmp || (ws && !work)) goto out_free;
    for (int64_t i = 0; i < N * (ms->hidden > ms->dim ? ms->hidden : ms->dim); i++) x[i] = seer_rng_normal(&rng);
    for (int64_t l = 0; l < nw; l++) {
        int k = (int)(l % PER_LAYER);
        if (l == nw - 1) rows[l] = ms->vocab, cols[l] = ms->dim;      /* classifier */
        else if (k < 4) rows[l] = ms->dim, cols[l] = ms->dim;         /* wq wk wv wo */
        else if (k < 6) rows[l] = ms->hidden, cols[l] = ms->dim;      /* w1 w3 */
        else rows[l] = ms->dim, cols[l] = ms->hidden;                 /* w2 */
        size_t rb;
        if (seer_dtype_row_bytes(t, cols[l], &rb, &err) || !(w[l] = malloc(rb * (size_t)rows[l]))) goto out_free;
        for (int64_t i = 0; i < rows[l] * cols[l]; i++) tmp[i] = seer_rng_normal(&rng) * 0.05f;
        seer_convert_from_f32(t, tmp, w[l], rows[l] * cols[l], &err);
        total += rb * (size_t)rows[l];
    }
    double dec[3], pre[3];
    for (int th = 1; th <= 2; th++) {
        TIME_CALLS(dec[th], for (int64_t l = 0; l < nw; l++) seer_matmul(pools[th], y, x, 1, w[l], t, rows[l],
                                                                          cols[l], work));
        TIME_CALLS(pre[th], for (int64_t l = 0; l < nw; l++) seer_matmul(pools[th], y, x, l == nw - 1 ? 1 : N, w[l],
                                                                          t, rows[l], cols[l], work));
    }
    printf("  %-5s %-5s %7.1f MB | decode %7.0f tok/s 1t %7.0f tok/s 2t (%5.1f GB/s) | prefill %7.0f tok/s 1t "
           "%7.0f tok/s 2t\n",
           ms->name, seer_dtype_name(t), (double)total / 1e6, 1 / dec[1], 1 / dec[2], (double)total / dec[2] / 1e9,
           (double)N / pre[1], (double)N / pre[2]);
out_free:
    for (int64_t l = 0; w && l < nw; l++) free(w[l]);
    free(w), free(rows), free(cols), free(x), free(y), free(tmp), free(work);
}

/* ---- attention ---------------------------------------------------------------------------- */

/* One head over a 256-position cache, as decode runs it per head per layer. */
static void bench_attention(void) {
    const int64_t n = 256;
    const struct {
        const char *name;
        int64_t d, stride, heads, layers;
    } cfg[] = {{"15M", 48, 288, 6, 6}, {"110M", 64, 768, 12, 12}};
    for (int i = 0; i < 2; i++) {
        float *k = malloc(sizeof(float) * (size_t)(n * cfg[i].stride));
        float *v = malloc(sizeof(float) * (size_t)(n * cfg[i].stride));
        float q[64], out[64], probs[256];
        if (!k || !v) {
            free(k), free(v);
            return;
        }
        for (int64_t j = 0; j < n * cfg[i].stride; j++) k[j] = v[j] = (float)(j % 7) * 0.1f;
        for (int j = 0; j < 64; j++) q[j] = 0.01f * (float)j;
        double sec;
        TIME_CALLS(sec, seer_attn_head_f32(out, probs, q, k, v, n, cfg[i].d, cfg[i].stride, 0.125f));
        printf("attention head, %s (d=%lld), 256 positions: %.2f us; x %lld heads x %lld layers = %.0f us per token\n",
               cfg[i].name, (long long)cfg[i].d, sec * 1e6, (long long)cfg[i].heads, (long long)cfg[i].layers,
               sec * 1e6 * (double)(cfg[i].heads * cfg[i].layers));
        free(k);
        free(v);
    }
    printf("\n");
}

int main(int argc, char **argv) {
    if (argc > 1) min_sec = strtod(argv[1], NULL);
    if (!(min_sec > 0)) min_sec = 0.3;
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
    if (!filter || strcmp(filter, "bandwidth") == 0) bench_bandwidth(pools);
    if (!filter || strcmp(filter, "attention") == 0) bench_attention();
    if (!filter || strcmp(filter, "model") == 0) {
        printf("matmuls of whole models (upper bound on tokens/s; llama.cpp 2 threads, whole forward: 110M f32\n"
               "prefill 957 decode 92, q8_0 prefill 1152 decode 236; 15M f32 prefill 11283 decode 1205)\n");
        for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
            for (size_t ti = 0; ti < sizeof(types) / sizeof(types[0]); ti++) bench_model(&models[i], types[ti], pools);
        printf("\n");
    }
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        char name[64];
        snprintf(name, sizeof(name), "%lldx%lld", (long long)shapes[i].rows, (long long)shapes[i].cols);
        if (!filter || strcmp(filter, name) == 0 || strcmp(filter, "shapes") == 0) bench_shape(&shapes[i], pools);
    }
    seer_pool_free(pools[1]);
    seer_pool_free(pools[2]);
    return 0;
}
