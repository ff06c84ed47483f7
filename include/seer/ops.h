/* Compute: a thread pool and the hot kernels the forward pass runs on.
 *
 * seer_pool runs one function on N threads (the caller is thread 0) and returns when all are
 * done; workers spin briefly then sleep, so back-to-back calls in a decode step are cheap.
 *
 * seer_matmul computes Y = X · Wᵀ for a weight matrix W [rows, cols] of any weight type (f32,
 * f16, bf16, q8_0, q4_0) and activations X [n, cols] in f32, giving Y [n, rows]. n == 1 is the
 * decode path: a hand-written SIMD GEMV streaming W once, rows split over threads; for q8_0 and
 * q4_0 weights X is first quantized to q8_0 blocks (f32 scales) in the workspace and the dot
 * products are integer (AVX-512 VNNI / AVX2). n > 1 is prefill: a register-blocked f32 GEMM
 * over X packed in the workspace, each weight row block converted to f32 once per call (for
 * f32 this beats the OpenBLAS build on hand, whose kernels stop at AVX2; for q8_0 it beats
 * integer tiles, which pay a scale per 32-block per output). Without AVX2, f32 prefill goes to
 * OpenBLAS (single-threaded per pool thread) and the rest to plain loops. Every output is
 * computed by the same code whichever thread takes its rows, so results do not depend on the
 * thread count (OpenBLAS's aside).
 *
 * The SIMD level is detected once at run time (AVX-512, AVX2+FMA, portable C) and can be
 * forced down with SEER_SIMD=avx2|scalar for tests. */
#ifndef SEER_OPS_H
#define SEER_OPS_H

#include "seer/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- threads ---- */
typedef struct seer_pool seer_pool;
typedef void (*seer_task_fn)(void *ctx, int ith, int nth);

/* n_threads <= 0 means one per core. */
seer_status seer_pool_init(int n_threads, seer_pool **out, seer_err *err);
void seer_pool_free(seer_pool *p);
int seer_pool_size(const seer_pool *p);
/* Runs fn(ctx, i, n) exactly once for each i in [0, n) and returns when all have finished.
 * The caller runs i == 0, then any i no worker has started yet (so a worker the OS is slow to
 * schedule does not hold the call up): keep scratch per i, not per OS thread. p may be NULL
 * (runs fn(ctx, 0, 1) inline). Not reentrant. */
void seer_pool_run(seer_pool *p, seer_task_fn fn, void *ctx);

/* ---- SIMD level ---- */
typedef enum seer_simd { SEER_SIMD_SCALAR = 0, SEER_SIMD_AVX2, SEER_SIMD_AVX512, SEER_SIMD_COUNT } seer_simd;
seer_simd seer_simd_level(void);
const char *seer_simd_name(seer_simd s);
/* The best level this CPU (and OS) supports, ignoring SEER_SIMD and seer_simd_set. */
seer_simd seer_simd_detected(void);
/* Forces the level used from now on (for tests and benchmarks): clamped to what the CPU
 * supports; returns the level in effect. Not meant to be called while kernels run. */
seer_simd seer_simd_set(seer_simd s);

/* ---- matmul ---- */

/* Workspace bytes seer_matmul needs for n rows of X with a weight of this type and cols
 * (SIZE_MAX if that overflows; the same for every SIMD level and thread count). It never
 * decreases as n or cols grow, so one buffer sized for the largest call serves them all. */
size_t seer_matmul_work_size(seer_dtype wtype, int64_t n, int64_t cols);

/* y [n, rows] = x [n, cols] · w[rows, cols]ᵀ. w's rows are contiguous in wtype (cols a
 * multiple of 32 for quantized types: the caller checks at load). work: at least
 * seer_matmul_work_size bytes, 64-byte aligned (may be NULL when that size is 0). y must not
 * overlap x, w or work. */
void seer_matmul(seer_pool *pool, float *y, const float *x, int64_t n, const void *w, seer_dtype wtype,
                 int64_t rows, int64_t cols, void *work);

