/* GGUF: the real stories260K file from llama.cpp (metadata, tensor shapes, data in place, and a
 * byte-identical rewrite), a writer round trip of every value and tensor type, and one
 * generated corrupt input per check the parser makes (plus every truncation of a valid file
 * and seeded random byte flips), each expecting its own message. */
#include "test.h"

#include "seer/gguf.h"

/* ---- stories260K.gguf ---- */

static int str_is(seer_gguf_str s, const char *want) {
    return s.len == strlen(want) && memcmp(s.data, want, s.len) == 0;
}

static int shape_is(const seer_tensor *t, int n_dims, int64_t a, int64_t b) {
    return t && t->n_dims == n_dims && t->shape[0] == a && (n_dims < 2 || t->shape[1] == b);
}

static void check_stories_meta(const seer_gguf *g) {
    seer_err err = {0};
    seer_gguf_str s = {0};
    CHECK(seer_gguf_version(g) == 3);
    CHECK(seer_gguf_alignment(g) == 32);
    CHECK(seer_gguf_n_kv(g) == 19);
    CHECK_OK(seer_gguf_get_str(g, "general.architecture", &s, &err), &err);
    CHECK(str_is(s, "llama"));
    uint32_t u = 0;
    CHECK_OK(seer_gguf_get_u32(g, "llama.block_count", &u, &err), &err);
    CHECK(u == 5);
    CHECK_OK(seer_gguf_get_u32(g, "llama.embedding_length", &u, &err), &err);
    CHECK(u == 64);
    CHECK_OK(seer_gguf_get_u32(g, "llama.attention.head_count", &u, &err), &err);
    CHECK(u == 8);
    CHECK_OK(seer_gguf_get_u32(g, "llama.attention.head_count_kv", &u, &err), &err);
    CHECK(u == 4);
    CHECK_OK(seer_gguf_get_u32(g, "llama.feed_forward_length", &u, &err), &err);
    CHECK(u == 172);
    CHECK_OK(seer_gguf_get_u32(g, "tokenizer.ggml.seperator_token_id", &u, &err), &err);
    CHECK(u == UINT32_MAX);
    int64_t i64 = 0;
    CHECK_OK(seer_gguf_get_i64(g, "tokenizer.ggml.bos_token_id", &i64, &err), &err);
    CHECK(i64 == 1);
    float eps = 0;
    CHECK_OK(seer_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &eps, &err), &err);
    CHECK(fabsf(eps - 1e-5f) < 1e-10f);

    seer_gguf_type et = SEER_GGUF_TYPE_COUNT;
    uint64_t n = 0;
    CHECK_OK(seer_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n, &err), &err);
    CHECK(et == SEER_GGUF_TYPE_STRING && n == 512);
    CHECK_OK(seer_gguf_arr_str(g, "tokenizer.ggml.tokens", 0, &s, &err), &err);
    CHECK(str_is(s, "<unk>"));
    CHECK_OK(seer_gguf_arr_str(g, "tokenizer.ggml.tokens", 1, &s, &err), &err);
    CHECK(str_is(s, "<s>"));
    CHECK_OK(seer_gguf_arr_str(g, "tokenizer.ggml.tokens", 3, &s, &err), &err);
    CHECK(str_is(s, "<0x00>"));
    CHECK_OK(seer_gguf_arr_str(g, "tokenizer.ggml.tokens", 511, &s, &err), &err);
    CHECK(s.len > 0);
    CHECK_FAILS(seer_gguf_arr_str(g, "tokenizer.ggml.tokens", 512, &s, &err), &err, "index 512 out of range");
    CHECK(seer_gguf_arr_data(g, "tokenizer.ggml.tokens") == NULL);
    CHECK_OK(seer_gguf_get_arr(g, "tokenizer.ggml.token_type", &et, &n, &err), &err);
    CHECK(et == SEER_GGUF_TYPE_INT32 && n == 512);
    const uint8_t *tt = seer_gguf_arr_data(g, "tokenizer.ggml.token_type");
    int32_t t0 = 0, t1 = 0;
    CHECK(tt != NULL);
    if (tt) {
        memcpy(&t0, tt, 4);
        memcpy(&t1, tt + 4, 4);
    }
    CHECK(t0 == 2 && t1 == 3); /* unknown, control */

    /* wrong type, absent key, wrong array kind */
    CHECK_FAILS(seer_gguf_get_u32(g, "general.architecture", &u, &err), &err, "has type string, expected an integer");
    CHECK_FAILS(seer_gguf_get_str(g, "llama.block_count", &s, &err), &err, "has type u32, expected string");
    CHECK_FAILS(seer_gguf_get_bool(g, "llama.block_count", &(int){0}, &err), &err, "expected bool");
    CHECK_FAILS(seer_gguf_get_f32(g, "llama.block_count", &eps, &err), &err, "expected f32 or f64");
    CHECK_FAILS(seer_gguf_get_arr(g, "llama.block_count", &et, &n, &err), &err, "expected array");
    CHECK_FAILS(seer_gguf_get_u32(g, "llama.no_such_key", &u, &err), &err, "key 'llama.no_such_key' not found");
    CHECK_FAILS(seer_gguf_arr_str(g, "tokenizer.ggml.scores", 0, &s, &err), &err, "expected an array of strings");
    CHECK(seer_gguf_find_key(g, "general.architecture") >= 0);
    CHECK(seer_gguf_find_key(g, "general.architectur") == -1);
    CHECK(seer_gguf_key(g, -1) == NULL && seer_gguf_key(g, 19) == NULL);
    CHECK(seer_gguf_kv_type(g, 19) == SEER_GGUF_TYPE_COUNT);

    char line[256];
    int64_t k = seer_gguf_find_key(g, "llama.block_count");
    seer_gguf_kv_format(g, k, line, sizeof(line));
    CHECK_MSG(strcmp(line, "llama.block_count = 5") == 0, "got '%s'", line);
    k = seer_gguf_find_key(g, "tokenizer.ggml.tokens");
    seer_gguf_kv_format(g, k, line, sizeof(line));
    CHECK_MSG(strcmp(line, "tokenizer.ggml.tokens = [string x 512] \"<unk>\", \"<s>\", \"</s>\", ...") == 0, "got '%s'",
              line);
    k = seer_gguf_find_key(g, "general.architecture");
    seer_gguf_kv_format(g, k, line, sizeof(line));
    CHECK_MSG(strcmp(line, "general.architecture = \"llama\"") == 0, "got '%s'", line);
    k = seer_gguf_find_key(g, "llama.attention.layer_norm_rms_epsilon");
    seer_gguf_kv_format(g, k, line, sizeof(line));
    CHECK_MSG(strcmp(line, "llama.attention.layer_norm_rms_epsilon = 1e-05") == 0, "got '%s'", line);
    k = seer_gguf_find_key(g, "tokenizer.ggml.token_type");
    seer_gguf_kv_format(g, k, line, sizeof(line));
    CHECK_MSG(strcmp(line, "tokenizer.ggml.token_type = [i32 x 512] 2, 3, 3, ...") == 0, "got '%s'", line);
    seer_gguf_kv_format(g, k, line, 16); /* a short buffer is cut, and says so */
    CHECK_MSG(strcmp(line, "tokenizer.gg...") == 0, "got '%s'", line);
}

