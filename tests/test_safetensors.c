/* safetensors: bit-exact round trips of every dtype (scalars, empty tensors, metadata, odd
 * names), byte-identical re-writes, sharded sets from an index, one corrupt header per check
 * the reader makes, every truncation of a valid file, and the real GloVe file. */
#include "test.h"

#include "seer/safetensors.h"

#include <stdint.h>

/* A safetensors image: 8-byte length, the given header text, then data_len zero bytes. */
static uint8_t *make_st(const char *json, size_t data_len, size_t *size) {
    size_t n = strlen(json);
    *size = 8 + n + data_len;
    uint8_t *b = calloc(1, *size);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(b + 8, json, n);
    return b;
}

/* Opens a made-up image; must fail with a message containing needle (and the given code when
 * code is not SEER_OK). */
static void expect_bad(const char *json, size_t data_len, const char *needle, seer_status code) {
    seer_err err = {0};
    size_t size;
    uint8_t *b = make_st(json, data_len, &size);
    seer_st *s = NULL;
    CHECK_FAILS(seer_st_open_buffer(b, size, &s, &err), &err, needle);
    CHECK(s == NULL);
    if (code != SEER_OK) CHECK_MSG(err.code == code, "'%s': code %d, expected %d", err.msg, (int)err.code, (int)code);
    seer_st_free(s);
    free(b);
}

static void fill_bytes(uint8_t *p, size_t n, seer_rng *r) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)seer_rng_u64(r);
}

typedef struct tcase {
    const char *name;
    seer_dtype type;
    int n_dims;
    int64_t shape[SEER_MAX_DIMS];
} tcase;

static const tcase cases[] = {
    {"f32.matrix", SEER_DTYPE_F32, 2, {3, 5}},
    {"f16", SEER_DTYPE_F16, 1, {7}},
    {"bf16", SEER_DTYPE_BF16, 3, {2, 1, 3}},
    {"f64", SEER_DTYPE_F64, 1, {4}},
    {"i8", SEER_DTYPE_I8, 1, {5}},
    {"i16", SEER_DTYPE_I16, 2, {3, 3}},
    {"i32", SEER_DTYPE_I32, 1, {1}},
    {"i64", SEER_DTYPE_I64, 2, {2, 2}},
    {"u8", SEER_DTYPE_U8, 1, {9}},
    {"bool", SEER_DTYPE_BOOL, 1, {6}},
    {"scalar.f32", SEER_DTYPE_F32, 0, {0}},
    {"scalar.i64", SEER_DTYPE_I64, 0, {0}},
    {"empty.f32", SEER_DTYPE_F32, 3, {3, 0, 2}},
    {"empty.u8", SEER_DTYPE_U8, 1, {0}},
    {"odd \"name\" with \\ and \t tab and \xc3\xbc", SEER_DTYPE_I8, 8, {1, 2, 1, 1, 1, 1, 1, 2}},
    {"last.f64", SEER_DTYPE_F64, 1, {2}},
};
#define N_CASES (int)(sizeof(cases) / sizeof(cases[0]))

static size_t case_bytes(const tcase *c) {
    size_t n = seer_dtype_block_bytes(c->type);
    for (int d = 0; d < c->n_dims; d++) n *= (size_t)c->shape[d];
    return n;
}

/* Builds a writer holding every case (data in bufs[i]) and two metadata keys. */
static seer_st_writer *make_writer(uint8_t **bufs) {
    seer_rng r;
    seer_rng_seed(&r, 42);
    seer_st_writer *w = seer_st_writer_init();
    seer_st_writer_set_metadata(w, "format", "pt");
    seer_st_writer_set_metadata(w, "note", "first");
    seer_st_writer_set_metadata(w, "quote\"key", "line\nbreak \xe2\x9c\x93");
    seer_st_writer_set_metadata(w, "note", "replaced"); /* same key: value replaced in place */
    for (int i = 0; i < N_CASES; i++) {
        size_t n = case_bytes(&cases[i]);
        bufs[i] = malloc(n + 1);
        fill_bytes(bufs[i], n, &r);
        if (cases[i].type == SEER_DTYPE_BOOL)
            for (size_t k = 0; k < n; k++) bufs[i][k] &= 1;
        seer_st_writer_add(w, cases[i].name, cases[i].type, cases[i].n_dims, cases[i].shape, bufs[i]);
    }
    return w;
}

