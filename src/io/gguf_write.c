/* GGUF v3 writer: collects key/values (kept as their encoded bytes, in insertion order) and
 * borrowed tensors, then lays out header, aligned data section and zero padding, writing to a
 * file atomically or to a buffer. Errors from the setters are sticky and reported by the write. */
#include "seer/gguf.h"

#include <stdlib.h>
#include <string.h>

/* Array setters copy host memory as the file's little-endian elements. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the gguf writer assumes a little-endian host");

typedef struct wkv {
    char *key;
    seer_gguf_type type;
    uint8_t *raw; /* the value as encoded after the type tag */
    size_t raw_len;
} wkv;

typedef struct wtensor {
    char *name;
    seer_dtype type;
    int n_dims;
    int64_t shape[SEER_GGUF_MAX_DIMS]; /* outermost first */
    const void *data;                  /* borrowed */
    size_t nbytes;
    uint64_t offset; /* in the data section, set by the write */
} wtensor;

struct seer_gguf_writer {
    wkv *kvs;
    size_t n_kv, cap_kv;
    wtensor *tensors;
    size_t n_tensors, cap_tensors;
    seer_err err; /* first failure, err.code != SEER_OK once failed */
};

__attribute__((format(printf, 3, 4))) static void fail(seer_gguf_writer *w, seer_status code, const char *fmt, ...) {
    if (w->err.code != SEER_OK) return; /* keep the first failure: later ones often follow from it */
    va_list ap;
    va_start(ap, fmt);
    w->err.code = code;
    vsnprintf(w->err.msg, sizeof(w->err.msg), fmt, ap);
    va_end(ap);
}

/* Grows *arr (of *cap elements of elem bytes) to hold one more; 0 on success. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 16, bytes;
    if (seer_mul_size(nc, elem, &bytes)) return 1;
    void *p = realloc(*arr, bytes);
    if (!p) return 1;
    *arr = p;
    *cap = nc;
    return 0;
}

seer_gguf_writer *seer_gguf_writer_init(void) { return calloc(1, sizeof(seer_gguf_writer)); }

void seer_gguf_writer_free(seer_gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kvs[i].key);
        free(w->kvs[i].raw);
    }
    for (size_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->kvs);
    free(w->tensors);
    free(w);
}

/* Sets key to an encoded value; takes ownership of raw (freed on failure). Replacing a key
 * keeps its place, so overriding one value of a copied file leaves the order alone. */
static void set_raw(seer_gguf_writer *w, const char *key, seer_gguf_type type, uint8_t *raw, size_t raw_len) {
    if (!w) {
        free(raw);
        return;
    }
    if (!raw) {
        fail(w, SEER_ERR_NOMEM, "gguf writer: key '%s': out of memory", key ? key : "(null)");
        return;
    }
    if (!key || !*key || strlen(key) > SEER_GGUF_MAX_STRING) {
        fail(w, SEER_ERR_INVALID, "gguf writer: key %s", !key ? "is NULL" : !*key ? "is empty" : "is too long");
        free(raw);
        return;
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kvs[i].key, key) == 0) {
            free(w->kvs[i].raw);
            w->kvs[i].type = type;
            w->kvs[i].raw = raw;
            w->kvs[i].raw_len = raw_len;
            return;
        }
    }
    char *k = strdup(key);
    if (!k || grow((void **)&w->kvs, &w->cap_kv, w->n_kv, sizeof(*w->kvs))) {
        fail(w, SEER_ERR_NOMEM, "gguf writer: key '%s': out of memory", key);
        free(k);
        free(raw);
        return;
    }
    w->kvs[w->n_kv++] = (wkv){k, type, raw, raw_len};
}

