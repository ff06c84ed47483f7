/* safetensors reader: maps a file (or borrows a caller's buffer), validates the whole JSON
 * header up front (dtypes, shapes against offsets, bounds, overlaps, duplicate names) and hands
 * out tensor views that point into the mapped bytes, so nothing is copied. */
#include "seer/safetensors.h"

#include <assert.h>
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct seer_st {
    seer_map map;          /* the mapped file; zeroed when reading a caller's buffer */
    int64_t n_tensors;
    seer_tensor *tensors;  /* sorted by data offset */
    seer_tensor **by_name; /* the same tensors sorted by name, for find */
    int64_t n_meta;
    const char **meta_keys; /* header order */
    const char **meta_values;
    char *strings; /* one block holding every name, key and value */
};

static const char *const st_dtype_names[] = {
    [SEER_DTYPE_F32] = "F32", [SEER_DTYPE_F16] = "F16", [SEER_DTYPE_BF16] = "BF16",
    [SEER_DTYPE_Q8_0] = NULL, [SEER_DTYPE_Q4_0] = NULL, [SEER_DTYPE_F64] = "F64",
    [SEER_DTYPE_I8] = "I8",   [SEER_DTYPE_I16] = "I16", [SEER_DTYPE_I32] = "I32",
    [SEER_DTYPE_I64] = "I64", [SEER_DTYPE_U8] = "U8",   [SEER_DTYPE_BOOL] = "BOOL",
};
static_assert(SEER_DTYPE_COUNT == sizeof(st_dtype_names) / sizeof(st_dtype_names[0]),
              "st_dtype_names must cover every seer_dtype");

/* Valid safetensors dtypes seer has no seer_dtype for: named so a file using one gets
 * "unsupported" rather than "malformed". */
static const char *const st_foreign_dtypes[] = {
    "U16", "U32", "U64", "C64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2",
};

const char *seer_st_dtype_name(seer_dtype t) {
    return (unsigned)t < SEER_DTYPE_COUNT ? st_dtype_names[t] : NULL;
}

/* One tensor while parsing: its view plus the offsets and header position used for sorting. */
typedef struct st_slot {
    seer_tensor t;
    uint64_t begin, end;
    int64_t pos;
} st_slot;

