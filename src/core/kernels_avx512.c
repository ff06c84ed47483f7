/* AVX-512 kernels (F, BW, VL, DQ, VNNI, with F16C): vector ops, weight row conversion, q8_0
 * activation quantization, the decode GEMVs and the prefill GEMM. Compiled with those flags
 * only; cpu.c runs this table only when the CPU has all of them. */
#include "kernels.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

static inline __mmask16 tail_mask(int64_t n) { return (__mmask16)((1u << n) - 1u); }

/* e^x to about 2 ulp: x = n ln2 + r, a degree-7 polynomial for e^r (Cephes' coefficients),
 * then scalef for 2^n, which also gives 0 and inf at the ends of the range. */
static inline __m512 exp512(__m512 x) {
    /* keeps r finite for ±inf; max/min return their second operand for NaN, so NaN stays */
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* ---- vector ops --------------------------------------------------------------------------- */

static float dot_avx512(const float *a, const float *b, int64_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static void axpy_avx512(float *y, float a, const float *x, int64_t n) {
    __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m,
                              _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

static void scale_avx512(float *y, float a, int64_t n) {
    __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(va, _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(va, _mm512_maskz_loadu_ps(m, y + i)));
    }
}

static float max_avx512(const float *x, int64_t n) {
    __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0;
    int64_t i = 0;
    /* max_ps(v, m) returns m when v is NaN: NaNs are skipped, as in the scalar loop */
    for (; i + 32 <= n; i += 32) {
        m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0);
        m1 = _mm512_max_ps(_mm512_loadu_ps(x + i + 16), m1);
    }
    for (; i + 16 <= n; i += 16) m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0);
    if (i < n) m1 = _mm512_max_ps(_mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail_mask(n - i), x + i), m1);
    return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

static float exp_sum_avx512(float *x, float max, int64_t n) {
    __m512 vm = _mm512_set1_ps(max), s = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        _mm512_storeu_ps(x + i, e);
        s = _mm512_add_ps(s, e);
    }
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm));
        _mm512_mask_storeu_ps(x + i, m, e);
        s = _mm512_mask_add_ps(s, m, s, e);
    }
    return _mm512_reduce_add_ps(s);
}

static void rmsnorm_avx512(float *y, const float *x, const float *w, int64_t n, float eps) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
        s0 = _mm512_fmadd_ps(a, a, s0);
        s1 = _mm512_fmadd_ps(b, b, s1);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 a = _mm512_loadu_ps(x + i);
        s0 = _mm512_fmadd_ps(a, a, s0);
    }
    if (i < n) {
        __m512 a = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
        s1 = _mm512_fmadd_ps(a, a, s1);
    }
    float ss = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    __m512 r = _mm512_set1_ps(1.0f / sqrtf(ss / (float)n + eps));
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), r);
        _mm512_storeu_ps(y + i, w ? _mm512_mul_ps(v, _mm512_loadu_ps(w + i)) : v);
    }
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), r);
        _mm512_mask_storeu_ps(y + i, m, w ? _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + i)) : v);
    }
}

static void layernorm_avx512(float *y, const float *x, const float *w, const float *b, int64_t n, float eps) {
    __m512 s = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) s = _mm512_add_ps(s, _mm512_loadu_ps(x + i));
    if (i < n) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
    float mean = _mm512_reduce_add_ps(s) / (float)n;
    __m512 vm = _mm512_set1_ps(mean), v = _mm512_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + i), vm);
        v = _mm512_fmadd_ps(d, d, v);
    }
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + i), vm);
        v = _mm512_fmadd_ps(d, d, v);
    }
    __m512 r = _mm512_set1_ps(1.0f / sqrtf(_mm512_reduce_add_ps(v) / (float)n + eps));
    for (i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tail_mask(n - i);
        __m512 o = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm), r);
        if (w) o = _mm512_mul_ps(o, _mm512_maskz_loadu_ps(m, w + i));
        if (b) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(m, b + i));
        _mm512_mask_storeu_ps(y + i, m, o);
    }
}

static void swiglu_avx512(float *out, const float *gate, const float *up, int64_t n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tail_mask(n - i);
        __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
        __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), g))));
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(m, up + i)));
    }
}

static void gelu_tanh_avx512(float *x, int64_t n) {
    const __m512 c = _mm512_set1_ps(-2.0f * 0.7978845608028654f), k = _mm512_set1_ps(0.044715f);
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tail_mask(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        /* 0.5 v (1 + tanh u) = v / (1 + e^-2u): no cancellation where tanh u is near -1 */
        __m512 u2 = _mm512_mul_ps(c, _mm512_fmadd_ps(_mm512_mul_ps(k, v), _mm512_mul_ps(v, v), v));
        _mm512_mask_storeu_ps(x + i, m, _mm512_div_ps(v, _mm512_add_ps(one, exp512(u2))));
    }
}

