/* GGUF v3 reader and writer (the llama.cpp ecosystem's model file).
 *
 * Reading: seer_gguf_open_file() maps the file and parses header, metadata and tensor infos;
 * tensor data stays in the mapping and is used in place. seer_gguf_open_buffer() parses bytes
 * the caller keeps alive (tests, fuzzers). Every count, length and offset is checked against
 * the bytes that remain and against overflow before use; limits below bound allocations.
 *
 * Writing: build a seer_gguf_writer with key/values and tensors (data pointers are borrowed
 * until the write), then seer_gguf_writer_write() writes atomically (temp file + rename).
 *
 * Tensor shapes in seer_tensor are outermost first (reversed from GGUF's ne[]): GGUF ne
 * [n_embd, n_vocab] for token_embd.weight becomes shape {n_vocab, n_embd}. */
#ifndef SEER_GGUF_H
#define SEER_GGUF_H

#include "seer/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Value types, numbered as in the GGUF specification. */
typedef enum seer_gguf_type {
    SEER_GGUF_TYPE_UINT8 = 0,
    SEER_GGUF_TYPE_INT8 = 1,
    SEER_GGUF_TYPE_UINT16 = 2,
    SEER_GGUF_TYPE_INT16 = 3,
    SEER_GGUF_TYPE_UINT32 = 4,
    SEER_GGUF_TYPE_INT32 = 5,
    SEER_GGUF_TYPE_FLOAT32 = 6,
    SEER_GGUF_TYPE_BOOL = 7,
    SEER_GGUF_TYPE_STRING = 8,
    SEER_GGUF_TYPE_ARRAY = 9,
    SEER_GGUF_TYPE_UINT64 = 10,
    SEER_GGUF_TYPE_INT64 = 11,
    SEER_GGUF_TYPE_FLOAT64 = 12,
    SEER_GGUF_TYPE_COUNT
} seer_gguf_type;

/* ggml tensor type ids used in GGUF tensor infos. */
enum {
    SEER_GGML_TYPE_F32 = 0,
    SEER_GGML_TYPE_F16 = 1,
    SEER_GGML_TYPE_Q4_0 = 2,
    SEER_GGML_TYPE_Q8_0 = 8,
    SEER_GGML_TYPE_I8 = 24,
    SEER_GGML_TYPE_I16 = 25,
    SEER_GGML_TYPE_I32 = 26,
    SEER_GGML_TYPE_I64 = 27,
    SEER_GGML_TYPE_F64 = 28,
    SEER_GGML_TYPE_BF16 = 30,
};

#define SEER_GGUF_DEFAULT_ALIGNMENT 32

/* Parser limits (a file beyond them is refused with a message, not allocated). */
#define SEER_GGUF_MAX_KV 1000000        /* metadata entries */
#define SEER_GGUF_MAX_TENSORS 1000000   /* tensor infos */
#define SEER_GGUF_MAX_ARRAY 100000000   /* elements in one array */
#define SEER_GGUF_MAX_STRING 100000000  /* bytes in one string (a chat template can be large) */

typedef struct seer_gguf seer_gguf;

/* A string inside the parsed file: not NUL-terminated in the file, so use len.
 * (The reader also keeps a NUL-terminated copy of keys and tensor names.) */
typedef struct seer_gguf_str {
    const char *data;
    uint64_t len;
} seer_gguf_str;

seer_status seer_gguf_open_file(const char *path, seer_gguf **out, seer_err *err);
seer_status seer_gguf_open_buffer(const void *data, size_t size, seer_gguf **out, seer_err *err);
void seer_gguf_free(seer_gguf *g);

uint32_t seer_gguf_version(const seer_gguf *g);
size_t seer_gguf_alignment(const seer_gguf *g);
size_t seer_gguf_data_offset(const seer_gguf *g); /* start of the tensor data section */

/* ---- metadata ---- */
int64_t seer_gguf_n_kv(const seer_gguf *g);
const char *seer_gguf_key(const seer_gguf *g, int64_t i);
seer_gguf_type seer_gguf_kv_type(const seer_gguf *g, int64_t i);
int64_t seer_gguf_find_key(const seer_gguf *g, const char *key); /* -1 if absent */

/* Typed getters by key. Return SEER_OK, or an error naming the key when it is absent or
 * has another type. Integer getters accept any integer type whose value fits. */
seer_status seer_gguf_get_u32(const seer_gguf *g, const char *key, uint32_t *out, seer_err *err);
seer_status seer_gguf_get_i64(const seer_gguf *g, const char *key, int64_t *out, seer_err *err);
seer_status seer_gguf_get_f32(const seer_gguf *g, const char *key, float *out, seer_err *err); /* f32 or f64 */
seer_status seer_gguf_get_bool(const seer_gguf *g, const char *key, int *out, seer_err *err);
seer_status seer_gguf_get_str(const seer_gguf *g, const char *key, seer_gguf_str *out, seer_err *err);

/* Arrays: element type and count; raw element access for fixed-size types (pointer into the
 * file, little-endian, possibly unaligned: memcpy out) and string access by index. */
seer_status seer_gguf_get_arr(const seer_gguf *g, const char *key, seer_gguf_type *elem_type,
                              uint64_t *n, seer_err *err);
const void *seer_gguf_arr_data(const seer_gguf *g, const char *key); /* NULL for string arrays */
seer_status seer_gguf_arr_str(const seer_gguf *g, const char *key, uint64_t i, seer_gguf_str *out, seer_err *err);