/* The tensor views against the file read independently, and token_embd against the same
 * weights in the llama2.c checkpoint (which checks that shapes are outermost first). */
static void check_stories_tensors(const seer_gguf *g, const uint8_t *file, size_t file_size) {
    CHECK(seer_gguf_n_tensors(g) == 48);
    CHECK(seer_gguf_data_offset(g) == 14176); /* header ends at 14152, padded to 32 */
    const seer_tensor *t = seer_gguf_find_tensor(g, "token_embd.weight");
    CHECK(shape_is(t, 2, 512, 64) && t->type == SEER_DTYPE_F32 && t->nbytes == 512 * 64 * 4);
    CHECK(shape_is(seer_gguf_find_tensor(g, "blk.0.attn_k.weight"), 2, 32, 64));
    CHECK(shape_is(seer_gguf_find_tensor(g, "blk.0.attn_q.weight"), 2, 64, 64));
    CHECK(shape_is(seer_gguf_find_tensor(g, "blk.3.ffn_gate.weight"), 2, 172, 64));
    CHECK(shape_is(seer_gguf_find_tensor(g, "blk.3.ffn_down.weight"), 2, 64, 172));
    CHECK(shape_is(seer_gguf_find_tensor(g, "blk.4.ffn_norm.weight"), 1, 64, 0));
    CHECK(shape_is(seer_gguf_find_tensor(g, "output_norm.weight"), 1, 64, 0));
    CHECK(shape_is(seer_gguf_find_tensor(g, "output.weight"), 2, 512, 64));
    CHECK(seer_gguf_find_tensor(g, "blk.5.ffn_norm.weight") == NULL);
    CHECK(seer_gguf_tensor(g, 48) == NULL && seer_gguf_tensor(g, -1) == NULL);

    int bad = 0;
    const uint8_t *base = NULL;
    if (seer_gguf_tensor(g, 0))
        base = (const uint8_t *)seer_gguf_tensor(g, 0)->data - seer_gguf_data_offset(g) - seer_gguf_tensor_offset(g, 0);
    for (int64_t i = 0; i < seer_gguf_n_tensors(g) && base; i++) {
        const seer_tensor *ti = seer_gguf_tensor(g, i);
        size_t at = seer_gguf_data_offset(g) + seer_gguf_tensor_offset(g, i);
        if (ti->data != base + at || at + ti->nbytes > file_size || seer_gguf_tensor_offset(g, i) % 32 ||
            memcmp(ti->data, file + at, ti->nbytes) != 0 || seer_gguf_find_tensor(g, ti->name) != ti)
            bad++;
    }
    CHECK_MSG(bad == 0, "%d tensor views do not match the file", bad);

    char *bin = NULL;
    size_t bin_len = 0;
    seer_err err = {0};
    if (t && seer_read_file(test_data("models/stories260K/stories260K.bin"), &bin, &bin_len, &err) == SEER_OK) {
        CHECK(bin_len >= 28 + t->nbytes && memcmp(bin + 28, t->data, t->nbytes) == 0);
        free(bin);
    }
}

/* Copying every kv and tensor of llama.cpp's file gives the file back: same encoding of every
 * value, same tensor order and the same aligned data layout. */
static void check_stories_rewrite(const seer_gguf *g, const uint8_t *file, size_t file_size) {
    seer_err err = {0};
    seer_gguf_writer *w = seer_gguf_writer_init();
    seer_gguf_writer_copy_kv(w, g);
    for (int64_t i = 0; i < seer_gguf_n_tensors(g); i++) {
        const seer_tensor *t = seer_gguf_tensor(g, i);
        seer_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->shape, t->data);
    }
    void *out = NULL;
    size_t size = 0;
    CHECK_OK(seer_gguf_writer_write_buffer(w, &out, &size, &err), &err);
    CHECK_MSG(size == file_size && out && memcmp(out, file, size) == 0, "rewrite of stories260K.gguf differs (%zu vs %zu bytes)",
              size, file_size);
    free(out);
    seer_gguf_writer_free(w);
}

static void test_stories(void) {
    const char *path = test_data("models/stories260K/stories260K.gguf");
    if (!seer_path_exists(path)) {
        printf("test_gguf: %s not found, skipping the stories260K checks\n", path);
        return;
    }
    seer_err err = {0};
    seer_gguf *g = NULL;
    CHECK_OK(seer_gguf_open_file(path, &g, &err), &err);
    char *file = NULL;
    size_t file_size = 0;
    CHECK_OK(seer_read_file(path, &file, &file_size, &err), &err);
    if (g && file) {
        check_stories_meta(g);
        check_stories_tensors(g, (const uint8_t *)file, file_size);
        check_stories_rewrite(g, (const uint8_t *)file, file_size);
    }
    free(file);
    seer_gguf_free(g);

    CHECK_FAILS(seer_gguf_open_file(test_tmp("no-such-file.gguf"), &g, &err), &err, "no-such-file.gguf: cannot open");
    CHECK(g == NULL);
}

/* ---- writer round trip ---- */

static const uint8_t arr_u8[] = {1, 2, 200};
static const int8_t arr_i8[] = {-128, 0, 127};
static const uint16_t arr_u16[] = {0, 65535};
static const int16_t arr_i16[] = {-32768, 7, 32767};
static const uint32_t arr_u32[] = {4000000000u};
static const int32_t arr_i32[] = {-1, 2, -3, 4};
static const float arr_f32[] = {1.0f, 2.5f, -3.0f, 4.0f, 5.0f};
static const uint8_t arr_bool[] = {1, 0, 1};
static const uint64_t arr_u64[] = {UINT64_MAX, 0};
static const int64_t arr_i64[] = {INT64_MIN, INT64_MAX};
static const double arr_f64[] = {0.125, -1e300};
static const char *const arr_strs[] = {"alpha", "", "with\0nul", "\xe2\x96\x81the"};
static const uint64_t arr_lens[] = {5, 0, 8, 6};