/* out lane j = the sum of a[j]'s lanes: a transposing tree of unpacks and 128-bit shuffles. */
static inline __m512 reduce_rows16(const __m512 a[16]) {
    __m512 s[8], t[4];
#pragma GCC unroll 8
    for (int64_t i = 0; i < 8; i++)
        s[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
#pragma GCC unroll 4
    for (int64_t i = 0; i < 4; i++) { /* lane quad L: the quad-L sums of rows 4i..4i+3 */
        __m512d x = _mm512_castps_pd(s[2 * i]), y = _mm512_castps_pd(s[2 * i + 1]);
        t[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    __m512 u0 = _mm512_add_ps(_mm512_shuffle_f32x4(t[0], t[1], 0x88), _mm512_shuffle_f32x4(t[0], t[1], 0xdd));
    __m512 u1 = _mm512_add_ps(_mm512_shuffle_f32x4(t[2], t[3], 0x88), _mm512_shuffle_f32x4(t[2], t[3], 0xdd));
    return _mm512_add_ps(_mm512_shuffle_f32x4(u0, u1, 0x88), _mm512_shuffle_f32x4(u0, u1, 0xdd));
}

/* Attention scores for head sizes of a few vectors: 16 keys at a time, one accumulator each,
 * and one reduction tree for the 16 sums instead of a horizontal sum per key. */
static void scores_avx512(float *s, const float *q, const float *k, int64_t n, int64_t d, int64_t stride, float scale) {
    const __m512 vs = _mm512_set1_ps(scale);
    int64_t t = 0;
    for (; t + 16 <= n; t += 16) {
        __m512 a[16];
#pragma GCC unroll 16
        for (int64_t j = 0; j < 16; j++) a[j] = _mm512_setzero_ps();
        for (int64_t c = 0; c < d; c += 16) {
            __mmask16 m = d - c >= 16 ? (__mmask16)0xffff : tail_mask(d - c);
            __m512 qc = _mm512_maskz_loadu_ps(m, q + c);
#pragma GCC unroll 16
            for (int64_t j = 0; j < 16; j++)
                a[j] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, k + (t + j) * stride + c), qc, a[j]);
        }
        _mm512_storeu_ps(s + t, _mm512_mul_ps(reduce_rows16(a), vs));
    }
    for (; t < n; t++) s[t] = dot_avx512(q, k + t * stride, d) * scale;
}

/* 64 columns at a time in four accumulators, every value row added in registers. */
static void wsum_avx512(float *out, const float *p, const float *v, int64_t n, int64_t d, int64_t stride) {
    for (int64_t c = 0; c < d; c += 64) {
        int64_t left = d - c;
        __mmask16 m[4];
        for (int64_t j = 0; j < 4; j++) {
            int64_t l = left - 16 * j;
            m[j] = l >= 16 ? (__mmask16)0xffff : l > 0 ? tail_mask(l) : 0;
        }
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t t = 0; t < n; t++) {
            const float *vt = v + t * stride + c;
            __m512 pt = _mm512_set1_ps(p[t]);
            a0 = _mm512_fmadd_ps(pt, _mm512_maskz_loadu_ps(m[0], vt), a0);
            a1 = _mm512_fmadd_ps(pt, _mm512_maskz_loadu_ps(m[1], vt + 16), a1);
            a2 = _mm512_fmadd_ps(pt, _mm512_maskz_loadu_ps(m[2], vt + 32), a2);
            a3 = _mm512_fmadd_ps(pt, _mm512_maskz_loadu_ps(m[3], vt + 48), a3);
        }
        _mm512_mask_storeu_ps(out + c, m[0], a0);
        _mm512_mask_storeu_ps(out + c + 16, m[1], a1);
        _mm512_mask_storeu_ps(out + c + 32, m[2], a2);
        _mm512_mask_storeu_ps(out + c + 48, m[3], a3);
    }
}

/* ---- conversions -------------------------------------------------------------------------- */

static inline __m512 load_f16(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }
static inline __m512 loadm_f16(__mmask16 m, const uint16_t *p) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
static inline __m512 load_bf16(const uint16_t *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}
static inline __m512 loadm_bf16(__mmask16 m, const uint16_t *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}

static void to_f32_f16_avx512(const void *src, float *dst, int64_t n) {
    const uint16_t *s = src;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, load_f16(s + i));
    if (i < n) _mm512_mask_storeu_ps(dst + i, tail_mask(n - i), loadm_f16(tail_mask(n - i), s + i));
}

static void to_f32_bf16_avx512(const void *src, float *dst, int64_t n) {
    const uint16_t *s = src;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, load_bf16(s + i));
    if (i < n) _mm512_mask_storeu_ps(dst + i, tail_mask(n - i), loadm_bf16(tail_mask(n - i), s + i));
}

