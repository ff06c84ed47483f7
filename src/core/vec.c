/* Vector kernels: the portable reference of each (plain loops, f32 accumulation in order, libm
 * exp/tanh), the public entry points, which dispatch to the table for the SIMD level, and the
 * attention head built from them. */
#include "kernels.h"

#include <math.h>
#include <string.h>

float seer_dot_scalar(const float *a, const float *b, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

void seer_axpy_scalar(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

void seer_scale_scalar(float *y, float a, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] *= a;
}

float seer_max_scalar(const float *x, int64_t n) {
    float m = -INFINITY;
    for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

float seer_exp_sum_scalar(float *x, float max, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        s += x[i];
    }
    return s;
}

void seer_rmsnorm_scalar(float *y, const float *x, const float *w, int64_t n, float eps) {
    float ss = 0.0f;
    for (int64_t i = 0; i < n; i++) ss += x[i] * x[i];
    float r = 1.0f / sqrtf(ss / (float)n + eps);
    for (int64_t i = 0; i < n; i++) y[i] = w ? x[i] * r * w[i] : x[i] * r;
}

void seer_layernorm_scalar(float *y, const float *x, const float *w, const float *b, int64_t n, float eps) {
    float mean = 0.0f;
    for (int64_t i = 0; i < n; i++) mean += x[i];
    mean /= (float)n;
    float var = 0.0f;
    for (int64_t i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
    float r = 1.0f / sqrtf(var / (float)n + eps);
    for (int64_t i = 0; i < n; i++) {
        float v = (x[i] - mean) * r;
        if (w) v *= w[i];
        if (b) v += b[i];
        y[i] = v;
    }
}

void seer_swiglu_scalar(float *out, const float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void seer_gelu_tanh_scalar(float *x, int64_t n) {
    const float c = 0.7978845608028654f; /* sqrt(2 / pi) */
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(c * (v + 0.044715f * v * v * v)));
    }
}

void seer_scores_scalar(float *s, const float *q, const float *k, int64_t n, int64_t d, int64_t stride, float scale) {
    for (int64_t t = 0; t < n; t++) s[t] = seer_dot_scalar(q, k + t * stride, d) * scale;
}

void seer_scores_gemv(const seer_kernels *kt, float *s, const float *q, const float *k, int64_t n, int64_t d,
                      int64_t stride, float scale) {
    seer_mm m = {.y = s, .ldy = n, .x = q, .n = 1, .w = k, .wtype = SEER_DTYPE_F32,
                 .wrow = (size_t)stride * sizeof(float), .rows = n, .cols = d};
    kt->gemv[SEER_DTYPE_F32](&m, 0, n);
    kt->scale(s, scale, n);
}

void seer_wsum_scalar(float *out, const float *p, const float *v, int64_t n, int64_t d, int64_t stride) {
    for (int64_t i = 0; i < d; i++) out[i] = 0.0f;
    for (int64_t t = 0; t < n; t++)
        for (int64_t i = 0; i < d; i++) out[i] += p[t] * v[t * stride + i];
}

float seer_vec_dot_f32(const float *a, const float *b, int64_t n) { return seer_kernels_get()->dot(a, b, n); }
void seer_vec_axpy_f32(float *y, float a, const float *x, int64_t n) { seer_kernels_get()->axpy(y, a, x, n); }
void seer_vec_scale_f32(float *y, float a, int64_t n) { seer_kernels_get()->scale(y, a, n); }
float seer_vec_max_f32(const float *x, int64_t n) { return seer_kernels_get()->max(x, n); }
float seer_vec_exp_sum_f32(float *x, float max, int64_t n) { return seer_kernels_get()->exp_sum(x, max, n); }

void seer_rmsnorm_f32(float *y, const float *x, const float *w, int64_t n, float eps) {
    if (n > 0) seer_kernels_get()->rmsnorm(y, x, w, n, eps);
}

void seer_layernorm_f32(float *y, const float *x, const float *w, const float *b, int64_t n, float eps) {
    if (n > 0) seer_kernels_get()->layernorm(y, x, w, b, n, eps);
}

void seer_swiglu_f32(float *out, const float *gate, const float *up, int64_t n) {
    seer_kernels_get()->swiglu(out, gate, up, n);
}

void seer_gelu_tanh_f32(float *x, int64_t n) { seer_kernels_get()->gelu_tanh(x, n); }

void seer_vec_to_f32(seer_dtype t, const void *src, float *dst, int64_t n) {
    SEER_ASSERT((unsigned)t < SEER_MM_NTYPES);
    SEER_ASSERT(seer_dtype_block_elems(t) == 1 || n % SEER_QK == 0);
    if (n > 0) seer_kernels_get()->to_f32[t](src, dst, n);
}

void seer_attn_scores_f32(float *scores, const float *q, const float *k, int64_t n, int64_t d, int64_t stride,
                          float scale) {
    SEER_ASSERT(n >= 0 && d >= 0 && stride >= d);
    if (n > 0) seer_kernels_get()->scores(scores, q, k, n, d, stride, scale);
}

void seer_attn_values_f32(float *out, const float *probs, const float *v, int64_t n, int64_t d, int64_t stride) {
    SEER_ASSERT(n >= 0 && d >= 0 && stride >= d);
    seer_kernels_get()->wsum(out, probs, v, n, d, stride);
}

void seer_attn_head_f32(float *out, float *probs, const float *q, const float *k, const float *v, int64_t n, int64_t d,
                        int64_t stride, float scale) {
    SEER_ASSERT(n >= 1);
    const seer_kernels *kt = seer_kernels_get();
    seer_attn_scores_f32(probs, q, k, n, d, stride, scale);
    float sum = kt->exp_sum(probs, kt->max(probs, n), n);
    kt->scale(probs, 1.0f / sum, n);
    seer_attn_values_f32(out, probs, v, n, d, stride);
}