static void fill_values(seer_gguf_writer *w) {
    seer_gguf_writer_set_str(w, "general.architecture", "test");
    seer_gguf_writer_set_u8(w, "v.u8", 200);
    seer_gguf_writer_set_i8(w, "v.i8", -5);
    seer_gguf_writer_set_u16(w, "v.u16", 65000);
    seer_gguf_writer_set_i16(w, "v.i16", -30000);
    seer_gguf_writer_set_u32(w, "v.u32", 4000000000u);
    seer_gguf_writer_set_i32(w, "v.i32", -2000000000);
    seer_gguf_writer_set_f32(w, "v.f32", 0.1f);
    seer_gguf_writer_set_bool(w, "v.bool", 7); /* any non-zero is true */
    seer_gguf_writer_set_str(w, "v.str", "quote \" backslash \\ newline \n tab \t");
    seer_gguf_writer_set_u64(w, "v.u64", UINT64_MAX);
    seer_gguf_writer_set_i64(w, "v.i64", INT64_MIN);
    seer_gguf_writer_set_f64(w, "v.f64", 2.5);
    seer_gguf_writer_set_arr(w, "a.u8", SEER_GGUF_TYPE_UINT8, arr_u8, 3);
    seer_gguf_writer_set_arr(w, "a.i8", SEER_GGUF_TYPE_INT8, arr_i8, 3);
    seer_gguf_writer_set_arr(w, "a.u16", SEER_GGUF_TYPE_UINT16, arr_u16, 2);
    seer_gguf_writer_set_arr(w, "a.i16", SEER_GGUF_TYPE_INT16, arr_i16, 3);
    seer_gguf_writer_set_arr(w, "a.u32", SEER_GGUF_TYPE_UINT32, arr_u32, 1);
    seer_gguf_writer_set_arr(w, "a.i32", SEER_GGUF_TYPE_INT32, arr_i32, 4);
    seer_gguf_writer_set_arr(w, "a.f32", SEER_GGUF_TYPE_FLOAT32, arr_f32, 5);
    seer_gguf_writer_set_arr(w, "a.bool", SEER_GGUF_TYPE_BOOL, arr_bool, 3);
    seer_gguf_writer_set_arr(w, "a.u64", SEER_GGUF_TYPE_UINT64, arr_u64, 2);
    seer_gguf_writer_set_arr(w, "a.i64", SEER_GGUF_TYPE_INT64, arr_i64, 2);
    seer_gguf_writer_set_arr(w, "a.f64", SEER_GGUF_TYPE_FLOAT64, arr_f64, 2);
    seer_gguf_writer_set_arr(w, "a.empty", SEER_GGUF_TYPE_INT32, NULL, 0);
    seer_gguf_writer_set_arr_str(w, "a.str", arr_strs, arr_lens, 4);
    seer_gguf_writer_set_arr_str(w, "a.str_z", arr_strs, NULL, 2); /* NUL-terminated */
    seer_gguf_writer_set_u32(w, "general.alignment", 64);
}

typedef struct {
    const char *name;
    seer_dtype type;
    int n_dims;
    int64_t shape[4];
} tensor_case;

static const tensor_case tensor_cases[] = {
    {"t.f32", SEER_DTYPE_F32, 2, {3, 5}},        {"t.f16", SEER_DTYPE_F16, 1, {7}},
    {"t.bf16", SEER_DTYPE_BF16, 3, {2, 3, 4}},   {"t.q8_0", SEER_DTYPE_Q8_0, 2, {3, 64}},
    {"t.q4_0", SEER_DTYPE_Q4_0, 4, {1, 2, 1, 32}}, {"t.f64", SEER_DTYPE_F64, 1, {3}},
    {"t.i8", SEER_DTYPE_I8, 2, {5, 1}},          {"t.i16", SEER_DTYPE_I16, 1, {9}},
    {"t.i32", SEER_DTYPE_I32, 2, {2, 2}},        {"t.i64", SEER_DTYPE_I64, 1, {16}},
};
#define N_TENSOR_CASES (int)(sizeof(tensor_cases) / sizeof(tensor_cases[0]))

static size_t case_bytes(const tensor_case *c) {
    int64_t n = 1;
    for (int d = 0; d < c->n_dims; d++) n *= c->shape[d];
    return (size_t)n / seer_dtype_block_elems(c->type) * seer_dtype_block_bytes(c->type);
}

static int arr_is(const seer_gguf *g, const char *key, seer_gguf_type et, const void *want, uint64_t n) {
    seer_gguf_type t = SEER_GGUF_TYPE_COUNT;
    uint64_t got = 0;
    if (seer_gguf_get_arr(g, key, &t, &got, NULL) != SEER_OK || t != et || got != n) return 0;
    const void *p = seer_gguf_arr_data(g, key);
    return p && memcmp(p, want, (size_t)n * seer_gguf_type_size(et)) == 0;
}

