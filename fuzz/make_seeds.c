/* Writes small valid inputs for every harness into <out>/<harness>/ (make fuzz runs it into
 * fuzz/corpus/, which is not committed): files made with seer's own writers (a random tiny model
 * saved as GGUF, llama2.c and a Hugging Face folder; a GGUF with every value type; a
 * safetensors with every dtype; SAEs in every format), hand-built tokenizer files, texts, and
 * intervention graphs (every example of docs/intervention-graph.md, graphs using every
 * operation on the graph harness's models, and bad ones).
 * Usage: seer_fuzz_seeds <out dir> <shared data dir> */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zip.h>

#include "seer/gguf.h"
#include "seer/model.h"
#include "seer/sae.h"
#include "seer/safetensors.h"
#include "seer/tok.h"

static const char *g_out;
static int g_failed;

static void fail(const char *what, const seer_err *err) {
    fprintf(stderr, "seer_fuzz_seeds: %s: %s\n", what, err ? err->msg : strerror(errno));
    g_failed = 1;
}

static void put(const char *harness, const char *name, const void *data, size_t size) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", g_out, harness);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s", g_out, harness, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size) fail(path, NULL);
    if (f) fclose(f);
}

/* Two parts joined by a NUL byte (the split the gpt2 and hf_model harnesses expect). */
static void put2(const char *harness, const char *name, const void *a, size_t na, const void *b, size_t nb) {
    char *buf = malloc(na + nb + 1);
    if (!buf) return fail(name, NULL);
    memcpy(buf, a, na);
    buf[na] = 0;
    memcpy(buf + na + 1, b, nb);
    put(harness, name, buf, na + nb + 1);
    free(buf);
}

static void put_file(const char *harness, const char *name, const char *path) {
    char *text = NULL;
    size_t len = 0;
    seer_err err;
    if (seer_read_file(path, &text, &len, &err) != SEER_OK) return fail(path, &err);
    put(harness, name, text, len);
    free(text);
}

static void put_str(const char *harness, const char *name, const char *s) { put(harness, name, s, strlen(s)); }

/* ---- models ---- */

static void seeds_from_model(const char *tmp, seer_arch arch, int n_vocab, const char *tag) {
    seer_model_config c = {.arch = arch, .n_vocab = n_vocab, .d_model = 8, .n_layers = 1, .n_heads = 2,
                           .n_kv_heads = arch == SEER_ARCH_LLAMA ? 1 : 2, .d_head = 4, .d_mlp = 16, .n_ctx = 16,
                           .norm_eps = 1e-5f, .rope_theta = 10000.0f, .tied_embeddings = arch == SEER_ARCH_GPT2};
    seer_model *m = NULL;
    seer_err err;
    if (seer_model_random(&c, 1, &m, &err) != SEER_OK) return fail("random model", &err);
    char path[1024], sub[1024], name[64];
    snprintf(path, sizeof(path), "%s/%s.gguf", tmp, tag);
    snprintf(name, sizeof(name), "%s.gguf", tag);
    if (seer_model_save(m, SEER_FORMAT_GGUF, path, SEER_DTYPE_COUNT, &err) == SEER_OK) put_file("gguf", name, path);
    else fail(path, &err);
    snprintf(name, sizeof(name), "%s_q8.gguf", tag);
    if (seer_model_save(m, SEER_FORMAT_GGUF, path, SEER_DTYPE_Q8_0, &err) == SEER_OK) put_file("gguf", name, path);
    if (arch == SEER_ARCH_LLAMA) {
        snprintf(path, sizeof(path), "%s/%s.bin", tmp, tag);
        snprintf(name, sizeof(name), "%s.bin", tag);
        if (seer_model_save(m, SEER_FORMAT_LLAMA2C, path, SEER_DTYPE_COUNT, &err) == SEER_OK) put_file("llama2c", name, path);
        else fail(path, &err);
    }
    snprintf(path, sizeof(path), "%s/%s_hf", tmp, tag);
    if (seer_model_save(m, SEER_FORMAT_SAFETENSORS, path, SEER_DTYPE_COUNT, &err) == SEER_OK) {
        char *cfg = NULL, *st = NULL;
        size_t ncfg = 0, nst = 0;
        snprintf(sub, sizeof(sub), "%s/config.json", path);
        seer_status s1 = seer_read_file(sub, &cfg, &ncfg, &err);
        snprintf(sub, sizeof(sub), "%s/model.safetensors", path);
        seer_status s2 = s1 ? s1 : seer_read_file(sub, &st, &nst, &err);
        if (!s1 && !s2) {
            snprintf(name, sizeof(name), "%s.json", tag);
            put("hf_config", name, cfg, ncfg);
            snprintf(name, sizeof(name), "%s.safetensors", tag);
            put("safetensors", name, st, nst);
            snprintf(name, sizeof(name), "%s.hf", tag);
            put2("hf_model", name, cfg, ncfg, st, nst);
        } else {
            fail(sub, &err);
        }
        free(cfg);
        free(st);
    } else {
        fail(path, &err);
    }
    const seer_tok *tok = seer_model_tok(m);
    if (tok && seer_tok_get_kind(tok) == SEER_TOK_SPM) {
        snprintf(path, sizeof(path), "%s/%s_tok.bin", tmp, tag);
        snprintf(name, sizeof(name), "%s_tok.bin", tag);
        if (seer_tok_save_llama2c(tok, path, &err) == SEER_OK) put_file("tok_llama2c", name, path);
        else fail(path, &err);
    }
    seer_model_free(m);
}

