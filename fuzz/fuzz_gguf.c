/* Fuzzes the GGUF reader from memory: every parsed file is walked completely (each kv formatted
 * and read with every getter, every tensor view touched at both ends), its tokenizer loaded (and
 * exported and re-read) and its model loaded (through an in-memory file), and its contents
 * written back and re-read. */
#include "fuzz.h"
#include "seer/gguf.h"

static void fuzz_gguf_walk_kv(const seer_gguf *g, int64_t i) {
    char line[256], tiny[6];
    const char *key = seer_gguf_key(g, i);
    FUZZ_CHECK(key && key[0]);
    FUZZ_CHECK(seer_gguf_find_key(g, key) == i);
    seer_gguf_kv_format(g, i, line, sizeof(line));
    FUZZ_CHECK(strlen(line) < sizeof(line));
    seer_gguf_kv_format(g, i, tiny, sizeof(tiny));
    FUZZ_CHECK(strlen(tiny) < sizeof(tiny));
    seer_gguf_kv_format(g, i, tiny, 1);
    FUZZ_CHECK(tiny[0] == 0);
    size_t raw_len = 0;
    fuzz_touch(seer_gguf_kv_raw(g, i, &raw_len), raw_len);

    seer_err err;
    uint32_t u32;
    int64_t i64;
    float f;
    int b;
    seer_gguf_str s;
    (void)seer_gguf_get_u32(g, key, &u32, &err);
    (void)seer_gguf_get_i64(g, key, &i64, &err);
    (void)seer_gguf_get_f32(g, key, &f, &err);
    if (seer_gguf_get_bool(g, key, &b, &err) == SEER_OK) FUZZ_CHECK(b == 0 || b == 1);
    if (seer_gguf_get_str(g, key, &s, &err) == SEER_OK) fuzz_touch(s.data, (size_t)s.len);
    seer_gguf_type et;
    uint64_t n;
    if (seer_gguf_get_arr(g, key, &et, &n, &err) != SEER_OK) {
        FUZZ_CHECK(seer_gguf_kv_type(g, i) != SEER_GGUF_TYPE_ARRAY);
        return;
    }
    FUZZ_CHECK(et == seer_gguf_kv_arr_type(g, i));
    if (et == SEER_GGUF_TYPE_STRING) {
        FUZZ_CHECK(seer_gguf_arr_data(g, key) == NULL);
        for (uint64_t j = 0; j < n; j++) {
            if (j == 64 && n > 65) j = n - 1; /* the first ones and the last one */
            FUZZ_CHECK(seer_gguf_arr_str(g, key, j, &s, &err) == SEER_OK);
            fuzz_touch(s.data, (size_t)s.len);
        }
        FUZZ_CHECK(seer_gguf_arr_str(g, key, n, &s, &err) == SEER_ERR_RANGE);
    } else if (n > 0) {
        fuzz_touch(seer_gguf_arr_data(g, key), (size_t)n * seer_gguf_type_size(et));
    }
}

static void fuzz_gguf_walk_tensor(const seer_gguf *g, int64_t i) {
    const seer_tensor *t = seer_gguf_tensor(g, i);
    FUZZ_CHECK(t && t->name && t->name[0]);
    FUZZ_CHECK(seer_gguf_find_tensor(g, t->name) == t);
    FUZZ_CHECK(t->n_dims >= 1 && t->n_dims <= SEER_GGUF_MAX_DIMS);
    int64_t ne = seer_tensor_nelem(t);
    FUZZ_CHECK(ne > 0);
    size_t bytes = 0;
    seer_err err;
    FUZZ_CHECK(seer_dtype_row_bytes(t->type, ne, &bytes, &err) == SEER_OK && bytes == t->nbytes);
    FUZZ_CHECK(seer_gguf_tensor_offset(g, i) % seer_gguf_alignment(g) == 0);
    fuzz_touch(t->data, t->nbytes);
}

