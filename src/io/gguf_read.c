/* GGUF reader: parses the header, metadata and tensor infos of a mapped file or a caller's
 * buffer, checking every count, length and offset against the bytes that remain before it is
 * used. Values and tensor data stay in place; only an index and NUL-terminated names are made. */
#include "seer/gguf.h"

#include <stdlib.h>
#include <string.h>

/* Smallest encodings, used to bound counts by the bytes that remain before allocating. A kv is
 * key length + a 1-byte key + type + a 1-byte value; a tensor info is name length + a 1-byte
 * name + n_dims + one ne + type + offset. */
#define MIN_KV_BYTES (8 + 1 + 4 + 1)
#define MIN_TENSOR_INFO_BYTES (8 + 1 + 4 + 8 + 4 + 8)
#define MSG_NAME_MAX 100 /* bytes of a key or name quoted in messages */

typedef struct gguf_kv {
    seer_gguf_type type;
    seer_gguf_type arr_type; /* element type of an array; SEER_GGUF_TYPE_COUNT otherwise */
    uint64_t n;              /* array elements */
    const uint8_t *raw;      /* encoded value after the type tag */
    size_t raw_len;
    const uint8_t *val;     /* scalar bytes, string bytes, or the first array element */
    uint64_t str_len;       /* string value length */
    const size_t *str_offs; /* string arrays: offset of element j's length field from val */
} gguf_kv;

typedef struct gguf_tinfo {
    seer_tensor view;
    uint32_t ggml_type;
    uint64_t offset;
    uint64_t ne[SEER_GGUF_MAX_DIMS];
} gguf_tinfo;

/* Names looked up by open addressing: slots hold item index + 1 (0 = empty). names[i] points
 * into the file while parsing and at the NUL-terminated copy afterwards. */
typedef struct name_table {
    seer_gguf_str *names;
    uint32_t *slots;
    size_t cap; /* power of two, at least twice the items */
} name_table;

struct seer_gguf {
    seer_map map; /* the file, when opened by path */
    const uint8_t *base;
    size_t size;
    uint32_t version;
    size_t alignment;
    size_t data_offset;
    int64_t n_kv, n_tensors;
    gguf_kv *kvs;
    gguf_tinfo *tensors;
    name_table kv_names, tensor_names;
    void *index; /* kvs, tensors and both name tables: one block sized from the header counts */
    void *names; /* string-array offsets and NUL-terminated names: one block sized after parsing */
};

/* ---- reading primitives ---- */

typedef struct cursor {
    const uint8_t *p;
    size_t size, pos;
    char ctx[160]; /* what is being parsed, for messages: "kv 3 'general.name'" */
    seer_err *err;
} cursor;

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static size_t remaining(const cursor *c) { return c->size - c->pos; }

static seer_status need(cursor *c, size_t n, const char *what) {
    if (n <= remaining(c)) return SEER_OK;
    return seer_err_set(c->err, SEER_ERR_FORMAT,
                        "gguf: %s: truncated: %s needs %zu bytes at offset %zu but the file ends at %zu",
                        c->ctx, what, n, c->pos, c->size);
}

static seer_status rd_u32(cursor *c, uint32_t *v, const char *what) {
    seer_status st = need(c, 4, what);
    if (st) return st;
    *v = le32(c->p + c->pos);
    c->pos += 4;
    return SEER_OK;
}

static seer_status rd_u64(cursor *c, uint64_t *v, const char *what) {
    seer_status st = need(c, 8, what);
    if (st) return st;
    *v = le64(c->p + c->pos);
    c->pos += 8;
    return SEER_OK;
}

/* A length-prefixed string: the length is checked against limit and the bytes left, and *s
 * points into the file. */
static seer_status rd_str(cursor *c, const char *what, uint64_t limit, const uint8_t **s, uint64_t *len) {
    uint64_t n = 0;
    seer_status st = rd_u64(c, &n, what);
    if (st) return st;
    if (n > limit)
        return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: %s: %s length %llu exceeds the limit of %llu bytes",
                            c->ctx, what, (unsigned long long)n, (unsigned long long)limit);
    if (n > remaining(c))
        return seer_err_set(c->err, SEER_ERR_FORMAT,
                            "gguf: %s: %s length %llu runs past the end of the file (%zu bytes remain)", c->ctx,
                            what, (unsigned long long)n, remaining(c));
    *s = c->p + c->pos;
    *len = n;
    c->pos += (size_t)n;
    return SEER_OK;
}