static void check_values(const seer_gguf *g) {
    seer_err err = {0};
    CHECK(seer_gguf_n_kv(g) == 28);
    CHECK(seer_gguf_alignment(g) == 64);
    static const char *const order[] = {"general.architecture", "v.u8", "v.i8", "v.u16", "v.i16", "v.u32", "v.i32"};
    for (int i = 0; i < 7; i++) CHECK(strcmp(seer_gguf_key(g, i), order[i]) == 0);
    CHECK(seer_gguf_kv_type(g, 1) == SEER_GGUF_TYPE_UINT8 && seer_gguf_kv_type(g, 12) == SEER_GGUF_TYPE_FLOAT64);
    uint32_t u = 0;
    int64_t i = 0;
    float f = 0;
    int b = 0;
    seer_gguf_str s = {0};
    CHECK_OK(seer_gguf_get_u32(g, "v.u8", &u, &err), &err);
    CHECK(u == 200);
    CHECK_OK(seer_gguf_get_i64(g, "v.i8", &i, &err), &err);
    CHECK(i == -5);
    CHECK_OK(seer_gguf_get_u32(g, "v.u16", &u, &err), &err);
    CHECK(u == 65000);
    CHECK_OK(seer_gguf_get_i64(g, "v.i16", &i, &err), &err);
    CHECK(i == -30000);
    CHECK_OK(seer_gguf_get_u32(g, "v.u32", &u, &err), &err);
    CHECK(u == 4000000000u);
    CHECK_OK(seer_gguf_get_i64(g, "v.i32", &i, &err), &err);
    CHECK(i == -2000000000);
    CHECK_OK(seer_gguf_get_f32(g, "v.f32", &f, &err), &err);
    CHECK(f == 0.1f);
    CHECK_OK(seer_gguf_get_bool(g, "v.bool", &b, &err), &err);
    CHECK(b == 1);
    CHECK_OK(seer_gguf_get_str(g, "v.str", &s, &err), &err);
    CHECK(str_is(s, "quote \" backslash \\ newline \n tab \t"));
    CHECK_OK(seer_gguf_get_i64(g, "v.i64", &i, &err), &err);
    CHECK(i == INT64_MIN);
    CHECK_OK(seer_gguf_get_f32(g, "v.f64", &f, &err), &err);
    CHECK(f == 2.5f);
    /* integers that do not fit the asked type */
    CHECK_FAILS(seer_gguf_get_u32(g, "v.i8", &u, &err), &err, "value -5 does not fit u32");
    CHECK_FAILS(seer_gguf_get_u32(g, "v.u64", &u, &err), &err, "does not fit u32");
    CHECK_FAILS(seer_gguf_get_i64(g, "v.u64", &i, &err), &err, "18446744073709551615 does not fit i64");
    CHECK(arr_is(g, "a.u8", SEER_GGUF_TYPE_UINT8, arr_u8, 3));
    CHECK(arr_is(g, "a.i8", SEER_GGUF_TYPE_INT8, arr_i8, 3));
    CHECK(arr_is(g, "a.u16", SEER_GGUF_TYPE_UINT16, arr_u16, 2));
    CHECK(arr_is(g, "a.i16", SEER_GGUF_TYPE_INT16, arr_i16, 3));
    CHECK(arr_is(g, "a.u32", SEER_GGUF_TYPE_UINT32, arr_u32, 1));
    CHECK(arr_is(g, "a.i32", SEER_GGUF_TYPE_INT32, arr_i32, 4));
    CHECK(arr_is(g, "a.f32", SEER_GGUF_TYPE_FLOAT32, arr_f32, 5));
    CHECK(arr_is(g, "a.bool", SEER_GGUF_TYPE_BOOL, arr_bool, 3));
    CHECK(arr_is(g, "a.u64", SEER_GGUF_TYPE_UINT64, arr_u64, 2));
    CHECK(arr_is(g, "a.i64", SEER_GGUF_TYPE_INT64, arr_i64, 2));
    CHECK(arr_is(g, "a.f64", SEER_GGUF_TYPE_FLOAT64, arr_f64, 2));
    CHECK(arr_is(g, "a.empty", SEER_GGUF_TYPE_INT32, arr_i32, 0));
    for (int k = 0; k < 4; k++) {
        CHECK_OK(seer_gguf_arr_str(g, "a.str", (uint64_t)k, &s, &err), &err);
        CHECK(s.len == arr_lens[k] && memcmp(s.data, arr_strs[k], s.len) == 0);
    }
    CHECK_OK(seer_gguf_arr_str(g, "a.str_z", 1, &s, &err), &err);
    CHECK(s.len == 0);

    static const struct {
        const char *key, *want;
    } lines[] = {
        {"v.u8", "v.u8 = 200"},
        {"v.i8", "v.i8 = -5"},
        {"v.i16", "v.i16 = -30000"},
        {"v.u32", "v.u32 = 4000000000"},
        {"v.f32", "v.f32 = 0.1"},
        {"v.bool", "v.bool = true"},
        {"v.str", "v.str = \"quote \\\" backslash \\\\ newline \\n tab \\t\""},
        {"v.u64", "v.u64 = 18446744073709551615"},
        {"v.i64", "v.i64 = -9223372036854775808"},
        {"v.f64", "v.f64 = 2.5"},
        {"a.u8", "a.u8 = [u8 x 3] 1, 2, 200"},
        {"a.i16", "a.i16 = [i16 x 3] -32768, 7, 32767"},
        {"a.f32", "a.f32 = [f32 x 5] 1, 2.5, -3, ..."},
        {"a.bool", "a.bool = [bool x 3] true, false, true"},
        {"a.empty", "a.empty = [i32 x 0]"},
        {"a.str", "a.str = [string x 4] \"alpha\", \"\", \"with\\x00nul\", ..."},
        {"general.alignment", "general.alignment = 64"},
    };
    char line[256];
    for (size_t k = 0; k < sizeof(lines) / sizeof(lines[0]); k++) {
        seer_gguf_kv_format(g, seer_gguf_find_key(g, lines[k].key), line, sizeof(line));
        CHECK_MSG(strcmp(line, lines[k].want) == 0, "got '%s', want '%s'", line, lines[k].want);
    }
}

static void check_tensors(const seer_gguf *g, const uint8_t *file, uint8_t *const *datas) {
    CHECK(seer_gguf_n_tensors(g) == N_TENSOR_CASES);
    CHECK(seer_gguf_data_offset(g) % 64 == 0);
    for (int k = 0; k < N_TENSOR_CASES; k++) {
        const tensor_case *c = &tensor_cases[k];
        const seer_tensor *t = seer_gguf_tensor(g, k);
        CHECK_MSG(t && strcmp(t->name, c->name) == 0 && t->type == c->type && t->n_dims == c->n_dims &&
                      memcmp(t->shape, c->shape, (size_t)c->n_dims * sizeof(int64_t)) == 0 && t->nbytes == case_bytes(c) &&
                      memcmp(t->data, datas[k], t->nbytes) == 0,
                  "tensor %s does not round-trip", c->name);
        size_t at = t ? (size_t)((const uint8_t *)t->data - file) : 1;
        CHECK_MSG(at % 64 == 0 && seer_gguf_tensor_offset(g, k) % 64 == 0, "tensor %s at %zu is not aligned", c->name, at);
    }
}

/* A file written back from its parse, byte for byte. */
static void check_rewrite(const seer_gguf *g, const void *buf, size_t size) {
    seer_err err = {0};
    seer_gguf_writer *w = seer_gguf_writer_init();
    seer_gguf_writer_copy_kv(w, g);
    for (int64_t i = 0; i < seer_gguf_n_tensors(g); i++) {
        const seer_tensor *t = seer_gguf_tensor(g, i);
        seer_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->shape, t->data);
    }
    void *again = NULL;
    size_t again_size = 0;
    CHECK_OK(seer_gguf_writer_write_buffer(w, &again, &again_size, &err), &err);
    CHECK_MSG(again_size == size && again && memcmp(again, buf, size) == 0, "second write differs (%zu vs %zu bytes)",
              again_size, size);
    free(again);

    /* the same through the atomic file writer and the mapped reader */
    const char *path = test_tmp("gguf_roundtrip.gguf");
    CHECK_OK(seer_gguf_writer_write(w, path, &err), &err);
    char *disk = NULL;
    size_t disk_size = 0;
    CHECK_OK(seer_read_file(path, &disk, &disk_size, &err), &err);
    CHECK(disk && disk_size == size && memcmp(disk, buf, size) == 0);
    free(disk);
    seer_gguf *h = NULL;
    CHECK_OK(seer_gguf_open_file(path, &h, &err), &err);
    CHECK(h && seer_gguf_n_tensors(h) == N_TENSOR_CASES && seer_gguf_n_kv(h) == seer_gguf_n_kv(g));
    seer_gguf_free(h);
    remove(path);
    seer_gguf_writer_free(w);
}

