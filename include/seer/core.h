/* seer core: errors, element types, tensor views, mapped files, arenas.
 *
 * How the pieces fit: every function that can fail returns a seer_status and fills a seer_err
 * (code + one-line message a user can act on). Tensors are plain views (type, shape, data
 * pointer) over memory someone else owns: a mapped file, an arena, a malloc'd buffer. Shapes
 * are listed outermost first, as PyTorch and safetensors do: a [rows, cols] matrix has
 * shape[0] = rows and cols contiguous. (GGUF stores ne[] innermost first; its reader
 * reverses.) */
#ifndef SEER_CORE_H
#define SEER_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ------------------------------------------------------------------------------ */

typedef enum seer_status {
    SEER_OK = 0,
    SEER_ERR_IO,          /* open/read/write/mmap failed */
    SEER_ERR_FORMAT,      /* file or text is malformed */
    SEER_ERR_NOMEM,       /* allocation failed or would exceed a budget */
    SEER_ERR_INVALID,     /* bad argument, bad request, unknown name */
    SEER_ERR_RANGE,       /* index, size or length out of range */
    SEER_ERR_UNSUPPORTED, /* valid but not handled by seer (yet) */
    SEER_STATUS_COUNT
} seer_status;

#define SEER_ERR_MSG_MAX 512

typedef struct seer_err {
    seer_status code;
    char msg[SEER_ERR_MSG_MAX];
} seer_err;

/* Records code and a printf-style message in err (which may be NULL) and returns code, so
 * callers write `return seer_err_set(err, SEER_ERR_FORMAT, "gguf: ...")`. */