/* A llama2.c v1 checkpoint ("ak42", 256-byte header), which seer does not write. */
static void seed_llama2c_v1(void) {
    int32_t dim = 8, hidden = 16, L = 1, heads = 2, kv = 1, V = 16, seq = 8;
    size_t kvd = (size_t)(dim / heads * kv);
    size_t n = (size_t)L * dim * 2 + dim + (size_t)V * dim + (size_t)L * dim * dim * 2 + (size_t)L * kvd * dim * 2 +
               (size_t)L * hidden * dim * 3;
    size_t size = 256 + n * 4;
    uint8_t *b = calloc(1, size);
    if (!b) return fail("v1 seed", NULL);
    uint32_t magic = 0x616b3432u;
    int32_t hdr[9] = {1, dim, hidden, L, heads, kv, V, seq, 0};
    memcpy(b, &magic, 4);
    memcpy(b + 4, hdr, sizeof(hdr));
    b[36] = 1; /* shared classifier */
    float one = 1.0f;
    for (size_t i = 0; i < n; i++) memcpy(b + 256 + 4 * i, &one, 4);
    put("llama2c", "v1.bin", b, size);
    free(b);
}

/* ---- gguf / safetensors with every type ---- */

static void seed_gguf_types(void) {
    seer_gguf_writer *w = seer_gguf_writer_init();
    if (!w) return fail("gguf writer", NULL);
    seer_gguf_writer_set_u8(w, "t.u8", 200);
    seer_gguf_writer_set_i8(w, "t.i8", -5);
    seer_gguf_writer_set_u16(w, "t.u16", 60000);
    seer_gguf_writer_set_i16(w, "t.i16", -300);
    seer_gguf_writer_set_u32(w, "t.u32", 7);
    seer_gguf_writer_set_i32(w, "t.i32", -7);
    seer_gguf_writer_set_u64(w, "t.u64", 1ull << 40);
    seer_gguf_writer_set_i64(w, "t.i64", -(1ll << 40));
    seer_gguf_writer_set_f32(w, "t.f32", 0.5f);
    seer_gguf_writer_set_f64(w, "t.f64", -2.25);
    seer_gguf_writer_set_bool(w, "t.bool", 1);
    seer_gguf_writer_set_str(w, "general.name", "seed \"model\"\n\t\x01");
    seer_gguf_writer_set_u32(w, "general.alignment", 64);
    int32_t ints[5] = {1, -2, 3, -4, 5};
    seer_gguf_writer_set_arr(w, "t.arr_i32", SEER_GGUF_TYPE_INT32, ints, 5);
    uint8_t bools[3] = {1, 0, 1};
    seer_gguf_writer_set_arr(w, "t.arr_bool", SEER_GGUF_TYPE_BOOL, bools, 3);
    const char *strs[4] = {"<unk>", "a", "", "\xE2\x96\x81the"};
    seer_gguf_writer_set_arr_str(w, "t.arr_str", strs, NULL, 4);
    static float f32[64];
    static uint8_t raw[4096];
    for (int i = 0; i < 64; i++) f32[i] = (float)i * 0.25f;
    for (size_t i = 0; i < sizeof(raw); i++) raw[i] = (uint8_t)(i * 7);
    int64_t s2[2] = {2, 32}, s1[1] = {32}, s3[3] = {2, 2, 8}, s4[4] = {1, 2, 2, 4};
    seer_gguf_writer_add_tensor(w, "f32", SEER_DTYPE_F32, 2, s2, f32);
    seer_gguf_writer_add_tensor(w, "f16", SEER_DTYPE_F16, 1, s1, raw);
    seer_gguf_writer_add_tensor(w, "bf16", SEER_DTYPE_BF16, 3, s3, raw);
    seer_gguf_writer_add_tensor(w, "q8_0", SEER_DTYPE_Q8_0, 2, s2, raw);
    seer_gguf_writer_add_tensor(w, "q4_0", SEER_DTYPE_Q4_0, 1, s1, raw);
    seer_gguf_writer_add_tensor(w, "i32", SEER_DTYPE_I32, 4, s4, raw);
    void *buf = NULL;
    size_t size = 0;
    seer_err err;
    if (seer_gguf_writer_write_buffer(w, &buf, &size, &err) == SEER_OK) put("gguf", "types.gguf", buf, size);
    else fail("types.gguf", &err);
    free(buf);
    seer_gguf_writer_free(w);
}

