/* Private to src/core: the table of kernels each instruction-set file fills in, and the data
 * layouts those kernels share (quantized activations, packed X panels). cpu.c picks the table
 * for the running CPU; vec.c and matmul.c call through it. */
#ifndef SEER_CORE_KERNELS_H
#define SEER_CORE_KERNELS_H

#include "seer/ops.h"

/* Weight types the matmul kernels take, in seer_dtype order; the tables below are indexed by
 * seer_dtype. */
#define SEER_MM_NTYPES 5
_Static_assert(SEER_DTYPE_F32 == 0 && SEER_DTYPE_F16 == 1 && SEER_DTYPE_BF16 == 2 && SEER_DTYPE_Q8_0 == 3 &&
                   SEER_DTYPE_Q4_0 == 4,
               "kernel tables are indexed by seer_dtype f32..q4_0");

/* GEMM blocking shared by every level: X is packed into groups of SEER_GEMM_NR rows, k-major
 * (xp[g][k][j] = x[g * NR + j][k], zero past n), so the micro-kernels load NR rows' values at
 * one k with one vector load. Weight rows are converted to f32 in chunks of at most
 * SEER_GEMM_KC columns (seer_gemm_kc: a multiple of 32, so quantized blocks never straddle
 * chunks), small enough that the packed x of a chunk stays in L2. */
#define SEER_GEMM_NR 16
#define SEER_GEMM_KC 512
/* Row stride of the converted weight rows: KC plus a cache line, so the rows a micro-kernel
 * broadcasts from do not all fall in one L1 set (4 KB apart they would). */
#define SEER_GEMM_LDW (SEER_GEMM_KC + 16)

/* One matmul call as the kernels see it: y [n, rows] (+)= x [n, cols] · w [rows, cols]ᵀ. */
typedef struct seer_mm {
    float *y;          /* [n, ldy] */
    int64_t ldy;       /* == rows */
    const float *x;    /* [n, cols] */
    int64_t n;
    const void *w;     /* [rows, cols] of wtype */
    seer_dtype wtype;
    size_t wrow;       /* bytes per weight row */
    int64_t rows, cols;
    int acc;           /* add into y instead of overwriting */
    /* x quantized to q8_0 (quantized weights): per row cols int8, then per 32-block the f32
     * scale and the int32 sum of the block's values (the unsigned-weight trick needs it). */
    const int8_t *xqs; /* [n, cols] */
    const float *xd;   /* [n, cols / 32] */
    const int32_t *xsum; /* [n, cols / 32] */
    const float *xp;   /* packed x for the GEMM (n >= 2) */
} seer_mm;

/* Columns per chunk for K columns: K split evenly in chunks of at most SEER_GEMM_KC. */
static inline int64_t seer_gemm_kc(int64_t K) {
    int64_t chunks = (K + SEER_GEMM_KC - 1) / SEER_GEMM_KC;
    return ((K + chunks - 1) / chunks + 31) / 32 * 32;
}

/* The GEMMs walk blocks of mr weight rows, each in k chunks of KC columns. This asks for the
 * weights of the chunk after (rb, k0) to come into L2 while the current one is swept: a block's
 * rows are mr separate streams a whole row apart, which the hardware prefetcher catches too
 * late, so without it each chunk's conversion waits on DRAM (110M q8_0 prefill: +6-13 %). */
static inline void seer_gemm_prefetch_next(const seer_mm *m, int64_t rb, int64_t k0, int64_t KC, int64_t r1, int64_t mr) {
    const size_t bel = seer_dtype_block_elems(m->wtype), bby = seer_dtype_block_bytes(m->wtype);
    int64_t nk0 = k0 + KC, nrb = rb;
    if (nk0 >= m->cols) {
        nk0 = 0;
        nrb = rb + mr;
        if (nrb >= r1) return;
    }
    int64_t kc = m->cols - nk0 < KC ? m->cols - nk0 : KC, nr = r1 - nrb < mr ? r1 - nrb : mr;
    size_t bytes = (size_t)kc / bel * bby, off = (size_t)nk0 / bel * bby;
    for (int64_t i = 0; i < nr; i++) {
        const char *p = (const char *)m->w + (size_t)(nrb + i) * m->wrow + off;
        for (size_t b = 0; b < bytes; b += 64) __builtin_prefetch(p + b, 0, 2);
    }
}