/* Keys and tensor names become C strings, so they must be non-empty and NUL-free. */
static seer_status rd_name(cursor *c, const char *what, uint64_t limit, seer_gguf_str *out) {
    const uint8_t *s = NULL;
    uint64_t n = 0;
    seer_status st = rd_str(c, what, limit, &s, &n);
    if (st) return st;
    if (n == 0) return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: %s: empty %s", c->ctx, what);
    const uint8_t *nul = memchr(s, 0, (size_t)n);
    if (nul)
        return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: %s: %s '%.*s' contains a NUL byte at position %zu",
                            c->ctx, what, (int)(nul - s), (const char *)s, (size_t)(nul - s));
    out->data = (const char *)s;
    out->len = n;
    return SEER_OK;
}

/* ---- name tables ---- */

static uint64_t hash_bytes(const char *s, uint64_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (uint64_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

/* The slot holding name, or the empty slot where it belongs. */
static size_t name_slot(const name_table *t, const char *s, uint64_t n) {
    size_t mask = t->cap - 1, k = (size_t)hash_bytes(s, n) & mask;
    for (;;) {
        uint32_t e = t->slots[k];
        if (e == 0) return k;
        const seer_gguf_str *o = &t->names[e - 1];
        if (o->len == n && memcmp(o->data, s, (size_t)n) == 0) return k;
        k = (k + 1) & mask;
    }
}

static int64_t name_find(const name_table *t, const char *s, uint64_t n) {
    if (t->cap == 0) return -1;
    uint32_t e = t->slots[name_slot(t, s, n)];
    return e ? (int64_t)e - 1 : -1;
}

/* Adds item i (whose name is already in names[i]); returns the earlier index on a duplicate. */
static int64_t name_insert(name_table *t, uint32_t i) {
    size_t k = name_slot(t, t->names[i].data, t->names[i].len);
    if (t->slots[k]) return (int64_t)t->slots[k] - 1;
    t->slots[k] = i + 1;
    return -1;
}

static size_t table_cap(int64_t n) {
    size_t cap = 16;
    while (cap < 2 * (size_t)n) cap *= 2;
    return cap;
}

/* Reserves n elements of elem bytes, 16-aligned, in a block being laid out; 0 on success. */
static int layout(size_t *total, size_t n, size_t elem, size_t *at) {
    size_t bytes, start;
    if (seer_add_size(*total, 15, &start)) return 1;
    start &= ~(size_t)15;
    if (seer_mul_size(n, elem, &bytes) || seer_add_size(start, bytes, total)) return 1;
    *at = start;
    return 0;
}

/* ---- metadata ---- */

static int is_pow2(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

static seer_status check_bools(cursor *c, const uint8_t *v, uint64_t n) {
    for (uint64_t j = 0; j < n; j++) {
        if (v[j] > 1)
            return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: %s: bool value %u at element %llu (must be 0 or 1)",
                                c->ctx, v[j], (unsigned long long)j);
    }
    return SEER_OK;
}

static seer_status parse_array(cursor *c, gguf_kv *kv, size_t *n_strs) {
    uint32_t et = 0;
    uint64_t n = 0;
    seer_status st = rd_u32(c, &et, "array element type");
    if (st) return st;
    if (et == SEER_GGUF_TYPE_ARRAY)
        return seer_err_set(c->err, SEER_ERR_UNSUPPORTED, "gguf: %s: nested arrays are not supported", c->ctx);
    if (et >= SEER_GGUF_TYPE_COUNT)
        return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: %s: unknown array element type %u", c->ctx, et);
    st = rd_u64(c, &n, "array count");
    if (st) return st;
    if (n > SEER_GGUF_MAX_ARRAY)
        return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: %s: array of %llu elements exceeds the limit of %d",
                            c->ctx, (unsigned long long)n, SEER_GGUF_MAX_ARRAY);
    size_t esz = et == SEER_GGUF_TYPE_STRING ? 8 : seer_gguf_type_size((seer_gguf_type)et);
    if (n > remaining(c) / esz)
        return seer_err_set(c->err, SEER_ERR_FORMAT,
                            "gguf: %s: array of %llu %s elements runs past the end of the file (%zu bytes remain)",
                            c->ctx, (unsigned long long)n, seer_gguf_type_name((seer_gguf_type)et), remaining(c));
    kv->arr_type = (seer_gguf_type)et;
    kv->n = n;
    kv->val = c->p + c->pos;
    if (et == SEER_GGUF_TYPE_STRING) {
        for (uint64_t j = 0; j < n; j++) {
            const uint8_t *s = NULL;
            uint64_t len = 0;
            st = rd_str(c, "array string", SEER_GGUF_MAX_STRING, &s, &len);
            if (st) return st;
        }
        *n_strs += (size_t)n;
        return SEER_OK;
    }
    if (et == SEER_GGUF_TYPE_BOOL) {
        st = check_bools(c, kv->val, n);
        if (st) return st;
    }
    c->pos += (size_t)n * esz;
    return SEER_OK;
}

static seer_status parse_kv(cursor *c, gguf_kv *kv, seer_gguf_str *key, size_t *n_strs) {
    seer_status st = rd_name(c, "key", SEER_GGUF_MAX_STRING, key);
    if (st) return st;
    size_t ctx_len = strlen(c->ctx);
    snprintf(c->ctx + ctx_len, sizeof(c->ctx) - ctx_len, " '%.*s'",
             (int)(key->len < MSG_NAME_MAX ? key->len : MSG_NAME_MAX), key->data);
    uint32_t type = 0;
    st = rd_u32(c, &type, "value type");
    if (st) return st;
    if (type >= SEER_GGUF_TYPE_COUNT)
        return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: %s: unknown value type %u", c->ctx, type);
    kv->type = (seer_gguf_type)type;
    kv->arr_type = SEER_GGUF_TYPE_COUNT;
    size_t start = c->pos;
    if (type == SEER_GGUF_TYPE_STRING) {
        st = rd_str(c, "string value", SEER_GGUF_MAX_STRING, &kv->val, &kv->str_len);
    } else if (type == SEER_GGUF_TYPE_ARRAY) {
        st = parse_array(c, kv, n_strs);
    } else {
        size_t sz = seer_gguf_type_size(kv->type);
        st = need(c, sz, "value");
        if (!st) {
            kv->val = c->p + c->pos;
            if (type == SEER_GGUF_TYPE_BOOL) st = check_bools(c, kv->val, 1);
            c->pos += sz;
        }
    }
    if (st) return st;
    kv->raw = c->p + start;
    kv->raw_len = c->pos - start;
    return SEER_OK;
}

/* ---- tensor infos ---- */

static seer_status parse_tensor_info(cursor *c, gguf_tinfo *t, seer_gguf_str *name) {
    seer_status st = rd_name(c, "tensor name", SEER_NAME_MAX - 1, name);
    if (st) return st;
    snprintf(c->ctx, sizeof(c->ctx), "tensor '%.*s'", (int)(name->len < MSG_NAME_MAX ? name->len : MSG_NAME_MAX),
             name->data);
    uint32_t n_dims = 0;
    st = rd_u32(c, &n_dims, "n_dims");
    if (st) return st;
    if (n_dims == 0 || n_dims > SEER_GGUF_MAX_DIMS)
        return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: %s: n_dims %u (GGUF allows 1 to %d)", c->ctx, n_dims,
                            SEER_GGUF_MAX_DIMS);
    int64_t nelem = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        st = rd_u64(c, &t->ne[d], "ne");
        if (st) return st;
        if (t->ne[d] == 0)
            return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: %s: ne[%u] is 0 (empty tensors are not supported)",
                                c->ctx, d);
        if (t->ne[d] > (uint64_t)INT64_MAX)
            return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: %s: ne[%u] = %lld is negative", c->ctx, d,
                                (long long)t->ne[d]);
        if (__builtin_mul_overflow(nelem, (int64_t)t->ne[d], &nelem))
            return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: %s: element count overflows at ne[%u] = %llu",
                                c->ctx, d, (unsigned long long)t->ne[d]);
    }
    st = rd_u32(c, &t->ggml_type, "ggml type");
    if (st) return st;
    seer_dtype dt = SEER_DTYPE_F32;
    if (seer_gguf_dtype_from_ggml(t->ggml_type, &dt, NULL) != SEER_OK) {
        const char *tn = seer_gguf_ggml_type_name(t->ggml_type);
        if (!tn) return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: %s: unknown ggml type %u", c->ctx, t->ggml_type);
        return seer_err_set(c->err, SEER_ERR_UNSUPPORTED,
                            "gguf: %s: ggml type %s is not supported (seer runs F32, F16, BF16, Q8_0, Q4_0, F64 "
                            "and I8..I64; re-quantize the model to one of these)",
                            c->ctx, tn);
    }
    size_t block = seer_dtype_block_elems(dt);
    if (t->ne[0] % block != 0)
        return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: %s: ne[0] = %llu is not a multiple of the %s block size %zu",
                            c->ctx, (unsigned long long)t->ne[0], seer_dtype_name(dt), block);
    size_t nbytes;
    uint64_t rows = (uint64_t)(nelem / (int64_t)t->ne[0]);
    if (rows > SIZE_MAX || seer_dtype_row_bytes(dt, (int64_t)t->ne[0], &nbytes, NULL) != SEER_OK ||
        seer_mul_size(nbytes, (size_t)rows, &nbytes))
        return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: %s: size of %lld %s elements overflows", c->ctx,
                            (long long)nelem, seer_dtype_name(dt));
    st = rd_u64(c, &t->offset, "offset");
    if (st) return st;
    t->view.type = dt;
    t->view.n_dims = (int)n_dims;
    for (uint32_t d = 0; d < n_dims; d++) t->view.shape[d] = (int64_t)t->ne[n_dims - 1 - d];
    t->view.nbytes = nbytes;
    return SEER_OK;
}