static int st_slot_by_offset(const void *a, const void *b) {
    const st_slot *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

static int st_tensor_by_name(const void *a, const void *b) {
    const seer_tensor *x = *(seer_tensor *const *)a, *y = *(seer_tensor *const *)b;
    return strcmp(x->name, y->name);
}

static int st_str_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* A JSON number that is a non-negative integer a double holds exactly (cJSON stores numbers as
 * doubles, so anything from 2^53 up may already have been rounded). `field` names it in
 * messages ("shape[2]"). */
static seer_status st_json_uint(const cJSON *v, const char *what, const char *name, const char *field,
                                uint64_t *out, seer_err *err) {
    if (!cJSON_IsNumber(v))
        return seer_err_set(err, SEER_ERR_FORMAT, "%s: tensor '%.200s': %s is not a number", what, name, field);
    double d = v->valuedouble;
    if (d < 0)
        return seer_err_set(err, SEER_ERR_FORMAT, "%s: tensor '%.200s': %s is %g, must be >= 0", what, name, field, d);
    if (!isfinite(d) || floor(d) != d)
        return seer_err_set(err, SEER_ERR_FORMAT, "%s: tensor '%.200s': %s is %g, not an integer", what, name, field,
                            d);
    if (d >= 9007199254740992.0)
        return seer_err_set(err, SEER_ERR_FORMAT, "%s: tensor '%.200s': %s is %g, too large (limit 2^53)", what, name,
                            field, d);
    *out = (uint64_t)d;
    return SEER_OK;
}

static seer_status st_parse_dtype(const cJSON *v, const char *what, const char *name, seer_dtype *out,
                                  seer_err *err) {
    if (!cJSON_IsString(v))
        return seer_err_set(err, SEER_ERR_FORMAT, "%s: tensor '%.200s': dtype is not a string", what, name);
    const char *s = v->valuestring;
    for (int i = 0; i < SEER_DTYPE_COUNT; i++) {
        if (st_dtype_names[i] && strcmp(s, st_dtype_names[i]) == 0) {
            *out = (seer_dtype)i;
            return SEER_OK;
        }
    }
    for (size_t i = 0; i < sizeof(st_foreign_dtypes) / sizeof(st_foreign_dtypes[0]); i++) {
        if (strcmp(s, st_foreign_dtypes[i]) == 0)
            return seer_err_set(err, SEER_ERR_UNSUPPORTED,
                                "%s: tensor '%.200s': dtype %s is not supported by seer "
                                "(F32, F16, BF16, F64, I8, I16, I32, I64, U8, BOOL are)",
                                what, name, s);
    }
    return seer_err_set(err, SEER_ERR_UNSUPPORTED, "%s: tensor '%.200s': unknown dtype '%.40s'", what, name, s);
}

/* Fills slot from one header entry {"dtype", "shape", "data_offsets"}; dsize is the number of
 * data bytes after the header. */
static seer_status st_parse_entry(const cJSON *e, const char *what, const char *name, size_t dsize, st_slot *slot,
                                  seer_err *err) {
    if (!cJSON_IsObject(e))
        return seer_err_set(err, SEER_ERR_FORMAT, "%s: tensor '%.200s': entry is not a JSON object", what, name);
    const cJSON *dtype = NULL, *shape = NULL, *offsets = NULL;
    for (const cJSON *f = e->child; f; f = f->next) {
        const cJSON **dst = strcmp(f->string, "dtype") == 0          ? &dtype
                            : strcmp(f->string, "shape") == 0        ? &shape
                            : strcmp(f->string, "data_offsets") == 0 ? &offsets
                                                                     : NULL;
        if (!dst)
            return seer_err_set(err, SEER_ERR_FORMAT, "%s: tensor '%.200s': unknown field '%.40s'", what, name,
                                f->string);
        if (*dst)
            return seer_err_set(err, SEER_ERR_FORMAT, "%s: tensor '%.200s': field '%s' given twice", what, name,
                                f->string);
        *dst = f;
    }
    if (!dtype) return seer_err_set(err, SEER_ERR_FORMAT, "%s: tensor '%.200s': missing \"dtype\"", what, name);
    if (!shape) return seer_err_set(err, SEER_ERR_FORMAT, "%s: tensor '%.200s': missing \"shape\"", what, name);
    if (!offsets)
        return seer_err_set(err, SEER_ERR_FORMAT, "%s: tensor '%.200s': missing \"data_offsets\"", what, name);

    seer_tensor *t = &slot->t;
    seer_status st = st_parse_dtype(dtype, what, name, &t->type, err);
    if (st) return st;

    if (!cJSON_IsArray(shape))
        return seer_err_set(err, SEER_ERR_FORMAT, "%s: tensor '%.200s': shape is not an array", what, name);
    int n_dims = cJSON_GetArraySize(shape);
    if (n_dims > SEER_MAX_DIMS)
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "%s: tensor '%.200s': shape has %d dims, at most %d supported",
                            what, name, n_dims, SEER_MAX_DIMS);
    t->n_dims = n_dims;
    size_t nelem = 1;
    int overflow = 0, i = 0;
    for (const cJSON *d = shape->child; d; d = d->next, i++) {
        char field[32];
        snprintf(field, sizeof(field), "shape[%d]", i);
        uint64_t v = 0;
        st = st_json_uint(d, what, name, field, &v, err);
        if (st) return st;
        t->shape[i] = (int64_t)v;
        if (seer_mul_size(nelem, (size_t)v, &nelem)) overflow = 1;
    }
    size_t elem = seer_dtype_block_bytes(t->type);
    char shp[160];
    seer_shape_str(t->shape, t->n_dims, shp, sizeof(shp));
    if (overflow || nelem > (size_t)INT64_MAX || seer_mul_size(nelem, elem, &t->nbytes))
        return seer_err_set(err, SEER_ERR_FORMAT, "%s: tensor '%.200s': shape %s is too large", what, name, shp);

    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2)
        return seer_err_set(err, SEER_ERR_FORMAT, "%s: tensor '%.200s': data_offsets is not an array [begin, end]",
                            what, name);
    st = st_json_uint(offsets->child, what, name, "data_offsets[0]", &slot->begin, err);
    if (st) return st;
    st = st_json_uint(offsets->child->next, what, name, "data_offsets[1]", &slot->end, err);
    if (st) return st;
    unsigned long long b = slot->begin, en = slot->end;
    if (b > en)
        return seer_err_set(err, SEER_ERR_FORMAT,
                            "%s: tensor '%.200s': data_offsets [%llu, %llu] reversed (begin > end)", what, name, b, en);
    if (en > dsize)
        return seer_err_set(err, SEER_ERR_FORMAT,
                            "%s: tensor '%.200s': data_offsets end %llu past end of data (%zu bytes)", what, name, en,
                            dsize);
    if (en - b != t->nbytes)
        return seer_err_set(err, SEER_ERR_FORMAT,
                            "%s: tensor '%.200s': data_offsets [%llu, %llu] hold %llu bytes but %s %s needs %zu", what,
                            name, b, en, en - b, st_dtype_names[t->type], shp, t->nbytes);
    return SEER_OK;
}