typedef struct seer_kernels {
    seer_simd level;
    float (*dot)(const float *a, const float *b, int64_t n);
    void (*axpy)(float *y, float a, const float *x, int64_t n);
    void (*scale)(float *y, float a, int64_t n);
    float (*max)(const float *x, int64_t n);
    float (*exp_sum)(float *x, float max, int64_t n);
    void (*rmsnorm)(float *y, const float *x, const float *w, int64_t n, float eps);
    void (*layernorm)(float *y, const float *x, const float *w, const float *b, int64_t n, float eps);
    void (*swiglu)(float *out, const float *gate, const float *up, int64_t n);
    void (*gelu_tanh)(float *x, int64_t n);
    /* s [n] = scale · q · k[t * stride + 0..d) for t < n (attention scores) */
    void (*scores)(float *s, const float *q, const float *k, int64_t n, int64_t d, int64_t stride, float scale);
    /* out [d] = Σ_t p[t] · v[t * stride + 0..d) for t < n (attention's weighted sum of values) */
    void (*wsum)(float *out, const float *p, const float *v, int64_t n, int64_t d, int64_t stride);
    /* dst [n] = src [n] converted; n a multiple of 32 for quantized types. */
    void (*to_f32[SEER_MM_NTYPES])(const void *src, float *dst, int64_t n);
    /* x [n] (n a multiple of 32) to q8_0 with f32 scales and block sums, as seer_mm holds. */
    void (*quantize_q8)(const float *x, int64_t n, int8_t *qs, float *d, int32_t *sum);
    /* Decode, n == 1: y[r] (+)= w[r] · x for r in [r0, r1). Quantized types read xqs/xd/xsum. */
    void (*gemv[SEER_MM_NTYPES])(const seer_mm *m, int64_t r0, int64_t r1);
    /* Prefill, n >= 2: packs x row groups [g0, g1) into xp (NULL: the level uses no packing). */
    void (*pack_x)(const float *x, int64_t n, int64_t cols, int64_t g0, int64_t g1, float *xp);
    /* All n rows of y for weight rows [r0, r1), r0 a multiple of gemm_mr. */
    void (*gemm)(const seer_mm *m, int64_t r0, int64_t r1);
    int gemm_mr;
} seer_kernels;

extern const seer_kernels seer_kernels_scalar;
extern const seer_kernels seer_kernels_avx2;
extern const seer_kernels seer_kernels_avx512;

/* The table for the current level (cpu.c). */
const seer_kernels *seer_kernels_get(void);

/* Portable kernels (vec.c, matmul.c): the reference each SIMD file is tested against, and the
 * entries a SIMD table fills with them where vectorising does not pay. */
float seer_dot_scalar(const float *a, const float *b, int64_t n);
void seer_axpy_scalar(float *y, float a, const float *x, int64_t n);
void seer_scale_scalar(float *y, float a, int64_t n);
float seer_max_scalar(const float *x, int64_t n);
float seer_exp_sum_scalar(float *x, float max, int64_t n);
void seer_rmsnorm_scalar(float *y, const float *x, const float *w, int64_t n, float eps);
void seer_layernorm_scalar(float *y, const float *x, const float *w, const float *b, int64_t n, float eps);
void seer_swiglu_scalar(float *out, const float *gate, const float *up, int64_t n);
void seer_gelu_tanh_scalar(float *x, int64_t n);
void seer_wsum_scalar(float *out, const float *p, const float *v, int64_t n, int64_t d, int64_t stride);
void seer_scores_scalar(float *s, const float *q, const float *k, int64_t n, int64_t d, int64_t stride, float scale);
/* Attention scores through the level's f32 GEMV (keys as weight rows), for levels without a
 * dedicated kernel. */
void seer_scores_gemv(const seer_kernels *kt, float *s, const float *q, const float *k, int64_t n, int64_t d,
                      int64_t stride, float scale);

void seer_to_f32_f32_scalar(const void *src, float *dst, int64_t n);
void seer_to_f32_f16_scalar(const void *src, float *dst, int64_t n);
void seer_to_f32_bf16_scalar(const void *src, float *dst, int64_t n);
void seer_to_f32_q8_0_scalar(const void *src, float *dst, int64_t n);
void seer_to_f32_q4_0_scalar(const void *src, float *dst, int64_t n);
void seer_quantize_q8_scalar(const float *x, int64_t n, int8_t *qs, float *d, int32_t *sum);
void seer_gemv_f32_scalar(const seer_mm *m, int64_t r0, int64_t r1);
void seer_gemv_f16_scalar(const seer_mm *m, int64_t r0, int64_t r1);
void seer_gemv_bf16_scalar(const seer_mm *m, int64_t r0, int64_t r1);
void seer_gemv_q8_0_scalar(const seer_mm *m, int64_t r0, int64_t r1);
void seer_gemv_q4_0_scalar(const seer_mm *m, int64_t r0, int64_t r1);
void seer_gemm_scalar(const seer_mm *m, int64_t r0, int64_t r1);

#endif