static void seed_st_types(void) {
    seer_st_writer *w = seer_st_writer_init();
    if (!w) return fail("st writer", NULL);
    seer_st_writer_set_metadata(w, "format", "pt");
    seer_st_writer_set_metadata(w, "note", "seed \"quoted\" \xC3\xA9");
    static uint8_t raw[1024], zeros[64]; /* zeros: BOOL data must be 0 or 1 */
    for (size_t i = 0; i < sizeof(raw); i++) raw[i] = (uint8_t)(i * 13);
    int64_t s2[2] = {3, 4}, s1[1] = {5}, s0[1] = {0}, s3[3] = {2, 1, 3};
    static const seer_dtype types[] = {SEER_DTYPE_F32, SEER_DTYPE_F16, SEER_DTYPE_BF16, SEER_DTYPE_F64, SEER_DTYPE_I8,
                                       SEER_DTYPE_I16, SEER_DTYPE_I32, SEER_DTYPE_I64, SEER_DTYPE_U8, SEER_DTYPE_BOOL};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        char name[32];
        snprintf(name, sizeof(name), "t.%s", seer_dtype_name(types[i]));
        seer_st_writer_add(w, name, types[i], 2, s2, types[i] == SEER_DTYPE_BOOL ? zeros : raw);
    }
    seer_st_writer_add(w, "scalar", SEER_DTYPE_F32, 0, s1, raw);
    seer_st_writer_add(w, "empty", SEER_DTYPE_F32, 1, s0, raw);
    seer_st_writer_add(w, "vec", SEER_DTYPE_F16, 1, s1, raw);
    seer_st_writer_add(w, "cube", SEER_DTYPE_I16, 3, s3, raw);
    void *buf = NULL;
    size_t size = 0;
    seer_err err;
    if (seer_st_writer_write_buffer(w, &buf, &size, &err) == SEER_OK) put("safetensors", "types.safetensors", buf, size);
    else fail("types.safetensors", &err);
    free(buf);
    seer_st_writer_free(w);
}

/* A GGUF holding only a tokenizer's metadata. */
static void seed_tok_gguf(const seer_tok *t, const char *name) {
    seer_gguf_writer *w = seer_gguf_writer_init();
    void *buf = NULL;
    size_t size = 0;
    seer_err err;
    if (!w) return fail(name, NULL);
    if (seer_tok_write_gguf(t, w, &err) == SEER_OK && seer_gguf_writer_write_buffer(w, &buf, &size, &err) == SEER_OK)
        put("gguf", name, buf, size);
    else
        fail(name, &err);
    free(buf);
    seer_gguf_writer_free(w);
}

/* ---- GPT-2 style tokenizer files ---- */

/* The 256 byte-alphabet pieces as JSON-escaped strings, plus a few merged pieces. */
static size_t gpt2_vocab_json(char *out, size_t cap, int with_added) {
    size_t n = 0;
    n += (size_t)snprintf(out + n, cap - n, "{");
    for (int b = 0; b < 256; b++) {
        uint32_t cp = b <= 32 ? 256u + (uint32_t)b : b >= 127 && b <= 160 ? 256u + 33 + (uint32_t)(b - 127) : b == 173 ? 323u : (uint32_t)b;
        char u[5] = {0};
        if (cp < 0x80) u[0] = (char)cp;
        else {
            u[0] = (char)(0xC0 | (cp >> 6));
            u[1] = (char)(0x80 | (cp & 0x3F));
        }
        const char *esc = cp == '"' ? "\\\"" : cp == '\\' ? "\\\\" : u;
        n += (size_t)snprintf(out + n, cap - n, "%s\"%s\": %d", b ? ", " : "", esc, b);
    }
    static const char *const merged[] = {"he", "ll", "\xC4\xA0t", "\xC4\xA0the", "hell", "hello", "\xC4\xA0w", "or"};
    int id = 256;
    for (size_t i = 0; i < sizeof(merged) / sizeof(merged[0]); i++)
        n += (size_t)snprintf(out + n, cap - n, ", \"%s\": %d", merged[i], id++);
    if (!with_added) n += (size_t)snprintf(out + n, cap - n, ", \"<|endoftext|>\": %d", id++);
    n += (size_t)snprintf(out + n, cap - n, "}");
    return n;
}

static const char k_merges_txt[] = "#version: 0.2\nh e\nl l\n\xC4\xA0 t\n\xC4\xA0t he\nhe ll\nhell o\n\xC4\xA0 w\no r\n";

static void seed_gpt2_tokenizers(void) {
    static char vocab[16384], json[32768];
    size_t nv = gpt2_vocab_json(vocab, sizeof(vocab), 0);
    put2("tok_gpt2", "small.vocab", vocab, nv, k_merges_txt, sizeof(k_merges_txt) - 1);
    put2("tok_gpt2", "crlf.vocab", vocab, nv, "h e\r\nl l\r\n", 10);
    size_t na = gpt2_vocab_json(vocab, sizeof(vocab), 1);
    int n = snprintf(json, sizeof(json),
                     "{\"version\": \"1.0\", \"added_tokens\": [{\"id\": 264, \"content\": \"<|endoftext|>\", "
                     "\"special\": true}, {\"id\": 265, \"content\": \"<extra>\", \"special\": false}], "
                     "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}, "
                     "\"model\": {\"type\": \"BPE\", \"byte_fallback\": false, \"vocab\": %.*s, \"merges\": "
                     "[\"h e\", \"l l\", [\"\xC4\xA0\", \"t\"], \"\xC4\xA0t he\", \"he ll\", \"hell o\", \"\xC4\xA0 w\", "
                     "\"o r\"]}}",
                     (int)na, vocab);
    /* the added tokens take ids 264 and 265, right after the vocabulary object's */
    put("tok_hf", "small.json", json, (size_t)n);
    seer_tok *t = NULL;
    seer_err err;
    if (seer_tok_load_hf_buffer(json, (size_t)n, &t, &err) == SEER_OK) seed_tok_gguf(t, "tok_gpt2.gguf");
    else fail("small.json", &err);
    seer_tok_free(t);
}