/* ---- the whole file ---- */

static seer_status parse_header(seer_gguf *g, cursor *c, uint64_t *n_tensors, uint64_t *n_kv) {
    snprintf(c->ctx, sizeof(c->ctx), "header");
    seer_status st = need(c, 4, "magic");
    if (st) return st;
    const uint8_t *m = c->p;
    if (memcmp(m, "GGUF", 4) != 0)
        return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: bad magic %02x %02x %02x %02x (expected 'GGUF'): not a GGUF file",
                            m[0], m[1], m[2], m[3]);
    c->pos = 4;
    st = rd_u32(c, &g->version, "version");
    if (st) return st;
    if (g->version == 1)
        return seer_err_set(c->err, SEER_ERR_UNSUPPORTED,
                            "gguf: version 1 is not supported (it predates 64-bit counts); re-convert the model "
                            "with a current llama.cpp");
    if (g->version != 2 && g->version != 3) {
        if ((g->version & 0xffff) == 0 && (g->version >> 16) != 0)
            return seer_err_set(c->err, SEER_ERR_UNSUPPORTED,
                                "gguf: unsupported version 0x%08x: this looks like a big-endian GGUF, seer reads "
                                "little-endian files only",
                                g->version);
        return seer_err_set(c->err, SEER_ERR_UNSUPPORTED, "gguf: unsupported version %u (seer reads versions 2 and 3)",
                            g->version);
    }
    st = rd_u64(c, n_tensors, "tensor count");
    if (!st) st = rd_u64(c, n_kv, "kv count");
    if (st) return st;
    /* Bound both counts before anything is allocated from them. */
    if (*n_tensors > SEER_GGUF_MAX_TENSORS)
        return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: %llu tensors exceeds the limit of %d",
                            (unsigned long long)*n_tensors, SEER_GGUF_MAX_TENSORS);
    if (*n_tensors > remaining(c) / MIN_TENSOR_INFO_BYTES)
        return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: %llu tensor infos cannot fit in the %zu bytes that remain",
                            (unsigned long long)*n_tensors, remaining(c));
    if (*n_kv > SEER_GGUF_MAX_KV)
        return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: %llu metadata entries exceeds the limit of %d",
                            (unsigned long long)*n_kv, SEER_GGUF_MAX_KV);
    if (*n_kv > remaining(c) / MIN_KV_BYTES)
        return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: %llu metadata entries cannot fit in the %zu bytes that remain",
                            (unsigned long long)*n_kv, remaining(c));
    return SEER_OK;
}

