/* Which SIMD level runs: detected once from the CPU (and the OS's saved-state support, which
 * __builtin_cpu_supports checks), lowered by SEER_SIMD=avx2|scalar or seer_simd_set, and the
 * kernel table for that level. */
#include "kernels.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const char *const simd_names[] = {"scalar", "avx2", "avx512"};
static_assert(SEER_SIMD_COUNT == sizeof(simd_names) / sizeof(simd_names[0]), "simd_names must cover every seer_simd");

const seer_kernels seer_kernels_scalar = {
    .level = SEER_SIMD_SCALAR,
    .dot = seer_dot_scalar,
    .axpy = seer_axpy_scalar,
    .scale = seer_scale_scalar,
    .max = seer_max_scalar,
    .exp_sum = seer_exp_sum_scalar,
    .rmsnorm = seer_rmsnorm_scalar,
    .layernorm = seer_layernorm_scalar,
    .swiglu = seer_swiglu_scalar,
    .gelu_tanh = seer_gelu_tanh_scalar,
    .scores = seer_scores_scalar,
    .wsum = seer_wsum_scalar,
    .to_f32 = {seer_to_f32_f32_scalar, seer_to_f32_f16_scalar, seer_to_f32_bf16_scalar, seer_to_f32_q8_0_scalar,
               seer_to_f32_q4_0_scalar},
    .quantize_q8 = seer_quantize_q8_scalar,
    .gemv = {seer_gemv_f32_scalar, seer_gemv_f16_scalar, seer_gemv_bf16_scalar, seer_gemv_q8_0_scalar,
             seer_gemv_q4_0_scalar},
    .pack_x = NULL,
    .gemm = seer_gemm_scalar,
    .gemm_mr = 1,
};

const char *seer_simd_name(seer_simd s) { return (unsigned)s < SEER_SIMD_COUNT ? simd_names[s] : "unknown"; }

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* clang 14's __builtin_cpu_supports does not know "f16c": ask CPUID leaf 1 (ECX bit 29). */
static int cpu_has_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

static seer_simd cpu_detect(void) {
    __builtin_cpu_init();
    /* The AVX-512 file is compiled with F, BW, VL, DQ and VNNI (plus AVX2/FMA/F16C), so all of
     * them must be present before any of its code runs. */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        cpu_has_f16c())
        return SEER_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c())
        return SEER_SIMD_AVX2;
    return SEER_SIMD_SCALAR;
}
#else
static seer_simd cpu_detect(void) { return SEER_SIMD_SCALAR; }
#endif

/* -1 until first use; then the level in effect. Relaxed is enough: every thread computes the
 * same value, and seer_simd_set is documented as not racing with running kernels. */
static atomic_int detected_level = -1;
static atomic_int current_level = -1;

seer_simd seer_simd_detected(void) {
    int d = atomic_load_explicit(&detected_level, memory_order_relaxed);
    if (d < 0) {
        d = (int)cpu_detect();
        atomic_store_explicit(&detected_level, d, memory_order_relaxed);
    }
    return (seer_simd)d;
}

seer_simd seer_simd_level(void) {
    int c = atomic_load_explicit(&current_level, memory_order_relaxed);
    if (c >= 0) return (seer_simd)c;
    c = (int)seer_simd_detected();
    /* SEER_SIMD can only lower the level: asking for AVX-512 on a CPU without it must not
     * crash. Unknown values are ignored (the detected level runs). */
    const char *env = getenv("SEER_SIMD");
    if (env && *env) {
        for (int s = 0; s < SEER_SIMD_COUNT; s++)
            if (s < c && strcmp(env, simd_names[s]) == 0) c = s;
    }
    atomic_store_explicit(&current_level, c, memory_order_relaxed);
    return (seer_simd)c;
}

seer_simd seer_simd_set(seer_simd s) {
    int d = (int)seer_simd_detected();
    int c = (unsigned)s < SEER_SIMD_COUNT && (int)s < d ? (int)s : d;
    atomic_store_explicit(&current_level, c, memory_order_relaxed);
    return (seer_simd)c;
}

const seer_kernels *seer_kernels_get(void) {
    switch (seer_simd_level()) {
    case SEER_SIMD_AVX512: return &seer_kernels_avx512;
    case SEER_SIMD_AVX2: return &seer_kernels_avx2;
    default: return &seer_kernels_scalar;
    }
}
