/* Replays every input kept in tests/data/fuzz/<harness>/ (crashes, leaks and hangs the fuzzers
 * found, each fixed at its root) through the same entry points the libFuzzer harnesses use, so
 * `make test` (and its ASan run) proves they stay fixed. The harness files are included here
 * with SEER_FUZZ_REPLAY, which leaves out their LLVMFuzzerTestOneInput. A property failure
 * aborts, which ctest reports as a failed test; the input's path is printed first. */
#define SEER_FUZZ_REPLAY 1

#include "../fuzz/fuzz_gguf.c"
#include "../fuzz/fuzz_graph.c"
#include "../fuzz/fuzz_hf_config.c"
#include "../fuzz/fuzz_hf_model.c"
#include "../fuzz/fuzz_llama2c.c"
#include "../fuzz/fuzz_sae.c"
#include "../fuzz/fuzz_safetensors.c"
#include "../fuzz/fuzz_tok_encode.c"
#include "../fuzz/fuzz_tok_gpt2.c"
#include "../fuzz/fuzz_tok_hf.c"
#include "../fuzz/fuzz_tok_llama2c.c"
#include "test.h"

#include <dirent.h>
#include <sys/resource.h>

#include "seer/llama2c.h"
#include "seer/safetensors.h"

typedef struct harness {
    const char *name;
    void (*one)(const uint8_t *data, size_t size);
    int needs_data; /* loads the shared tokenizers */
} harness;

static const harness harnesses[] = {
    {"gguf", fuzz_gguf_one, 0},           {"graph", fuzz_graph_one, 0},
    {"hf_config", fuzz_hf_config_one, 0}, {"hf_model", fuzz_hf_model_one, 0},
    {"llama2c", fuzz_llama2c_one, 0},     {"sae", fuzz_sae_one, 0},
    {"safetensors", fuzz_safetensors_one, 0}, {"tok_encode", fuzz_tok_encode_one, 1},
    {"tok_gpt2", fuzz_tok_gpt2_one, 0},   {"tok_hf", fuzz_tok_hf_one, 0},
    {"tok_llama2c", fuzz_tok_llama2c_one, 0},
};

/* tests/data/fuzz beside this file (CMake compiles it by absolute path), or $SEER_FUZZ_REGRESS. */
static const char *regress_dir(void) {
    static char dir[1024];
    const char *env = getenv("SEER_FUZZ_REGRESS");
    if (env && *env) return env;
    const char *slash = strrchr(__FILE__, '/');
    int n = slash ? (int)(slash - __FILE__) : 1;
    snprintf(dir, sizeof(dir), "%.*s/data/fuzz", n, slash ? __FILE__ : ".");
    return dir;
}

/* Runs one input from an exactly sized heap copy, as libFuzzer does, so ASan sees any read
 * past its end. */
static void replay(const harness *h, const char *label, const void *data, size_t size) {
    fprintf(stderr, "replay %s: %s (%zu bytes)\n", h->name, label, size);
    uint8_t *copy = malloc(size ? size : 1);
    CHECK(copy != NULL);
    if (!copy) return;
    if (size) memcpy(copy, data, size);
    h->one(copy, size);
    free(copy);
}

static int replay_dir(const harness *h) {
    char dir[1200];
    snprintf(dir, sizeof(dir), "%s/%s", regress_dir(), h->name);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[1500];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        char *text = NULL;
        size_t len = 0;
        seer_err err;
        CHECK_OK(seer_read_file(path, &text, &len, &err), &err);
        if (!text) continue;
        replay(h, path, text, len);
        free(text);
        n++;
    }
    closedir(d);
    return n;
}

/* ---- declared sizes: a small file that declares big counts, lengths or shapes is refused
 * before anything is sized from what it declares ---- */

typedef struct bytes {
    uint8_t b[256];
    size_t n;
} bytes;