static seer_status alloc_index(seer_gguf *g, cursor *c) {
    size_t total = 0, at_kvs, at_tensors, at_kn, at_tn, at_ks, at_ts;
    size_t kcap = table_cap(g->n_kv), tcap = table_cap(g->n_tensors);
    if (layout(&total, (size_t)g->n_kv, sizeof(gguf_kv), &at_kvs) ||
        layout(&total, (size_t)g->n_tensors, sizeof(gguf_tinfo), &at_tensors) ||
        layout(&total, (size_t)g->n_kv, sizeof(seer_gguf_str), &at_kn) ||
        layout(&total, (size_t)g->n_tensors, sizeof(seer_gguf_str), &at_tn) ||
        layout(&total, kcap, sizeof(uint32_t), &at_ks) || layout(&total, tcap, sizeof(uint32_t), &at_ts))
        return seer_err_set(c->err, SEER_ERR_NOMEM, "gguf: index for %lld kvs and %lld tensors overflows size_t",
                            (long long)g->n_kv, (long long)g->n_tensors);
    uint8_t *b = calloc(1, total);
    if (!b) return seer_err_set(c->err, SEER_ERR_NOMEM, "gguf: out of memory allocating a %zu-byte index", total);
    g->index = b;
    g->kvs = (gguf_kv *)(b + at_kvs);
    g->tensors = (gguf_tinfo *)(b + at_tensors);
    g->kv_names = (name_table){(seer_gguf_str *)(b + at_kn), (uint32_t *)(b + at_ks), kcap};
    g->tensor_names = (name_table){(seer_gguf_str *)(b + at_tn), (uint32_t *)(b + at_ts), tcap};
    return SEER_OK;
}

