/* Element types: names, block sizes, and scalar conversions (fp16, bf16, q8_0, q4_0 <-> f32).
 * The quantized layouts are ggml's, so GGUF files from llama.cpp are used as they are. */
#include "seer/core.h"

#include <assert.h>
#include <math.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    size_t block_elems;
    size_t block_bytes;
} dtype_info[] = {
    [SEER_DTYPE_F32] = {"f32", 1, 4},   [SEER_DTYPE_F16] = {"f16", 1, 2},
    [SEER_DTYPE_BF16] = {"bf16", 1, 2}, [SEER_DTYPE_Q8_0] = {"q8_0", SEER_QK, sizeof(seer_block_q8_0)},
    [SEER_DTYPE_Q4_0] = {"q4_0", SEER_QK, sizeof(seer_block_q4_0)},
    [SEER_DTYPE_F64] = {"f64", 1, 8},   [SEER_DTYPE_I8] = {"i8", 1, 1},
    [SEER_DTYPE_I16] = {"i16", 1, 2},   [SEER_DTYPE_I32] = {"i32", 1, 4},
    [SEER_DTYPE_I64] = {"i64", 1, 8},   [SEER_DTYPE_U8] = {"u8", 1, 1},
    [SEER_DTYPE_BOOL] = {"bool", 1, 1},
};
static_assert(SEER_DTYPE_COUNT == sizeof(dtype_info) / sizeof(dtype_info[0]), "dtype_info must cover every seer_dtype");
static_assert(sizeof(seer_block_q8_0) == 34, "q8_0 block is 34 bytes");
static_assert(sizeof(seer_block_q4_0) == 18, "q4_0 block is 18 bytes");

const char *seer_dtype_name(seer_dtype t) {
    return (unsigned)t < SEER_DTYPE_COUNT ? dtype_info[t].name : "unknown";
}

int seer_dtype_from_name(const char *name, seer_dtype *out) {
    for (int i = 0; i < SEER_DTYPE_COUNT; i++) {
        if (strcasecmp(name, dtype_info[i].name) == 0) {
            *out = (seer_dtype)i;
            return 0;
        }
    }
    return -1;
}

size_t seer_dtype_block_elems(seer_dtype t) { return (unsigned)t < SEER_DTYPE_COUNT ? dtype_info[t].block_elems : 0; }
size_t seer_dtype_block_bytes(seer_dtype t) { return (unsigned)t < SEER_DTYPE_COUNT ? dtype_info[t].block_bytes : 0; }

seer_status seer_dtype_row_bytes(seer_dtype t, int64_t n, size_t *out, seer_err *err) {
    *out = 0;
    if ((unsigned)t >= SEER_DTYPE_COUNT) return seer_err_set(err, SEER_ERR_INVALID, "unknown element type %d", (int)t);
    if (n < 0) return seer_err_set(err, SEER_ERR_RANGE, "negative element count %lld", (long long)n);
    size_t be = dtype_info[t].block_elems;
    if ((uint64_t)n % be != 0)
        return seer_err_set(err, SEER_ERR_FORMAT, "%s needs a multiple of %zu elements per row, got %lld",
                            dtype_info[t].name, be, (long long)n);
    if (seer_mul_size((size_t)((uint64_t)n / be), dtype_info[t].block_bytes, out))
        return seer_err_set(err, SEER_ERR_RANGE, "%lld %s elements overflow size_t", (long long)n, dtype_info[t].name);
    return SEER_OK;
}

float seer_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: value = man * 2^-24 */
            float f = (float)man * 5.9604644775390625e-08f;
            memcpy(&bits, &f, 4);
            bits |= sign;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t seer_fp32_to_fp16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0); /* inf / nan */
    if (ax >= 0x477ff000u) return sign | 0x7c00;                                   /* rounds to inf */
    if (ax < 0x38800000u) {                                                        /* subnormal or zero */
        /* value / 2^-24 rounded to nearest even gives the mantissa */
        float a;
        memcpy(&a, &ax, 4);
        float m = a * 16777216.0f;
        uint32_t mi = (uint32_t)nearbyintf(m);
        return sign | (uint16_t)mi;
    }
    uint32_t mant = ax & 0x7fffff;
    uint32_t exp = (ax >> 23) - 112;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* carry into the exponent is correct */
    return sign | (uint16_t)h;
}

float seer_bf16_to_fp32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t seer_fp32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); /* quiet nan */
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