static void put_le(bytes *o, uint64_t v, int width) {
    for (int i = 0; i < width; i++) o->b[o->n++] = (uint8_t)(v >> (8 * i));
}

static void put_raw(bytes *o, const char *s, size_t n) {
    memcpy(o->b + o->n, s, n);
    o->n += n;
}

/* GGUF v3 header for n_tensors, n_kv, then one key named "k" when with_key. */
static bytes gguf_head(uint64_t n_tensors, uint64_t n_kv) {
    bytes o = {{0}, 0};
    put_raw(&o, "GGUF", 4);
    put_le(&o, 3, 4);
    put_le(&o, n_tensors, 8);
    put_le(&o, n_kv, 8);
    return o;
}

static long max_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void check_declared_sizes(void) {
    seer_err err;
    seer_gguf *g = NULL;
    /* counts */
    bytes o = gguf_head(0, 1000000);
    CHECK_FAILS(seer_gguf_open_buffer(o.b, o.n, &g, &err), &err, "cannot fit");
    o = gguf_head(1000000, 0);
    CHECK_FAILS(seer_gguf_open_buffer(o.b, o.n, &g, &err), &err, "cannot fit");
    /* a string and an array longer than the file */
    o = gguf_head(0, 1);
    put_le(&o, 1, 8);
    put_raw(&o, "k", 1);
    put_le(&o, SEER_GGUF_TYPE_STRING, 4);
    put_le(&o, 1u << 20, 8);
    CHECK_FAILS(seer_gguf_open_buffer(o.b, o.n, &g, &err), &err, "runs past the end of the file");
    o = gguf_head(0, 1);
    put_le(&o, 1, 8);
    put_raw(&o, "k", 1);
    put_le(&o, SEER_GGUF_TYPE_ARRAY, 4);
    put_le(&o, SEER_GGUF_TYPE_UINT32, 4);
    put_le(&o, 50000000, 8);
    CHECK_FAILS(seer_gguf_open_buffer(o.b, o.n, &g, &err), &err, "runs past the end of the file");
    /* tensor data */
    o = gguf_head(1, 0);
    put_le(&o, 1, 8);
    put_raw(&o, "t", 1);
    put_le(&o, 1, 4);       /* n_dims */
    put_le(&o, 1 << 20, 8); /* ne[0] */
    put_le(&o, 0, 4);       /* f32 */
    put_le(&o, 0, 8);       /* offset */
    CHECK_FAILS(seer_gguf_open_buffer(o.b, o.n, &g, &err), &err, "runs past the end of the file");

    seer_st *st = NULL;
    o = (bytes){{0}, 0};
    put_le(&o, 4096, 8);
    put_raw(&o, "{}", 2);
    CHECK_FAILS(seer_st_open_buffer(o.b, o.n, &st, &err), &err, "past end of file");
    static const char hdr[] = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1000000],\"data_offsets\":[0,4000000]}}";
    o = (bytes){{0}, 0};
    put_le(&o, sizeof(hdr) - 1, 8);
    put_raw(&o, hdr, sizeof(hdr) - 1);
    CHECK_FAILS(seer_st_open_buffer(o.b, o.n, &st, &err), &err, "past end of data");

    seer_llama2c l2c;
    int32_t l2c_hdr[7] = {4096, 11008, 32, 32, 32, 32000, 2048};
    CHECK_FAILS(seer_llama2c_parse(l2c_hdr, sizeof(l2c_hdr), &l2c, &err), &err, "needs");

    seer_tok *t = NULL;
    o = (bytes){{0}, 0};
    put_le(&o, 16, 4);     /* max_token_length */
    put_le(&o, 0, 4);      /* score */
    put_le(&o, 60000, 4);  /* piece length */
    put_raw(&o, "abc", 3);
    CHECK_FAILS(seer_tok_load_llama2c_buffer(o.b, o.n, -1, &t, &err), &err, "runs past the end of the file");
    o.n = 4 + 8 + 1;
    o.b[8] = 1;
    o.b[9] = o.b[10] = 0;
    CHECK_FAILS(seer_tok_load_llama2c_buffer(o.b, o.n, 100000, &t, &err), &err, "truncated");

    /* One entry naming id 2^24 - 1 once sized every table for 16M tokens before finding the
     * gap; now it is refused from the entry count. */
    static const char hf[] = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 16777215}, \"merges\": []}, "
                             "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}}";
    static const char vj[] = "{\"a\": 0, \"b\": 16777215}";
    long before = max_rss_kb();
    CHECK_FAILS(seer_tok_load_hf_buffer(hf, sizeof(hf) - 1, &t, &err), &err, "no token has id 0 (largest id 16777215)");
    CHECK_FAILS(seer_tok_load_gpt2_buffers(vj, sizeof(vj) - 1, "", 0, &t, &err), &err,
                "no token has id 1 (largest id 16777215)");
    long grew = max_rss_kb() - before;
    CHECK_MSG(grew < 8 * 1024, "refusing a 1-token vocabulary with id 2^24-1 grew the peak RSS by %ld KiB", grew);
}