static void check_cases(const seer_st *s, uint8_t **bufs) {
    CHECK(seer_st_n_tensors(s) == N_CASES);
    for (int i = 0; i < N_CASES; i++) {
        const tcase *c = &cases[i];
        const seer_tensor *t = seer_st_tensor(s, i); /* insertion order == offset order */
        const seer_tensor *f = seer_st_find(s, c->name);
        CHECK_MSG(t && f == t, "tensor %d '%s' not found in place", i, c->name);
        if (!t) continue;
        CHECK(strcmp(t->name, c->name) == 0);
        CHECK_MSG(t->type == c->type, "'%s': type %s", c->name, seer_dtype_name(t->type));
        CHECK(t->n_dims == c->n_dims);
        for (int d = 0; d < c->n_dims; d++) CHECK(t->shape[d] == c->shape[d]);
        CHECK(t->nbytes == case_bytes(c));
        CHECK(seer_tensor_nelem(t) == (int64_t)(case_bytes(c) / seer_dtype_block_bytes(c->type)));
        CHECK_MSG(t->nbytes == 0 || memcmp(t->data, bufs[i], t->nbytes) == 0, "'%s': data differs", c->name);
    }
    CHECK(seer_st_find(s, "nope") == NULL);
    CHECK(seer_st_tensor(s, N_CASES) == NULL && seer_st_tensor(s, -1) == NULL);
    CHECK(seer_st_n_metadata(s) == 3);
    CHECK(strcmp(seer_st_metadata_key(s, 0), "format") == 0);
    CHECK(strcmp(seer_st_metadata_key(s, 1), "note") == 0);
    CHECK(strcmp(seer_st_metadata(s, "note"), "replaced") == 0);
    CHECK(strcmp(seer_st_metadata(s, "quote\"key"), "line\nbreak \xe2\x9c\x93") == 0);
    CHECK(seer_st_metadata(s, "absent") == NULL);
    CHECK(seer_st_metadata_key(s, 3) == NULL);
}

/* A writer that copies everything a reader holds, in its order. */
static seer_st_writer *copy_writer(const seer_st *s) {
    seer_st_writer *w = seer_st_writer_init();
    for (int64_t i = 0; i < seer_st_n_metadata(s); i++) {
        const char *k = seer_st_metadata_key(s, i);
        seer_st_writer_set_metadata(w, k, seer_st_metadata(s, k));
    }
    for (int64_t i = 0; i < seer_st_n_tensors(s); i++) {
        const seer_tensor *t = seer_st_tensor(s, i);
        seer_st_writer_add(w, t->name, t->type, t->n_dims, t->shape, t->data);
    }
    return w;
}