/* Counts the tensors and metadata entries of the header object and the bytes their strings
 * need, checking __metadata__ on the way. */
static seer_status st_count(const cJSON *root, const char *what, int64_t *n_tensors, int64_t *n_meta, size_t *bytes,
                            seer_err *err) {
    int seen_meta = 0;
    *n_tensors = *n_meta = 0;
    *bytes = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (strcmp(c->string, "__metadata__") != 0) {
            (*n_tensors)++;
            *bytes += strlen(c->string) + 1;
            continue;
        }
        if (seen_meta++) return seer_err_set(err, SEER_ERR_FORMAT, "%s: \"__metadata__\" given twice", what);
        if (!cJSON_IsObject(c))
            return seer_err_set(err, SEER_ERR_FORMAT, "%s: \"__metadata__\" is not a JSON object", what);
        for (const cJSON *m = c->child; m; m = m->next) {
            if (!cJSON_IsString(m))
                return seer_err_set(err, SEER_ERR_FORMAT, "%s: __metadata__ key '%.200s': value is not a string", what,
                                    m->string);
            (*n_meta)++;
            *bytes += strlen(m->string) + strlen(m->valuestring) + 2;
        }
    }
    return SEER_OK;
}

static char *st_copy(char **cursor, const char *s) {
    size_t n = strlen(s) + 1;
    char *d = *cursor;
    memcpy(d, s, n);
    *cursor += n;
    return d;
}

static seer_status st_nomem(const char *what, seer_err *err) {
    return seer_err_set(err, SEER_ERR_NOMEM, "%s: out of memory for the header", what);
}

