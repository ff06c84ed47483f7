/* AVX2 + FMA + F16C kernels: the same set as the AVX-512 file for CPUs without AVX-512.
 * Compiled with those flags only; cpu.c runs this table only when the CPU has them. */
#include "kernels.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

static inline float hmax256(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}

/* e^x to about 2 ulp (Cephes' polynomial); 2^n is built in the exponent field, so x is kept
 * where n fits a normal float and results below e^-87.3 are flushed to 0. */
static inline __m256 exp256(__m256 x) {
    __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ);
    /* max/min return their second operand for NaN, so NaN stays NaN */
    x = _mm256_max_ps(_mm256_set1_ps(-87.3f), x);
    x = _mm256_min_ps(_mm256_set1_ps(88.0f), x);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(tiny, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

/* Masks for the last n < 8 elements of a row, for maskload/maskstore. */
static inline __m256i tail_mask8(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* ---- vector ops --------------------------------------------------------------------------- */

static float dot_avx2(const float *a, const float *b, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    if (i < n) {
        __m256i m = tail_mask8(n - i);
        s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
    }
    return hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

static void axpy_avx2(float *y, float a, const float *x, int64_t n) {
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

static void scale_avx2(float *y, float a, int64_t n) {
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(va, _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] *= a;
}

static float max_avx2(const float *x, int64_t n) {
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
    int64_t i = 0;
    /* max_ps(v, m) returns m when v is NaN: NaNs are skipped, as in the scalar loop */
    for (; i + 16 <= n; i += 16) {
        m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
        m1 = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), m1);
    }
    for (; i + 8 <= n; i += 8) m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
    float m = hmax256(_mm256_max_ps(m0, m1));
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

static float exp_sum_avx2(float *x, float max, int64_t n) {
    __m256 vm = _mm256_set1_ps(max), s = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        s = _mm256_add_ps(s, e);
    }
    if (i < n) {
        __m256i m = tail_mask8(n - i);
        __m256 e = _mm256_and_ps(exp256(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), vm)), _mm256_castsi256_ps(m));
        _mm256_maskstore_ps(x + i, m, e);
        s = _mm256_add_ps(s, e);
    }
    return hsum256(s);
}

static void rmsnorm_avx2(float *y, const float *x, const float *w, int64_t n, float eps) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        s0 = _mm256_fmadd_ps(a, a, s0);
        s1 = _mm256_fmadd_ps(b, b, s1);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_loadu_ps(x + i);
        s0 = _mm256_fmadd_ps(a, a, s0);
    }
    float ss = hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++) ss += x[i] * x[i];
    float rs = 1.0f / sqrtf(ss / (float)n + eps);
    __m256 r = _mm256_set1_ps(rs);
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), r);
        _mm256_storeu_ps(y + i, w ? _mm256_mul_ps(v, _mm256_loadu_ps(w + i)) : v);
    }
    for (; i < n; i++) y[i] = w ? x[i] * rs * w[i] : x[i] * rs;
}

/* Tails go through the same vector math under a mask (not a scalar loop), so an element's
 * result does not depend on where a row starts or ends: the fused SwiGLU matmul, which works
 * in 48-column pieces, matches the separate pass bit for bit. */
static void swiglu_avx2(float *out, const float *gate, const float *up, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 8) {
        __m256i m = n - i >= 8 ? _mm256_set1_epi32(-1) : tail_mask8(n - i);
        __m256 g = _mm256_maskload_ps(gate + i, m);
        __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), g))));
        _mm256_maskstore_ps(out + i, m, _mm256_mul_ps(silu, _mm256_maskload_ps(up + i, m)));
    }
}

static void gelu_tanh_avx2(float *x, int64_t n) {
    const __m256 c = _mm256_set1_ps(-2.0f * 0.7978845608028654f), k = _mm256_set1_ps(0.044715f);
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 8) {
        __m256i m = n - i >= 8 ? _mm256_set1_epi32(-1) : tail_mask8(n - i);
        __m256 v = _mm256_maskload_ps(x + i, m);
        /* 0.5 v (1 + tanh u) = v / (1 + e^-2u): no cancellation where tanh u is near -1 */
        __m256 u2 = _mm256_mul_ps(c, _mm256_fmadd_ps(_mm256_mul_ps(k, v), _mm256_mul_ps(v, v), v));
        _mm256_maskstore_ps(x + i, m, _mm256_div_ps(v, _mm256_add_ps(one, exp256(u2))));
    }
}