static void to_f32_q8_0_avx512(const void *src, float *dst, int64_t n) {
    const seer_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / SEER_QK; i++) {
        __m512 d = _mm512_set1_ps(_cvtsh_ss(b[i].d));
        __m512i lo = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)b[i].qs));
        __m512i hi = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b[i].qs + 16)));
        _mm512_storeu_ps(dst + i * SEER_QK, _mm512_mul_ps(d, _mm512_cvtepi32_ps(lo)));
        _mm512_storeu_ps(dst + i * SEER_QK + 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(hi)));
    }
}

static void to_f32_q4_0_avx512(const void *src, float *dst, int64_t n) {
    const seer_block_q4_0 *b = src;
    const __m128i low = _mm_set1_epi8(0x0f);
    const __m512i eight = _mm512_set1_epi32(8);
    for (int64_t i = 0; i < n / SEER_QK; i++) {
        __m512 d = _mm512_set1_ps(_cvtsh_ss(b[i].d));
        __m128i raw = _mm_loadu_si128((const __m128i *)b[i].qs);
        __m512i lo = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_and_si128(raw, low)), eight);
        __m512i hi = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(raw, 4), low)), eight);
        _mm512_storeu_ps(dst + i * SEER_QK, _mm512_mul_ps(d, _mm512_cvtepi32_ps(lo)));
        _mm512_storeu_ps(dst + i * SEER_QK + 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(hi)));
    }
}

static void quantize_q8_avx512(const float *x, int64_t n, int8_t *qs, float *d, int32_t *sum) {
    const __m512 sign = _mm512_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / SEER_QK; b++) {
        __m512 v0 = _mm512_loadu_ps(x + b * SEER_QK), v1 = _mm512_loadu_ps(x + b * SEER_QK + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign, v0), _mm512_andnot_ps(sign, v1)));
        /* the same arithmetic as seer_quantize_q8_scalar, so every level quantizes alike */
        float id = amax > 0.0f ? 127.0f / amax : 0.0f;
        __m512 vid = _mm512_set1_ps(id);
        __m512i q0 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v0, vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m512i q1 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v1, vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128((__m128i *)(qs + b * SEER_QK), _mm512_cvtsepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(qs + b * SEER_QK + 16), _mm512_cvtsepi32_epi8(q1));
        d[b] = amax / 127.0f;
        sum[b] = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
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

/* Float-ish weights: four rows at a time share each load of x; two accumulators per row hide
 * the FMA latency. LOAD(p) gives 16 floats from element pointer p, LOADM the masked tail. */