static seer_status read_alignment(seer_gguf *g, cursor *c) {
    g->alignment = SEER_GGUF_DEFAULT_ALIGNMENT;
    static const char key[] = "general.alignment";
    int64_t i = name_find(&g->kv_names, key, sizeof(key) - 1);
    if (i < 0) return SEER_OK;
    const gguf_kv *kv = &g->kvs[i];
    if (kv->type != SEER_GGUF_TYPE_UINT32)
        return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: general.alignment has type %s, expected u32",
                            seer_gguf_type_name(kv->type));
    uint32_t a = le32(kv->val);
    if (!is_pow2(a))
        return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: general.alignment %u is not a non-zero power of two", a);
    g->alignment = a;
    return SEER_OK;
}

/* Data ranges sorted by offset, to find two tensors sharing bytes: a writer never makes them,
 * and a model whose weights alias each other would be changed by writing one through another
 * (the analysis tools patch weights in place). */
typedef struct tspan {
    uint64_t off;
    size_t nbytes;
    int64_t i;
} tspan;

static int tspan_cmp(const void *a, const void *b) {
    const tspan *x = a, *y = b;
    if (x->off != y->off) return x->off < y->off ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static seer_status check_tensor_overlap(const seer_gguf *g, cursor *c) {
    if (g->n_tensors < 2) return SEER_OK;
    /* n_tensors was bounded by the file size when the index was sized */
    tspan *s = malloc((size_t)g->n_tensors * sizeof(*s));
    if (!s) return seer_err_set(c->err, SEER_ERR_NOMEM, "gguf: out of memory checking %lld tensor ranges", (long long)g->n_tensors);
    for (int64_t i = 0; i < g->n_tensors; i++) s[i] = (tspan){g->tensors[i].offset, g->tensors[i].view.nbytes, i};
    qsort(s, (size_t)g->n_tensors, sizeof(*s), tspan_cmp);
    seer_status st = SEER_OK;
    for (int64_t k = 1; k < g->n_tensors; k++) {
        const tspan *a = &s[k - 1], *b = &s[k];
        /* both ranges lie inside the data section, so the end cannot overflow */
        if (b->off >= a->off + a->nbytes) continue;
        const seer_gguf_str *na = &g->tensor_names.names[a->i], *nb = &g->tensor_names.names[b->i];
        st = seer_err_set(c->err, SEER_ERR_FORMAT,
                          "gguf: tensor '%.*s' (offset %llu, %zu bytes) overlaps tensor '%.*s' (offset %llu, %zu bytes)",
                          (int)(nb->len < MSG_NAME_MAX ? nb->len : MSG_NAME_MAX), nb->data, (unsigned long long)b->off,
                          b->nbytes, (int)(na->len < MSG_NAME_MAX ? na->len : MSG_NAME_MAX), na->data,
                          (unsigned long long)a->off, a->nbytes);
        break;
    }
    free(s);
    return st;
}

static seer_status check_tensor_data(seer_gguf *g, cursor *c, size_t header_end) {
    size_t a = g->alignment;
    if (seer_add_size(header_end, a - 1, &g->data_offset))
        return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: data offset overflows with alignment %zu", a);
    g->data_offset &= ~(a - 1);
    size_t data_size = g->size > g->data_offset ? g->size - g->data_offset : 0;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        gguf_tinfo *t = &g->tensors[i];
        const seer_gguf_str *nm = &g->tensor_names.names[i];
        int nl = (int)(nm->len < MSG_NAME_MAX ? nm->len : MSG_NAME_MAX);
        if (t->offset % a != 0)
            return seer_err_set(c->err, SEER_ERR_FORMAT, "gguf: tensor '%.*s': offset %llu is not a multiple of the alignment %zu",
                                nl, nm->data, (unsigned long long)t->offset, a);
        if (t->offset > data_size || t->view.nbytes > data_size - t->offset)
            return seer_err_set(c->err, SEER_ERR_FORMAT,
                                "gguf: tensor '%.*s': data at offset %llu (%zu bytes) runs past the end of the file "
                                "(data section holds %zu bytes)",
                                nl, nm->data, (unsigned long long)t->offset, t->view.nbytes, data_size);
        t->view.data = (void *)(uintptr_t)(g->base + g->data_offset + t->offset); /* read-only memory */
    }
    return check_tensor_overlap(g, c);
}