static void test_roundtrip(void) {
    seer_err err = {0};
    seer_rng rng;
    seer_rng_seed(&rng, 42);
    uint8_t *datas[N_TENSOR_CASES];
    seer_gguf_writer *w = seer_gguf_writer_init();
    fill_values(w);
    for (int k = 0; k < N_TENSOR_CASES; k++) {
        size_t n = case_bytes(&tensor_cases[k]);
        datas[k] = malloc(n);
        for (size_t j = 0; j < n; j++) datas[k][j] = (uint8_t)seer_rng_u64(&rng);
        const tensor_case *c = &tensor_cases[k];
        seer_gguf_writer_add_tensor(w, c->name, c->type, c->n_dims, c->shape, datas[k]);
    }
    void *buf = NULL;
    size_t size = 0;
    CHECK_OK(seer_gguf_writer_write_buffer(w, &buf, &size, &err), &err);
    seer_gguf_writer_free(w);
    seer_gguf *g = NULL;
    if (buf) CHECK_OK(seer_gguf_open_buffer(buf, size, &g, &err), &err);
    if (g) {
        check_values(g);
        check_tensors(g, buf, datas);
        check_rewrite(g, buf, size);
        /* padding is zeros: between the header and the data, and after each tensor */
        const uint8_t *p = buf;
        size_t end = seer_gguf_data_offset(g), zeros = 0, pads = 0;
        for (int64_t k = 0; k < seer_gguf_n_tensors(g); k++) {
            const seer_tensor *t = seer_gguf_tensor(g, k);
            size_t start = (size_t)((const uint8_t *)t->data - p);
            for (size_t j = end; j < start; j++) zeros += p[j] == 0, pads++;
            end = start + t->nbytes;
        }
        for (size_t j = end; j < size; j++) zeros += p[j] == 0, pads++;
        CHECK_MSG(zeros == pads && size % 64 == 0, "%zu of %zu padding bytes are non-zero", pads - zeros, pads);
    }
    seer_gguf_free(g);
    free(buf);
    for (int k = 0; k < N_TENSOR_CASES; k++) free(datas[k]);
}