static void scores_avx2(float *s, const float *q, const float *k, int64_t n, int64_t d, int64_t stride, float scale) {
    seer_scores_gemv(&seer_kernels_avx2, s, q, k, n, d, stride, scale);
}

/* 32 columns at a time in four accumulators, every value row added in registers. */
static void wsum_avx2(float *out, const float *p, const float *v, int64_t n, int64_t d, int64_t stride) {
    int64_t c = 0;
    for (; c + 32 <= d; c += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t t = 0; t < n; t++) {
            const float *vt = v + t * stride + c;
            __m256 pt = _mm256_set1_ps(p[t]);
            a0 = _mm256_fmadd_ps(pt, _mm256_loadu_ps(vt), a0);
            a1 = _mm256_fmadd_ps(pt, _mm256_loadu_ps(vt + 8), a1);
            a2 = _mm256_fmadd_ps(pt, _mm256_loadu_ps(vt + 16), a2);
            a3 = _mm256_fmadd_ps(pt, _mm256_loadu_ps(vt + 24), a3);
        }
        _mm256_storeu_ps(out + c, a0);
        _mm256_storeu_ps(out + c + 8, a1);
        _mm256_storeu_ps(out + c + 16, a2);
        _mm256_storeu_ps(out + c + 24, a3);
    }
    for (; c + 8 <= d; c += 8) {
        __m256 a0 = _mm256_setzero_ps();
        for (int64_t t = 0; t < n; t++) a0 = _mm256_fmadd_ps(_mm256_set1_ps(p[t]), _mm256_loadu_ps(v + t * stride + c), a0);
        _mm256_storeu_ps(out + c, a0);
    }
    if (c < d) seer_wsum_scalar(out + c, p, v + c, n, d - c, stride);
}

/* ---- conversions -------------------------------------------------------------------------- */

static inline __m256 load_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline __m256 load_bf16(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

static void to_f32_f16_avx2(const void *src, float *dst, int64_t n) {
    const uint16_t *s = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_f16(s + i));
    for (; i < n; i++) dst[i] = _cvtsh_ss(s[i]);
}

static void to_f32_bf16_avx2(const void *src, float *dst, int64_t n) {
    const uint16_t *s = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_bf16(s + i));
    for (; i < n; i++) dst[i] = seer_bf16_to_fp32(s[i]);
}

static void to_f32_q8_0_avx2(const void *src, float *dst, int64_t n) {
    const seer_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / SEER_QK; i++) {
        __m256 d = _mm256_set1_ps(_cvtsh_ss(b[i].d));
        for (int64_t j = 0; j < SEER_QK; j += 8) {
            __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b[i].qs + j)));
            _mm256_storeu_ps(dst + i * SEER_QK + j, _mm256_mul_ps(d, _mm256_cvtepi32_ps(q)));
        }
    }
}

static void to_f32_q4_0_avx2(const void *src, float *dst, int64_t n) {
    const seer_block_q4_0 *b = src;
    const __m128i low = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
    for (int64_t i = 0; i < n / SEER_QK; i++) {
        __m256 d = _mm256_set1_ps(_cvtsh_ss(b[i].d));
        __m128i raw = _mm_loadu_si128((const __m128i *)b[i].qs);
        __m128i lo = _mm_sub_epi8(_mm_and_si128(raw, low), eight);
        __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(raw, 4), low), eight);
        _mm256_storeu_ps(dst + i * SEER_QK, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo))));
        _mm256_storeu_ps(dst + i * SEER_QK + 8,
                         _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)))));
        _mm256_storeu_ps(dst + i * SEER_QK + 16, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi))));
        _mm256_storeu_ps(dst + i * SEER_QK + 24,
                         _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)))));
    }
}