#define GEMV_FLOAT(name, T, LOAD, LOADM)                                                                  \
    static void name(const seer_mm *m, int64_t r0, int64_t r1) {                                          \
        const float *x = m->x;                                                                            \
        const int64_t K = m->cols;                                                                        \
        const __mmask16 tm = tail_mask(K & 15);                                                           \
        int64_t r = r0;                                                                                   \
        for (; r + 4 <= r1; r += 4) {                                                                     \
            const T *w0 = (const T *)(const void *)wrow(m, r), *w1 = (const T *)(const void *)wrow(m, r + 1);                         \
            const T *w2 = (const T *)(const void *)wrow(m, r + 2), *w3 = (const T *)(const void *)wrow(m, r + 3);                     \
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0; \
            int64_t k = 0;                                                                                \
            for (; k + 32 <= K; k += 32) {                                                                \
                __m512 x0 = _mm512_loadu_ps(x + k), x1 = _mm512_loadu_ps(x + k + 16);                     \
                prefetch_next(m, w0 + k, sizeof(T) * 32);                                                 \
                prefetch_next(m, w1 + k, sizeof(T) * 32);                                                 \
                prefetch_next(m, w2 + k, sizeof(T) * 32);                                                 \
                prefetch_next(m, w3 + k, sizeof(T) * 32);                                                 \
                a0 = _mm512_fmadd_ps(LOAD(w0 + k), x0, a0);                                               \
                a1 = _mm512_fmadd_ps(LOAD(w1 + k), x0, a1);                                               \
                a2 = _mm512_fmadd_ps(LOAD(w2 + k), x0, a2);                                               \
                a3 = _mm512_fmadd_ps(LOAD(w3 + k), x0, a3);                                               \
                b0 = _mm512_fmadd_ps(LOAD(w0 + k + 16), x1, b0);                                          \
                b1 = _mm512_fmadd_ps(LOAD(w1 + k + 16), x1, b1);                                          \
                b2 = _mm512_fmadd_ps(LOAD(w2 + k + 16), x1, b2);                                          \
                b3 = _mm512_fmadd_ps(LOAD(w3 + k + 16), x1, b3);                                          \
            }                                                                                             \
            if (k + 16 <= K) {                                                                            \
                __m512 x0 = _mm512_loadu_ps(x + k);                                                       \
                a0 = _mm512_fmadd_ps(LOAD(w0 + k), x0, a0);                                               \
                a1 = _mm512_fmadd_ps(LOAD(w1 + k), x0, a1);                                               \
                a2 = _mm512_fmadd_ps(LOAD(w2 + k), x0, a2);                                               \
                a3 = _mm512_fmadd_ps(LOAD(w3 + k), x0, a3);                                               \
                k += 16;                                                                                  \
            }                                                                                             \
            if (k < K) {                                                                                  \
                __m512 x0 = _mm512_maskz_loadu_ps(tm, x + k);                                             \
                b0 = _mm512_fmadd_ps(LOADM(tm, w0 + k), x0, b0);                                          \
                b1 = _mm512_fmadd_ps(LOADM(tm, w1 + k), x0, b1);                                          \
                b2 = _mm512_fmadd_ps(LOADM(tm, w2 + k), x0, b2);                                          \
                b3 = _mm512_fmadd_ps(LOADM(tm, w3 + k), x0, b3);                                          \
            }                                                                                             \
            put_y(m, r, _mm512_reduce_add_ps(_mm512_add_ps(a0, b0)));                                     \
            put_y(m, r + 1, _mm512_reduce_add_ps(_mm512_add_ps(a1, b1)));                                 \
            put_y(m, r + 2, _mm512_reduce_add_ps(_mm512_add_ps(a2, b2)));                                 \
            put_y(m, r + 3, _mm512_reduce_add_ps(_mm512_add_ps(a3, b3)));                                 \
        }                                                                                                 \
        for (; r < r1; r++) {                                                                             \
            const T *w0 = (const T *)(const void *)wrow(m, r);                                                          \
            __m512 a0 = _mm512_setzero_ps(), b0 = a0;                                                     \
            int64_t k = 0;                                                                                \
            for (; k + 32 <= K; k += 32) {                                                                \
                a0 = _mm512_fmadd_ps(LOAD(w0 + k), _mm512_loadu_ps(x + k), a0);                           \
                b0 = _mm512_fmadd_ps(LOAD(w0 + k + 16), _mm512_loadu_ps(x + k + 16), b0);                 \
            }                                                                                             \
            if (k + 16 <= K) {                                                                            \
                a0 = _mm512_fmadd_ps(LOAD(w0 + k), _mm512_loadu_ps(x + k), a0);                           \
                k += 16;                                                                                  \
            }                                                                                             \
            if (k < K) b0 = _mm512_fmadd_ps(LOADM(tm, w0 + k), _mm512_maskz_loadu_ps(tm, x + k), b0);     \
            put_y(m, r, _mm512_reduce_add_ps(_mm512_add_ps(a0, b0)));                                     \
        }                                                                                                 \
    }

#define LOAD_F32(p) _mm512_loadu_ps(p)
#define LOADM_F32(m, p) _mm512_maskz_loadu_ps(m, p)
GEMV_FLOAT(gemv_f32_avx512, float, LOAD_F32, LOADM_F32)
GEMV_FLOAT(gemv_f16_avx512, uint16_t, load_f16, loadm_f16)
GEMV_FLOAT(gemv_bf16_avx512, uint16_t, load_bf16, loadm_bf16)

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* Quantized weights against q8_0 x. vpdpbusd multiplies unsigned by signed bytes, so the
 * weights are made unsigned (q8_0: w + 128, by flipping the sign bit; q4_0: the raw nibble,
 * w + 8) and the offset is taken back out with the block sums of x: Σ (w + c) x - c Σ x.
 *
 * Each block needs its own scale, so the naive loop spends most of its work turning one fp16
 * scale per block into a broadcast vector. Instead, 16 blocks go at a time: one vpdpbusd per
 * two blocks, the 16 integer block sums reduced into one vector (in the lane order
 * reduce_blocks16 gives), and the scales of all 16 applied with vector ops (scale_pick fetches
 * the weight scales). One row at a time: consecutive rows form one stream, which the hardware
 * prefetcher follows. Of the leftover blocks (cols % 512), 8 go as a group, the rest one by
 * one. */

/* z[k] lanes 0-7 hold partial sums of block 2k, lanes 8-15 of block 2k + 1. Returns the 16
 * block totals, lane i holding block blocks16_order[i]. */