/* Copies keys and tensor names into one block as C strings and indexes string arrays. */
static seer_status make_names(seer_gguf *g, cursor *c, size_t n_strs) {
    size_t total = 0, at_offs, at_chars, chars = 0;
    /* Names lie inside the parsed header, so their sum cannot overflow. */
    for (int64_t i = 0; i < g->n_kv; i++) chars += (size_t)g->kv_names.names[i].len + 1;
    for (int64_t i = 0; i < g->n_tensors; i++) chars += (size_t)g->tensor_names.names[i].len + 1;
    if (layout(&total, n_strs, sizeof(size_t), &at_offs) || layout(&total, chars, 1, &at_chars))
        return seer_err_set(c->err, SEER_ERR_NOMEM, "gguf: name block overflows size_t");
    uint8_t *b = malloc(total ? total : 1);
    if (!b) return seer_err_set(c->err, SEER_ERR_NOMEM, "gguf: out of memory allocating %zu bytes of names", total);
    g->names = b;
    size_t *offs = (size_t *)(b + at_offs);
    char *p = (char *)(b + at_chars);
    for (int64_t i = 0; i < g->n_kv; i++) {
        gguf_kv *kv = &g->kvs[i];
        seer_gguf_str *k = &g->kv_names.names[i];
        memcpy(p, k->data, (size_t)k->len);
        p[k->len] = 0;
        k->data = p;
        p += k->len + 1;
        if (kv->type == SEER_GGUF_TYPE_ARRAY && kv->arr_type == SEER_GGUF_TYPE_STRING) {
            size_t off = 0;
            for (uint64_t j = 0; j < kv->n; j++) {
                offs[j] = off;
                off += 8 + (size_t)le64(kv->val + off);
            }
            kv->str_offs = offs;
            offs += kv->n;
        }
    }
    for (int64_t i = 0; i < g->n_tensors; i++) {
        seer_gguf_str *nm = &g->tensor_names.names[i];
        memcpy(p, nm->data, (size_t)nm->len);
        p[nm->len] = 0;
        nm->data = p;
        g->tensors[i].view.name = p;
        p += nm->len + 1;
    }
    return SEER_OK;
}

static seer_status parse(seer_gguf *g, seer_err *err) {
    cursor c = {.p = g->base, .size = g->size, .err = err};
    uint64_t n_tensors = 0, n_kv = 0;
    seer_status st = parse_header(g, &c, &n_tensors, &n_kv);
    if (st) return st;
    g->n_tensors = (int64_t)n_tensors;
    g->n_kv = (int64_t)n_kv;
    st = alloc_index(g, &c);
    if (st) return st;
    size_t n_strs = 0;
    for (int64_t i = 0; i < g->n_kv; i++) {
        snprintf(c.ctx, sizeof(c.ctx), "kv %lld", (long long)i);
        st = parse_kv(&c, &g->kvs[i], &g->kv_names.names[i], &n_strs);
        if (st) return st;
        int64_t dup = name_insert(&g->kv_names, (uint32_t)i);
        if (dup >= 0)
            return seer_err_set(err, SEER_ERR_FORMAT, "gguf: %s: duplicate key (first seen as kv %lld)", c.ctx,
                                (long long)dup);
    }
    st = read_alignment(g, &c);
    if (st) return st;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        snprintf(c.ctx, sizeof(c.ctx), "tensor info %lld", (long long)i);
        st = parse_tensor_info(&c, &g->tensors[i], &g->tensor_names.names[i]);
        if (st) return st;
        int64_t dup = name_insert(&g->tensor_names, (uint32_t)i);
        if (dup >= 0)
            return seer_err_set(err, SEER_ERR_FORMAT, "gguf: %s: duplicate tensor name (first seen as tensor %lld)",
                                c.ctx, (long long)dup);
    }
    st = check_tensor_data(g, &c, c.pos);
    if (st) return st;
    return make_names(g, &c, n_strs);
}

seer_status seer_gguf_open_buffer(const void *data, size_t size, seer_gguf **out, seer_err *err) {
    *out = NULL;
    if (!data && size > 0) return seer_err_set(err, SEER_ERR_INVALID, "gguf: NULL buffer of %zu bytes", size);
    seer_gguf *g = calloc(1, sizeof(*g));
    if (!g) return seer_err_set(err, SEER_ERR_NOMEM, "gguf: out of memory");
    g->base = data ? data : (const uint8_t *)"";
    g->size = size;
    seer_status st = parse(g, err);
    if (st) {
        seer_gguf_free(g);
        return st;
    }
    *out = g;
    return SEER_OK;
}

seer_status seer_gguf_open_file(const char *path, seer_gguf **out, seer_err *err) {
    *out = NULL;
    seer_map map;
    seer_status st = seer_map_open(path, &map, err);
    if (st) return st;
    st = seer_gguf_open_buffer(map.data, map.size, out, err);
    if (st) {
        seer_map_close(&map);
        return seer_err_wrap(err, "%s: ", path);
    }
    (*out)->map = map; /* released by seer_gguf_free, after every view into it */
    return SEER_OK;
}