static void quantize_q8_avx2(const float *x, int64_t n, int8_t *qs, float *d, int32_t *sum) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / SEER_QK; b++) {
        const float *xb = x + b * SEER_QK;
        __m256 v[4], mx = _mm256_setzero_ps();
        for (int64_t j = 0; j < 4; j++) {
            v[j] = _mm256_loadu_ps(xb + 8 * j);
            mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[j]));
        }
        float amax = hmax256(mx);
        /* the same arithmetic as seer_quantize_q8_scalar, so every level quantizes alike */
        __m256 vid = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
        __m256i q[4];
        for (int64_t j = 0; j < 4; j++) q[j] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[j], vid),
                                                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
        /* packs interleave 128-bit lanes; the permute puts the 32 bytes back in order */
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(qs + b * SEER_QK), p);
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
        d[b] = amax / 127.0f;
        sum[b] = _mm_cvtsi128_si32(s4);
    }
}

/* ---- decode: GEMV ------------------------------------------------------------------------- */

static inline const uint8_t *wrow(const seer_mm *m, int64_t r) { return (const uint8_t *)m->w + (size_t)r * m->wrow; }

static inline void put_y(const seer_mm *m, int64_t r, float v) {
    if (m->acc) m->y[r] += v;
    else m->y[r] = v;
}

/* Decode streams each weight once, from DRAM, along four rows at a time; the hardware
 * prefetcher loses the streams at every row start. So each access also prefetches the same
 * bytes four rows on (rows are contiguous: the next group of four). */
static inline void prefetch_next(const seer_mm *m, const void *p, size_t bytes) {
    const char *q = (const char *)p + 4 * m->wrow;
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(q + o, _MM_HINT_T0);
}

/* Four rows share each load of x, two accumulators per row; the last cols % 8 go through
 * CONV one element at a time. */
