/* Fuzzes the safetensors reader from memory: every parsed file is walked (views inside the data
 * section, in offset order, found by name; metadata found by key) and written back and re-read. */
#include "fuzz.h"
#include "seer/safetensors.h"

static void fuzz_st_rewrite(const seer_st *s) {
    seer_st_writer *w = seer_st_writer_init();
    if (!w) return;
    for (int64_t i = 0; i < seer_st_n_metadata(s); i++) {
        const char *k = seer_st_metadata_key(s, i);
        seer_st_writer_set_metadata(w, k, seer_st_metadata(s, k));
    }
    for (int64_t i = 0; i < seer_st_n_tensors(s); i++) {
        const seer_tensor *t = seer_st_tensor(s, i);
        seer_st_writer_add(w, t->name, t->type, t->n_dims, t->shape, t->data);
    }
    void *buf = NULL;
    size_t size = 0;
    seer_err err;
    if (seer_st_writer_write_buffer(w, &buf, &size, &err) == SEER_OK) {
        seer_st *r = NULL;
        seer_status st = seer_st_open_buffer(buf, size, &r, &err);
        if (st != SEER_OK) fprintf(stderr, "re-read failed: %s\n", err.msg);
        FUZZ_CHECK(st == SEER_OK);
        FUZZ_CHECK(seer_st_n_tensors(r) == seer_st_n_tensors(s) && seer_st_n_metadata(r) == seer_st_n_metadata(s));
        for (int64_t i = 0; i < seer_st_n_tensors(s); i++) {
            const seer_tensor *a = seer_st_tensor(s, i), *b = seer_st_find(r, a->name);
            FUZZ_CHECK(b && b->type == a->type && b->n_dims == a->n_dims && b->nbytes == a->nbytes);
            FUZZ_CHECK(a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0);
        }
        seer_st_free(r);
        free(buf);
    } else {
        FUZZ_CHECK(err.msg[0] != 0);
    }
    seer_st_writer_free(w);
}

static void fuzz_safetensors_one(const uint8_t *data, size_t size) {
    seer_st *s = NULL;
    seer_err err;
    seer_status st = seer_st_open_buffer(data, size, &s, &err);
    if (st != SEER_OK) {
        FUZZ_CHECK_ERR(st, err);
        FUZZ_CHECK(s == NULL);
        return;
    }
    const uint8_t *end = data + size, *prev_end = NULL;
    for (int64_t i = 0; i < seer_st_n_tensors(s); i++) {
        const seer_tensor *t = seer_st_tensor(s, i);
        FUZZ_CHECK(t && t->name && seer_st_find(s, t->name) == t);
        FUZZ_CHECK(t->n_dims >= 0 && t->n_dims <= SEER_MAX_DIMS);
        FUZZ_CHECK(seer_st_dtype_name(t->type) != NULL);
        int64_t ne = seer_tensor_nelem(t);
        FUZZ_CHECK(ne >= 0 && (size_t)ne * seer_dtype_block_bytes(t->type) == t->nbytes);
        const uint8_t *p = t->data;
        FUZZ_CHECK(p >= data + 8 && p <= end && t->nbytes <= (size_t)(end - p));
        /* sorted by offset, and non-empty tensors do not overlap */
        if (t->nbytes > 0) {
            FUZZ_CHECK(!prev_end || p >= prev_end);
            prev_end = p + t->nbytes;
        }
        fuzz_touch(t->data, t->nbytes);
    }
    FUZZ_CHECK(seer_st_tensor(s, -1) == NULL && seer_st_tensor(s, seer_st_n_tensors(s)) == NULL);
    for (int64_t i = 0; i < seer_st_n_metadata(s); i++) {
        const char *k = seer_st_metadata_key(s, i);
        FUZZ_CHECK(k && seer_st_metadata(s, k) != NULL);
    }
    FUZZ_CHECK(seer_st_metadata_key(s, seer_st_n_metadata(s)) == NULL);
    fuzz_st_rewrite(s);
    seer_st_free(s);
}

FUZZ_ENTRY(fuzz_safetensors_one)