/* ---- configs and texts ---- */

static void seed_configs(void) {
    put_str("hf_config", "hand_llama.json",
            "{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 8, "
            "\"num_key_value_heads\": 4, \"intermediate_size\": 172, \"vocab_size\": 512, "
            "\"max_position_embeddings\": 256, \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0, "
            "\"rope_scaling\": null, \"tie_word_embeddings\": true, \"head_dim\": 8}");
    put_str("hf_config", "hand_mistral.json",
            "{\"model_type\": \"mistral\", \"hidden_size\": 32, \"num_hidden_layers\": 1, \"num_attention_heads\": 4, "
            "\"intermediate_size\": 64, \"vocab_size\": 100}");
    put_str("hf_config", "hand_gpt2.json",
            "{\"model_type\": \"gpt2\", \"n_embd\": 768, \"n_layer\": 12, \"n_head\": 12, \"vocab_size\": 50257, "
            "\"n_positions\": 1024, \"n_inner\": null, \"layer_norm_epsilon\": 1e-05, "
            "\"activation_function\": \"gelu_new\"}");
}

static void seed_texts(const char *data_dir) {
    char path[1024];
    put_str("tok_encode", "story.txt", "Once upon a time, there was a little girl named Lily. She liked to play.");
    put_str("tok_encode", "mixed.txt", "h\xC3\xA9llo w\xC3\xB6rld \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x99\x82\t  x\n\n");
    put("tok_encode", "bytes.bin", "\x00\xFF\xC3\x28\xE2\x82\xF0\x90\x80 \x80\xBF<0x0A>", 17);
    put_str("tok_encode", "contractions.txt", "don't we'll I'm you're they've 's 'd   \u00a0 123 4.5");
    snprintf(path, sizeof(path), "%s/models/stories260K/golden/prompt_shakespeare.txt", data_dir);
    put_file("tok_encode", "shakespeare.txt", path);
    snprintf(path, sizeof(path), "%s/models/stories260K/tok512.bin", data_dir);
    put_file("tok_llama2c", "tok512.bin", path);
    seer_tok *t = NULL;
    seer_err err;
    if (seer_tok_load(path, &t, &err) == SEER_OK) seed_tok_gguf(t, "tok_spm.gguf");
    else fail(path, &err);
    seer_tok_free(t);
}

/* ---- intervention graphs (fuzz_graph's models: 5 blocks, d_model 16, 8 heads of 2, d_mlp 16,
 * 300 tokens; files steer.safetensors, sae_res2/, sae_any/ and sae_relu/ beside the graph) ---- */

/* Every ```json block of docs/intervention-graph.md (found beside this file). */
static void seed_graph_docs(void) {
    char path[1024];
    const char *slash = strrchr(__FILE__, '/');
    snprintf(path, sizeof(path), "%.*s/../docs/intervention-graph.md", slash ? (int)(slash - __FILE__) : 1,
             slash ? __FILE__ : ".");
    char *doc = NULL;
    size_t len = 0;
    seer_err err;
    if (seer_read_file(path, &doc, &len, &err) != SEER_OK) return fail(path, &err);
    int n = 0;
    for (char *p = strstr(doc, "```json\n"); p; p = strstr(p, "```json\n")) {
        p += 8;
        char *end = strstr(p, "```");
        if (!end) break;
        char name[32];
        snprintf(name, sizeof(name), "doc_%02d.json", n++);
        put("graph", name, p, (size_t)(end - p));
        p = end + 3;
    }
    if (n < 12) fail("docs/intervention-graph.md: fewer than 12 examples", NULL);
    free(doc);
}