static void put_le(uint8_t *p, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void set_scalar(seer_gguf_writer *w, const char *key, seer_gguf_type type, uint64_t bits) {
    size_t n = seer_gguf_type_size(type);
    uint8_t *raw = malloc(n);
    if (raw) put_le(raw, bits, n);
    set_raw(w, key, type, raw, n);
}

void seer_gguf_writer_set_u32(seer_gguf_writer *w, const char *key, uint32_t v) {
    set_scalar(w, key, SEER_GGUF_TYPE_UINT32, v);
}

void seer_gguf_writer_set_i32(seer_gguf_writer *w, const char *key, int32_t v) {
    set_scalar(w, key, SEER_GGUF_TYPE_INT32, (uint32_t)v);
}

void seer_gguf_writer_set_u64(seer_gguf_writer *w, const char *key, uint64_t v) {
    set_scalar(w, key, SEER_GGUF_TYPE_UINT64, v);
}

void seer_gguf_writer_set_f32(seer_gguf_writer *w, const char *key, float v) {
    uint32_t b;
    memcpy(&b, &v, 4);
    set_scalar(w, key, SEER_GGUF_TYPE_FLOAT32, b);
}

void seer_gguf_writer_set_u8(seer_gguf_writer *w, const char *key, uint8_t v) {
    set_scalar(w, key, SEER_GGUF_TYPE_UINT8, v);
}

void seer_gguf_writer_set_i8(seer_gguf_writer *w, const char *key, int8_t v) {
    set_scalar(w, key, SEER_GGUF_TYPE_INT8, (uint8_t)v);
}

void seer_gguf_writer_set_u16(seer_gguf_writer *w, const char *key, uint16_t v) {
    set_scalar(w, key, SEER_GGUF_TYPE_UINT16, v);
}

void seer_gguf_writer_set_i16(seer_gguf_writer *w, const char *key, int16_t v) {
    set_scalar(w, key, SEER_GGUF_TYPE_INT16, (uint16_t)v);
}

void seer_gguf_writer_set_i64(seer_gguf_writer *w, const char *key, int64_t v) {
    set_scalar(w, key, SEER_GGUF_TYPE_INT64, (uint64_t)v);
}

void seer_gguf_writer_set_f64(seer_gguf_writer *w, const char *key, double v) {
    uint64_t b;
    memcpy(&b, &v, 8);
    set_scalar(w, key, SEER_GGUF_TYPE_FLOAT64, b);
}

void seer_gguf_writer_set_bool(seer_gguf_writer *w, const char *key, int v) {
    set_scalar(w, key, SEER_GGUF_TYPE_BOOL, v != 0);
}

void seer_gguf_writer_set_str(seer_gguf_writer *w, const char *key, const char *v) {
    if (!w) return;
    if (!v) {
        fail(w, SEER_ERR_INVALID, "gguf writer: key '%s': NULL string", key ? key : "(null)");
        return;
    }
    size_t len = strlen(v);
    if (len > SEER_GGUF_MAX_STRING) {
        fail(w, SEER_ERR_RANGE, "gguf writer: key '%s': string of %zu bytes exceeds the limit of %d", key ? key : "(null)",
             len, SEER_GGUF_MAX_STRING);
        return;
    }
    uint8_t *raw = malloc(8 + len);
    if (raw) {
        put_le(raw, len, 8);
        memcpy(raw + 8, v, len); // NOLINT(bugprone-not-null-terminated-result): GGUF strings are length-prefixed
    }
    set_raw(w, key, SEER_GGUF_TYPE_STRING, raw, 8 + len);
}

void seer_gguf_writer_set_arr(seer_gguf_writer *w, const char *key, seer_gguf_type elem_type, const void *data,
                              uint64_t n) {
    if (!w) return;
    const char *k = key ? key : "(null)";
    size_t esz = seer_gguf_type_size(elem_type), bytes, total;
    if (esz == 0) {
        fail(w, SEER_ERR_INVALID, "gguf writer: key '%s': array element type %s is not a fixed-size type", k,
             seer_gguf_type_name(elem_type));
        return;
    }
    if (n > SEER_GGUF_MAX_ARRAY || seer_mul_size((size_t)n, esz, &bytes) || seer_add_size(bytes, 12, &total)) {
        fail(w, SEER_ERR_RANGE, "gguf writer: key '%s': array of %llu elements exceeds the limit of %d", k,
             (unsigned long long)n, SEER_GGUF_MAX_ARRAY);
        return;
    }
    if (n > 0 && !data) {
        fail(w, SEER_ERR_INVALID, "gguf writer: key '%s': NULL array data", k);
        return;
    }
    if (elem_type == SEER_GGUF_TYPE_BOOL) { /* the reader refuses anything else */
        for (uint64_t j = 0; j < n; j++) {
            if (((const uint8_t *)data)[j] > 1) {
                fail(w, SEER_ERR_INVALID, "gguf writer: key '%s': bool element %llu is %u (must be 0 or 1)", k,
                     (unsigned long long)j, ((const uint8_t *)data)[j]);
                return;
            }
        }
    }
    uint8_t *raw = malloc(total);
    if (raw) {
        put_le(raw, elem_type, 4);
        put_le(raw + 4, n, 8);
        if (bytes) memcpy(raw + 12, data, bytes);
    }
    set_raw(w, key, SEER_GGUF_TYPE_ARRAY, raw, total);
}

void seer_gguf_writer_set_arr_str(seer_gguf_writer *w, const char *key, const char *const *strs, const uint64_t *lens,
                                  uint64_t n) {
    if (!w) return;
    const char *k = key ? key : "(null)";
    if (n > SEER_GGUF_MAX_ARRAY) {
        fail(w, SEER_ERR_RANGE, "gguf writer: key '%s': array of %llu strings exceeds the limit of %d", k,
             (unsigned long long)n, SEER_GGUF_MAX_ARRAY);
        return;
    }
    if (n > 0 && !strs) {
        fail(w, SEER_ERR_INVALID, "gguf writer: key '%s': NULL string array", k);
        return;
    }
    size_t total = 12;
    for (uint64_t j = 0; j < n; j++) {
        uint64_t len = lens ? lens[j] : strs[j] ? strlen(strs[j]) : 0;
        if (!strs[j] && len > 0) {
            fail(w, SEER_ERR_INVALID, "gguf writer: key '%s': string %llu is NULL", k, (unsigned long long)j);
            return;
        }
        if (len > SEER_GGUF_MAX_STRING || seer_add_size(total, 8 + (size_t)len, &total)) {
            fail(w, SEER_ERR_RANGE, "gguf writer: key '%s': string %llu of %llu bytes exceeds the limit of %d", k,
                 (unsigned long long)j, (unsigned long long)len, SEER_GGUF_MAX_STRING);
            return;
        }
    }
    uint8_t *raw = malloc(total);
    if (raw) {
        put_le(raw, SEER_GGUF_TYPE_STRING, 4);
        put_le(raw + 4, n, 8);
        uint8_t *p = raw + 12;
        for (uint64_t j = 0; j < n; j++) {
            size_t len = lens ? (size_t)lens[j] : strs[j] ? strlen(strs[j]) : 0;
            put_le(p, len, 8);
            if (len) memcpy(p + 8, strs[j], len);
            p += 8 + len;
        }
    }
    set_raw(w, key, SEER_GGUF_TYPE_ARRAY, raw, total);
}

void seer_gguf_writer_copy_kv(seer_gguf_writer *w, const seer_gguf *src) {
    if (!w || !src) return;
    for (int64_t i = 0; i < seer_gguf_n_kv(src); i++) {
        size_t len;
        const void *raw = seer_gguf_kv_raw(src, i, &len);
        uint8_t *copy = malloc(len ? len : 1);
        if (copy) memcpy(copy, raw, len);
        set_raw(w, seer_gguf_key(src, i), seer_gguf_kv_type(src, i), copy, len);
    }
}

void seer_gguf_writer_add_tensor(seer_gguf_writer *w, const char *name, seer_dtype type, int n_dims,
                                 const int64_t *shape, const void *data) {
    if (!w) return;
    if (!name || !*name || strlen(name) >= SEER_NAME_MAX) {
        fail(w, SEER_ERR_INVALID, "gguf writer: tensor name %s", !name ? "is NULL" : !*name ? "is empty" : "is too long");
        return;
    }
    if (seer_gguf_dtype_to_ggml(type) == SEER_GGML_TYPE_NONE) {
        fail(w, SEER_ERR_UNSUPPORTED, "gguf writer: tensor '%s': type %s has no ggml equivalent", name,
             seer_dtype_name(type));
        return;
    }
    if (n_dims < 1 || n_dims > SEER_GGUF_MAX_DIMS) {
        fail(w, SEER_ERR_INVALID, "gguf writer: tensor '%s': %d dimensions (GGUF allows 1 to %d)", name, n_dims,
             SEER_GGUF_MAX_DIMS);
        return;
    }
    int64_t nelem = 1;
    for (int d = 0; d < n_dims; d++) {
        if (shape[d] <= 0 || __builtin_mul_overflow(nelem, shape[d], &nelem)) {
            fail(w, SEER_ERR_INVALID, "gguf writer: tensor '%s': bad dimension %d = %lld", name, d, (long long)shape[d]);
            return;
        }
    }
    /* Blocks run along the innermost (last) dimension. */
    size_t nbytes;
    seer_err e;
    uint64_t rows = (uint64_t)(nelem / shape[n_dims - 1]);
    if (rows > SIZE_MAX || seer_dtype_row_bytes(type, shape[n_dims - 1], &nbytes, &e) ||
        seer_mul_size(nbytes, (size_t)rows, &nbytes)) {
        fail(w, SEER_ERR_INVALID, "gguf writer: tensor '%s': shape does not fit type %s", name, seer_dtype_name(type));
        return;
    }
    if (!data) {
        fail(w, SEER_ERR_INVALID, "gguf writer: tensor '%s': NULL data", name);
        return;
    }
    for (size_t i = 0; i < w->n_tensors; i++) {
        if (strcmp(w->tensors[i].name, name) == 0) {
            fail(w, SEER_ERR_INVALID, "gguf writer: duplicate tensor '%s'", name);
            return;
        }
    }
    char *nm = strdup(name);
    if (!nm || grow((void **)&w->tensors, &w->cap_tensors, w->n_tensors, sizeof(*w->tensors))) {
        fail(w, SEER_ERR_NOMEM, "gguf writer: tensor '%s': out of memory", name);
        free(nm);
        return;
    }
    wtensor *t = &w->tensors[w->n_tensors++];
    *t = (wtensor){.name = nm, .type = type, .n_dims = n_dims, .data = data, .nbytes = nbytes};
    memcpy(t->shape, shape, (size_t)n_dims * sizeof(*shape));
}

/* ---- layout and output ---- */

/* Output goes to an atomic file writer, to a buffer, or nowhere (counting the size). */
typedef struct sink {
    seer_awriter *aw;
    uint8_t *buf;
    size_t pos;
    int overflow;
} sink;

static void emit(sink *s, const void *p, size_t n) {
    if (s->aw) seer_awriter_write(s->aw, p, n);
    else if (s->buf && n) memcpy(s->buf + s->pos, p, n);
    if (seer_add_size(s->pos, n, &s->pos)) s->overflow = 1;
}

static void emit_le(sink *s, uint64_t v, size_t n) {
    uint8_t b[8];
    put_le(b, v, n);
    emit(s, b, n);
}

static void emit_pad(sink *s, size_t alignment) {
    static const uint8_t zeros[64];
    size_t pad = (alignment - s->pos % alignment) % alignment;
    while (pad > 0) {
        size_t k = pad < sizeof(zeros) ? pad : sizeof(zeros);
        emit(s, zeros, k);
        pad -= k;
    }
}

static void emit_all(const seer_gguf_writer *w, sink *s, size_t alignment) {
    emit(s, "GGUF", 4);
    emit_le(s, 3, 4);
    emit_le(s, w->n_tensors, 8);
    emit_le(s, w->n_kv, 8);
    for (size_t i = 0; i < w->n_kv; i++) {
        const wkv *kv = &w->kvs[i];
        size_t klen = strlen(kv->key);
        emit_le(s, klen, 8);
        emit(s, kv->key, klen);
        emit_le(s, kv->type, 4);
        emit(s, kv->raw, kv->raw_len);
    }
    for (size_t i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        size_t nlen = strlen(t->name);
        emit_le(s, nlen, 8);
        emit(s, t->name, nlen);
        emit_le(s, (uint64_t)t->n_dims, 4);
        for (int d = t->n_dims - 1; d >= 0; d--) emit_le(s, (uint64_t)t->shape[d], 8); /* ne[] innermost first */
        emit_le(s, seer_gguf_dtype_to_ggml(t->type), 4);
        emit_le(s, t->offset, 8);
    }
    emit_pad(s, alignment);
    for (size_t i = 0; i < w->n_tensors; i++) {
        emit(s, w->tensors[i].data, w->tensors[i].nbytes);
        emit_pad(s, alignment);
    }
}

/* Checks the sticky error and general.alignment, and assigns tensor offsets. */
static seer_status prepare(seer_gguf_writer *w, size_t *alignment, seer_err *err) {
    if (!w) return seer_err_set(err, SEER_ERR_INVALID, "gguf writer: NULL writer (out of memory at init?)");
    if (w->err.code != SEER_OK) return seer_err_set(err, w->err.code, "%s", w->err.msg);
    *alignment = SEER_GGUF_DEFAULT_ALIGNMENT;
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kvs[i].key, "general.alignment") != 0) continue;
        if (w->kvs[i].type != SEER_GGUF_TYPE_UINT32)
            return seer_err_set(err, SEER_ERR_INVALID, "gguf writer: general.alignment has type %s, expected u32",
                                seer_gguf_type_name(w->kvs[i].type));
        uint32_t a = (uint32_t)w->kvs[i].raw[0] | (uint32_t)w->kvs[i].raw[1] << 8 |
                     (uint32_t)w->kvs[i].raw[2] << 16 | (uint32_t)w->kvs[i].raw[3] << 24;
        if (a == 0 || (a & (a - 1)) != 0)
            return seer_err_set(err, SEER_ERR_INVALID, "gguf writer: general.alignment %u is not a non-zero power of two", a);
        *alignment = a;
    }
    size_t off = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        size_t padded;
        w->tensors[i].offset = off;
        if (seer_add_size(w->tensors[i].nbytes, *alignment - 1, &padded) || seer_add_size(off, padded & ~(*alignment - 1), &off))
            return seer_err_set(err, SEER_ERR_RANGE, "gguf writer: tensor '%s': data section overflows size_t",
                                w->tensors[i].name);
    }
    return SEER_OK;
}