/* Writes what was parsed back out (as `seer convert` does) and checks the copy parses alike. */
static void fuzz_gguf_rewrite(const seer_gguf *g) {
    seer_gguf_writer *w = seer_gguf_writer_init();
    if (!w) return;
    seer_gguf_writer_copy_kv(w, g);
    for (int64_t i = 0; i < seer_gguf_n_tensors(g); i++) {
        const seer_tensor *t = seer_gguf_tensor(g, i);
        seer_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->shape, t->data);
    }
    void *buf = NULL;
    size_t size = 0;
    seer_err err;
    if (seer_gguf_writer_write_buffer(w, &buf, &size, &err) == SEER_OK) {
        seer_gguf *h = NULL;
        seer_status st = seer_gguf_open_buffer(buf, size, &h, &err);
        if (st != SEER_OK) fprintf(stderr, "re-read failed: %s\n", err.msg);
        FUZZ_CHECK(st == SEER_OK);
        FUZZ_CHECK(seer_gguf_n_kv(h) >= seer_gguf_n_kv(g) && seer_gguf_n_tensors(h) == seer_gguf_n_tensors(g));
        for (int64_t i = 0; i < seer_gguf_n_tensors(g); i++) {
            const seer_tensor *a = seer_gguf_tensor(g, i), *b = seer_gguf_find_tensor(h, a->name);
            FUZZ_CHECK(b && b->type == a->type && b->nbytes == a->nbytes && memcmp(a->data, b->data, a->nbytes) == 0);
        }
        seer_gguf_free(h);
        free(buf);
    } else {
        FUZZ_CHECK(err.msg[0] != 0);
    }
    seer_gguf_writer_free(w);
}

static void fuzz_gguf_one(const uint8_t *data, size_t size) {
    seer_gguf *g = NULL;
    seer_err err;
    seer_status st = seer_gguf_open_buffer(data, size, &g, &err);
    if (st != SEER_OK) {
        FUZZ_CHECK_ERR(st, err);
        FUZZ_CHECK(g == NULL);
        return;
    }
    FUZZ_CHECK(seer_gguf_version(g) == 2 || seer_gguf_version(g) == 3);
    FUZZ_CHECK(seer_gguf_data_offset(g) % seer_gguf_alignment(g) == 0);
    for (int64_t i = 0; i < seer_gguf_n_kv(g); i++) fuzz_gguf_walk_kv(g, i);
    for (int64_t i = 0; i < seer_gguf_n_tensors(g); i++) fuzz_gguf_walk_tensor(g, i);
    FUZZ_CHECK(seer_gguf_key(g, -1) == NULL && seer_gguf_key(g, seer_gguf_n_kv(g)) == NULL);
    FUZZ_CHECK(seer_gguf_tensor(g, -1) == NULL && seer_gguf_tensor(g, seer_gguf_n_tensors(g)) == NULL);
    FUZZ_CHECK(seer_gguf_find_key(g, "no.such.key") == -1 || seer_gguf_key(g, seer_gguf_find_key(g, "no.such.key")));

    seer_tok *tok = NULL;
    st = seer_tok_from_gguf(g, &tok, &err);
    if (st == SEER_OK) {
        fuzz_exercise_tok(tok);
        fuzz_tok_export_roundtrip(tok);
        seer_tok_free(tok);
    } else {
        FUZZ_CHECK_ERR(st, err);
    }
    fuzz_gguf_rewrite(g);
    seer_gguf_free(g);

    /* The model loader reads the same bytes through a file. */
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof(path));
    if (fd < 0) return;
    seer_model *m = NULL;
    st = seer_model_load(path, NULL, &m, &err);
    if (st == SEER_OK) {
        FUZZ_CHECK(seer_model_n_tensors(m) > 0);
        seer_model_free(m);
    } else {
        FUZZ_CHECK_ERR(st, err);
    }
    close(fd);
}

FUZZ_ENTRY(fuzz_gguf_one)