/* A GGUF with thousands of tensors for a one-block model: once every tensor was registered
 * (each name compared with all before it, quadratic: 40,000 took 2 s, a million would take
 * many minutes); now the count is checked against what the architecture can use. */
static void check_many_tensors(void) {
    seer_gguf_writer *w = seer_gguf_writer_init();
    CHECK(w != NULL);
    if (!w) return;
    seer_gguf_writer_set_str(w, "general.architecture", "llama");
    seer_gguf_writer_set_u32(w, "llama.block_count", 1);
    seer_gguf_writer_set_u32(w, "llama.embedding_length", 8);
    seer_gguf_writer_set_u32(w, "llama.feed_forward_length", 8);
    seer_gguf_writer_set_u32(w, "llama.attention.head_count", 2);
    static const float one = 1.0f;
    const int64_t shape[1] = {1};
    for (int i = 0; i < 5000; i++) {
        char name[32];
        snprintf(name, sizeof(name), "extra.%d", i);
        seer_gguf_writer_add_tensor(w, name, SEER_DTYPE_F32, 1, shape, &one);
    }
    seer_err err;
    const char *path = test_tmp("fuzz_regress_many_tensors.gguf");
    CHECK_OK(seer_gguf_writer_write(w, path, &err), &err);
    seer_gguf_writer_free(w);
    seer_model *m = NULL;
    CHECK_FAILS(seer_model_load(path, NULL, &m, &err), &err, "5000 tensors for a 1-layer llama model");
    remove(path);
}

int main(void) {
    check_declared_sizes();
    check_many_tensors();
    char data_probe[1024];
    snprintf(data_probe, sizeof(data_probe), "%s/models/stories260K/tok512.bin", test_data_dir());
    int have_data = seer_path_exists(data_probe);
    struct stat sb;
    int have_dir = stat(regress_dir(), &sb) == 0;
    CHECK_MSG(have_dir, "no kept fuzz inputs at %s", regress_dir());
    int total = 0;
    for (size_t i = 0; i < sizeof(harnesses) / sizeof(harnesses[0]); i++) {
        const harness *h = &harnesses[i];
        if (h->needs_data && !have_data) {
            fprintf(stderr, "%s: skipped (no shared data at %s)\n", h->name, test_data_dir());
            continue;
        }
        /* Edge inputs every entry point must take, whatever has been kept. */
        replay(h, "(empty)", "", 0);
        replay(h, "(one NUL)", "", 1);
        replay(h, "(NUL NUL)", "\0", 2);
        int n = replay_dir(h);
        printf("%-12s %d kept input(s) replayed\n", h->name, n);
        total += n;
    }
    CHECK(total > 0);
    return test_done("test_fuzz_regress");
}