static void test_round_trip(void) {
    seer_err err = {0};
    uint8_t *bufs[N_CASES];
    seer_st_writer *w = make_writer(bufs);
    void *img = NULL;
    size_t size = 0;
    CHECK_OK(seer_st_writer_write_buffer(w, &img, &size, &err), &err);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | ((uint8_t *)img)[i];
    CHECK_MSG(n % 8 == 0, "header length %llu not a multiple of 8", (unsigned long long)n);
    CHECK(((const char *)img)[8] == '{' && memcmp((const char *)img + 9, "\"__metadata__\"", 14) == 0);

    seer_st *s = NULL;
    CHECK_OK(seer_st_open_buffer(img, size, &s, &err), &err);
    if (s) {
        check_cases(s, bufs);
        /* the first tensor starts the data, which a multiple-of-8 header keeps 8-aligned
         * (malloc'd buffers are at least 8-aligned) */
        CHECK(((uintptr_t)seer_st_tensor(s, 0)->data % 8) == 0);
        /* re-writing what was read gives the same bytes */
        seer_st_writer *w2 = copy_writer(s);
        void *img2 = NULL;
        size_t size2 = 0;
        CHECK_OK(seer_st_writer_write_buffer(w2, &img2, &size2, &err), &err);
        CHECK(size2 == size && img2 && memcmp(img, img2, size) == 0);
        free(img2);
        seer_st_writer_free(w2);
        seer_st_free(s);
    }

    /* the file writer gives the same bytes, and the file reads back the same */
    const char *path = test_tmp("st_round_trip.safetensors");
    CHECK_OK(seer_st_writer_write(w, path, &err), &err);
    char *file = NULL;
    size_t flen = 0;
    CHECK_OK(seer_read_file(path, &file, &flen, &err), &err);
    CHECK(file && flen == size && memcmp(file, img, size) == 0);
    free(file);
    s = NULL;
    CHECK_OK(seer_st_open_file(path, &s, &err), &err);
    if (s) {
        check_cases(s, bufs);
        seer_st_writer *w3 = copy_writer(s);
        const char *path2 = test_tmp("st_round_trip2.safetensors");
        CHECK_OK(seer_st_writer_write(w3, path2, &err), &err);
        char *file2 = NULL;
        CHECK_OK(seer_read_file(path2, &file2, &flen, &err), &err);
        CHECK(file2 && flen == size && memcmp(file2, img, size) == 0);
        free(file2);
        seer_st_writer_free(w3);
        seer_st_free(s);
    }

    /* every proper prefix of a valid file must fail cleanly, with a message */
    int truncated_ok = 0, silent = 0;
    for (size_t k = 0; k < size; k++) {
        uint8_t *p = malloc(k ? k : 1);
        memcpy(p, img, k);
        seer_st *t = NULL;
        err.msg[0] = 0;
        if (seer_st_open_buffer(p, k, &t, &err) == SEER_OK) truncated_ok++;
        else if (!err.msg[0]) silent++;
        seer_st_free(t);
        free(p);
    }
    CHECK_MSG(truncated_ok == 0, "%d truncated prefixes (of %zu) were accepted", truncated_ok, size);
    CHECK_MSG(silent == 0, "%d truncated prefixes failed without a message", silent);
    free(img);
    seer_st_writer_free(w);
    for (int i = 0; i < N_CASES; i++) free(bufs[i]);
}

static void test_empty_and_padding(void) {
    seer_err err = {0};
    /* a writer with nothing gives "{}" padded to 8 */
    seer_st_writer *w = seer_st_writer_init();
    void *img = NULL;
    size_t size = 0;
    CHECK_OK(seer_st_writer_write_buffer(w, &img, &size, &err), &err);
    CHECK(size == 16 && img && memcmp((char *)img + 8, "{}      ", 8) == 0);
    seer_st *s = NULL;
    CHECK_OK(seer_st_open_buffer(img, size, &s, &err), &err);
    CHECK(s && seer_st_n_tensors(s) == 0 && seer_st_n_metadata(s) == 0);
    seer_st_free(s);
    free(img);
    seer_st_writer_free(w);

    /* other writers' whitespace, unpadded headers, gaps, trailing bytes and empty tensors
     * inside another tensor's bytes are all fine */
    size_t sz;
    uint8_t *b = make_st("\n{ \"b\" : {\"shape\":[2],\"dtype\":\"I16\",\"data_offsets\":[8,12]},\r\n"
                         "\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                         "\"e\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[2,2]}}\t ",
                         20, &sz);
    s = NULL;
    CHECK_OK(seer_st_open_buffer(b, sz, &s, &err), &err);
    if (s) {
        CHECK(seer_st_n_tensors(s) == 3);
        CHECK(strcmp(seer_st_tensor(s, 0)->name, "a") == 0);
        CHECK(strcmp(seer_st_tensor(s, 1)->name, "e") == 0);
        CHECK(strcmp(seer_st_tensor(s, 2)->name, "b") == 0);
        CHECK(seer_st_find(s, "b")->type == SEER_DTYPE_I16);
        CHECK((uint8_t *)seer_st_find(s, "b")->data == b + sz - 20 + 8);
    }
    seer_st_free(s);
    free(b);
}