static inline __m512i reduce_blocks16(const __m512i z[8]) {
    __m512i s[4];
#pragma GCC unroll 4
    for (int64_t i = 0; i < 4; i++)
        s[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(z[2 * i], z[2 * i + 1]),
                                _mm512_unpackhi_epi32(z[2 * i], z[2 * i + 1]));
    /* lane quads: [z0 quad q, z1 quad q, z2 quad q, z3 quad q] for quad q = 0..3 */
    __m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi64(s[0], s[1]), _mm512_unpackhi_epi64(s[0], s[1]));
    __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi64(s[2], s[3]), _mm512_unpackhi_epi64(s[2], s[3]));
    return _mm512_add_epi32(_mm512_shuffle_i32x4(t0, t1, 0x88), _mm512_shuffle_i32x4(t0, t1, 0xdd));
}

static const int32_t blocks16_order[16] = {0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15};

/* The same for 8 blocks (z[0..3]): block totals in lanes 0-7 in the order 0,2,4,6,1,3,5,7 (the
 * first half of blocks16_order). */
static inline __m256i reduce_blocks8(const __m512i z[4]) {
    __m512i s0 = _mm512_add_epi32(_mm512_unpacklo_epi32(z[0], z[1]), _mm512_unpackhi_epi32(z[0], z[1]));
    __m512i s1 = _mm512_add_epi32(_mm512_unpacklo_epi32(z[2], z[3]), _mm512_unpackhi_epi32(z[2], z[3]));
    __m512i t = _mm512_add_epi32(_mm512_unpacklo_epi64(s0, s1), _mm512_unpackhi_epi64(s0, s1));
    t = _mm512_add_epi32(_mm512_shuffle_i32x4(t, t, 0x88), _mm512_shuffle_i32x4(t, t, 0xdd));
    return _mm512_castsi512_si256(t);
}

/* Two q8_0 blocks as unsigned bytes (w + 128). */
static inline __m512i pair_q8_0(const seer_block_q8_0 *b) {
    __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)b[0].qs)),
                                   _mm256_loadu_si256((const __m256i *)b[1].qs), 1);
    return _mm512_xor_si512(v, _mm512_set1_epi8((char)0x80));
}

/* Two q4_0 blocks as nibbles in element order: low nibbles are elements 0-15, high 16-31. */
static inline __m512i pair_q4_0(const seer_block_q4_0 *b) {
    __m512i v = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)b[0].qs))),
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)b[1].qs)), 1);
    return _mm512_and_si512(_mm512_srlv_epi64(v, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4)), _mm512_set1_epi8(0x0f));
}

/* One block as unsigned bytes, for the leftovers. */
static inline __m256i one_q8_0(const seer_block_q8_0 *b) {
    return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)b->qs), _mm256_set1_epi8((char)0x80));
}

static inline __m256i one_q4_0(const seer_block_q4_0 *b) {
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)b->qs));
    return _mm256_and_si256(_mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0f));
}

/* Fetching the 16 fp16 weight scales of a group (one per block, sizeof(block) apart): a gather
 * is slow, so the group's bytes are loaded in 128-byte windows and vpermt2w picks the scale
 * words out of each, in reduce_blocks16's lane order. Loads past the group's bytes are masked
 * off, so nothing is read past the end of the weights. */
typedef struct scale_picker {
    __m512i idx[4];    /* word index inside the window, per lane */
    __mmask32 take[4]; /* lanes whose scale lies in window i */
} scale_picker;

static void scale_picker_init(scale_picker *sp, int block_words) {
    _Alignas(64) uint16_t idx[4][32];
    memset(idx, 0, sizeof(idx));
    memset(sp, 0, sizeof(*sp));
    for (int64_t i = 0; i < 16; i++) {
        int wi = blocks16_order[i] * block_words;
        idx[wi / 64][i] = (uint16_t)(wi % 64);
        sp->take[wi / 64] |= 1u << i;
    }
    for (int64_t win = 0; win < 4; win++) sp->idx[win] = _mm512_load_si512(idx[win]);
}

/* block_words and nblocks (16, or 8 for the first 8 lanes) are constants at every call, so the
 * window loop and its masks fold away. */
static inline __attribute__((always_inline)) __m512i scale_pick(const scale_picker *sp, const void *group,
                                                                const int block_words, const int nblocks) {
    const uint16_t *p = group;
    const int group_words = nblocks * block_words, windows = (nblocks - 1) * block_words / 64 + 1;
    __m512i d = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int64_t win = 0; win < windows; win++) {
        int64_t n0 = group_words - win * 64, n1 = n0 - 32;
        __m512i a = n0 >= 32 ? _mm512_loadu_si512(p + win * 64)
                    : n0 > 0 ? _mm512_maskz_loadu_epi16((__mmask32)((1u << n0) - 1), p + win * 64)
                             : _mm512_setzero_si512();
        __m512i b = n1 >= 32  ? _mm512_loadu_si512(p + win * 64 + 32)
                    : n1 > 0 ? _mm512_maskz_loadu_epi16((__mmask32)((1u << n1) - 1), p + win * 64 + 32)
                             : _mm512_setzero_si512();
        d = _mm512_mask_mov_epi16(d, sp->take[win], _mm512_permutex2var_epi16(a, sp->idx[win], b));
    }
    return d; /* the nblocks scales as fp16 in the low word lanes */
}

