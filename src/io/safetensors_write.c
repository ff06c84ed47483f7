/* safetensors writer: collects metadata and tensors (data borrowed), then writes a compact JSON
 * header padded with spaces to a multiple of 8 and the data in insertion order, either
 * atomically to a file or into one malloc'd buffer. The output depends only on the inputs, so
 * re-writing a file seer wrote reproduces it byte for byte. */
#include "seer/safetensors.h"

#include <stdlib.h>
#include <string.h>

typedef struct st_witem {
    char *name;
    seer_dtype type;
    int n_dims;
    int64_t shape[SEER_MAX_DIMS];
    const void *data;
    size_t nbytes;
} st_witem;

struct seer_st_writer {
    st_witem *items;
    size_t n, cap;
    char **meta_keys, **meta_values; /* insertion order; setting a key again replaces its value */
    size_t n_meta, cap_meta;
    seer_err err; /* first problem add/set_metadata met (they return nothing); write reports it */
};

seer_st_writer *seer_st_writer_init(void) { return calloc(1, sizeof(seer_st_writer)); }

void seer_st_writer_free(seer_st_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) free(w->items[i].name);
    for (size_t i = 0; i < w->n_meta; i++) {
        free(w->meta_keys[i]);
        free(w->meta_values[i]);
    }
    free(w->items);
    free(w->meta_keys);
    free(w->meta_values);
    free(w);
}

/* Keeps only the first problem: later ones are often its consequences. */
#define ST_FAIL(w, status, ...)                                                                \
    do {                                                                                       \
        if ((w)->err.code == SEER_OK) seer_err_set(&(w)->err, (status), __VA_ARGS__);          \
    } while (0)

