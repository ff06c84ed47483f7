/* safetensors reader and writer (Hugging Face's tensor file), and sharded sets.
 *
 * Layout: u64 little-endian header length N, N bytes of JSON {"name": {"dtype": "F32",
 * "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {"k": "v"}}, then the data
 * (offsets relative to the end of the header). The reader maps the file, validates the whole
 * header (dtypes, shape products against offsets, offsets inside the data, no overlaps, no
 * duplicate names) and hands out views into the mapping.
 *
 * A seer_st_set is several files seen as one (a Hugging Face folder with
 * model.safetensors.index.json shards, or a single model.safetensors). */
#ifndef SEER_SAFETENSORS_H
#define SEER_SAFETENSORS_H

#include "seer/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SEER_ST_MAX_HEADER (100u << 20) /* bytes of JSON header accepted */

typedef struct seer_st seer_st;

seer_status seer_st_open_file(const char *path, seer_st **out, seer_err *err);
seer_status seer_st_open_buffer(const void *data, size_t size, seer_st **out, seer_err *err);
/* (open_buffer borrows data: keep it alive and unchanged until seer_st_free. Views may be
 * unaligned: a tensor is aligned to its element size only when the header length is a multiple
 * of 8, as seer and Hugging Face pad it, and the data bytes before the tensor keep that.) */
void seer_st_free(seer_st *s);

int64_t seer_st_n_tensors(const seer_st *s);
const seer_tensor *seer_st_tensor(const seer_st *s, int64_t i); /* in file order of offsets */
const seer_tensor *seer_st_find(const seer_st *s, const char *name);
/* __metadata__ string values; NULL when absent. */
const char *seer_st_metadata(const seer_st *s, const char *key);
int64_t seer_st_n_metadata(const seer_st *s);
const char *seer_st_metadata_key(const seer_st *s, int64_t i);

/* safetensors dtype names: "F32", "F16", "BF16", "F64", "I8", "I16", "I32", "I64", "U8", "BOOL". */
const char *seer_st_dtype_name(seer_dtype t); /* NULL for types safetensors cannot hold (q8_0...) */

/* ---- writer ---- */
typedef struct seer_st_writer seer_st_writer;
seer_st_writer *seer_st_writer_init(void);
void seer_st_writer_free(seer_st_writer *w);
void seer_st_writer_set_metadata(seer_st_writer *w, const char *key, const char *value);
/* data borrowed until write; shape outermost first; n_dims 0 is a scalar. */
void seer_st_writer_add(seer_st_writer *w, const char *name, seer_dtype type, int n_dims, const int64_t *shape,
                        const void *data);
/* (Header: __metadata__ first, then tensors in insertion order, padded with spaces to a multiple
 * of 8; data follows contiguously in insertion order. Problems met by add/set_metadata, which
 * return nothing (bad type or shape, out of memory), and duplicate names are reported here.
 * Setting a metadata key twice keeps its place and replaces the value.) */
seer_status seer_st_writer_write(seer_st_writer *w, const char *path, seer_err *err); /* atomic */
seer_status seer_st_writer_write_buffer(seer_st_writer *w, void **out, size_t *size, seer_err *err);

/* ---- sets of files ---- */
typedef struct seer_st_set seer_st_set;
/* path: a .safetensors file, a model.safetensors.index.json, or a folder holding either. */
seer_status seer_st_set_open(const char *path, seer_st_set **out, seer_err *err);
void seer_st_set_free(seer_st_set *s);
int64_t seer_st_set_n_tensors(const seer_st_set *s);
const seer_tensor *seer_st_set_tensor(const seer_st_set *s, int64_t i);
const seer_tensor *seer_st_set_find(const seer_st_set *s, const char *name);
/* The files behind a set (shards in name order), e.g. to read each one's __metadata__. */
int64_t seer_st_set_n_files(const seer_st_set *s);
const seer_st *seer_st_set_file(const seer_st_set *s, int64_t i);
const char *seer_st_set_file_path(const seer_st_set *s, int64_t i);

#ifdef __cplusplus
}
#endif
#endif