/* Generic access to entry i, for printing every key (seer info): scalar value as text,
 * arrays summarised as "[type x n]" plus the first few items. */
void seer_gguf_kv_format(const seer_gguf *g, int64_t i, char *buf, size_t cap);

/* ---- tensors ---- */
int64_t seer_gguf_n_tensors(const seer_gguf *g);
/* View of tensor i: name, seer dtype, shape outermost first, data pointer into the file. */
const seer_tensor *seer_gguf_tensor(const seer_gguf *g, int64_t i);
const seer_tensor *seer_gguf_find_tensor(const seer_gguf *g, const char *name); /* NULL if absent */

/* seer dtype <-> ggml type id (SEER_ERR_UNSUPPORTED for types seer does not run). */
seer_status seer_gguf_dtype_from_ggml(uint32_t ggml_type, seer_dtype *out, seer_err *err);
uint32_t seer_gguf_dtype_to_ggml(seer_dtype t);

/* ---- writer ---- */
typedef struct seer_gguf_writer seer_gguf_writer;

seer_gguf_writer *seer_gguf_writer_init(void); /* NULL on OOM */
void seer_gguf_writer_free(seer_gguf_writer *w);
/* Setters copy key and value; setting a key twice replaces it. Failures are sticky and
 * reported by seer_gguf_writer_write. */
void seer_gguf_writer_set_u32(seer_gguf_writer *w, const char *key, uint32_t v);
void seer_gguf_writer_set_i32(seer_gguf_writer *w, const char *key, int32_t v);
void seer_gguf_writer_set_u64(seer_gguf_writer *w, const char *key, uint64_t v);
void seer_gguf_writer_set_f32(seer_gguf_writer *w, const char *key, float v);
void seer_gguf_writer_set_bool(seer_gguf_writer *w, const char *key, int v);
void seer_gguf_writer_set_str(seer_gguf_writer *w, const char *key, const char *v);
/* Arrays of fixed-size elements (elem_type UINT8..FLOAT64 except STRING/ARRAY), copied. */
void seer_gguf_writer_set_arr(seer_gguf_writer *w, const char *key, seer_gguf_type elem_type,
                              const void *data, uint64_t n);
/* Arrays of strings; lens may be NULL for NUL-terminated strings. */
void seer_gguf_writer_set_arr_str(seer_gguf_writer *w, const char *key, const char *const *strs,
                                  const uint64_t *lens, uint64_t n);
/* Copies every key/value of a parsed file (used by convert). */
void seer_gguf_writer_copy_kv(seer_gguf_writer *w, const seer_gguf *src);
/* Tensor with shape outermost first; data (nbytes as the type and shape imply) is borrowed
 * until seer_gguf_writer_write returns. */
void seer_gguf_writer_add_tensor(seer_gguf_writer *w, const char *name, seer_dtype type, int n_dims,
                                 const int64_t *shape, const void *data);
/* Writes GGUF v3 with general.alignment (set it as a u32 key to change the default 32). */
seer_status seer_gguf_writer_write(seer_gguf_writer *w, const char *path, seer_err *err);
/* The same into a malloc'd buffer (tests). */
seer_status seer_gguf_writer_write_buffer(seer_gguf_writer *w, void **out, size_t *size, seer_err *err);

/* ---- additions: type tables and raw access ---- */

#define SEER_GGUF_MAX_DIMS 4            /* ne[] entries a GGUF tensor info may have */
#define SEER_GGML_TYPE_NONE UINT32_MAX  /* seer_gguf_dtype_to_ggml: no ggml type (u8, bool) */

const char *seer_gguf_type_name(seer_gguf_type t); /* "u32", "string", ...; "unknown" otherwise */
size_t seer_gguf_type_size(seer_gguf_type t);      /* bytes of a fixed-size value; 0 for string/array */
/* ggml's name for a type id ("F32", "Q4_K", ...); NULL for ids ggml does not define. */
const char *seer_gguf_ggml_type_name(uint32_t ggml_type);

/* Element type of entry i when it is an array (SEER_GGUF_TYPE_COUNT otherwise). */
seer_gguf_type seer_gguf_kv_arr_type(const seer_gguf *g, int64_t i);
/* Entry i's value as encoded in the file, after its type tag (for arrays: element type, count,
 * elements). Used to copy values verbatim; NULL when i is out of range. */
const void *seer_gguf_kv_raw(const seer_gguf *g, int64_t i, size_t *len);
/* Offset of tensor i's data from the start of the data section, as stored in the file. */
uint64_t seer_gguf_tensor_offset(const seer_gguf *g, int64_t i);

/* Setters for the remaining scalar types (same rules as the ones above). */
void seer_gguf_writer_set_u8(seer_gguf_writer *w, const char *key, uint8_t v);
void seer_gguf_writer_set_i8(seer_gguf_writer *w, const char *key, int8_t v);
void seer_gguf_writer_set_u16(seer_gguf_writer *w, const char *key, uint16_t v);
void seer_gguf_writer_set_i16(seer_gguf_writer *w, const char *key, int16_t v);
void seer_gguf_writer_set_i64(seer_gguf_writer *w, const char *key, int64_t v);
void seer_gguf_writer_set_f64(seer_gguf_writer *w, const char *key, double v);

#ifdef __cplusplus
}
#endif
#endif
