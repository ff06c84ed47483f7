/* Training checkpoints over the safetensors reader and writer: a format marker in the
 * metadata, integer metadata helpers, and a load that validates the whole expected set of
 * names and shapes before it copies a single value. */
#include "seer/checkpoint.h"

#include "seer/safetensors.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_VERSION "1"

struct seer_ckpt {
    seer_st *st;
    char *what; /* path or caller's label, for messages */
};

seer_status seer_ckpt_save(const char *path, const seer_ckpt_tensor *tensors, size_t n_tensors,
                           const seer_ckpt_kv *meta, size_t n_meta, seer_err *err) {
    for (size_t i = 0; i < n_meta; i++) {
        if (!meta[i].key || !meta[i].key[0] || !meta[i].value)
            return seer_err_set(err, SEER_ERR_INVALID, "checkpoint '%s': metadata entry %zu has no key or value", path, i);
        if (!strcmp(meta[i].key, SEER_CKPT_KEY_FORMAT))
            return seer_err_set(err, SEER_ERR_INVALID, "checkpoint '%s': metadata key '%s' is reserved", path,
                                meta[i].key);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(meta[i].key, meta[j].key))
                return seer_err_set(err, SEER_ERR_INVALID, "checkpoint '%s': metadata key '%s' given twice", path,
                                    meta[i].key);
    }
    for (size_t i = 0; i < n_tensors; i++) {
        const seer_ckpt_tensor *t = &tensors[i];
        if (!t->name || !t->name[0])
            return seer_err_set(err, SEER_ERR_INVALID, "checkpoint '%s': tensor %zu has no name", path, i);
        if (t->n_dims < 0 || t->n_dims > SEER_MAX_DIMS)
            return seer_err_set(err, SEER_ERR_INVALID, "checkpoint '%s': tensor '%s' has %d dimensions (0..%d allowed)",
                                path, t->name, t->n_dims, SEER_MAX_DIMS);
        for (int d = 0; d < t->n_dims; d++)
            if (t->shape[d] < 0)
                return seer_err_set(err, SEER_ERR_INVALID, "checkpoint '%s': tensor '%s' has negative dimension %lld",
                                    path, t->name, (long long)t->shape[d]);
        if (!t->data)
            return seer_err_set(err, SEER_ERR_INVALID, "checkpoint '%s': tensor '%s' has no data", path, t->name);
    }
    seer_st_writer *w = seer_st_writer_init();
    if (!w) return seer_err_set(err, SEER_ERR_NOMEM, "checkpoint '%s': out of memory", path);
    seer_st_writer_set_metadata(w, SEER_CKPT_KEY_FORMAT, CKPT_VERSION);
    for (size_t i = 0; i < n_meta; i++) seer_st_writer_set_metadata(w, meta[i].key, meta[i].value);
    for (size_t i = 0; i < n_tensors; i++)
        seer_st_writer_add(w, tensors[i].name, SEER_DTYPE_F32, tensors[i].n_dims, tensors[i].shape, tensors[i].data);
    seer_status st = seer_st_writer_write(w, path, err); /* reports duplicate names too */
    seer_st_writer_free(w);
    if (st != SEER_OK) seer_err_wrap(err, "checkpoint '%s': ", path);
    return st;
}

static seer_status ckpt_wrap(seer_st *st, const char *what, seer_ckpt **out, seer_err *err) {
    const char *ver = seer_st_metadata(st, SEER_CKPT_KEY_FORMAT);
    seer_status s = SEER_OK;
    if (!ver) {
        s = seer_err_set(err, SEER_ERR_FORMAT,
                         "checkpoint '%s': a safetensors file without '%s' metadata, so not a seer training checkpoint",
                         what, SEER_CKPT_KEY_FORMAT);
        goto out_free_st;
    }
    if (strcmp(ver, CKPT_VERSION) != 0) {
        s = seer_err_set(err, SEER_ERR_UNSUPPORTED, "checkpoint '%s': format version '%s' (this seer reads '%s')", what,
                         ver, CKPT_VERSION);
        goto out_free_st;
    }
    seer_ckpt *c = calloc(1, sizeof(*c));
    char *name = strdup(what);
    if (!c || !name) {
        free(c);
        free(name);
        s = seer_err_set(err, SEER_ERR_NOMEM, "checkpoint '%s': out of memory", what);
        goto out_free_st;
    }
    c->st = st;
    c->what = name;
    *out = c;
    return SEER_OK;
out_free_st:
    seer_st_free(st);
    return s;
}

seer_status seer_ckpt_open(const char *path, seer_ckpt **out, seer_err *err) {
    *out = NULL;
    seer_st *st;
    seer_status s = seer_st_open_file(path, &st, err);
    if (s != SEER_OK) {
        seer_err_wrap(err, "checkpoint: ");
        return s;
    }
    return ckpt_wrap(st, path, out, err);
}

seer_status seer_ckpt_open_buffer(const void *data, size_t size, const char *what, seer_ckpt **out, seer_err *err) {
    *out = NULL;
    seer_st *st;
    seer_status s = seer_st_open_buffer(data, size, &st, err);
    if (s != SEER_OK) {
        seer_err_wrap(err, "checkpoint '%s': ", what);
        return s;
    }
    return ckpt_wrap(st, what, out, err);
}

void seer_ckpt_close(seer_ckpt *c) {
    if (!c) return;
    seer_st_free(c->st);
    free(c->what);
    free(c);
}