/* The checks after every entry parsed alone: duplicate names, then overlapping data. */
static seer_status st_check_set(seer_st *s, const st_slot *slots, const char *what, seer_err *err) {
    for (int64_t i = 0; i < s->n_tensors; i++) s->by_name[i] = &s->tensors[i];
    qsort(s->by_name, (size_t)s->n_tensors, sizeof(*s->by_name), st_tensor_by_name);
    for (int64_t i = 1; i < s->n_tensors; i++) {
        if (strcmp(s->by_name[i - 1]->name, s->by_name[i]->name) == 0)
            return seer_err_set(err, SEER_ERR_FORMAT, "%s: duplicate tensor name '%.200s'", what, s->by_name[i]->name);
    }
    /* Sorted by begin: each non-empty tensor must start at or after the furthest end so far.
     * Empty tensors own no bytes, so they overlap nothing. */
    int64_t last = -1;
    for (int64_t i = 0; i < s->n_tensors; i++) {
        if (slots[i].begin == slots[i].end) continue;
        if (last >= 0 && slots[i].begin < slots[last].end)
            return seer_err_set(err, SEER_ERR_FORMAT,
                                "%s: tensor '%.200s': data_offsets [%llu, %llu] overlap tensor '%.200s' [%llu, %llu]",
                                what, slots[i].t.name, (unsigned long long)slots[i].begin,
                                (unsigned long long)slots[i].end, slots[last].t.name,
                                (unsigned long long)slots[last].begin, (unsigned long long)slots[last].end);
        if (last < 0 || slots[i].end > slots[last].end) last = i;
    }
    const char **keys = malloc((size_t)s->n_meta * sizeof(*keys) + 1);
    if (!keys) return st_nomem(what, err);
    memcpy(keys, s->meta_keys, (size_t)s->n_meta * sizeof(*keys));
    qsort(keys, (size_t)s->n_meta, sizeof(*keys), st_str_cmp);
    seer_status st = SEER_OK;
    for (int64_t i = 1; i < s->n_meta && !st; i++) {
        if (strcmp(keys[i - 1], keys[i]) == 0)
            st = seer_err_set(err, SEER_ERR_FORMAT, "%s: duplicate __metadata__ key '%.200s'", what, keys[i]);
    }
    free(keys);
    return st;
}

/* Parses the whole file image into s (zeroed by the caller); `what` names the source in
 * messages (the path, or "safetensors" for a buffer). */
static seer_status st_parse(seer_st *s, const uint8_t *data, size_t size, const char *what, seer_err *err) {
    if (size < 8)
        return seer_err_set(err, SEER_ERR_FORMAT, "%s: %zu bytes, too short for the 8-byte header length", what, size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | data[i];
    if (n > SEER_ST_MAX_HEADER)
        return seer_err_set(err, SEER_ERR_FORMAT,
                            "%s: header length %llu exceeds the %u-byte limit (not a safetensors file?)", what,
                            (unsigned long long)n, SEER_ST_MAX_HEADER);
    if (n > size - 8)
        return seer_err_set(err, SEER_ERR_FORMAT, "%s: header length %llu past end of file (%zu bytes)", what,
                            (unsigned long long)n, size);
    const char *hdr = (const char *)data + 8, *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)n, &end, 0);
    if (!root) {
        size_t at = end ? (size_t)(end - hdr) : 0;
        return seer_err_set(err, SEER_ERR_FORMAT, "%s: header is not valid JSON (error near byte %zu of %llu)", what,
                            at, (unsigned long long)n);
    }
    seer_status st = SEER_OK;
    st_slot *slots = NULL;
    /* Writers pad the header with spaces so the data is aligned; anything else after the
     * object means the length or the JSON is wrong. */
    for (const char *p = end; p < hdr + n; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            st = seer_err_set(err, SEER_ERR_FORMAT, "%s: header has bytes after the JSON object (at byte %zu of %llu)",
                              what, (size_t)(p - hdr), (unsigned long long)n);
            goto out_free_json;
        }
    }
    if (!cJSON_IsObject(root)) {
        st = seer_err_set(err, SEER_ERR_FORMAT, "%s: header is not a JSON object", what);
        goto out_free_json;
    }
    size_t bytes;
    st = st_count(root, what, &s->n_tensors, &s->n_meta, &bytes, err);
    if (st) goto out_free_json;

    /* The counts are bounded by the header length (each entry takes several bytes), so these
     * sizes cannot overflow; +1 keeps malloc(0) out of the picture. */
    size_t nt = (size_t)s->n_tensors, nm = (size_t)s->n_meta;
    slots = calloc(nt + 1, sizeof(*slots));
    s->tensors = calloc(nt + 1, sizeof(*s->tensors));
    s->by_name = calloc(nt + 1, sizeof(*s->by_name));
    s->meta_keys = calloc(nm + 1, sizeof(*s->meta_keys));
    s->meta_values = calloc(nm + 1, sizeof(*s->meta_values));
    s->strings = malloc(bytes + 1);
    if (!slots || !s->tensors || !s->by_name || !s->meta_keys || !s->meta_values || !s->strings) {
        st = st_nomem(what, err);
        goto out_free_slots;
    }

    const uint8_t *dbase = data + 8 + n;
    size_t dsize = size - 8 - (size_t)n;
    char *cursor = s->strings;
    int64_t k = 0, m = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (strcmp(c->string, "__metadata__") == 0) {
            for (const cJSON *e = c->child; e; e = e->next, m++) {
                s->meta_keys[m] = st_copy(&cursor, e->string);
                s->meta_values[m] = st_copy(&cursor, e->valuestring);
            }
            continue;
        }
        st = st_parse_entry(c, what, c->string, dsize, &slots[k], err);
        if (st) goto out_free_slots;
        slots[k].t.name = st_copy(&cursor, c->string);
        /* Views are read-only in practice; seer_tensor's data is not const because the same
         * struct describes buffers seer computes into. */
        slots[k].t.data = (void *)(uintptr_t)(dbase + slots[k].begin);
        slots[k].pos = k;
        k++;
    }
    qsort(slots, nt, sizeof(*slots), st_slot_by_offset);
    for (size_t i = 0; i < nt; i++) s->tensors[i] = slots[i].t;
    st = st_check_set(s, slots, what, err);