static void seed_graphs(void) {
    seed_graph_docs();
    /* every operation at once, metrics by token id (the random tokenizer has no "time") */
    put_str("graph", "all_ops.json",
            "{\"version\": 1, \"inputs\": {\"prompts\": [\"Once upon a time\", {\"ids\": [1, 5, 9, 20, 7]}, "
            "{\"text\": \"Lily\", \"bos\": false}], \"tensors\": {\"u\": {\"shape\": [2, 2], \"data\": [1, 0, 0, 1]}, "
            "\"steer\": {\"file\": \"steer.safetensors\", \"tensor\": \"happy\"}, \"row\": {\"data\": [0.5, -0.5, 1, 2]}}, "
            "\"saes\": {\"res2\": {\"path\": \"sae_res2\"}}}, "
            "\"nodes\": [{\"id\": \"emb\", \"hook\": \"hook_embed\", \"op\": \"save\"}, "
            "{\"id\": \"s\", \"hook\": \"blocks.0.hook_resid_post\", \"op\": \"set\", \"value\": [0.5, 0.5, -0.5], "
            "\"select\": {\"pos\": -1, \"index\": [0, 1, 2]}}, "
            "{\"id\": \"cp\", \"hook\": \"blocks.1.hook_resid_pre\", \"op\": \"set\", \"from\": \"emb\", \"select\": {\"batch\": [0, 2]}}, "
            "{\"id\": \"add\", \"hook\": \"blocks.1.hook_resid_mid\", \"op\": \"add\", \"tensor\": \"steer\", \"coef\": 2.5}, "
            "{\"id\": \"sc\", \"hook\": \"blocks.1.attn.hook_z\", \"op\": \"scale\", \"factor\": 0.5, \"select\": {\"head\": [3, 7]}}, "
            "{\"id\": \"z\", \"hook\": \"blocks.2.attn.hook_pattern\", \"op\": \"zero\", \"select\": {\"head\": 1, \"index\": [0]}}, "
            "{\"id\": \"ma\", \"hook\": \"blocks.2.hook_mlp_out\", \"op\": \"mean_ablate\", \"select\": {\"pos\": [0, 1]}}, "
            "{\"id\": \"mv\", \"hook\": \"blocks.2.mlp.hook_post\", \"op\": \"mean_ablate\", \"value\": [0, 0.1], \"select\": {\"index\": [10, 11]}}, "
            "{\"id\": \"p\", \"hook\": \"blocks.2.hook_resid_pre\", \"op\": \"patch\", \"from_batch\": 0, \"select\": {\"batch\": 1, \"pos\": [1, 2]}}, "
            "{\"id\": \"po\", \"hook\": \"blocks.3.hook_resid_mid\", \"op\": \"project_out\", \"tensor\": \"row\", \"select\": {\"index\": [0, 1, 2, 3]}}, "
            "{\"id\": \"pk\", \"hook\": \"blocks.3.hook_resid_post\", \"op\": \"project_onto\", \"value\": [1, 1], \"select\": {\"index\": [4, 5]}}, "
            "{\"id\": \"c\", \"hook\": \"blocks.3.mlp.hook_pre\", \"op\": \"clamp\", \"min\": -1, \"max\": 2.5}, "
            "{\"id\": \"n\", \"hook\": \"blocks.4.attn.hook_v\", \"op\": \"noise\", \"scale\": 0.1, \"relative\": true, \"dist\": \"uniform\", \"seed\": 7}, "
            "{\"id\": \"sae\", \"hook\": \"blocks.2.hook_resid_post\", \"op\": \"sae\", \"sae\": \"res2\", \"save_latents\": true, "
            "\"keep_error\": true, \"select\": {\"pos\": [-1]}, \"edit\": {\"op\": \"scale\", \"latents\": [3, 17], \"value\": 4}}, "
            "{\"id\": \"att\", \"hook\": \"blocks.4.attn.hook_attn_scores\", \"op\": \"save\"}, "
            "{\"id\": \"lg\", \"hook\": \"logits\", \"op\": \"save\"}], "
            "\"outputs\": {\"save\": [\"emb\", \"lg\"], \"metrics\": [{\"name\": \"ld\", \"type\": \"logit_diff\", \"pos\": -1, \"tokens\": [5, 9]}, "
            "{\"type\": \"prob\", \"tokens\": [3]}, {\"name\": \"l0\", \"type\": \"logit\", \"pos\": 0, \"tokens\": [3]}, "
            "{\"name\": \"loss\", \"type\": \"loss\"}]}}");
    put_str("graph", "generate.json",
            "{\"version\": 1, \"inputs\": {\"prompts\": [\"Once\", {\"ids\": [1, 2]}], \"saes\": {\"any\": {\"path\": \"sae_any\"}, "
            "\"relu\": {\"path\": \"sae_relu\"}}}, \"generate\": {\"steps\": 6, \"temp\": 0.8, \"top_k\": 5, \"top_p\": 0.9, \"seed\": 3}, "
            "\"nodes\": [{\"id\": \"st\", \"hook\": \"blocks.2.hook_resid_post\", \"op\": \"scale\", \"factor\": 1.5, \"steps\": [0, 1, 2]}, "
            "{\"id\": \"nz\", \"hook\": \"blocks.0.attn.hook_rot_q\", \"op\": \"noise\", \"scale\": 0.5, \"select\": {\"pos\": -1}}, "
            "{\"id\": \"pat\", \"hook\": \"blocks.1.attn.hook_pattern\", \"op\": \"save\", \"steps\": [0, 3]}, "
            "{\"id\": \"sae\", \"hook\": \"blocks.1.hook_resid_post\", \"op\": \"sae\", \"sae\": \"any\", \"save_latents\": true, "
            "\"edit\": {\"op\": \"zero\"}}, "
            "{\"id\": \"sr\", \"hook\": \"blocks.3.hook_attn_out\", \"op\": \"sae\", \"sae\": \"relu\", \"edit\": {\"op\": \"add\", \"value\": 1}}, "
            "{\"id\": \"r\", \"hook\": \"blocks.4.hook_resid_post\", \"op\": \"save\", \"steps\": [0, 5]}]}");
    put_str("graph", "grad.json",
            "{\"version\": 1, \"inputs\": {\"prompts\": [\"Once upon a time there was\", {\"ids\": [1, 40, 41]}]}, "
            "\"nodes\": [{\"id\": \"g\", \"hook\": \"blocks.2.hook_resid_post\", \"op\": \"grad\", \"metric\": \"ld\"}, "
            "{\"id\": \"gp\", \"hook\": \"blocks.0.attn.hook_pattern\", \"op\": \"grad\", \"metric\": \"loss\"}, "
            "{\"id\": \"x\", \"hook\": \"blocks.2.hook_resid_post\", \"op\": \"save\"}], "
            "\"outputs\": {\"metrics\": [{\"name\": \"ld\", \"type\": \"logit_diff\", \"pos\": -1, \"tokens\": [10, 11]}, "
            "{\"name\": \"loss\", \"type\": \"loss\"}]}}");
    /* GPT-2 only (learned positions); a patch tensor shaped like the hook for these prompts */
    char buf[8192];
    int n = snprintf(buf, sizeof(buf),
                     "{\"version\": 1, \"inputs\": {\"prompts\": [{\"ids\": [1, 2, 3]}], \"tensors\": {\"clean\": {\"shape\": [1, 3, 16], "
                     "\"data\": [");
    for (int i = 0; i < 48; i++) n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s%d", i ? ", " : "", i % 5 - 2);
    snprintf(buf + n, sizeof(buf) - (size_t)n,
             "]}}}, \"nodes\": [{\"id\": \"pe\", \"hook\": \"hook_pos_embed\", \"op\": \"save\"}, "
             "{\"id\": \"p\", \"hook\": \"blocks.1.hook_resid_pre\", \"op\": \"patch\", \"tensor\": \"clean\", \"select\": {\"pos\": [0, 2]}}, "
             "{\"id\": \"ln\", \"hook\": \"ln_final.hook_normalized\", \"op\": \"save\"}, "
             "{\"id\": \"l2\", \"hook\": \"blocks.0.ln2.hook_normalized\", \"op\": \"add\", \"value\": [1], \"select\": {\"index\": 3}}]}");
    put_str("graph", "gpt2_patch.json", buf);
    put_str("graph", "short_gen.json",
            "{\"version\": 1, \"inputs\": {\"prompts\": [{\"ids\": [1]}, \"Lily\"], \"saes\": {\"any\": {\"path\": \"sae_any\"}}, "
            "\"tensors\": {\"h\": {\"file\": \"half.safetensors\"}}}, "
            "\"generate\": {\"steps\": 3}, \"nodes\": [{\"id\": \"sa\", \"hook\": \"blocks.0.hook_resid_pre\", \"op\": \"sae\", "
            "\"sae\": \"any\", \"select\": {\"pos\": -1}, \"edit\": {\"op\": \"set\", \"latents\": [0, 1], \"value\": 2}}, "
            "{\"id\": \"pb\", \"hook\": \"blocks.1.attn.hook_pattern\", \"op\": \"patch\", \"from_batch\": 1}, "
            "{\"id\": \"sc\", \"hook\": \"blocks.1.attn.hook_attn_scores\", \"op\": \"save\", \"steps\": [1, 2]}, "
            "{\"id\": \"mz\", \"hook\": \"blocks.2.attn.hook_z\", \"op\": \"mean_ablate\", \"select\": {\"head\": [0]}, \"steps\": [0]}, "
            "{\"id\": \"h\", \"hook\": \"blocks.3.hook_resid_post\", \"op\": \"add\", \"tensor\": \"h\"}]}");
    put_str("graph", "half.json",
            "{\"version\": 1, \"inputs\": {\"prompts\": [{\"ids\": [1, 2, 3]}], \"tensors\": {\"h\": {\"file\": \"half.safetensors\"}, "
            "\"p\": {\"file\": \"steer.safetensors\", \"tensor\": \"pair\"}}}, "
            "\"nodes\": [{\"id\": \"a\", \"hook\": \"blocks.1.hook_resid_post\", \"op\": \"add\", \"tensor\": \"h\", \"coef\": 0.5}]}");
    put_str("graph", "ids_only.json", "{\"version\": 1, \"inputs\": {\"prompts\": [{\"ids\": [0]}]}}");
    /* bad: each refused for its own reason */
    put_str("graph", "bad_cycle.json",
            "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"nodes\": [{\"id\": \"s\", \"hook\": \"blocks.3.hook_resid_pre\", "
            "\"op\": \"save\"}, {\"id\": \"t\", \"hook\": \"blocks.1.hook_resid_pre\", \"op\": \"set\", \"from\": \"s\"}]}");
    put_str("graph", "bad_version.json", "{\"version\": 2, \"inputs\": {\"prompts\": [\"a\"]}}");
    put_str("graph", "bad_abs_path.json",
            "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"], \"tensors\": {\"x\": {\"file\": \"/etc/passwd\"}}}}");
    put_str("graph", "bad_dotdot.json",
            "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"], \"saes\": {\"s\": {\"path\": \"../sae_res2\"}}}}");
    put_str("graph", "bad_missing_file.json",
            "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"], \"tensors\": {\"x\": {\"file\": \"nothere.safetensors\"}}}}");
    put_str("graph", "bad_steps.json", "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"generate\": {\"steps\": 100000}}");
    put_str("graph", "bad_shape.json",
            "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"nodes\": [{\"id\": \"a\", \"hook\": \"blocks.0.hook_resid_pre\", "
            "\"op\": \"add\", \"value\": [1, 2, 3]}]}");
    put_str("graph", "bad_json.json", "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}} trailing");
    put_str("graph", "bad_hook.json",
            "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"nodes\": [{\"id\": \"a\", \"hook\": \"blocks.9.hook_resid_pre\", "
            "\"op\": \"save\"}]}");
}