seer_status seer_err_set(seer_err *err, seer_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes an existing message with more context ("model 'x.gguf': " + old message). */
seer_status seer_err_wrap(seer_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *seer_status_name(seer_status s);

#if defined(__clang_analyzer__) && !defined(SEER_ERR_IMPL)
/* The static analyzer cannot see into err.c, so it would follow `return seer_err_set(...)` as if
 * it might return SEER_OK and report null dereferences on failure paths. Under the analyzer only,
 * both calls are wrapped to say what they guarantee: a failure code, never SEER_OK. */
static inline seer_status seer_err_nonzero_(seer_status s) {
    if (s == SEER_OK) __builtin_unreachable();
    return s;
}
#define seer_err_set(...) seer_err_nonzero_(seer_err_set(__VA_ARGS__))
#define seer_err_wrap(...) seer_err_nonzero_(seer_err_wrap(__VA_ARGS__))
#endif

/* Programmer invariants only (never for input a user or a file can cause): always on. */
#define SEER_ASSERT(x)                                                                         \
    do {                                                                                       \
        if (!(x)) seer_assert_fail(__FILE__, __LINE__, #x);                                    \
    } while (0)
/* _Noreturn for compilers; the GNU attribute as well because cppcheck only reads that one. */
_Noreturn void seer_assert_fail(const char *file, int line, const char *expr) __attribute__((noreturn));

/* Overflow-checked size arithmetic: return 0 on success, non-zero on overflow. */
static inline int seer_mul_size(size_t a, size_t b, size_t *out) {
    return __builtin_mul_overflow(a, b, out);
}
static inline int seer_add_size(size_t a, size_t b, size_t *out) {
    return __builtin_add_overflow(a, b, out);
}

/* ---- element types ----------------------------------------------------------------------- */

typedef enum seer_dtype {
    SEER_DTYPE_F32 = 0,
    SEER_DTYPE_F16,
    SEER_DTYPE_BF16,
    SEER_DTYPE_Q8_0, /* blocks of 32: fp16 scale + 32 int8 (34 bytes), as ggml */
    SEER_DTYPE_Q4_0, /* blocks of 32: fp16 scale + 16 bytes of nibbles (18 bytes), as ggml */
    SEER_DTYPE_F64,
    SEER_DTYPE_I8,
    SEER_DTYPE_I16,
    SEER_DTYPE_I32,
    SEER_DTYPE_I64,
    SEER_DTYPE_U8,
    SEER_DTYPE_BOOL,
    SEER_DTYPE_COUNT
} seer_dtype;

#define SEER_QK 32 /* elements per quantized block */

typedef struct seer_block_q8_0 {
    uint16_t d; /* fp16 scale */
    int8_t qs[SEER_QK];
} seer_block_q8_0;

typedef struct seer_block_q4_0 {
    uint16_t d;               /* fp16 scale */
    uint8_t qs[SEER_QK / 2]; /* element j in low nibble of qs[j], j+16 in the high nibble */
} seer_block_q4_0;

const char *seer_dtype_name(seer_dtype t); /* "f32", "q8_0", ... */
int seer_dtype_from_name(const char *name, seer_dtype *out); /* 0 ok, -1 unknown; case-insensitive */
size_t seer_dtype_block_elems(seer_dtype t); /* 1 for plain types, 32 for quantized */
size_t seer_dtype_block_bytes(seer_dtype t); /* bytes per block */
/* Bytes of a row of n elements; 0 with err set when n is not a multiple of the block size or
 * the size overflows. */
seer_status seer_dtype_row_bytes(seer_dtype t, int64_t n, size_t *out, seer_err *err);

float seer_fp16_to_fp32(uint16_t h);
uint16_t seer_fp32_to_fp16(float f); /* round to nearest even */
float seer_bf16_to_fp32(uint16_t h);
uint16_t seer_fp32_to_bf16(float f); /* round to nearest even, NaN kept */

/* Converts n elements (n a multiple of the block size for quantized types) between any
 * float-ish type and f32. */
seer_status seer_convert_to_f32(seer_dtype t, const void *src, float *dst, int64_t n, seer_err *err);
seer_status seer_convert_from_f32(seer_dtype t, const float *src, void *dst, int64_t n, seer_err *err);

/* ---- tensors ----------------------------------------------------------------------------- */

#define SEER_MAX_DIMS 8
#define SEER_NAME_MAX 256

typedef struct seer_tensor {
    const char *name; /* owned by whoever produced the view (a parsed file, a model) */
    seer_dtype type;
    int n_dims;                    /* 0 for a scalar */
    int64_t shape[SEER_MAX_DIMS]; /* outermost first */
    void *data;
    size_t nbytes;
} seer_tensor;

/* Elements of the tensor (1 for a scalar); -1 if it overflows int64. */
int64_t seer_tensor_nelem(const seer_tensor *t);
/* "[64, 172]" into buf; returns buf. */
char *seer_shape_str(const int64_t *shape, int n_dims, char *buf, size_t cap);

/* ---- files ------------------------------------------------------------------------------- */

/* A read-only mapping of a whole file (or an empty one). */
typedef struct seer_map {
    const uint8_t *data;
    size_t size;
    int mapped; /* munmap vs nothing */
} seer_map;

seer_status seer_map_open(const char *path, seer_map *out, seer_err *err);
void seer_map_close(seer_map *m);

/* Reads a whole file into a malloc'd, NUL-terminated buffer. */
seer_status seer_read_file(const char *path, char **out, size_t *len, seer_err *err);
/* Writes len bytes atomically: to "<path>.tmp.<pid>" then rename(2). */
seer_status seer_write_file_atomic(const char *path, const void *data, size_t len, seer_err *err);

/* Atomic writer for large outputs produced piecewise. */
typedef struct seer_awriter {
    FILE *f;
    char *path;
    char *tmp;
    uint64_t written;
    int failed;
} seer_awriter;
seer_status seer_awriter_open(seer_awriter *w, const char *path, seer_err *err);
void seer_awriter_write(seer_awriter *w, const void *data, size_t len); /* sticky failure */
void seer_awriter_pad(seer_awriter *w, size_t alignment);              /* zero bytes to align */
seer_status seer_awriter_commit(seer_awriter *w, seer_err *err); /* fsync-free close + rename */
void seer_awriter_abort(seer_awriter *w);                        /* unlink temp */

int seer_path_is_dir(const char *path);
int seer_path_exists(const char *path);
/* dir + "/" + name into a malloc'd string (NULL on OOM). */
char *seer_path_join(const char *dir, const char *name);

/* ---- arenas ------------------------------------------------------------------------------ */

/* Bump allocator over one block sized up front: one free releases everything. */
typedef struct seer_arena {
    uint8_t *base;
    size_t size;
    size_t used;
} seer_arena;

seer_status seer_arena_init(seer_arena *a, size_t size, seer_err *err);
void seer_arena_free(seer_arena *a);
/* 64-byte aligned; NULL when the arena is full (size checked for overflow). */
void *seer_arena_alloc(seer_arena *a, size_t size);
/* n * elem bytes, zeroed; NULL on overflow or exhaustion. */
void *seer_arena_calloc(seer_arena *a, size_t n, size_t elem);

/* 64-byte aligned heap allocation; free with free(). NULL on overflow. */
void *seer_alloc_aligned(size_t n, size_t elem);

/* ---- memory budget ----------------------------------------------------------------------- */

/* The most memory one allocation sized from input (a KV cache, a model's weights, a tokenizer's
 * tables) may take: $SEER_MEM_BUDGET in bytes (suffix K, M, G or T for binary units), else 3/4 of
 * physical RAM. Loaders refuse larger declared sizes with a message instead of trying. */
size_t seer_mem_budget(void);
/* SEER_OK when `bytes` fits the budget; otherwise SEER_ERR_NOMEM naming `what` and both sizes,
 * e.g. "context: KV cache for 4194304 positions needs 64.0 GiB, more than the memory budget
 * (11.6 GiB; set SEER_MEM_BUDGET to change it)". */
seer_status seer_mem_check(size_t bytes, const char *what, seer_err *err);

/* ---- misc -------------------------------------------------------------------------------- */

double seer_time_sec(void); /* monotonic */
/* Process policy for programs (the CLI, a server, benchmarks), never called by the library:
 * keeps large freed blocks in the heap instead of returning them to the kernel, so buffers
 * made per request (trace results, scratch) are reused without fresh page faults. */
void seer_malloc_tune(void);
int seer_n_cores(void);

/* Deterministic PRNG (xoshiro256**), seeded by splitmix64. */
typedef struct seer_rng {
    uint64_t s[4];
} seer_rng;
void seer_rng_seed(seer_rng *r, uint64_t seed);
uint64_t seer_rng_u64(seer_rng *r);
float seer_rng_uniform(seer_rng *r); /* [0, 1) */
float seer_rng_normal(seer_rng *r);  /* standard normal (Box-Muller, no cached state) */

#ifdef __cplusplus
}
#endif
#endif