void seer_gguf_free(seer_gguf *g) {
    if (!g) return;
    seer_map_close(&g->map);
    free(g->index);
    free(g->names);
    free(g);
}

uint32_t seer_gguf_version(const seer_gguf *g) { return g->version; }
size_t seer_gguf_alignment(const seer_gguf *g) { return g->alignment; }
size_t seer_gguf_data_offset(const seer_gguf *g) { return g->data_offset; }

/* ---- metadata access ---- */

int64_t seer_gguf_n_kv(const seer_gguf *g) { return g->n_kv; }

static const gguf_kv *kv_at(const seer_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? &g->kvs[i] : NULL;
}

const char *seer_gguf_key(const seer_gguf *g, int64_t i) {
    return kv_at(g, i) ? g->kv_names.names[i].data : NULL;
}

seer_gguf_type seer_gguf_kv_type(const seer_gguf *g, int64_t i) {
    const gguf_kv *kv = kv_at(g, i);
    return kv ? kv->type : SEER_GGUF_TYPE_COUNT;
}

seer_gguf_type seer_gguf_kv_arr_type(const seer_gguf *g, int64_t i) {
    const gguf_kv *kv = kv_at(g, i);
    return kv ? kv->arr_type : SEER_GGUF_TYPE_COUNT;
}

const void *seer_gguf_kv_raw(const seer_gguf *g, int64_t i, size_t *len) {
    const gguf_kv *kv = kv_at(g, i);
    if (len) *len = kv ? kv->raw_len : 0;
    return kv ? kv->raw : NULL;
}

int64_t seer_gguf_find_key(const seer_gguf *g, const char *key) {
    return name_find(&g->kv_names, key, strlen(key));
}

static const gguf_kv *kv_get(const seer_gguf *g, const char *key, seer_err *err) {
    int64_t i = seer_gguf_find_key(g, key);
    if (i < 0) {
        seer_err_set(err, SEER_ERR_INVALID, "gguf: key '%s' not found", key);
        return NULL;
    }
    return &g->kvs[i];
}

static seer_status wrong_type(const gguf_kv *kv, const char *key, const char *expected, seer_err *err) {
    return seer_err_set(err, SEER_ERR_FORMAT, "gguf: key '%s' has type %s, expected %s", key,
                        seer_gguf_type_name(kv->type), expected);
}

/* Integer value of kv: *neg set when it is negative, *mag its magnitude. 0 if not an integer. */
static int kv_int(const gguf_kv *kv, int *neg, uint64_t *mag) {
    int64_t s;
    *neg = 0;
    switch (kv->type) {
    case SEER_GGUF_TYPE_UINT8: *mag = kv->val[0]; return 1;
    case SEER_GGUF_TYPE_UINT16: *mag = (uint64_t)kv->val[0] | (uint64_t)kv->val[1] << 8; return 1;
    case SEER_GGUF_TYPE_UINT32: *mag = le32(kv->val); return 1;
    case SEER_GGUF_TYPE_UINT64: *mag = le64(kv->val); return 1;
    case SEER_GGUF_TYPE_INT8: s = kv->val[0] < 128 ? (int64_t)kv->val[0] : (int64_t)kv->val[0] - 256; break;
    case SEER_GGUF_TYPE_INT16: s = (int16_t)(uint16_t)(kv->val[0] | kv->val[1] << 8); break;
    case SEER_GGUF_TYPE_INT32: s = (int32_t)le32(kv->val); break;
    case SEER_GGUF_TYPE_INT64: s = (int64_t)le64(kv->val); break;
    default: return 0;
    }
    *neg = s < 0;
    *mag = s < 0 ? 0 - (uint64_t)s : (uint64_t)s;
    return 1;
}

seer_status seer_gguf_get_u32(const seer_gguf *g, const char *key, uint32_t *out, seer_err *err) {
    const gguf_kv *kv = kv_get(g, key, err);
    if (!kv) return SEER_ERR_INVALID;
    int neg;
    uint64_t mag;
    if (!kv_int(kv, &neg, &mag)) return wrong_type(kv, key, "an integer", err);
    if (neg || mag > UINT32_MAX)
        return seer_err_set(err, SEER_ERR_RANGE, "gguf: key '%s' value %s%llu does not fit u32", key, neg ? "-" : "",
                            (unsigned long long)mag);
    *out = (uint32_t)mag;
    return SEER_OK;
}