/* ---- SAEs: a selector byte (0 SAELens, 1 sparsify: cfg.json, NUL, safetensors; 2 npz) ---- */

static void put_sae_folder(const char *tmp, const seer_sae *s, seer_sae_format fmt, const char *name) {
    char dir[1024], path[1100];
    snprintf(dir, sizeof(dir), "%s/sae_%s", tmp, name);
    seer_err err;
    if (seer_sae_save(s, fmt, dir, &err) != SEER_OK) return fail(dir, &err);
    char *cfg = NULL, *st = NULL;
    size_t ncfg = 0, nst = 0;
    snprintf(path, sizeof(path), "%s/cfg.json", dir);
    if (seer_read_file(path, &cfg, &ncfg, &err) != SEER_OK) return fail(path, &err);
    snprintf(path, sizeof(path), "%s/%s", dir, fmt == SEER_SAE_FORMAT_SAELENS ? "sae_weights.safetensors" : "sae.safetensors");
    if (seer_read_file(path, &st, &nst, &err) != SEER_OK) {
        free(cfg);
        return fail(path, &err);
    }
    char *buf = malloc(ncfg + nst + 2);
    if (buf) {
        buf[0] = (char)fmt;
        memcpy(buf + 1, cfg, ncfg);
        buf[1 + ncfg] = 0;
        memcpy(buf + 2 + ncfg, st, nst);
        put("sae", name, buf, ncfg + nst + 2);
    }
    free(buf), free(cfg), free(st);
}