/* Setting a key twice replaces its value in place; setter mistakes surface at the write. */
static void test_writer_errors(void) {
    seer_err err = {0};
    void *buf = NULL;
    size_t size = 0;
    seer_gguf *g = NULL;
    float x[64] = {0};
    int64_t shape[5] = {2, 32, 1, 1, 1};

    seer_gguf_writer *w = seer_gguf_writer_init();
    seer_gguf_writer_set_u32(w, "a", 1);
    seer_gguf_writer_set_str(w, "b", "x");
    seer_gguf_writer_set_str(w, "a", "replaced");
    CHECK_OK(seer_gguf_writer_write_buffer(w, &buf, &size, &err), &err);
    if (buf) CHECK_OK(seer_gguf_open_buffer(buf, size, &g, &err), &err);
    seer_gguf_str s = {0};
    CHECK(g && seer_gguf_n_kv(g) == 2 && strcmp(seer_gguf_key(g, 0), "a") == 0 &&
          seer_gguf_get_str(g, "a", &s, &err) == SEER_OK && str_is(s, "replaced"));
    CHECK(g && seer_gguf_alignment(g) == 32 && seer_gguf_find_key(g, "general.alignment") < 0);
    seer_gguf_free(g);
    free(buf);
    seer_gguf_writer_free(w);

    static const struct {
        int what;
        const char *needle;
    } cases[] = {
        {0, "shape does not fit type q8_0"},
        {1, "duplicate tensor 't'"},
        {2, "general.alignment 0 is not a non-zero power of two"},
        {3, "general.alignment 48 is not"},
        {4, "general.alignment has type u64"},
        {5, "array element type string is not a fixed-size type"},
        {6, "bool element 1 is 2"},
        {7, "5 dimensions"},
        {8, "0 dimensions"},
        {9, "key is NULL"},
        {10, "type u8 has no ggml equivalent"},
        {11, "bad dimension 1 = 0"},
        {12, "key is empty"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        w = seer_gguf_writer_init();
        switch (cases[k].what) {
        case 0: seer_gguf_writer_add_tensor(w, "q", SEER_DTYPE_Q8_0, 2, (int64_t[]){2, 33}, x); break;
        case 1:
            seer_gguf_writer_add_tensor(w, "t", SEER_DTYPE_F32, 1, shape, x);
            seer_gguf_writer_add_tensor(w, "t", SEER_DTYPE_F32, 1, shape, x);
            break;
        case 2: seer_gguf_writer_set_u32(w, "general.alignment", 0); break;
        case 3: seer_gguf_writer_set_u32(w, "general.alignment", 48); break;
        case 4: seer_gguf_writer_set_u64(w, "general.alignment", 32); break;
        case 5: seer_gguf_writer_set_arr(w, "s", SEER_GGUF_TYPE_STRING, x, 1); break;
        case 6: seer_gguf_writer_set_arr(w, "b", SEER_GGUF_TYPE_BOOL, (uint8_t[]){1, 2}, 2); break;
        case 7: seer_gguf_writer_add_tensor(w, "t", SEER_DTYPE_F32, 5, shape, x); break;
        case 8: seer_gguf_writer_add_tensor(w, "t", SEER_DTYPE_F32, 0, shape, x); break;
        case 9: seer_gguf_writer_set_u32(w, NULL, 1); break;
        case 10: seer_gguf_writer_add_tensor(w, "t", SEER_DTYPE_U8, 1, shape, x); break;
        case 11: seer_gguf_writer_add_tensor(w, "t", SEER_DTYPE_F32, 2, (int64_t[]){2, 0}, x); break;
        case 12: seer_gguf_writer_set_f32(w, "", 1.0f); break;
        }
        seer_gguf_writer_set_u32(w, "later", 1); /* a later valid call keeps the first failure */
        CHECK_FAILS(seer_gguf_writer_write_buffer(w, &buf, &size, &err), &err, cases[k].needle);
        CHECK(buf == NULL);
        CHECK_FAILS(seer_gguf_writer_write(w, test_tmp("gguf_never.gguf"), &err), &err, cases[k].needle);
        CHECK(!seer_path_exists(test_tmp("gguf_never.gguf")));
        seer_gguf_writer_free(w);
    }
}

/* ---- corrupt inputs ---- */

/* Builds GGUF bytes by hand, so each case breaks exactly one thing. */
typedef struct bb {
    uint8_t p[4096];
    size_t n;
} bb;

static void bb_raw(bb *b, const void *p, size_t n) {
    SEER_ASSERT(b->n + n <= sizeof(b->p));
    memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void bb_u8(bb *b, uint8_t v) { bb_raw(b, &v, 1); }
static void bb_u32(bb *b, uint32_t v) { bb_raw(b, &v, 4); }
static void bb_u64(bb *b, uint64_t v) { bb_raw(b, &v, 8); }
static void bb_str(bb *b, const char *s) {
    bb_u64(b, strlen(s));
    bb_raw(b, s, strlen(s));
}
static void bb_pad(bb *b, size_t a) {
    while (b->n % a) bb_u8(b, 0);
}
static void bb_header(bb *b, uint64_t n_tensors, uint64_t n_kv) {
    b->n = 0;
    bb_raw(b, "GGUF", 4);
    bb_u32(b, 3);
    bb_u64(b, n_tensors);
    bb_u64(b, n_kv);
}
static void bb_kv_u32(bb *b, const char *key, uint32_t v) {
    bb_str(b, key);
    bb_u32(b, SEER_GGUF_TYPE_UINT32);
    bb_u32(b, v);
}
/* A tensor info with ne[] as given (innermost first, as in the file). */
static void bb_tensor(bb *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t offset) {
    bb_str(b, name);
    bb_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) bb_u64(b, ne[d]);
    bb_u32(b, type);
    bb_u64(b, offset);
}
/* Header with no kvs and one tensor, then the data section of data_bytes zeros. */
static void bb_one_tensor(bb *b, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t offset, size_t data_bytes) {
    bb_header(b, 1, 0);
    bb_tensor(b, "w", n_dims, ne, type, offset);
    bb_pad(b, 32);
    for (size_t i = 0; i < data_bytes; i++) bb_u8(b, 0);
}

/* Parses bytes from an exactly sized heap copy, so ASan sees any read past the end. */
static seer_status parse_exact(const uint8_t *p, size_t n, seer_err *err) {
    uint8_t *copy = malloc(n ? n : 1);
    if (n) memcpy(copy, p, n);
    seer_gguf *g = (seer_gguf *)1;
    seer_status st = seer_gguf_open_buffer(copy, n, &g, err);
    if (st != SEER_OK && g != NULL) st = SEER_ERR_INVALID; /* *out must be NULL on failure */
    seer_gguf_free(g);
    free(copy);
    return st;
}

#define EXPECT_BAD(b, needle) CHECK_FAILS(parse_exact((b)->p, (b)->n, &err), &err, needle)

static void test_corrupt_header(void) {
    seer_err err = {0};
    bb b;
    bb_header(&b, 0, 0);
    CHECK_OK(parse_exact(b.p, b.n, &err), &err); /* the smallest valid file */
    b.p[3] = 'X';
    EXPECT_BAD(&b, "bad magic 47 47 55 58");
    bb_header(&b, 0, 0);
    b.p[4] = 1;
    EXPECT_BAD(&b, "version 1 is not supported");
    b.p[4] = 4;
    EXPECT_BAD(&b, "unsupported version 4");
    b.p[4] = 0;
    b.p[7] = 3;
    EXPECT_BAD(&b, "big-endian");
    b.p[4] = 2;
    b.p[7] = 0;
    CHECK_OK(parse_exact(b.p, b.n, &err), &err); /* v2 has the same layout */
    CHECK_FAILS(parse_exact(b.p, 3, &err), &err, "truncated: magic needs 4 bytes");

    bb_header(&b, 0, (uint64_t)1 << 62);
    EXPECT_BAD(&b, "4611686018427387904 metadata entries exceeds the limit");
    bb_header(&b, 0, 1000);
    bb_kv_u32(&b, "a", 1);
    EXPECT_BAD(&b, "1000 metadata entries cannot fit in the 17 bytes");
    bb_header(&b, UINT64_MAX, 0);
    EXPECT_BAD(&b, "18446744073709551615 tensors exceeds the limit");
    bb_header(&b, 2, 0);
    bb_tensor(&b, "w", 1, (uint64_t[]){1}, 0, 0);
    EXPECT_BAD(&b, "2 tensor infos cannot fit in the 33 bytes");
}

static void test_corrupt_kv(void) {
    seer_err err = {0};
    bb b;
    bb_header(&b, 0, 1);
    bb_u64(&b, (uint64_t)1 << 63);
    bb_raw(&b, "abcdefgh", 8);
    EXPECT_BAD(&b, "kv 0: key length 9223372036854775808 exceeds the limit");
    bb_header(&b, 0, 1);
    bb_u64(&b, 1000);
    bb_raw(&b, "abcdefghijklmnopqrstuvwxyz", 26);
    EXPECT_BAD(&b, "key length 1000 runs past the end of the file (26 bytes remain)");
    bb_header(&b, 0, 1);
    bb_kv_u32(&b, "", 1);
    EXPECT_BAD(&b, "kv 0: empty key");
    bb_header(&b, 0, 1);
    bb_u64(&b, 3);
    bb_raw(&b, "a\0b", 3);
    bb_u32(&b, SEER_GGUF_TYPE_UINT8);
    bb_u8(&b, 0);
    EXPECT_BAD(&b, "key 'a' contains a NUL byte at position 1");
    bb_header(&b, 0, 2);
    bb_kv_u32(&b, "k.one", 1);
    bb_kv_u32(&b, "k.one", 2);
    EXPECT_BAD(&b, "kv 1 'k.one': duplicate key (first seen as kv 0)");
    bb_header(&b, 0, 1);
    bb_str(&b, "k");
    bb_u32(&b, 13);
    bb_u32(&b, 0);
    EXPECT_BAD(&b, "kv 0 'k': unknown value type 13");
    bb_header(&b, 0, 1);
    bb_str(&b, "k");
    bb_u32(&b, SEER_GGUF_TYPE_UINT64);
    bb_u32(&b, 0);
    EXPECT_BAD(&b, "truncated: value needs 8 bytes");
    bb_header(&b, 0, 1);
    bb_str(&b, "k");
    bb_u32(&b, SEER_GGUF_TYPE_BOOL);
    bb_u8(&b, 2);
    EXPECT_BAD(&b, "kv 0 'k': bool value 2 at element 0");
    bb_header(&b, 0, 1);
    bb_str(&b, "k");
    bb_u32(&b, SEER_GGUF_TYPE_STRING);
    bb_u64(&b, (uint64_t)1 << 40);
    EXPECT_BAD(&b, "string value length 1099511627776 exceeds the limit");
    bb_header(&b, 0, 1);
    bb_str(&b, "k");
    bb_u32(&b, SEER_GGUF_TYPE_STRING);
    bb_str(&b, "abc");
    b.n--;
    EXPECT_BAD(&b, "string value length 3 runs past the end of the file (2 bytes remain)");

    /* arrays */
    bb_header(&b, 0, 1);
    bb_str(&b, "k");
    bb_u32(&b, SEER_GGUF_TYPE_ARRAY);
    bb_u32(&b, SEER_GGUF_TYPE_UINT32);
    bb_u64(&b, (uint64_t)1 << 40);
    EXPECT_BAD(&b, "array of 1099511627776 elements exceeds the limit");
    b.n -= 8;
    bb_u64(&b, 1000000);
    bb_u32(&b, 7);
    EXPECT_BAD(&b, "array of 1000000 u32 elements runs past the end of the file (4 bytes remain)");
    b.n -= 16;
    bb_u32(&b, SEER_GGUF_TYPE_STRING);
    bb_u64(&b, 3);
    bb_str(&b, "x");
    bb_str(&b, "y");
    EXPECT_BAD(&b, "array of 3 string elements runs past the end");
    bb_u64(&b, 50);
    bb_raw(&b, "zz", 2);
    EXPECT_BAD(&b, "array string length 50 runs past the end");
    b.n -= 10;
    bb_u64(&b, (uint64_t)1 << 50);
    bb_raw(&b, "zz", 2);
    EXPECT_BAD(&b, "array string length 1125899906842624 exceeds the limit");
    b.n -= 10;
    bb_str(&b, "z");
    CHECK_OK(parse_exact(b.p, b.n, &err), &err); /* now whole */
    bb_header(&b, 0, 1);
    bb_str(&b, "k");
    bb_u32(&b, SEER_GGUF_TYPE_ARRAY);
    bb_u32(&b, SEER_GGUF_TYPE_ARRAY);
    bb_u64(&b, 0);
    EXPECT_BAD(&b, "kv 0 'k': nested arrays are not supported");
    b.n -= 12;
    bb_u32(&b, 99);
    bb_u64(&b, 0);
    EXPECT_BAD(&b, "unknown array element type 99");
    b.n -= 12;
    bb_u32(&b, SEER_GGUF_TYPE_BOOL);
    bb_u64(&b, 3);
    bb_raw(&b, "\1\0\3", 3);
    EXPECT_BAD(&b, "bool value 3 at element 2");

    /* general.alignment */
    bb_header(&b, 0, 1);
    bb_kv_u32(&b, "general.alignment", 0);
    EXPECT_BAD(&b, "general.alignment 0 is not a non-zero power of two");
    bb_header(&b, 0, 1);
    bb_kv_u32(&b, "general.alignment", 24);
    EXPECT_BAD(&b, "general.alignment 24 is not a non-zero power of two");
    bb_header(&b, 0, 1);
    bb_str(&b, "general.alignment");
    bb_u32(&b, SEER_GGUF_TYPE_UINT64);
    bb_u64(&b, 32);
    EXPECT_BAD(&b, "general.alignment has type u64, expected u32");
}

static void test_corrupt_tensor(void) {
    seer_err err = {0};
    bb b;
    uint64_t ne2[2] = {32, 2};
    bb_one_tensor(&b, 2, ne2, SEER_GGML_TYPE_F32, 0, 256);
    CHECK_OK(parse_exact(b.p, b.n, &err), &err);
    bb_one_tensor(&b, 2, ne2, SEER_GGML_TYPE_F32, 0, 255);
    EXPECT_BAD(&b, "tensor 'w': data at offset 0 (256 bytes) runs past the end of the file (data section holds 255 bytes)");
    bb_one_tensor(&b, 2, ne2, SEER_GGML_TYPE_F32, 1024, 256);
    EXPECT_BAD(&b, "data at offset 1024 (256 bytes) runs past the end");
    bb_one_tensor(&b, 2, ne2, SEER_GGML_TYPE_F32, UINT64_MAX - 31, 256);
    EXPECT_BAD(&b, "data at offset 18446744073709551584");
    bb_one_tensor(&b, 2, ne2, SEER_GGML_TYPE_F32, 16, 512);
    EXPECT_BAD(&b, "tensor 'w': offset 16 is not a multiple of the alignment 32");
    bb_one_tensor(&b, 0, ne2, SEER_GGML_TYPE_F32, 0, 256);
    EXPECT_BAD(&b, "tensor 'w': n_dims 0 (GGUF allows 1 to 4)");
    bb_one_tensor(&b, 5, (uint64_t[]){1, 1, 1, 1, 1}, SEER_GGML_TYPE_F32, 0, 256);
    EXPECT_BAD(&b, "n_dims 5");
    bb_one_tensor(&b, 2, (uint64_t[]){32, 0}, SEER_GGML_TYPE_F32, 0, 256);
    EXPECT_BAD(&b, "tensor 'w': ne[1] is 0");
    bb_one_tensor(&b, 2, (uint64_t[]){32, (uint64_t)-3}, SEER_GGML_TYPE_F32, 0, 256);
    EXPECT_BAD(&b, "tensor 'w': ne[1] = -3 is negative");
    bb_one_tensor(&b, 3, (uint64_t[]){1ull << 32, 1ull << 20, 1ull << 20}, SEER_GGML_TYPE_F32, 0, 256);
    EXPECT_BAD(&b, "element count overflows at ne[2] = 1048576");
    bb_one_tensor(&b, 2, (uint64_t[]){1ull << 31, 1ull << 31}, SEER_GGML_TYPE_F64, 0, 256);
    EXPECT_BAD(&b, "size of 4611686018427387904 f64 elements overflows");
    bb_one_tensor(&b, 2, ne2, 99, 0, 256);
    EXPECT_BAD(&b, "tensor 'w': unknown ggml type 99");
    bb_one_tensor(&b, 2, ne2, 4, 0, 256); /* an id ggml removed */
    EXPECT_BAD(&b, "unknown ggml type 4");
    bb_one_tensor(&b, 2, (uint64_t[]){256, 1}, 12, 0, 256);
    EXPECT_BAD(&b, "tensor 'w': ggml type Q4_K is not supported");
    CHECK(err.code == SEER_ERR_UNSUPPORTED);
    bb_one_tensor(&b, 2, (uint64_t[]){33, 2}, SEER_GGML_TYPE_Q8_0, 0, 256);
    EXPECT_BAD(&b, "tensor 'w': ne[0] = 33 is not a multiple of the q8_0 block size 32");
    bb_one_tensor(&b, 1, (uint64_t[]){48}, SEER_GGML_TYPE_Q4_0, 0, 256);
    EXPECT_BAD(&b, "ne[0] = 48 is not a multiple of the q4_0 block size 32");

    /* names */
    bb_header(&b, 2, 0);
    bb_tensor(&b, "w", 1, ne2, SEER_GGML_TYPE_F32, 0);
    bb_tensor(&b, "w", 1, ne2, SEER_GGML_TYPE_F32, 128);
    bb_pad(&b, 32);
    b.n += 256;
    memset(b.p + b.n - 256, 0, 256);
    EXPECT_BAD(&b, "tensor 'w': duplicate tensor name (first seen as tensor 0)");
    bb_header(&b, 1, 0);
    bb_tensor(&b, "", 1, ne2, SEER_GGML_TYPE_F32, 0);
    bb_u8(&b, 0); /* enough bytes to pass the count check */
    EXPECT_BAD(&b, "tensor info 0: empty tensor name");
    char longname[301];
    memset(longname, 'n', 300);
    longname[300] = 0;
    bb_header(&b, 1, 0);
    bb_tensor(&b, longname, 1, ne2, SEER_GGML_TYPE_F32, 0);
    EXPECT_BAD(&b, "tensor name length 300 exceeds the limit of 255 bytes");
    bb_header(&b, 1, 0);
    bb_u64(&b, 2);
    bb_raw(&b, "w\0", 2);
    bb_u32(&b, 1);
    bb_u64(&b, 1);
    bb_u32(&b, 0);
    bb_u64(&b, 0);
    EXPECT_BAD(&b, "tensor name 'w' contains a NUL byte");

    /* with a larger alignment, the data section starts later */
    bb_header(&b, 1, 1);
    bb_kv_u32(&b, "general.alignment", 256);
    bb_tensor(&b, "w", 1, (uint64_t[]){8}, SEER_GGML_TYPE_F32, 0);
    bb_pad(&b, 32);
    for (int i = 0; i < 32; i++) bb_u8(&b, 0);
    EXPECT_BAD(&b, "data at offset 0 (32 bytes) runs past the end of the file (data section holds 0 bytes)");
    bb_pad(&b, 256);
    for (int i = 0; i < 32; i++) bb_u8(&b, 0);
    CHECK_OK(parse_exact(b.p, b.n, &err), &err);
}

/* A small valid file whose last tensor ends the file, so every proper prefix is invalid. */
static void small_file(void **buf, size_t *size) {
    static float data[2][64];
    seer_err err = {0};
    seer_gguf_writer *w = seer_gguf_writer_init();
    seer_gguf_writer_set_str(w, "general.architecture", "llama");
    seer_gguf_writer_set_u32(w, "llama.block_count", 1);
    seer_gguf_writer_set_f32(w, "f", 0.5f);
    seer_gguf_writer_set_bool(w, "b", 1);
    seer_gguf_writer_set_arr_str(w, "tokens", (const char *const[]){"<unk>", "<s>", "a"}, NULL, 3);
    seer_gguf_writer_set_arr(w, "scores", SEER_GGUF_TYPE_FLOAT32, data[0], 3);
    seer_gguf_writer_add_tensor(w, "a", SEER_DTYPE_F32, 2, (int64_t[]){2, 8}, data[0]);
    seer_gguf_writer_add_tensor(w, "b", SEER_DTYPE_Q8_0, 1, (int64_t[]){32}, data[1]);
    seer_gguf_writer_add_tensor(w, "c", SEER_DTYPE_F16, 1, (int64_t[]){16}, data[1]);
    CHECK_OK(seer_gguf_writer_write_buffer(w, buf, size, &err), &err);
    seer_gguf_writer_free(w);
}

static void test_truncation_and_flips(void) {
    seer_err err = {0};
    void *buf = NULL;
    size_t size = 0;
    small_file(&buf, &size);
    if (!buf) return;
    CHECK_OK(parse_exact(buf, size, &err), &err);
    int unclean = 0;
    for (size_t n = 0; n < size; n++) {
        err.msg[0] = 0;
        seer_status st = parse_exact(buf, n, &err);
        int known = strstr(err.msg, "truncated") || strstr(err.msg, "past the end") || strstr(err.msg, "cannot fit");
        if (st == SEER_OK || strncmp(err.msg, "gguf: ", 6) != 0 || !known) {
            if (unclean++ < 5) fprintf(stderr, "prefix %zu of %zu: status %d '%s'\n", n, size, (int)st, err.msg);
        }
    }
    CHECK_MSG(unclean == 0, "%d of %zu prefixes did not fail cleanly", unclean, size);

    /* Seeded random damage: each parse either succeeds or fails with a gguf message. */
    seer_rng rng;
    seer_rng_seed(&rng, 7);
    uint8_t *copy = malloc(size);
    int bad = 0, failed = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(copy, buf, size);
        int flips = 1 + (int)(seer_rng_u64(&rng) % 4);
        for (int k = 0; k < flips; k++) {
            size_t at = (size_t)(seer_rng_u64(&rng) % size);
            uint8_t v = (uint8_t)seer_rng_u64(&rng);
            copy[at] = (seer_rng_u64(&rng) & 1) ? v : (uint8_t)(copy[at] ^ (1u << (v & 7)));
        }
        err.msg[0] = 0;
        seer_status st = parse_exact(copy, size, &err);
        if (st != SEER_OK) {
            failed++;
            if (strncmp(err.msg, "gguf: ", 6) != 0) bad++;
        }
    }
    CHECK_MSG(bad == 0, "%d damaged files failed without a gguf message", bad);
    CHECK(failed > 100); /* the damage does reach checks */
    free(copy);

    /* a damaged file on disk: the message names the path */
    const char *path = test_tmp("gguf_bad.gguf");
    ((uint8_t *)buf)[0] = 'X';
    CHECK_OK(seer_write_file_atomic(path, buf, size, &err), &err);
    seer_gguf *g = NULL;
    CHECK_FAILS(seer_gguf_open_file(path, &g, &err), &err, "gguf_bad.gguf: gguf: bad magic");
    CHECK(g == NULL);
    remove(path);
    free(buf);
}