#define GEMV_FLOAT(name, T, LOAD, CONV)                                                                   \
    static void name(const seer_mm *m, int64_t r0, int64_t r1) {                                          \
        const float *x = m->x;                                                                            \
        const int64_t K = m->cols, K8 = K & ~(int64_t)7;                                                  \
        int64_t r = r0;                                                                                   \
        for (; r + 4 <= r1; r += 4) {                                                                     \
            const T *w0 = (const T *)(const void *)wrow(m, r), *w1 = (const T *)(const void *)wrow(m, r + 1);                         \
            const T *w2 = (const T *)(const void *)wrow(m, r + 2), *w3 = (const T *)(const void *)wrow(m, r + 3);                     \
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0; \
            int64_t k = 0;                                                                                \
            for (; k + 16 <= K; k += 16) {                                                                \
                __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + k + 8);                      \
                prefetch_next(m, w0 + k, sizeof(T) * 16);                                                 \
                prefetch_next(m, w1 + k, sizeof(T) * 16);                                                 \
                prefetch_next(m, w2 + k, sizeof(T) * 16);                                                 \
                prefetch_next(m, w3 + k, sizeof(T) * 16);                                                 \
                a0 = _mm256_fmadd_ps(LOAD(w0 + k), x0, a0);                                               \
                a1 = _mm256_fmadd_ps(LOAD(w1 + k), x0, a1);                                               \
                a2 = _mm256_fmadd_ps(LOAD(w2 + k), x0, a2);                                               \
                a3 = _mm256_fmadd_ps(LOAD(w3 + k), x0, a3);                                               \
                b0 = _mm256_fmadd_ps(LOAD(w0 + k + 8), x1, b0);                                           \
                b1 = _mm256_fmadd_ps(LOAD(w1 + k + 8), x1, b1);                                           \
                b2 = _mm256_fmadd_ps(LOAD(w2 + k + 8), x1, b2);                                           \
                b3 = _mm256_fmadd_ps(LOAD(w3 + k + 8), x1, b3);                                           \
            }                                                                                             \
            if (k < K8) {                                                                                 \
                __m256 x0 = _mm256_loadu_ps(x + k);                                                       \
                a0 = _mm256_fmadd_ps(LOAD(w0 + k), x0, a0);                                               \
                a1 = _mm256_fmadd_ps(LOAD(w1 + k), x0, a1);                                               \
                a2 = _mm256_fmadd_ps(LOAD(w2 + k), x0, a2);                                               \
                a3 = _mm256_fmadd_ps(LOAD(w3 + k), x0, a3);                                               \
                k += 8;                                                                                   \
            }                                                                                             \
            float s0 = hsum256(_mm256_add_ps(a0, b0)), s1 = hsum256(_mm256_add_ps(a1, b1));               \
            float s2 = hsum256(_mm256_add_ps(a2, b2)), s3 = hsum256(_mm256_add_ps(a3, b3));               \
            for (; k < K; k++) {                                                                          \
                s0 += CONV(w0[k]) * x[k];                                                                 \
                s1 += CONV(w1[k]) * x[k];                                                                 \
                s2 += CONV(w2[k]) * x[k];                                                                 \
                s3 += CONV(w3[k]) * x[k];                                                                 \
            }                                                                                             \
            put_y(m, r, s0);                                                                              \
            put_y(m, r + 1, s1);                                                                          \
            put_y(m, r + 2, s2);                                                                          \
            put_y(m, r + 3, s3);                                                                          \
        }                                                                                                 \
        for (; r < r1; r++) {                                                                             \
            const T *w0 = (const T *)(const void *)wrow(m, r);                                                          \
            __m256 a0 = _mm256_setzero_ps(), b0 = a0;                                                     \
            int64_t k = 0;                                                                                \
            for (; k + 16 <= K; k += 16) {                                                                \
                a0 = _mm256_fmadd_ps(LOAD(w0 + k), _mm256_loadu_ps(x + k), a0);                           \
                b0 = _mm256_fmadd_ps(LOAD(w0 + k + 8), _mm256_loadu_ps(x + k + 8), b0);                   \
            }                                                                                             \
            if (k < K8) {                                                                                 \
                a0 = _mm256_fmadd_ps(LOAD(w0 + k), _mm256_loadu_ps(x + k), a0);                           \
                k += 8;                                                                                   \
            }                                                                                             \
            float s0 = hsum256(_mm256_add_ps(a0, b0));                                                    \
            for (; k < K; k++) s0 += CONV(w0[k]) * x[k];                                                  \
            put_y(m, r, s0);                                                                              \
        }                                                                                                 \
    }

#define LOAD_F32(p) _mm256_loadu_ps(p)
#define CONV_F32(v) (v)
GEMV_FLOAT(gemv_f32_avx2, float, LOAD_F32, CONV_F32)
GEMV_FLOAT(gemv_f16_avx2, uint16_t, load_f16, _cvtsh_ss)
GEMV_FLOAT(gemv_bf16_avx2, uint16_t, load_bf16, seer_bf16_to_fp32)

/* int32 partial sums of one q8_0 block against x. vpmaddubsw multiplies unsigned by signed
 * bytes, so |w| goes unsigned and w's sign moves onto x; pairs stay within int16. */