out_free_slots:
    free(slots);
out_free_json:
    cJSON_Delete(root);
    return st;
}

void seer_st_free(seer_st *s) {
    if (!s) return;
    seer_map_close(&s->map);
    free(s->tensors);
    free(s->by_name);
    free(s->meta_keys);
    free(s->meta_values);
    free(s->strings);
    free(s);
}

/* Takes ownership of map (when given) whatever happens. */
static seer_status st_open(const uint8_t *data, size_t size, seer_map *map, const char *what, seer_st **out,
                           seer_err *err) {
    seer_st *s = calloc(1, sizeof(*s));
    if (!s) {
        if (map) seer_map_close(map);
        return seer_err_set(err, SEER_ERR_NOMEM, "%s: out of memory", what);
    }
    if (map) s->map = *map;
    seer_status st = st_parse(s, data, size, what, err);
    if (st) {
        seer_st_free(s);
        return st;
    }
    *out = s;
    return SEER_OK;
}

seer_status seer_st_open_file(const char *path, seer_st **out, seer_err *err) {
    *out = NULL;
    seer_map map;
    seer_status st = seer_map_open(path, &map, err);
    if (st) return st;
    return st_open(map.data, map.size, &map, path, out, err);
}

seer_status seer_st_open_buffer(const void *data, size_t size, seer_st **out, seer_err *err) {
    *out = NULL;
    if (!data && size) return seer_err_set(err, SEER_ERR_INVALID, "safetensors: NULL buffer of %zu bytes", size);
    return st_open(data ? data : "", size, NULL, "safetensors", out, err);
}

int64_t seer_st_n_tensors(const seer_st *s) { return s->n_tensors; }

const seer_tensor *seer_st_tensor(const seer_st *s, int64_t i) {
    return i >= 0 && i < s->n_tensors ? &s->tensors[i] : NULL;
}

const seer_tensor *seer_st_find(const seer_st *s, const char *name) {
    seer_tensor key = {.name = name}, *kp = &key;
    seer_tensor **hit = bsearch(&kp, s->by_name, (size_t)s->n_tensors, sizeof(*s->by_name), st_tensor_by_name);
    return hit ? *hit : NULL;
}

const char *seer_st_metadata(const seer_st *s, const char *key) {
    for (int64_t i = 0; i < s->n_meta; i++) {
        if (strcmp(s->meta_keys[i], key) == 0) return s->meta_values[i];
    }
    return NULL;
}

int64_t seer_st_n_metadata(const seer_st *s) { return s->n_meta; }

const char *seer_st_metadata_key(const seer_st *s, int64_t i) {
    return i >= 0 && i < s->n_meta ? s->meta_keys[i] : NULL;
}