static seer_sae *seed_sae_make(seer_sae_arch arch, int64_t di, int64_t dl, int64_t dout, int skip, const char *hook_out) {
    seer_sae_config c = {.arch = arch, .d_in = di, .d_sae = dl, .d_out = dout, .k = 3, .skip = skip,
                         .apply_b_dec_to_input = di == dout && !skip};
    snprintf(c.hook_in, sizeof(c.hook_in), "blocks.1.hook_resid_post");
    snprintf(c.hook_out, sizeof(c.hook_out), "%s", hook_out ? hook_out : c.hook_in);
    snprintf(c.model_name, sizeof(c.model_name), "seed");
    seer_sae *s = NULL;
    seer_err err;
    if (seer_sae_init(&c, &s, &err) != SEER_OK) {
        fail("sae init", &err);
        return NULL;
    }
    for (int64_t i = 0; i < di * dl; i++) s->W_enc[i] = (float)((i * 37) % 11 - 5) * 0.125f;
    for (int64_t i = 0; i < dl * dout; i++) s->W_dec[i] = (float)((i * 53) % 13 - 6) * 0.125f;
    for (int64_t i = 0; i < dl; i++) s->b_enc[i] = (float)(i % 3) * 0.0625f;
    for (int64_t i = 0; i < dout; i++) s->b_dec[i] = (float)(i % 4) * -0.25f;
    for (int64_t i = 0; s->threshold && i < dl; i++) s->threshold[i] = 0.25f;
    for (int64_t i = 0; s->W_skip && i < dout * di; i++) s->W_skip[i] = (float)(i % 5) * 0.5f;
    return s;
}