static void test_types(void) {
    seer_err err = {0};
    seer_dtype dt;
    CHECK_OK(seer_gguf_dtype_from_ggml(SEER_GGML_TYPE_BF16, &dt, &err), &err);
    CHECK(dt == SEER_DTYPE_BF16);
    CHECK_FAILS(seer_gguf_dtype_from_ggml(14, &dt, &err), &err, "ggml type Q6_K is not supported");
    CHECK(err.code == SEER_ERR_UNSUPPORTED);
    CHECK_FAILS(seer_gguf_dtype_from_ggml(40, &dt, &err), &err, "unknown ggml type 40");
    for (int t = 0; t < SEER_DTYPE_COUNT; t++) {
        uint32_t gt = seer_gguf_dtype_to_ggml((seer_dtype)t);
        if (t == SEER_DTYPE_U8 || t == SEER_DTYPE_BOOL) {
            CHECK(gt == SEER_GGML_TYPE_NONE);
        } else {
            CHECK(seer_gguf_dtype_from_ggml(gt, &dt, &err) == SEER_OK && dt == (seer_dtype)t);
        }
    }
    CHECK(strcmp(seer_gguf_type_name(SEER_GGUF_TYPE_FLOAT64), "f64") == 0);
    CHECK(strcmp(seer_gguf_type_name(SEER_GGUF_TYPE_COUNT), "unknown") == 0);
    CHECK(seer_gguf_type_size(SEER_GGUF_TYPE_UINT16) == 2 && seer_gguf_type_size(SEER_GGUF_TYPE_STRING) == 0);
    CHECK(strcmp(seer_gguf_ggml_type_name(SEER_GGML_TYPE_Q8_0), "Q8_0") == 0 && seer_gguf_ggml_type_name(5) == NULL);
}

int main(void) {
    test_types();
    test_stories();
    test_roundtrip();
    test_writer_errors();
    test_corrupt_header();
    test_corrupt_kv();
    test_corrupt_tensor();
    test_truncation_and_flips();
    return test_done("test_gguf");
}