static inline __m256i dot_q8_0(const seer_block_q8_0 *b, __m256i xq, int32_t xsum) {
    (void)xsum;
    __m256i w = _mm256_loadu_si256((const __m256i *)b->qs);
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(xq, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* q4_0 nibbles are already unsigned (w + 8); the 8 Σx is taken back out afterwards. */
static inline __m256i dot_q4_0(const seer_block_q4_0 *b, __m256i xq, int32_t xsum) {
    __m128i raw = _mm_loadu_si128((const __m128i *)b->qs);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
    v = _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
    __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(v, xq), _mm256_set1_epi16(1));
    return _mm256_add_epi32(p, _mm256_setr_epi32(-8 * xsum, 0, 0, 0, 0, 0, 0, 0));
}

#define GEMV_QUANT(name, BLOCK, DOT)                                                                      \
    static void name(const seer_mm *m, int64_t r0, int64_t r1) {                                          \
        const int64_t nb = m->cols / SEER_QK;                                                             \
        int64_t r = r0;                                                                                   \
        for (; r + 4 <= r1; r += 4) {                                                                     \
            const BLOCK *w0 = (const BLOCK *)wrow(m, r), *w1 = (const BLOCK *)wrow(m, r + 1);             \
            const BLOCK *w2 = (const BLOCK *)wrow(m, r + 2), *w3 = (const BLOCK *)wrow(m, r + 3);         \
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                   \
            for (int64_t b = 0; b < nb; b++) {                                                            \
                __m256i xq = _mm256_loadu_si256((const __m256i *)(m->xqs + b * SEER_QK));                 \
                int32_t xs = m->xsum[b];                                                                  \
                __m256 dx = _mm256_set1_ps(m->xd[b]);                                                     \
                prefetch_next(m, w0 + b, 1);                                                              \
                prefetch_next(m, w1 + b, 1);                                                              \
                prefetch_next(m, w2 + b, 1);                                                              \
                prefetch_next(m, w3 + b, 1);                                                              \
                a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT(w0 + b, xq, xs)), _mm256_mul_ps(dx, _mm256_set1_ps(_cvtsh_ss(w0[b].d))), a0); \
                a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT(w1 + b, xq, xs)), _mm256_mul_ps(dx, _mm256_set1_ps(_cvtsh_ss(w1[b].d))), a1); \
                a2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT(w2 + b, xq, xs)), _mm256_mul_ps(dx, _mm256_set1_ps(_cvtsh_ss(w2[b].d))), a2); \
                a3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT(w3 + b, xq, xs)), _mm256_mul_ps(dx, _mm256_set1_ps(_cvtsh_ss(w3[b].d))), a3); \
            }                                                                                             \
            put_y(m, r, hsum256(a0));                                                                     \
            put_y(m, r + 1, hsum256(a1));                                                                 \
            put_y(m, r + 2, hsum256(a2));                                                                 \
            put_y(m, r + 3, hsum256(a3));                                                                 \
        }                                                                                                 \
        for (; r < r1; r++) {                                                                             \
            const BLOCK *w0 = (const BLOCK *)wrow(m, r);                                                  \
            __m256 a0 = _mm256_setzero_ps();                                                              \
            for (int64_t b = 0; b < nb; b++) {                                                            \
                __m256i xq = _mm256_loadu_si256((const __m256i *)(m->xqs + b * SEER_QK));                 \
                a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT(w0 + b, xq, m->xsum[b])),                     \
                                     _mm256_set1_ps(m->xd[b] * _cvtsh_ss(w0[b].d)), a0);                  \
            }                                                                                             \
            put_y(m, r, hsum256(a0));                                                                     \
        }                                                                                                 \
    }

GEMV_QUANT(gemv_q8_0_avx2, seer_block_q8_0, dot_q8_0)
GEMV_QUANT(gemv_q4_0_avx2, seer_block_q4_0, dot_q4_0)

/* ---- prefill: GEMM ------------------------------------------------------------------------ */

#define MR 6 /* weight rows per micro-kernel: 6 x 2 accumulators + 2 x loads + 1 broadcast */

static void pack_x_avx2(const float *x, int64_t n, int64_t cols, int64_t g0, int64_t g1, float *xp) {
    for (int64_t g = g0; g < g1; g++) {
        float *dst = xp + g * cols * SEER_GEMM_NR;
        for (int64_t j = 0; j < SEER_GEMM_NR; j++) {
            int64_t i = g * SEER_GEMM_NR + j;
            if (i < n) {
                const float *src = x + i * cols;
                for (int64_t k = 0; k < cols; k++) dst[k * SEER_GEMM_NR + j] = src[k];
            } else {
                for (int64_t k = 0; k < cols; k++) dst[k * SEER_GEMM_NR + j] = 0.0f;
            }
        }
    }
}

/* tile[i][j] = Σ_k wb[i][k] · xp[k][j]: weight row i against 16 packed x rows. The
 * accumulators stay local so they live in registers. */