seer_status seer_gguf_get_i64(const seer_gguf *g, const char *key, int64_t *out, seer_err *err) {
    const gguf_kv *kv = kv_get(g, key, err);
    if (!kv) return SEER_ERR_INVALID;
    int neg;
    uint64_t mag;
    if (!kv_int(kv, &neg, &mag)) return wrong_type(kv, key, "an integer", err);
    if (!neg && mag > (uint64_t)INT64_MAX)
        return seer_err_set(err, SEER_ERR_RANGE, "gguf: key '%s' value %llu does not fit i64", key,
                            (unsigned long long)mag);
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return SEER_OK;
}

seer_status seer_gguf_get_f32(const seer_gguf *g, const char *key, float *out, seer_err *err) {
    const gguf_kv *kv = kv_get(g, key, err);
    if (!kv) return SEER_ERR_INVALID;
    if (kv->type == SEER_GGUF_TYPE_FLOAT32) {
        uint32_t b = le32(kv->val);
        memcpy(out, &b, 4);
    } else if (kv->type == SEER_GGUF_TYPE_FLOAT64) {
        uint64_t b = le64(kv->val);
        double d;
        memcpy(&d, &b, 8);
        *out = (float)d;
    } else {
        return wrong_type(kv, key, "f32 or f64", err);
    }
    return SEER_OK;
}

seer_status seer_gguf_get_bool(const seer_gguf *g, const char *key, int *out, seer_err *err) {
    const gguf_kv *kv = kv_get(g, key, err);
    if (!kv) return SEER_ERR_INVALID;
    if (kv->type != SEER_GGUF_TYPE_BOOL) return wrong_type(kv, key, "bool", err);
    *out = kv->val[0];
    return SEER_OK;
}

seer_status seer_gguf_get_str(const seer_gguf *g, const char *key, seer_gguf_str *out, seer_err *err) {
    const gguf_kv *kv = kv_get(g, key, err);
    if (!kv) return SEER_ERR_INVALID;
    if (kv->type != SEER_GGUF_TYPE_STRING) return wrong_type(kv, key, "string", err);
    out->data = (const char *)kv->val;
    out->len = kv->str_len;
    return SEER_OK;
}

seer_status seer_gguf_get_arr(const seer_gguf *g, const char *key, seer_gguf_type *elem_type, uint64_t *n,
                              seer_err *err) {
    const gguf_kv *kv = kv_get(g, key, err);
    if (!kv) return SEER_ERR_INVALID;
    if (kv->type != SEER_GGUF_TYPE_ARRAY) return wrong_type(kv, key, "array", err);
    *elem_type = kv->arr_type;
    *n = kv->n;
    return SEER_OK;
}

const void *seer_gguf_arr_data(const seer_gguf *g, const char *key) {
    int64_t i = seer_gguf_find_key(g, key);
    if (i < 0) return NULL;
    const gguf_kv *kv = &g->kvs[i];
    if (kv->type != SEER_GGUF_TYPE_ARRAY || kv->arr_type == SEER_GGUF_TYPE_STRING) return NULL;
    return kv->val;
}

seer_status seer_gguf_arr_str(const seer_gguf *g, const char *key, uint64_t i, seer_gguf_str *out, seer_err *err) {
    const gguf_kv *kv = kv_get(g, key, err);
    if (!kv) return SEER_ERR_INVALID;
    if (kv->type != SEER_GGUF_TYPE_ARRAY || kv->arr_type != SEER_GGUF_TYPE_STRING)
        return seer_err_set(err, SEER_ERR_FORMAT, "gguf: key '%s' has type %s, expected an array of strings", key,
                            kv->type == SEER_GGUF_TYPE_ARRAY ? "array of non-strings" : seer_gguf_type_name(kv->type));
    if (i >= kv->n)
        return seer_err_set(err, SEER_ERR_RANGE, "gguf: key '%s': index %llu out of range (%llu strings)", key,
                            (unsigned long long)i, (unsigned long long)kv->n);
    const uint8_t *p = kv->val + kv->str_offs[i];
    out->len = le64(p);
    out->data = (const char *)(p + 8);
    return SEER_OK;
}

/* ---- tensors ---- */

int64_t seer_gguf_n_tensors(const seer_gguf *g) { return g->n_tensors; }

const seer_tensor *seer_gguf_tensor(const seer_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_tensors ? &g->tensors[i].view : NULL;
}

uint64_t seer_gguf_tensor_offset(const seer_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_tensors ? g->tensors[i].offset : 0;
}

const seer_tensor *seer_gguf_find_tensor(const seer_gguf *g, const char *name) {
    int64_t i = name_find(&g->tensor_names, name, strlen(name));
    return i >= 0 ? &g->tensors[i].view : NULL;
}