/* A .npy image (version 1, header padded to 64 bytes) appended to out. */
static size_t npy_image(uint8_t *out, const char *descr, const char *shape, const void *data, size_t nbytes) {
    char dict[160];
    int n = snprintf(dict, sizeof(dict), "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64, hlen = total - 10;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (uint8_t)(hlen & 0xff), out[9] = (uint8_t)(hlen >> 8);
    memset(out + 10, ' ', hlen);
    memcpy(out + 10, dict, (size_t)n);
    out[total - 1] = '\n';
    memcpy(out + total, data, nbytes);
    return total + nbytes;
}

/* Gemma Scope params.npz as numpy.savez writes it (stored members), f32 or f16. */
static void seed_sae_npz(const char *tmp, const seer_sae *s, int f16, const char *name) {
    const seer_sae_config *c = &s->cfg;
    const char *names[5] = {"W_enc.npy", "W_dec.npy", "b_enc.npy", "b_dec.npy", "threshold.npy"};
    const float *src[5] = {s->W_enc, s->W_dec, s->b_enc, s->b_dec, s->threshold};
    int64_t n[5] = {c->d_in * c->d_sae, c->d_sae * c->d_out, c->d_sae, c->d_out, c->d_sae};
    char shapes[5][48];
    snprintf(shapes[0], 48, "(%lld, %lld)", (long long)c->d_in, (long long)c->d_sae);
    snprintf(shapes[1], 48, "(%lld, %lld)", (long long)c->d_sae, (long long)c->d_out);
    snprintf(shapes[2], 48, "(%lld,)", (long long)c->d_sae);
    snprintf(shapes[3], 48, "(%lld,)", (long long)c->d_out);
    snprintf(shapes[4], 48, "(%lld,)", (long long)c->d_sae);
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    int zerr = 0;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (!za) return fail(path, NULL);
    uint8_t *img[5] = {0};
    for (int q = 0; q < 5; q++) {
        size_t item = f16 ? 2 : 4, nb = (size_t)n[q] * item;
        uint16_t *h = malloc((size_t)n[q] * sizeof(uint16_t));
        img[q] = malloc(128 + nb);
        if (!h || !img[q]) {
            free(h);
            continue;
        }
        for (int64_t i = 0; i < n[q]; i++) h[i] = seer_fp32_to_fp16(src[q][i]);
        size_t len = npy_image(img[q], f16 ? "<f2" : "<f4", shapes[q], f16 ? (const void *)h : (const void *)src[q], nb);
        free(h);
        zip_source_t *zs = zip_source_buffer(za, img[q], len, 0);
        zip_int64_t idx = zs ? zip_file_add(za, names[q], zs, ZIP_FL_OVERWRITE) : -1;
        if (idx < 0) zip_source_free(zs);
        else zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
    }
    if (zip_close(za) != 0) {
        zip_discard(za);
        fail(path, NULL);
    }
    for (int q = 0; q < 5; q++) free(img[q]);
    char *bytes = NULL;
    size_t len = 0;
    seer_err err;
    if (seer_read_file(path, &bytes, &len, &err) != SEER_OK) return fail(path, &err);
    char *buf = malloc(len + 1);
    if (buf) {
        buf[0] = 2;
        memcpy(buf + 1, bytes, len);
        put("sae", name, buf, len + 1);
    }
    free(buf), free(bytes);
}

static void seed_saes(const char *tmp) {
    seer_sae *topk = seed_sae_make(SEER_SAE_TOPK, 4, 8, 4, 0, NULL);
    seer_sae *relu = seed_sae_make(SEER_SAE_RELU, 4, 6, 4, 0, NULL);
    seer_sae *jump = seed_sae_make(SEER_SAE_JUMPRELU, 3, 5, 3, 0, NULL);
    seer_sae *tc = seed_sae_make(SEER_SAE_JUMPRELU, 4, 6, 3, 1, "blocks.2.hook_mlp_out");
    if (topk) put_sae_folder(tmp, topk, SEER_SAE_FORMAT_SAELENS, "saelens_topk");
    if (topk) put_sae_folder(tmp, topk, SEER_SAE_FORMAT_SPARSIFY, "sparsify_topk");
    if (relu) put_sae_folder(tmp, relu, SEER_SAE_FORMAT_SAELENS, "saelens_relu");
    if (jump) put_sae_folder(tmp, jump, SEER_SAE_FORMAT_SAELENS, "saelens_jumprelu");
    if (tc) put_sae_folder(tmp, tc, SEER_SAE_FORMAT_SAELENS, "saelens_transcoder");
    if (jump) seed_sae_npz(tmp, jump, 0, "gemmascope_f32.npz");
    if (tc) seed_sae_npz(tmp, tc, 1, "gemmascope_f16.npz");
    /* An older flat SAELens config (hook at the top, TopK through activation_fn_kwargs) with the
     * TopK weights; and a sparsify config without d_in (taken from encoder.weight). */
    if (topk) {
        static const char flat[] = "\x00{\"architecture\": \"standard\", \"d_in\": 4, \"d_sae\": 8, \"hook_name\": "
                                   "\"blocks.1.hook_resid_post\", \"model_name\": \"seed\", \"activation_fn_str\": \"topk\", "
                                   "\"activation_fn_kwargs\": {\"k\": 3}, \"apply_b_dec_to_input\": true, "
                                   "\"normalize_activations\": \"none\"}";
        char path[1100];
        snprintf(path, sizeof(path), "%s/sae_saelens_topk/sae_weights.safetensors", tmp);
        char *st = NULL;
        size_t nst = 0;
        seer_err err;
        if (seer_read_file(path, &st, &nst, &err) == SEER_OK) put2("sae", "saelens_flat", flat, sizeof(flat) - 1, st, nst);
        free(st);
        static const char sp[] = "\x01{\"k\": 3, \"num_latents\": 8, \"hook_name\": \"blocks.1.hook_resid_post\"}";
        snprintf(path, sizeof(path), "%s/sae_sparsify_topk/sae.safetensors", tmp);
        st = NULL;
        if (seer_read_file(path, &st, &nst, &err) == SEER_OK) put2("sae", "sparsify_no_d_in", sp, sizeof(sp) - 1, st, nst);
        free(st);
    }
    seer_sae_free(topk), seer_sae_free(relu), seer_sae_free(jump), seer_sae_free(tc);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <out dir> <shared data dir>\n", argv[0]);
        return 2;
    }
    g_out = argv[1];
    mkdir(g_out, 0755);
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s/.tmp", g_out);
    mkdir(tmp, 0755);
    seeds_from_model(tmp, SEER_ARCH_LLAMA, 300, "llama");
    seeds_from_model(tmp, SEER_ARCH_LLAMA, 32, "llama_v32");
    seeds_from_model(tmp, SEER_ARCH_GPT2, 32, "gpt2");
    seed_llama2c_v1();
    seed_gguf_types();
    seed_st_types();
    seed_gpt2_tokenizers();
    seed_configs();
    seed_texts(argv[2]);
    seed_graphs();
    seed_saes(tmp);
    return g_failed ? 1 : 0;
}