#define GEMV_QUANT(name, BLOCK, PAIR, ONE, OFFSET_SHIFT)                                                  \
    static void name(const seer_mm *m, int64_t r0, int64_t r1) {                                          \
        const int64_t nb = m->cols / SEER_QK, nb16 = nb & ~(int64_t)15;                                   \
        const int has8 = (nb & 8) != 0;                                                                   \
        const __m512i order = _mm512_loadu_si512(blocks16_order);                                          \
        scale_picker sp;                                                                                  \
        scale_picker_init(&sp, (int)sizeof(BLOCK) / 2);                                                   \
        for (int64_t r = r0; r < r1; r++) {                                                               \
            const BLOCK *w = (const BLOCK *)wrow(m, r);                                                   \
            __m512 acc = _mm512_setzero_ps();                                                             \
            for (int64_t b0 = 0; b0 < nb16; b0 += 16) {                                                   \
                __m512i z[8];                                                                             \
                _Pragma("GCC unroll 8") for (int64_t k = 0; k < 8; k++)                                       \
                    z[k] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), PAIR(w + b0 + 2 * k),              \
                                               _mm512_loadu_si512(m->xqs + (b0 + 2 * k) * SEER_QK));      \
                __m512i xs = _mm512_permutexvar_epi32(order, _mm512_loadu_si512(m->xsum + b0));           \
                __m512i isum = _mm512_sub_epi32(reduce_blocks16(z), _mm512_slli_epi32(xs, OFFSET_SHIFT)); \
                __m512 dx = _mm512_permutexvar_ps(order, _mm512_loadu_ps(m->xd + b0));                    \
                __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(scale_pick(&sp, w + b0, (int)sizeof(BLOCK) / 2, 16))); \
                acc = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(isum), dx), dw, acc);              \
            }                                                                                             \
            __m256 a1 = _mm256_setzero_ps();                                                              \
            int64_t b = nb16;                                                                             \
            if (has8) {                                                                                   \
                __m512i z[4];                                                                             \
                _Pragma("GCC unroll 4") for (int64_t k = 0; k < 4; k++)                                       \
                    z[k] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), PAIR(w + b + 2 * k),               \
                                               _mm512_loadu_si512(m->xqs + (b + 2 * k) * SEER_QK));       \
                __m256i o8 = _mm512_castsi512_si256(order);                                               \
                __m256i xs = _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)(m->xsum + b)), o8); \
                __m256i isum = _mm256_sub_epi32(reduce_blocks8(z), _mm256_slli_epi32(xs, OFFSET_SHIFT));  \
                __m256 dx = _mm256_permutevar8x32_ps(_mm256_loadu_ps(m->xd + b), o8);                     \
                __m256 dw = _mm256_cvtph_ps(_mm512_castsi512_si128(scale_pick(&sp, w + b, (int)sizeof(BLOCK) / 2, 8))); \
                a1 = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(isum), dx), dw);                      \
                b += 8;                                                                                   \
            }                                                                                             \
            for (; b < nb; b++) {                                                                         \
                __m256i c = _mm256_setr_epi32(-m->xsum[b] * (1 << (OFFSET_SHIFT)), 0, 0, 0, 0, 0, 0, 0);   \
                __m256i d = _mm256_dpbusd_epi32(c, ONE(w + b),                                            \
                                                _mm256_loadu_si256((const __m256i *)(m->xqs + b * SEER_QK))); \
                a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_set1_ps(m->xd[b] * _cvtsh_ss(w[b].d)), a1); \
            }                                                                                             \
            put_y(m, r, _mm512_reduce_add_ps(acc) + hsum256(a1));                                         \
        }                                                                                                 \
    }

GEMV_QUANT(gemv_q8_0_avx512, seer_block_q8_0, pair_q8_0, one_q8_0, 7)
GEMV_QUANT(gemv_q4_0_avx512, seer_block_q4_0, pair_q4_0, one_q4_0, 3)

/* ---- prefill: GEMM ------------------------------------------------------------------------ */

#define MR 12 /* weight rows per micro-kernel; 12 x 2 accumulators + 2 x loads fit in 32 zmm */