seer_status seer_gguf_writer_write(seer_gguf_writer *w, const char *path, seer_err *err) {
    size_t alignment = SEER_GGUF_DEFAULT_ALIGNMENT;
    seer_status st = prepare(w, &alignment, err);
    if (st) return st;
    sink count = {0};
    emit_all(w, &count, alignment);
    if (count.overflow) return seer_err_set(err, SEER_ERR_RANGE, "gguf writer: %s: file size overflows size_t", path);
    seer_awriter aw;
    st = seer_awriter_open(&aw, path, err);
    if (st) return st;
    sink s = {.aw = &aw};
    emit_all(w, &s, alignment);
    return seer_awriter_commit(&aw, err);
}

seer_status seer_gguf_writer_write_buffer(seer_gguf_writer *w, void **out, size_t *size, seer_err *err) {
    *out = NULL;
    *size = 0;
    size_t alignment = SEER_GGUF_DEFAULT_ALIGNMENT;
    seer_status st = prepare(w, &alignment, err);
    if (st) return st;
    sink count = {0};
    emit_all(w, &count, alignment);
    if (count.overflow) return seer_err_set(err, SEER_ERR_RANGE, "gguf writer: buffer size overflows size_t");
    sink s = {.buf = malloc(count.pos)};
    if (!s.buf) return seer_err_set(err, SEER_ERR_NOMEM, "gguf writer: out of memory for a %zu-byte file", count.pos);
    emit_all(w, &s, alignment);
    *out = s.buf;
    *size = s.pos;
    return SEER_OK;
}