/* Grows *arr (of elem-byte items) to hold one more; 0 on success. */
static int st_grow(void **arr, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 16, bytes;
    if (seer_mul_size(ncap, elem, &bytes)) return -1;
    void *p = realloc(*arr, bytes);
    if (!p) return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

void seer_st_writer_set_metadata(seer_st_writer *w, const char *key, const char *value) {
    if (!w) return;
    SEER_ASSERT(key && value);
    for (size_t i = 0; i < w->n_meta; i++) {
        if (strcmp(w->meta_keys[i], key) != 0) continue;
        char *v = strdup(value);
        if (!v) {
            ST_FAIL(w, SEER_ERR_NOMEM, "safetensors writer: out of memory for metadata '%.200s'", key);
            return;
        }
        free(w->meta_values[i]);
        w->meta_values[i] = v;
        return;
    }
    size_t cap = w->cap_meta;
    if (st_grow((void **)&w->meta_keys, &cap, w->n_meta, sizeof(char *)) ||
        st_grow((void **)&w->meta_values, &w->cap_meta, w->n_meta, sizeof(char *))) {
        ST_FAIL(w, SEER_ERR_NOMEM, "safetensors writer: out of memory for metadata '%.200s'", key);
        return;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        ST_FAIL(w, SEER_ERR_NOMEM, "safetensors writer: out of memory for metadata '%.200s'", key);
        return;
    }
    w->meta_keys[w->n_meta] = k;
    w->meta_values[w->n_meta] = v;
    w->n_meta++;
}

void seer_st_writer_add(seer_st_writer *w, const char *name, seer_dtype type, int n_dims, const int64_t *shape,
                        const void *data) {
    if (!w) return;
    SEER_ASSERT(name && (n_dims <= 0 || shape));
    if (!seer_st_dtype_name(type)) {
        ST_FAIL(w, SEER_ERR_UNSUPPORTED, "safetensors writer: tensor '%.200s': type %s cannot be stored in safetensors",
                name, seer_dtype_name(type));
        return;
    }
    if (n_dims < 0 || n_dims > SEER_MAX_DIMS) {
        ST_FAIL(w, SEER_ERR_INVALID, "safetensors writer: tensor '%.200s': %d dims, expected 0 to %d", name, n_dims,
                SEER_MAX_DIMS);
        return;
    }
    if (strcmp(name, "__metadata__") == 0) {
        ST_FAIL(w, SEER_ERR_INVALID, "safetensors writer: '__metadata__' is reserved, not a tensor name");
        return;
    }
    st_witem it = {.type = type, .n_dims = n_dims, .data = data};
    size_t nelem = 1;
    for (int i = 0; i < n_dims; i++) {
        if (shape[i] < 0 || seer_mul_size(nelem, (size_t)shape[i], &nelem)) {
            ST_FAIL(w, SEER_ERR_INVALID, "safetensors writer: tensor '%.200s': bad shape (dim %d is %lld)", name, i,
                    (long long)shape[i]);
            return;
        }
        it.shape[i] = shape[i];
    }
    if (seer_mul_size(nelem, seer_dtype_block_bytes(type), &it.nbytes)) {
        ST_FAIL(w, SEER_ERR_INVALID, "safetensors writer: tensor '%.200s': size overflows", name);
        return;
    }
    if (!data && it.nbytes) {
        ST_FAIL(w, SEER_ERR_INVALID, "safetensors writer: tensor '%.200s': no data for %zu bytes", name, it.nbytes);
        return;
    }
    if (st_grow((void **)&w->items, &w->cap, w->n, sizeof(*w->items)) || !(it.name = strdup(name))) {
        ST_FAIL(w, SEER_ERR_NOMEM, "safetensors writer: out of memory adding tensor '%.200s'", name);
        return;
    }
    w->items[w->n++] = it;
}

/* ---- header text ---- */

typedef struct st_buf {
    char *p;
    size_t len, cap;
    int oom;
} st_buf;

static void buf_put(st_buf *b, const char *s, size_t n) {
    if (b->oom) return;
    size_t need;
    if (seer_add_size(b->len, n + 1, &need)) {
        b->oom = 1;
        return;
    }
    if (need > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < need) ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
        char *p = realloc(b->p, ncap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = ncap;
    }
    SEER_ASSERT(b->p); /* need >= 1, so the block above has allocated */
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void buf_puts(st_buf *b, const char *s) { buf_put(b, s, strlen(s)); }

static void buf_u64(st_buf *b, unsigned long long v) {
    char t[24];
    int n = snprintf(t, sizeof(t), "%llu", v);
    buf_put(b, t, (size_t)n);
}

/* A JSON string: quotes, backslashes and control bytes escaped; other bytes (UTF-8) as is. */
static void buf_json_str(st_buf *b, const char *s) {
    buf_put(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        buf_put(b, run, (size_t)(s - run));
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            esc[2] = 0;
        } else {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
        }
        buf_puts(b, esc);
        run = s + 1;
    }
    buf_put(b, run, (size_t)(s - run));
    buf_put(b, "\"", 1);
}

static int st_name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Builds the padded header into hdr and the data size; checks what add() could not check
 * alone (duplicate names, total sizes). */
static seer_status st_writer_header(const seer_st_writer *w, st_buf *hdr, size_t *data_bytes, seer_err *err) {
    if (!w) return seer_err_set(err, SEER_ERR_NOMEM, "safetensors writer: out of memory (no writer)");
    if (w->err.code != SEER_OK) {
        if (err) *err = w->err;
        return w->err.code;
    }
    char **names = malloc((w->n + 1) * sizeof(*names));
    if (!names) return seer_err_set(err, SEER_ERR_NOMEM, "safetensors writer: out of memory");
    for (size_t i = 0; i < w->n; i++) names[i] = w->items[i].name;
    qsort(names, w->n, sizeof(*names), st_name_cmp);
    for (size_t i = 1; i < w->n; i++) {
        if (strcmp(names[i - 1], names[i]) == 0) {
            seer_status st = seer_err_set(err, SEER_ERR_INVALID, "safetensors writer: tensor '%.200s' added twice",
                                          names[i]);
            free(names);
            return st;
        }
    }
    free(names);

    buf_puts(hdr, "{");
    if (w->n_meta) {
        buf_puts(hdr, "\"__metadata__\":{");
        for (size_t i = 0; i < w->n_meta; i++) {
            if (i) buf_puts(hdr, ",");
            buf_json_str(hdr, w->meta_keys[i]);
            buf_puts(hdr, ":");
            buf_json_str(hdr, w->meta_values[i]);
        }
        buf_puts(hdr, "}");
    }
    size_t off = 0;
    for (size_t i = 0; i < w->n; i++) {
        const st_witem *it = &w->items[i];
        if (i || w->n_meta) buf_puts(hdr, ",");
        buf_json_str(hdr, it->name);
        buf_puts(hdr, ":{\"dtype\":\"");
        buf_puts(hdr, seer_st_dtype_name(it->type));
        buf_puts(hdr, "\",\"shape\":[");
        for (int d = 0; d < it->n_dims; d++) {
            if (d) buf_puts(hdr, ",");
            buf_u64(hdr, (unsigned long long)it->shape[d]);
        }
        buf_puts(hdr, "],\"data_offsets\":[");
        buf_u64(hdr, off);
        buf_puts(hdr, ",");
        if (seer_add_size(off, it->nbytes, &off))
            return seer_err_set(err, SEER_ERR_RANGE, "safetensors writer: total data size overflows at tensor '%.200s'",
                                it->name);
        buf_u64(hdr, off);
        buf_puts(hdr, "]}");
    }
    buf_puts(hdr, "}");
    /* Spaces up to a multiple of 8 so the data, and every tensor whose predecessors have
     * sizes that are multiples of 8, is aligned in a mapping. */
    while (!hdr->oom && hdr->len % 8) buf_puts(hdr, " ");
    if (hdr->oom) return seer_err_set(err, SEER_ERR_NOMEM, "safetensors writer: out of memory for the header");
    if (hdr->len > SEER_ST_MAX_HEADER)
        return seer_err_set(err, SEER_ERR_RANGE, "safetensors writer: header of %zu bytes exceeds the %u-byte limit",
                            hdr->len, SEER_ST_MAX_HEADER);
    *data_bytes = off;
    return SEER_OK;
}

static void st_le64(uint8_t out[8], uint64_t v) {
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)(v >> (8 * i));
}