/* 16x16 transpose of r[0..15] in place. */
static inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
#pragma GCC unroll 8
    for (int64_t i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 4
    for (int64_t a = 0; a < 4; a++) { /* rows 4a..4a+3: u[4a + s] holds column s of each lane */
        u[4 * a] = _mm512_shuffle_ps(t[4 * a], t[4 * a + 2], 0x44);
        u[4 * a + 1] = _mm512_shuffle_ps(t[4 * a], t[4 * a + 2], 0xee);
        u[4 * a + 2] = _mm512_shuffle_ps(t[4 * a + 1], t[4 * a + 3], 0x44);
        u[4 * a + 3] = _mm512_shuffle_ps(t[4 * a + 1], t[4 * a + 3], 0xee);
    }
#pragma GCC unroll 4
    for (int64_t s = 0; s < 4; s++) {
        __m512 e01 = _mm512_shuffle_f32x4(u[s], u[4 + s], 0x88), o01 = _mm512_shuffle_f32x4(u[s], u[4 + s], 0xdd);
        __m512 e23 = _mm512_shuffle_f32x4(u[8 + s], u[12 + s], 0x88), o23 = _mm512_shuffle_f32x4(u[8 + s], u[12 + s], 0xdd);
        r[s] = _mm512_shuffle_f32x4(e01, e23, 0x88);      /* lane 0 */
        r[8 + s] = _mm512_shuffle_f32x4(e01, e23, 0xdd);  /* lane 2 */
        r[4 + s] = _mm512_shuffle_f32x4(o01, o23, 0x88);  /* lane 1 */
        r[12 + s] = _mm512_shuffle_f32x4(o01, o23, 0xdd); /* lane 3 */
    }
}

static void pack_x_avx512(const float *x, int64_t n, int64_t cols, int64_t g0, int64_t g1, float *xp) {
    for (int64_t g = g0; g < g1; g++) {
        float *dst = xp + g * cols * SEER_GEMM_NR;
        int64_t rows = n - g * SEER_GEMM_NR < SEER_GEMM_NR ? n - g * SEER_GEMM_NR : SEER_GEMM_NR;
        for (int64_t k = 0; k < cols; k += 16) {
            int64_t kn = cols - k < 16 ? cols - k : 16;
            __mmask16 m = tail_mask(kn);
            __m512 r[16];
            for (int64_t j = 0; j < 16; j++)
                r[j] = j < rows ? _mm512_maskz_loadu_ps(m, x + (g * SEER_GEMM_NR + j) * cols + k) : _mm512_setzero_ps();
            transpose16(r);
            for (int64_t t = 0; t < kn; t++) _mm512_store_ps(dst + (k + t) * SEER_GEMM_NR, r[t]);
        }
    }
}

/* c[i][h] = Σ_k wb[i][k] · xp_h[k][0..15]: weight row i against 16 packed x rows per half. */
static inline void micro_12x32(const float *wb, int64_t ldw, const float *xp0, const float *xp1, int64_t kc, __m512 c[MR][2]) {
#pragma GCC unroll 12
    for (int64_t i = 0; i < MR; i++) c[i][0] = c[i][1] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        __m512 x0 = _mm512_load_ps(xp0 + k * SEER_GEMM_NR), x1 = _mm512_load_ps(xp1 + k * SEER_GEMM_NR);
#pragma GCC unroll 12
        for (int64_t i = 0; i < MR; i++) {
            __m512 b = _mm512_set1_ps(wb[i * ldw + k]);
            c[i][0] = _mm512_fmadd_ps(b, x0, c[i][0]);
            c[i][1] = _mm512_fmadd_ps(b, x1, c[i][1]);
        }
    }
}

static inline void micro_12x16(const float *wb, int64_t ldw, const float *xp0, int64_t kc, __m512 c[MR]) {
#pragma GCC unroll 12
    for (int64_t i = 0; i < MR; i++) c[i] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        __m512 x0 = _mm512_load_ps(xp0 + k * SEER_GEMM_NR);
#pragma GCC unroll 12
        for (int64_t i = 0; i < MR; i++) c[i] = _mm512_fmadd_ps(_mm512_set1_ps(wb[i * ldw + k]), x0, c[i]);
    }
}

/* Adds (or stores, when first) c[i] lane j into y[x0 + j][r + i] for j < nx, i < nr. */
static inline void tile_out(const seer_mm *m, const __m512 c[MR], int64_t x0, int64_t nx, int64_t r, int nr, int first) {
    __m512 t[16];
    for (int64_t i = 0; i < MR; i++) t[i] = c[i];
    for (int64_t i = MR; i < 16; i++) t[i] = _mm512_setzero_ps();
    transpose16(t); /* t[j] now holds weight rows r..r+11 for x row x0 + j */
    __mmask16 mk = tail_mask(nr);
    for (int64_t j = 0; j < nx; j++) {
        float *yr = m->y + (x0 + j) * m->ldy + r;
        __m512 v = first ? t[j] : _mm512_add_ps(t[j], _mm512_maskz_loadu_ps(mk, yr));
        _mm512_mask_storeu_ps(yr, mk, v);
    }
}