const char *seer_ckpt_meta(const seer_ckpt *c, const char *key) { return seer_st_metadata(c->st, key); }

/* Parses all of s as a decimal number; 0 on success. */
static int parse_int(const char *s, int is_signed, int64_t *i, uint64_t *u) {
    if (!*s || *s == ' ' || *s == '+' || (!is_signed && *s == '-')) return -1;
    char *end;
    errno = 0;
    if (is_signed) *i = strtoll(s, &end, 10);
    else *u = strtoull(s, &end, 10);
    return errno || *end ? -1 : 0;
}

static seer_status meta_int(const seer_ckpt *c, const char *key, int is_signed, int64_t *i, uint64_t *u,
                            seer_err *err) {
    const char *v = seer_st_metadata(c->st, key);
    if (!v)
        return seer_err_set(err, SEER_ERR_FORMAT, "checkpoint '%s': metadata '%s' is missing", c->what, key);
    if (parse_int(v, is_signed, i, u) != 0)
        return seer_err_set(err, SEER_ERR_FORMAT, "checkpoint '%s': metadata '%s' = '%.60s' is not %s integer", c->what,
                            key, v, is_signed ? "an" : "an unsigned");
    return SEER_OK;
}

seer_status seer_ckpt_meta_i64(const seer_ckpt *c, const char *key, int64_t *out, seer_err *err) {
    uint64_t u;
    return meta_int(c, key, 1, out, &u, err);
}

seer_status seer_ckpt_meta_u64(const seer_ckpt *c, const char *key, uint64_t *out, seer_err *err) {
    int64_t i;
    return meta_int(c, key, 0, &i, out, err);
}

static int same_shape(const seer_tensor *t, const seer_ckpt_tensor *w) {
    if (t->n_dims != w->n_dims) return 0;
    for (int d = 0; d < t->n_dims; d++)
        if (t->shape[d] != w->shape[d]) return 0;
    return 1;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The caller's list must not name a tensor twice (a bug in the caller, but cheap to report). */
static seer_status want_unique(const seer_ckpt *c, const seer_ckpt_tensor *want, size_t n_want, seer_err *err) {
    if (n_want < 2) return SEER_OK;
    const char **names = malloc(n_want * sizeof(*names));
    if (!names) return seer_err_set(err, SEER_ERR_NOMEM, "checkpoint '%s': out of memory", c->what);
    for (size_t i = 0; i < n_want; i++) names[i] = want[i].name;
    qsort(names, n_want, sizeof(*names), cmp_name);
    seer_status st = SEER_OK;
    for (size_t i = 1; i < n_want && st == SEER_OK; i++)
        if (!strcmp(names[i - 1], names[i]))
            st = seer_err_set(err, SEER_ERR_INVALID, "checkpoint '%s': the expected tensors name '%s' twice", c->what,
                              names[i]);
    free(names);
    return st;
}

seer_status seer_ckpt_load(const seer_ckpt *c, const seer_ckpt_tensor *want, size_t n_want, seer_err *err) {
    char a[128], b[128];
    /* Everything is checked first so a failed load leaves the caller's arrays untouched. */
    for (size_t i = 0; i < n_want; i++) {
        const seer_ckpt_tensor *w = &want[i];
        const seer_tensor *t = seer_st_find(c->st, w->name);
        if (!t)
            return seer_err_set(err, SEER_ERR_FORMAT,
                                "checkpoint '%s': tensor '%s' is missing (the file holds %lld tensors: is it from "
                                "another model?)",
                                c->what, w->name, (long long)seer_st_n_tensors(c->st));
        if (t->type != SEER_DTYPE_F32)
            return seer_err_set(err, SEER_ERR_FORMAT, "checkpoint '%s': tensor '%s' is %s, expected f32", c->what,
                                w->name, seer_dtype_name(t->type));
        if (!same_shape(t, w))
            return seer_err_set(err, SEER_ERR_FORMAT, "checkpoint '%s': tensor '%s' has shape %s, model wants %s",
                                c->what, w->name, seer_shape_str(t->shape, t->n_dims, a, sizeof(a)),
                                seer_shape_str(w->shape, w->n_dims, b, sizeof(b)));
        if (t->nbytes && !w->data)
            return seer_err_set(err, SEER_ERR_INVALID, "checkpoint '%s': tensor '%s': no buffer to load into", c->what,
                                w->name);
    }
    seer_status st = want_unique(c, want, n_want, err);
    if (st != SEER_OK) return st;
    /* Names are unique in the file (the reader checks) and in want, so once every wanted name
     * was found equal counts mean equal sets; otherwise name the first extra one. */
    int64_t n_file = seer_st_n_tensors(c->st);
    if ((uint64_t)n_file != n_want) {
        for (int64_t i = 0; i < n_file; i++) {
            const char *name = seer_st_tensor(c->st, i)->name;
            size_t j = 0;
            while (j < n_want && strcmp(want[j].name, name) != 0) j++;
            if (j == n_want)
                return seer_err_set(err, SEER_ERR_FORMAT,
                                    "checkpoint '%s': holds tensor '%s', which the model does not have (%lld tensors in "
                                    "the file, %zu expected)",
                                    c->what, name, (long long)n_file, n_want);
        }
    }
    for (size_t i = 0; i < n_want; i++) {
        const seer_tensor *t = seer_st_find(c->st, want[i].name);
        if (t->nbytes) memcpy(want[i].data, t->data, t->nbytes); /* views may be unaligned */
    }
    return SEER_OK;
}