static inline void micro_6x16(const float *wb, const float *xp, int64_t kc, float tile[MR][SEER_GEMM_NR]) {
    __m256 c[MR][2];
#pragma GCC unroll 6
    for (int64_t i = 0; i < MR; i++) c[i][0] = c[i][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        __m256 x0 = _mm256_load_ps(xp + k * SEER_GEMM_NR), x1 = _mm256_load_ps(xp + k * SEER_GEMM_NR + 8);
#pragma GCC unroll 6
        for (int64_t i = 0; i < MR; i++) {
            __m256 b = _mm256_broadcast_ss(wb + i * SEER_GEMM_LDW + k);
            c[i][0] = _mm256_fmadd_ps(b, x0, c[i][0]);
            c[i][1] = _mm256_fmadd_ps(b, x1, c[i][1]);
        }
    }
#pragma GCC unroll 6
    for (int64_t i = 0; i < MR; i++) {
        _mm256_store_ps(tile[i], c[i][0]);
        _mm256_store_ps(tile[i] + 8, c[i][1]);
    }
}

/* As the AVX-512 GEMM: each block of MR weight rows is converted to f32 once per k chunk and
 * swept against every packed group of 16 x rows. */
static void gemm_avx2(const seer_mm *m, int64_t r0, int64_t r1) {
    const int64_t K = m->cols, KC = seer_gemm_kc(K), groups = (m->n + SEER_GEMM_NR - 1) / SEER_GEMM_NR;
    const size_t bel = seer_dtype_block_elems(m->wtype), bby = seer_dtype_block_bytes(m->wtype);
    void (*conv)(const void *, float *, int64_t) = seer_kernels_avx2.to_f32[m->wtype];
    _Alignas(32) float wb[MR * SEER_GEMM_LDW];
    _Alignas(32) float tile[MR][SEER_GEMM_NR];
    for (int64_t rb = r0; rb < r1; rb += MR) {
        int nr = r1 - rb < MR ? (int)(r1 - rb) : MR;
        for (int64_t k0 = 0; k0 < K; k0 += KC) {
            int64_t kc = K - k0 < KC ? K - k0 : KC;
            for (int64_t i = 0; i < nr; i++) conv(wrow(m, rb + i) + (size_t)k0 / bel * bby, wb + i * SEER_GEMM_LDW, kc);
            for (int64_t i = nr; i < MR; i++) memset(wb + i * SEER_GEMM_LDW, 0, (size_t)kc * sizeof(float));
            seer_gemm_prefetch_next(m, rb, k0, KC, r1, MR);
            int first = k0 == 0 && !m->acc;
            for (int64_t g = 0; g < groups; g++) {
                micro_6x16(wb, m->xp + (g * K + k0) * SEER_GEMM_NR, kc, tile);
                int64_t nx = m->n - g * SEER_GEMM_NR < SEER_GEMM_NR ? m->n - g * SEER_GEMM_NR : SEER_GEMM_NR;
                for (int64_t j = 0; j < nx; j++) {
                    float *yr = m->y + (g * SEER_GEMM_NR + j) * m->ldy + rb;
                    for (int64_t i = 0; i < nr; i++) yr[i] = first ? tile[i][j] : yr[i] + tile[i][j];
                }
            }
        }
    }
}

const seer_kernels seer_kernels_avx2 = {
    .level = SEER_SIMD_AVX2,
    .dot = dot_avx2,
    .axpy = axpy_avx2,
    .scale = scale_avx2,
    .max = max_avx2,
    .exp_sum = exp_sum_avx2,
    .rmsnorm = rmsnorm_avx2,
    .layernorm = seer_layernorm_scalar,
    .swiglu = swiglu_avx2,
    .gelu_tanh = gelu_tanh_avx2,
    .scores = scores_avx2,
    .wsum = wsum_avx2,
    .to_f32 = {seer_to_f32_f32_scalar, to_f32_f16_avx2, to_f32_bf16_avx2, to_f32_q8_0_avx2, to_f32_q4_0_avx2},
    .quantize_q8 = quantize_q8_avx2,
    .gemv = {gemv_f32_avx2, gemv_f16_avx2, gemv_bf16_avx2, gemv_q8_0_avx2, gemv_q4_0_avx2},
    .pack_x = pack_x_avx2,
    .gemm = gemm_avx2,
    .gemm_mr = MR,
};