static void test_writer_errors(void) {
    seer_err err = {0};
    float x[4] = {0};
    int64_t shape[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    void *img = NULL;
    size_t size = 0;
    struct {
        const char *name;
        seer_dtype type;
        int n_dims;
        const int64_t *shape;
        const char *needle;
    } bad[] = {
        {"q", SEER_DTYPE_Q8_0, 1, (const int64_t[]){32}, "cannot be stored"},
        {"deep", SEER_DTYPE_F32, 9, shape, "9 dims"},
        {"neg", SEER_DTYPE_F32, 1, (const int64_t[]){-1}, "bad shape"},
        {"__metadata__", SEER_DTYPE_F32, 1, (const int64_t[]){1}, "reserved"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        seer_st_writer *w = seer_st_writer_init();
        seer_st_writer_add(w, "fine", SEER_DTYPE_F32, 1, (const int64_t[]){4}, x);
        seer_st_writer_add(w, bad[i].name, bad[i].type, bad[i].n_dims, bad[i].shape, x);
        CHECK_FAILS(seer_st_writer_write_buffer(w, &img, &size, &err), &err, bad[i].needle);
        CHECK(img == NULL);
        CHECK_FAILS(seer_st_writer_write(w, test_tmp("st_never.safetensors"), &err), &err, bad[i].needle);
        seer_st_writer_free(w);
    }
    seer_st_writer *w = seer_st_writer_init();
    seer_st_writer_add(w, "twice", SEER_DTYPE_F32, 1, (const int64_t[]){4}, x);
    seer_st_writer_add(w, "other", SEER_DTYPE_F32, 1, (const int64_t[]){4}, x);
    seer_st_writer_add(w, "twice", SEER_DTYPE_F32, 1, (const int64_t[]){4}, x);
    CHECK_FAILS(seer_st_writer_write_buffer(w, &img, &size, &err), &err, "'twice' added twice");
    seer_st_writer_free(w);
    CHECK_FAILS(seer_st_writer_write_buffer(NULL, &img, &size, &err), &err, "out of memory");
    CHECK(!seer_path_exists(test_tmp("st_never.safetensors")));
}

#define T(body) "{\"a\":{" body "}}"
#define GOOD_A "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"

static void test_corrupt(void) {
    seer_err err = {0};
    seer_st *s = NULL;
    uint8_t tiny[4] = {0};
    CHECK_FAILS(seer_st_open_buffer(tiny, 4, &s, &err), &err, "too short for the 8-byte header length");
    CHECK_FAILS(seer_st_open_buffer(NULL, 0, &s, &err), &err, "0 bytes, too short");

    /* header length past the file, and over the limit */
    size_t sz;
    uint8_t *b = make_st("{}", 0, &sz);
    b[0] = 3;
    CHECK_FAILS(seer_st_open_buffer(b, sz, &s, &err), &err, "header length 3 past end of file (10 bytes)");
    b[0] = 0;
    b[5] = 1; /* 2^40 */
    CHECK_FAILS(seer_st_open_buffer(b, sz, &s, &err), &err, "exceeds the 104857600-byte limit");
    free(b);
    /* NUL padding is not whitespace */
    b = make_st("{}xx", 0, &sz);
    b[10] = b[11] = 0;
    CHECK_FAILS(seer_st_open_buffer(b, sz, &s, &err), &err, "bytes after the JSON object (at byte 2 of 4)");
    free(b);

    expect_bad("{\"a\": ", 0, "header is not valid JSON", SEER_ERR_FORMAT);
    expect_bad("", 0, "header is not valid JSON", SEER_ERR_FORMAT);
    expect_bad("{}  x ", 0, "bytes after the JSON object (at byte 4", SEER_ERR_FORMAT);
    expect_bad("[1, 2]", 0, "header is not a JSON object", SEER_ERR_FORMAT);
    expect_bad("{\"a\": 3}", 0, "tensor 'a': entry is not a JSON object", SEER_ERR_FORMAT);
    expect_bad(T("\"shape\":[2],\"data_offsets\":[0,8]"), 8, "tensor 'a': missing \"dtype\"", SEER_ERR_FORMAT);
    expect_bad(T("\"dtype\":\"F32\",\"data_offsets\":[0,8]"), 8, "tensor 'a': missing \"shape\"", SEER_ERR_FORMAT);
    expect_bad(T("\"dtype\":\"F32\",\"shape\":[2]"), 8, "tensor 'a': missing \"data_offsets\"", SEER_ERR_FORMAT);
    expect_bad(T("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1"), 8,
               "tensor 'a': unknown field 'extra'", SEER_ERR_FORMAT);
    expect_bad(T("\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]"), 8,
               "tensor 'a': field 'dtype' given twice", SEER_ERR_FORMAT);
    expect_bad(T("\"dtype\":\"F31\",\"shape\":[2],\"data_offsets\":[0,8]"), 8, "tensor 'a': unknown dtype 'F31'",
               SEER_ERR_UNSUPPORTED);
    expect_bad(T("\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]"), 8,
               "tensor 'a': dtype F8_E4M3 is not supported", SEER_ERR_UNSUPPORTED);
    expect_bad(T("\"dtype\":\"U16\",\"shape\":[2],\"data_offsets\":[0,4]"), 8, "tensor 'a': dtype U16 is not supported",
               SEER_ERR_UNSUPPORTED);
    expect_bad(T("\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]"), 8, "dtype is not a string", SEER_ERR_FORMAT);
    expect_bad(T("\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]"), 8, "shape is not an array", SEER_ERR_FORMAT);
    expect_bad(T("\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]"), 8,
               "tensor 'a': shape[0] is -2, must be >= 0", SEER_ERR_FORMAT);
    expect_bad(T("\"dtype\":\"F32\",\"shape\":[1,2.5],\"data_offsets\":[0,8]"), 8, "shape[1] is 2.5, not an integer",
               SEER_ERR_FORMAT);
    expect_bad(T("\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]"), 8, "shape[0] is not a number",
               SEER_ERR_FORMAT);
    expect_bad(T("\"dtype\":\"F32\",\"shape\":[1e16],\"data_offsets\":[0,8]"), 8, "shape[0] is 1e+16, too large",
               SEER_ERR_FORMAT);
    expect_bad(T("\"dtype\":\"F32\",\"shape\":[1e400],\"data_offsets\":[0,8]"), 8, "shape[0] is inf, not an integer",
               SEER_ERR_FORMAT);
    expect_bad(T("\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]"), 8,
               "shape has 9 dims, at most 8", SEER_ERR_UNSUPPORTED);
    expect_bad(T("\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,8]"), 8,
               "shape [4294967296, 4294967296, 16] is too large", SEER_ERR_FORMAT);
    expect_bad(T("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]"), 8,
               "data_offsets is not an array [begin, end]", SEER_ERR_FORMAT);
    expect_bad(T("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-1,7]"), 8, "data_offsets[0] is -1, must be >= 0",
               SEER_ERR_FORMAT);
    expect_bad(T("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]"), 8,
               "tensor 'a': data_offsets [8, 0] reversed", SEER_ERR_FORMAT);
    expect_bad(T("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]"), 8,
               "tensor 'a': data_offsets end 12 past end of data (8 bytes)", SEER_ERR_FORMAT);
    expect_bad(T("\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]"), 16,
               "tensor 'a': data_offsets [0, 8] hold 8 bytes but F32 [3] needs 12", SEER_ERR_FORMAT);
    expect_bad("{" GOOD_A ",\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 16,
               "tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]", SEER_ERR_FORMAT);
    /* an empty tensor in between does not hide an overlap */
    expect_bad("{\"big\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
               "\"e\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,4]},"
               "\"s\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]}}",
               16, "tensor 's': data_offsets [6, 8] overlap tensor 'big' [0, 8]", SEER_ERR_FORMAT);
    expect_bad("{" GOOD_A ",\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16,
               "duplicate tensor name 'a'", SEER_ERR_FORMAT);
    expect_bad("{\"__metadata__\":{\"k\":\"v\",\"n\":3}," GOOD_A "}", 8, "__metadata__ key 'n': value is not a string",
               SEER_ERR_FORMAT);
    expect_bad("{\"__metadata__\":[]," GOOD_A "}", 8, "\"__metadata__\" is not a JSON object", SEER_ERR_FORMAT);
    expect_bad("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "\"__metadata__\" given twice", SEER_ERR_FORMAT);
    expect_bad("{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0, "duplicate __metadata__ key 'k'", SEER_ERR_FORMAT);
}

static void write_text(const char *path, const char *text) {
    seer_err err = {0};
    CHECK_OK(seer_write_file_atomic(path, text, strlen(text), &err), &err);
}

static void write_shard(const char *dir, const char *file, const char *const *names, int n, const float *data) {
    seer_err err = {0};
    seer_st_writer *w = seer_st_writer_init();
    seer_st_writer_set_metadata(w, "shard", file);
    for (int i = 0; i < n; i++)
        seer_st_writer_add(w, names[i], SEER_DTYPE_F32, 2, (const int64_t[]){2, 3}, data + 6 * i);
    char *p = seer_path_join(dir, file);
    CHECK_OK(seer_st_writer_write(w, p, &err), &err);
    free(p);
    seer_st_writer_free(w);
}

static void test_sets(void) {
    seer_err err = {0};
    char dir[1024], sub[1100];
    snprintf(dir, sizeof(dir), "%s", test_tmp("st_set"));
    mkdir(dir, 0755);
    float data[6 * 4];
    for (int i = 0; i < 24; i++) data[i] = (float)i * 0.5f - 3.0f;

    /* two shards plus an index, opened through the index and through the folder */
    snprintf(sub, sizeof(sub), "%s/sharded", dir);
    mkdir(sub, 0755);
    write_shard(sub, "model-00002-of-00002.safetensors", (const char *const[]){"lm_head.weight"}, 1, data + 18);
    write_shard(sub, "model-00001-of-00002.safetensors", (const char *const[]){"embed", "layers.0.w", "layers.0.b"}, 3,
                data);
    char *index = seer_path_join(sub, "model.safetensors.index.json");
    write_text(index, "{\"metadata\": {\"total_size\": 96}, \"weight_map\": {"
                      "\"lm_head.weight\": \"model-00002-of-00002.safetensors\","
                      "\"embed\": \"model-00001-of-00002.safetensors\","
                      "\"layers.0.w\": \"model-00001-of-00002.safetensors\","
                      "\"layers.0.b\": \"model-00001-of-00002.safetensors\"}}");
    for (int via = 0; via < 2; via++) {
        seer_st_set *s = NULL;
        CHECK_OK(seer_st_set_open(via ? sub : index, &s, &err), &err);
        if (!s) continue;
        CHECK(seer_st_set_n_tensors(s) == 4);
        CHECK(seer_st_set_n_files(s) == 2);
        CHECK(strcmp(seer_st_metadata(seer_st_set_file(s, 1), "shard"), "model-00002-of-00002.safetensors") == 0);
        CHECK(strstr(seer_st_set_file_path(s, 0), "model-00001-of-00002.safetensors") != NULL);
        const char *order[] = {"embed", "layers.0.w", "layers.0.b", "lm_head.weight"};
        for (int i = 0; i < 4; i++) {
            const seer_tensor *t = seer_st_set_tensor(s, i);
            CHECK_MSG(t && strcmp(t->name, order[i]) == 0, "set tensor %d is '%s'", i, t ? t->name : "(null)");
            const seer_tensor *f = seer_st_set_find(s, order[i]);
            CHECK(f == t);
            CHECK(f && f->nbytes == 24 && memcmp(f->data, data + 6 * i, 24) == 0);
        }
        CHECK(seer_st_set_find(s, "missing") == NULL && seer_st_set_tensor(s, 4) == NULL);
        seer_st_set_free(s);
    }
    free(index);

    /* a folder with one model.safetensors, and the file itself */
    snprintf(sub, sizeof(sub), "%s/single", dir);
    mkdir(sub, 0755);
    write_shard(sub, "model.safetensors", (const char *const[]){"x", "y"}, 2, data);
    seer_st_set *s = NULL;
    CHECK_OK(seer_st_set_open(sub, &s, &err), &err);
    CHECK(s && seer_st_set_n_tensors(s) == 2 && seer_st_set_find(s, "y") && seer_st_set_n_files(s) == 1);
    seer_st_set_free(s);
    char *single = seer_path_join(sub, "model.safetensors");
    s = NULL;
    CHECK_OK(seer_st_set_open(single, &s, &err), &err);
    CHECK(s && seer_st_set_n_tensors(s) == 2);
    seer_st_set_free(s);
    free(single);

    /* a folder with neither */
    snprintf(sub, sizeof(sub), "%s/empty", dir);
    mkdir(sub, 0755);
    s = NULL;
    CHECK_FAILS(seer_st_set_open(sub, &s, &err), &err, "neither model.safetensors nor model.safetensors.index.json");
    CHECK(s == NULL);

    /* broken indexes, each in its own folder beside valid shards */
    snprintf(sub, sizeof(sub), "%s/bad", dir);
    mkdir(sub, 0755);
    write_shard(sub, "s1.safetensors", (const char *const[]){"a", "b"}, 2, data);
    write_shard(sub, "s2.safetensors", (const char *const[]){"c", "a"}, 2, data);
    struct {
        const char *json, *needle;
    } bad[] = {
        {"{\"weight_map\": {\"a\": \"s1.safetensors\", \"zz\": \"s1.safetensors\"}}",
         "weight_map puts tensor 'zz' in s1.safetensors, which has no such tensor"},
        {"{\"weight_map\": {\"b\": \"s1.safetensors\", \"c\": \"s2.safetensors\"}}", "tensor 'a' is in both"},
        {"{\"metadata\": {}}", "with a \"weight_map\" object"},
        {"[1]", "with a \"weight_map\" object"},
        {"{\"weight_map\": {\"a\": ", "not valid JSON"},
        {"{\"weight_map\": {}}", "weight_map is empty"},
        {"{\"weight_map\": {\"a\": \"gone.safetensors\"}}", "shard 'gone.safetensors': "},
        {"{\"weight_map\": {\"a\": \"../s1.safetensors\"}}", "inside the index's folder"},
        {"{\"weight_map\": {\"a\": \"/etc/passwd\"}}", "inside the index's folder"},
        {"{\"weight_map\": {\"a\": 7}}", "tensor 'a': shard must be a file name"},
        {"{\"weight_map\": {\"a\": \"s1.safetensors\", \"a\": \"s1.safetensors\"}}", "lists tensor 'a' twice"},
    };
    char *bad_index = seer_path_join(sub, "bad.index.json");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_text(bad_index, bad[i].json);
        s = NULL;
        CHECK_FAILS(seer_st_set_open(bad_index, &s, &err), &err, bad[i].needle);
        CHECK(s == NULL);
    }
    free(bad_index);
    /* a broken shard names the shard */
    char *junk = seer_path_join(sub, "junk.safetensors");
    write_text(junk, "not a safetensors file at all");
    bad_index = seer_path_join(sub, "junk.index.json");
    write_text(bad_index, "{\"weight_map\": {\"a\": \"junk.safetensors\"}}");
    CHECK_FAILS(seer_st_set_open(bad_index, &s, &err), &err, "junk.safetensors: header length");
    CHECK_FAILS(seer_st_set_open(junk, &s, &err), &err, "exceeds the");
    free(bad_index);
    free(junk);
    CHECK_FAILS(seer_st_set_open(test_tmp("st_set/does-not-exist.safetensors"), &s, &err), &err, "cannot open");
}

static void test_glove(void) {
    const char *path = test_data("data/glove/glove-6B-100d-top50k.safetensors");
    if (!seer_path_exists(path)) {
        printf("skipping GloVe checks: %s not found\n", path);
        return;
    }
    seer_err err = {0};
    seer_st *s = NULL;
    CHECK_OK(seer_st_open_file(path, &s, &err), &err);
    if (!s) return;
    CHECK(seer_st_n_tensors(s) == 1);
    const seer_tensor *t = seer_st_find(s, "vectors");
    CHECK(t != NULL);
    if (t) {
        CHECK(t->type == SEER_DTYPE_F32 && t->n_dims == 2 && t->shape[0] == 50000 && t->shape[1] == 100);
        CHECK(t->nbytes == 50000u * 100u * 4u);
        CHECK((uintptr_t)t->data % 4 == 0);
        const float *v = t->data;
        int64_t at[] = {0, 1, 99, 100, 12345, 2500000, 4999999};
        double norm = 0;
        for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
            CHECK_MSG(isfinite(v[at[i]]) && fabsf(v[at[i]]) < 100, "vectors[%lld] = %g", (long long)at[i],
                      (double)v[at[i]]);
        }
        for (int i = 0; i < 100; i++) norm += (double)v[i] * v[i];
        CHECK_MSG(norm > 0.1 && norm < 1000, "row 0 norm^2 %g", norm);
    }
    const char *src = seer_st_metadata(s, "source");
    CHECK(src && strstr(src, "GloVe"));
    seer_st_free(s);
    seer_st_set *set = NULL;
    CHECK_OK(seer_st_set_open(path, &set, &err), &err);
    CHECK(set && seer_st_set_n_tensors(set) == 1 && seer_st_set_find(set, "vectors"));
    seer_st_set_free(set);
}

int main(void) {
    test_round_trip();
    test_empty_and_padding();
    test_writer_errors();
    test_corrupt();
    test_sets();
    test_glove();
    return test_done("test_safetensors");
}