static void quantize_q8_0_block(const float *x, seer_block_q8_0 *b) {
    float amax = 0.0f;
    for (int j = 0; j < SEER_QK; j++) amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    b->d = seer_fp32_to_fp16(d);
    for (int j = 0; j < SEER_QK; j++) b->qs[j] = (int8_t)roundf(x[j] * id);
}

/* ggml's q4_0: scale from the signed value of largest magnitude, so that value maps to -8. */
static void quantize_q4_0_block(const float *x, seer_block_q4_0 *b) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < SEER_QK; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    float d = max / -8.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    b->d = seer_fp32_to_fp16(d);
    for (int j = 0; j < SEER_QK / 2; j++) {
        int q0 = (int)(x[j] * id + 8.5f);
        int q1 = (int)(x[j + SEER_QK / 2] * id + 8.5f);
        q0 = q0 > 15 ? 15 : q0;
        q1 = q1 > 15 ? 15 : q1;
        b->qs[j] = (uint8_t)(q0 | (q1 << 4));
    }
}

seer_status seer_convert_to_f32(seer_dtype t, const void *src, float *dst, int64_t n, seer_err *err) {
    size_t bytes;
    seer_status st = seer_dtype_row_bytes(t, n, &bytes, err);
    if (st) return st;
    /* src may sit at any byte offset (a tensor after an odd-length safetensors header): elements
     * are read with memcpy, never through a misaligned pointer. */
    const uint8_t *s = src;
    switch (t) {
    case SEER_DTYPE_F32: memmove(dst, src, bytes); break;
    case SEER_DTYPE_F16:
    case SEER_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = t == SEER_DTYPE_F16 ? seer_fp16_to_fp32(h) : seer_bf16_to_fp32(h);
        }
        break;
    case SEER_DTYPE_F64:
        for (int64_t i = 0; i < n; i++) {
            double v;
            memcpy(&v, s + 8 * i, 8);
            dst[i] = (float)v;
        }
        break;
    case SEER_DTYPE_Q8_0:
        for (int64_t i = 0; i < n / SEER_QK; i++) {
            seer_block_q8_0 b;
            memcpy(&b, s + (size_t)i * sizeof(b), sizeof(b));
            float d = seer_fp16_to_fp32(b.d);
            for (int j = 0; j < SEER_QK; j++) dst[i * SEER_QK + j] = d * (float)b.qs[j];
        }
        break;
    case SEER_DTYPE_Q4_0:
        for (int64_t i = 0; i < n / SEER_QK; i++) {
            seer_block_q4_0 b;
            memcpy(&b, s + (size_t)i * sizeof(b), sizeof(b));
            float d = seer_fp16_to_fp32(b.d);
            for (int j = 0; j < SEER_QK / 2; j++) {
                dst[i * SEER_QK + j] = d * (float)((b.qs[j] & 0x0f) - 8);
                dst[i * SEER_QK + j + SEER_QK / 2] = d * (float)((b.qs[j] >> 4) - 8);
            }
        }
        break;
    default:
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "cannot convert %s to f32", seer_dtype_name(t));
    }
    return SEER_OK;
}

seer_status seer_convert_from_f32(seer_dtype t, const float *src, void *dst, int64_t n, seer_err *err) {
    size_t bytes;
    seer_status st = seer_dtype_row_bytes(t, n, &bytes, err);
    if (st) return st;
    switch (t) {
    case SEER_DTYPE_F32: memmove(dst, src, bytes); break;
    case SEER_DTYPE_F16: {
        uint16_t *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = seer_fp32_to_fp16(src[i]);
        break;
    }
    case SEER_DTYPE_BF16: {
        uint16_t *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = seer_fp32_to_bf16(src[i]);
        break;
    }
    case SEER_DTYPE_F64: {
        double *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = src[i];
        break;
    }
    case SEER_DTYPE_Q8_0:
        for (int64_t i = 0; i < n / SEER_QK; i++) quantize_q8_0_block(src + i * SEER_QK, (seer_block_q8_0 *)dst + i);
        break;
    case SEER_DTYPE_Q4_0:
        for (int64_t i = 0; i < n / SEER_QK; i++) quantize_q4_0_block(src + i * SEER_QK, (seer_block_q4_0 *)dst + i);
        break;
    default:
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "cannot convert f32 to %s", seer_dtype_name(t));
    }
    return SEER_OK;
}