/* Same, with y accumulated: y += x · wᵀ (used where residual adds can be fused). */
void seer_matmul_acc(seer_pool *pool, float *y, const float *x, int64_t n, const void *w, seer_dtype wtype,
                     int64_t rows, int64_t cols, void *work);

/* y [n, rows] = silu(x · w_gateᵀ) * (x · w_upᵀ): a Llama MLP's gate in one pass, with no
 * (n, rows) buffer for the up projection (each thread keeps a small tile of it). Both weights
 * have the same type and shape. work: seer_matmul_swiglu_work_size bytes for the pool's thread
 * count (SIZE_MAX on overflow), 64-byte aligned. */
size_t seer_matmul_swiglu_work_size(seer_dtype wtype, int64_t n, int64_t cols, int n_threads);
void seer_matmul_swiglu(seer_pool *pool, float *y, const float *x, int64_t n, const void *w_gate, const void *w_up,
                        seer_dtype wtype, int64_t rows, int64_t cols, void *work);

/* Plain reference (single thread, scalar, double accumulation) kept beside the fast path
 * for tests. */
void seer_matmul_ref(float *y, const float *x, int64_t n, const void *w, seer_dtype wtype, int64_t rows,
                     int64_t cols);

/* ---- vector kernels (dispatched on SIMD level) ---- */
float seer_vec_dot_f32(const float *a, const float *b, int64_t n);
void seer_vec_axpy_f32(float *y, float a, const float *x, int64_t n); /* y += a * x */
void seer_vec_scale_f32(float *y, float a, int64_t n);
float seer_vec_max_f32(const float *x, int64_t n);
/* x[i] = exp(x[i] - max); returns the sum (softmax numerator in place). */
float seer_vec_exp_sum_f32(float *x, float max, int64_t n);
/* y = x * rsqrt(mean(x^2) + eps) * w  (w may be NULL: no gain). y may alias x. */
void seer_rmsnorm_f32(float *y, const float *x, const float *w, int64_t n, float eps);
/* y = (x - mean) * rsqrt(var + eps) * w + b  (w, b may be NULL). */
void seer_layernorm_f32(float *y, const float *x, const float *w, const float *b, int64_t n, float eps);
/* out = silu(gate) * up */
void seer_swiglu_f32(float *out, const float *gate, const float *up, int64_t n);
/* GPT-2's gelu_new (tanh approximation), in place. */
void seer_gelu_tanh_f32(float *x, int64_t n);
/* dst [n] = src [n] of type t (f32, f16, bf16, q8_0, q4_0; n a multiple of 32 for the
 * quantized ones): one row of a weight, e.g. an embedding lookup. */
void seer_vec_to_f32(seer_dtype t, const void *src, float *dst, int64_t n);

/* One attention head over n cached positions (n >= 1):
 *   p = softmax(scale · q · k_tᵀ) over t < n,  out [d] = Σ_t p_t v_t
 * with k_t = k + t * stride and v_t = v + t * stride (stride >= d, in floats: e.g. the KV
 * cache's row width). probs [n] receives p (the attention pattern); out must not overlap the
 * inputs. About twice as fast as a dot and an axpy per position: the scores of 16 keys share
 * one reduction, and the values are summed in registers. */
void seer_attn_head_f32(float *out, float *probs, const float *q, const float *k, const float *v, int64_t n, int64_t d,
                        int64_t stride, float scale);
/* Its two halves, for callers that look at the scores between them:
 * scores [n] = scale · q · k_tᵀ;  out [d] = Σ_t probs_t v_t. */
void seer_attn_scores_f32(float *scores, const float *q, const float *k, int64_t n, int64_t d, int64_t stride,
                          float scale);
void seer_attn_values_f32(float *out, const float *probs, const float *v, int64_t n, int64_t d, int64_t stride);

/* ---- RoPE ---- */
/* cos_out, sin_out [n_pos, d_head / 2] = cos, sin of pos · theta^(-2j / d_head), computed in
 * double (agrees with libm to ~1e-15 relative) and stored as float. theta finite and > 0. */
void seer_rope_table(float *cos_out, float *sin_out, int64_t n_pos, int64_t d_head, double theta);

#ifdef __cplusplus
}
#endif
#endif