/* One k chunk of one block of weight rows (w, row stride ldw floats) against every packed
 * group of x rows, 32 at a time, each tile added into y. */
static inline void gemm_chunk(const seer_mm *m, const float *w, int64_t ldw, int64_t rb, int nr, int64_t k0, int64_t kc,
                              int first) {
    const int64_t K = m->cols, groups = (m->n + SEER_GEMM_NR - 1) / SEER_GEMM_NR;
    for (int64_t g = 0; g < groups; g += 2) {
        const float *xp0 = m->xp + (g * K + k0) * SEER_GEMM_NR;
        int64_t nx = m->n - g * SEER_GEMM_NR;
        if (g + 1 < groups) {
            __m512 c[MR][2], h[MR];
            micro_12x32(w, ldw, xp0, xp0 + K * SEER_GEMM_NR, kc, c);
            for (int64_t i = 0; i < MR; i++) h[i] = c[i][0];
            tile_out(m, h, g * SEER_GEMM_NR, 16, rb, nr, first);
            for (int64_t i = 0; i < MR; i++) h[i] = c[i][1];
            tile_out(m, h, (g + 1) * SEER_GEMM_NR, nx - 16 < 16 ? nx - 16 : 16, rb, nr, first);
        } else {
            __m512 c[MR];
            micro_12x16(w, ldw, xp0, kc, c);
            tile_out(m, c, g * SEER_GEMM_NR, nx < 16 ? nx : 16, rb, nr, first);
        }
    }
}

/* For each block of MR weight rows and each k chunk: the rows are converted to f32 once (wb, an
 * L1-sized buffer), then swept against every packed group of x rows. Full blocks of f32 rows
 * whose stride is not a multiple of 4 KB are read in place instead (the copy would only move
 * them; at such strides the rows a micro-kernel broadcasts from do not share L1 sets). Weights
 * are read once per call; x streams from L2. */
static void gemm_avx512(const seer_mm *m, int64_t r0, int64_t r1) {
    const int64_t K = m->cols, KC = seer_gemm_kc(K);
    const size_t bel = seer_dtype_block_elems(m->wtype), bby = seer_dtype_block_bytes(m->wtype);
    void (*conv)(const void *, float *, int64_t) = seer_kernels_avx512.to_f32[m->wtype];
    const int in_place = m->wtype == SEER_DTYPE_F32 && m->wrow % 4096 != 0 && m->wrow % sizeof(float) == 0;
    _Alignas(64) float wb[MR * SEER_GEMM_LDW];
    for (int64_t rb = r0; rb < r1; rb += MR) {
        int nr = r1 - rb < MR ? (int)(r1 - rb) : MR;
        for (int64_t k0 = 0; k0 < K; k0 += KC) {
            int64_t kc = K - k0 < KC ? K - k0 : KC;
            int first = k0 == 0 && !m->acc;
            seer_gemm_prefetch_next(m, rb, k0, KC, r1, MR);
            if (in_place && nr == MR) {
                gemm_chunk(m, (const float *)(const void *)wrow(m, rb) + k0, (int64_t)(m->wrow / sizeof(float)), rb, nr,
                           k0, kc, first);
                continue;
            }
            for (int64_t i = 0; i < nr; i++) conv(wrow(m, rb + i) + (size_t)k0 / bel * bby, wb + i * SEER_GEMM_LDW, kc);
            for (int64_t i = nr; i < MR; i++) memset(wb + i * SEER_GEMM_LDW, 0, (size_t)kc * sizeof(float));
            gemm_chunk(m, wb, SEER_GEMM_LDW, rb, nr, k0, kc, first);
        }
    }
}

const seer_kernels seer_kernels_avx512 = {
    .level = SEER_SIMD_AVX512,
    .dot = dot_avx512,
    .axpy = axpy_avx512,
    .scale = scale_avx512,
    .max = max_avx512,
    .exp_sum = exp_sum_avx512,
    .rmsnorm = rmsnorm_avx512,
    .layernorm = layernorm_avx512,
    .swiglu = swiglu_avx512,
    .gelu_tanh = gelu_tanh_avx512,
    .scores = scores_avx512,
    .wsum = wsum_avx512,
    .to_f32 = {seer_to_f32_f32_scalar, to_f32_f16_avx512, to_f32_bf16_avx512, to_f32_q8_0_avx512, to_f32_q4_0_avx512},
    .quantize_q8 = quantize_q8_avx512,
    .gemv = {gemv_f32_avx512, gemv_f16_avx512, gemv_bf16_avx512, gemv_q8_0_avx512, gemv_q4_0_avx512},
    .pack_x = pack_x_avx512,
    .gemm = gemm_avx512,
    .gemm_mr = MR,
};