seer_status seer_st_writer_write(seer_st_writer *w, const char *path, seer_err *err) {
    st_buf hdr = {0};
    size_t data_bytes = 0;
    seer_status st = st_writer_header(w, &hdr, &data_bytes, err);
    if (st) goto out_free_header;
    seer_awriter aw;
    st = seer_awriter_open(&aw, path, err);
    if (st) goto out_free_header;
    uint8_t len[8];
    st_le64(len, hdr.len);
    seer_awriter_write(&aw, len, 8);
    seer_awriter_write(&aw, hdr.p, hdr.len);
    for (size_t i = 0; i < w->n; i++) seer_awriter_write(&aw, w->items[i].data, w->items[i].nbytes);
    st = seer_awriter_commit(&aw, err);
out_free_header:
    free(hdr.p);
    return st;
}

seer_status seer_st_writer_write_buffer(seer_st_writer *w, void **out, size_t *size, seer_err *err) {
    *out = NULL;
    *size = 0;
    st_buf hdr = {0};
    size_t data_bytes = 0, total;
    seer_status st = st_writer_header(w, &hdr, &data_bytes, err);
    if (st) goto out_free_header;
    if (seer_add_size(8 + hdr.len, data_bytes, &total)) {
        st = seer_err_set(err, SEER_ERR_RANGE, "safetensors writer: file size overflows");
        goto out_free_header;
    }
    uint8_t *buf = malloc(total);
    if (!buf) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "safetensors writer: out of memory for %zu bytes", total);
        goto out_free_header;
    }
    st_le64(buf, hdr.len);
    memcpy(buf + 8, hdr.p, hdr.len);
    size_t k = 8 + hdr.len;
    for (size_t i = 0; i < w->n; i++) {
        if (w->items[i].nbytes) memcpy(buf + k, w->items[i].data, w->items[i].nbytes);
        k += w->items[i].nbytes;
    }
    *out = buf;
    *size = total;
out_free_header:
    free(hdr.p);
    return st;
}
