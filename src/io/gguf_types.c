/* GGUF type tables: metadata value types (names, sizes) and ggml tensor types (names, and the
 * mapping to seer_dtype). Shared by the reader, the writer and `seer info`, so that every
 * message names types the same way. */
#include "seer/gguf.h"

#include <assert.h>

static const struct {
    const char *name;
    size_t size; /* 0: variable length */
} value_types[] = {
    [SEER_GGUF_TYPE_UINT8] = {"u8", 1},     [SEER_GGUF_TYPE_INT8] = {"i8", 1},
    [SEER_GGUF_TYPE_UINT16] = {"u16", 2},   [SEER_GGUF_TYPE_INT16] = {"i16", 2},
    [SEER_GGUF_TYPE_UINT32] = {"u32", 4},   [SEER_GGUF_TYPE_INT32] = {"i32", 4},
    [SEER_GGUF_TYPE_FLOAT32] = {"f32", 4},  [SEER_GGUF_TYPE_BOOL] = {"bool", 1},
    [SEER_GGUF_TYPE_STRING] = {"string", 0}, [SEER_GGUF_TYPE_ARRAY] = {"array", 0},
    [SEER_GGUF_TYPE_UINT64] = {"u64", 8},   [SEER_GGUF_TYPE_INT64] = {"i64", 8},
    [SEER_GGUF_TYPE_FLOAT64] = {"f64", 8},
};
static_assert(SEER_GGUF_TYPE_COUNT == sizeof(value_types) / sizeof(value_types[0]),
              "value_types must cover every seer_gguf_type");

const char *seer_gguf_type_name(seer_gguf_type t) {
    return (unsigned)t < SEER_GGUF_TYPE_COUNT ? value_types[t].name : "unknown";
}

size_t seer_gguf_type_size(seer_gguf_type t) {
    return (unsigned)t < SEER_GGUF_TYPE_COUNT ? value_types[t].size : 0;
}

/* Every id ggml has defined, so a file with a K-quant or IQ type gets "unsupported Q4_K"
 * rather than "unknown type 12". Ids 4, 5, 31-33 and 36-38 were removed from ggml. */
#define GGML_TYPE_ID_COUNT 40
static const char *const ggml_names[GGML_TYPE_ID_COUNT] = {
    [0] = "F32",      [1] = "F16",     [2] = "Q4_0",    [3] = "Q4_1",    [6] = "Q5_0",
    [7] = "Q5_1",     [8] = "Q8_0",    [9] = "Q8_1",    [10] = "Q2_K",   [11] = "Q3_K",
    [12] = "Q4_K",    [13] = "Q5_K",   [14] = "Q6_K",   [15] = "Q8_K",   [16] = "IQ2_XXS",
    [17] = "IQ2_XS",  [18] = "IQ3_XXS", [19] = "IQ1_S", [20] = "IQ4_NL", [21] = "IQ3_S",
    [22] = "IQ2_S",   [23] = "IQ4_XS", [24] = "I8",     [25] = "I16",    [26] = "I32",
    [27] = "I64",     [28] = "F64",    [29] = "IQ1_M",  [30] = "BF16",   [34] = "TQ1_0",
    [35] = "TQ2_0",   [39] = "MXFP4",
};

const char *seer_gguf_ggml_type_name(uint32_t ggml_type) {
    return ggml_type < GGML_TYPE_ID_COUNT ? ggml_names[ggml_type] : NULL;
}

/* The ggml types seer runs, and the seer_dtype each becomes. */
static const struct {
    uint32_t ggml;
    seer_dtype dtype;
} dtype_map[] = {
    {SEER_GGML_TYPE_F32, SEER_DTYPE_F32}, {SEER_GGML_TYPE_F16, SEER_DTYPE_F16},
    {SEER_GGML_TYPE_BF16, SEER_DTYPE_BF16}, {SEER_GGML_TYPE_Q8_0, SEER_DTYPE_Q8_0},
    {SEER_GGML_TYPE_Q4_0, SEER_DTYPE_Q4_0}, {SEER_GGML_TYPE_F64, SEER_DTYPE_F64},
    {SEER_GGML_TYPE_I8, SEER_DTYPE_I8},     {SEER_GGML_TYPE_I16, SEER_DTYPE_I16},
    {SEER_GGML_TYPE_I32, SEER_DTYPE_I32},   {SEER_GGML_TYPE_I64, SEER_DTYPE_I64},
};
#define DTYPE_MAP_N (sizeof(dtype_map) / sizeof(dtype_map[0]))

seer_status seer_gguf_dtype_from_ggml(uint32_t ggml_type, seer_dtype *out, seer_err *err) {
    for (size_t i = 0; i < DTYPE_MAP_N; i++) {
        if (dtype_map[i].ggml == ggml_type) {
            *out = dtype_map[i].dtype;
            return SEER_OK;
        }
    }
    const char *name = seer_gguf_ggml_type_name(ggml_type);
    if (!name) return seer_err_set(err, SEER_ERR_FORMAT, "gguf: unknown ggml type %u", ggml_type);
    return seer_err_set(err, SEER_ERR_UNSUPPORTED,
                        "gguf: ggml type %s is not supported (seer runs F32, F16, BF16, Q8_0, Q4_0, "
                        "F64, I8, I16, I32, I64; re-quantize the model to one of these)",
                        name);
}

uint32_t seer_gguf_dtype_to_ggml(seer_dtype t) {
    for (size_t i = 0; i < DTYPE_MAP_N; i++) {
        if (dtype_map[i].dtype == t) return dtype_map[i].ggml;
    }
    return SEER_GGML_TYPE_NONE;
}
