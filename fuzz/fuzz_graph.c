/* Fuzzes the intervention graph: the input is the graph's JSON, loaded against two tiny random
 * models (Llama and GPT-2, five blocks of width 16 and eight heads, so every hook of the
 * documented examples exists; one byte-level tokenizer) under server-like limits. A graph that
 * loads must run (it was validated before anything ran), twice with the same result, saving no
 * more than the limit allows, and its JSON summary must parse. Files resolve in a private
 * folder that holds only the fixtures the seeds name (steer.safetensors, half.safetensors with
 * an unaligned f16 tensor, two SAELens SAEs and a sparsify one), and only relative paths are
 * allowed, so any other reference fails cleanly. */
#include "fuzz.h"

#include <cJSON.h>

#include "seer/hooks.h"
#include "seer/sae.h"
#include "seer/sae_hook.h"
#include "seer/safetensors.h"

#define FUZZ_GRAPH_D 16 /* d_model of both models */

static char fuzz_graph_dir[64];
static seer_model *fuzz_graph_models[2];

/* Limits small enough that one run takes milliseconds; GPT-2's 64 learned positions are
 * fewer than max_tokens, so graphs longer than the model can hold are reachable. */
static seer_graph_limits fuzz_graph_limits(void) {
    seer_graph_limits l = {.max_prompts = 8, .max_tokens = 96, .max_nodes = 64, .max_save_bytes = (int64_t)4 << 20,
                           .max_input_bytes = (int64_t)1 << 20, .max_steps = 32, .allow_any_path = 0};
    return l;
}

static void fuzz_graph_cleanup(void) {
    for (int i = 0; i < 2; i++) seer_model_free(fuzz_graph_models[i]), fuzz_graph_models[i] = NULL;
    seer_graph_set_codec(NULL);
    if (fuzz_graph_dir[0]) fuzz_rm_tree(fuzz_graph_dir);
    fuzz_graph_dir[0] = 0;
}

static void fuzz_graph_sae(const char *name, seer_sae_arch arch, const char *hook, seer_sae_format fmt) {
    seer_sae_config c = {.arch = arch, .d_in = FUZZ_GRAPH_D, .d_sae = 32, .d_out = FUZZ_GRAPH_D, .k = 4,
                         .apply_b_dec_to_input = 1};
    snprintf(c.hook_in, sizeof(c.hook_in), "%s", hook);
    snprintf(c.hook_out, sizeof(c.hook_out), "%s", hook);
    seer_sae *s = NULL;
    seer_err err;
    if (seer_sae_init(&c, &s, &err) != SEER_OK) abort();
    for (int64_t i = 0; i < c.d_in * c.d_sae; i++) {
        s->W_enc[i] = (float)((i * 37) % 11 - 5) * 0.1f;
        s->W_dec[i] = (float)((i * 53) % 13 - 6) * 0.1f;
    }
    for (int64_t i = 0; i < c.d_sae; i++) s->b_enc[i] = 0.01f * (float)(i % 3);
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", fuzz_graph_dir, name);
    if (seer_sae_save(s, fmt, path, &err) != SEER_OK) abort();
    seer_sae_free(s);
}

/* The models, the folder and its fixtures, once per process. Random GPT-2 models come without
 * a tokenizer: this one is saved and reloaded with the Llama's, so text prompts reach both. */
static void fuzz_graph_init(void) {
    if (fuzz_graph_models[0]) return;
    seer_err err;
    seer_model *gpt2 = NULL;
    for (int i = 0; i < 2; i++) {
        seer_model_config c = {.arch = i ? SEER_ARCH_GPT2 : SEER_ARCH_LLAMA, .n_vocab = 300, .d_model = FUZZ_GRAPH_D,
                               .n_layers = 5, .n_heads = 8, .n_kv_heads = i ? 8 : 4, .d_head = 2, .d_mlp = 16,
                               .n_ctx = 64, .norm_eps = 1e-5f, .rope_theta = 10000.0f, .tied_embeddings = i};
        if (seer_model_random(&c, 3 + (uint64_t)i, i ? &gpt2 : &fuzz_graph_models[0], &err) != SEER_OK) abort();
    }
    char tmp[64], mpath[128], tpath[128];
    fuzz_private_dir(tmp, sizeof(tmp), "graph-model");
    snprintf(mpath, sizeof(mpath), "%s/gpt2.gguf", tmp);
    snprintf(tpath, sizeof(tpath), "%s/tok.bin", tmp);
    if (seer_model_save(gpt2, SEER_FORMAT_GGUF, mpath, SEER_DTYPE_COUNT, &err) != SEER_OK ||
        seer_tok_save_llama2c(seer_model_tok(fuzz_graph_models[0]), tpath, &err) != SEER_OK ||
        seer_model_load(mpath, tpath, &fuzz_graph_models[1], &err) != SEER_OK) {
        fprintf(stderr, "fuzz_graph: %s\n", err.msg);
        abort();
    }
    seer_model_free(gpt2);
    fuzz_rm_tree(tmp);
    fuzz_private_dir(fuzz_graph_dir, sizeof(fuzz_graph_dir), "graph");
    atexit(fuzz_graph_cleanup);
    float happy[FUZZ_GRAPH_D], two[2 * FUZZ_GRAPH_D];
    for (int i = 0; i < FUZZ_GRAPH_D; i++) happy[i] = (float)(i % 5 - 2) * 0.1f;
    for (int i = 0; i < 2 * FUZZ_GRAPH_D; i++) two[i] = (float)(i % 7 - 3) * 0.05f;
    seer_st_writer *w = seer_st_writer_init();
    if (!w) abort();
    int64_t sh1[1] = {FUZZ_GRAPH_D}, sh2[2] = {2, FUZZ_GRAPH_D};
    seer_st_writer_add(w, "happy", SEER_DTYPE_F32, 1, sh1, happy);
    seer_st_writer_add(w, "pair", SEER_DTYPE_F32, 2, sh2, two);
    char path[128];
    snprintf(path, sizeof(path), "%s/steer.safetensors", fuzz_graph_dir);
    if (seer_st_writer_write(w, path, &err) != SEER_OK) abort();
    seer_st_writer_free(w);
    /* half.safetensors: f16 data at an odd offset (a header of odd length, which the format
     * allows), so the tensor's view is unaligned */
    char hdr[] = "{\"half\":{\"dtype\":\"F16\",\"shape\":[16],\"data_offsets\":[0,32]}}";
    uint8_t file[8 + sizeof(hdr) + 32];
    size_t hl = strlen(hdr) | 1, off = 0;
    for (int i = 0; i < 8; i++) file[off++] = (uint8_t)(hl >> (8 * i));
    memset(file + off, ' ', hl);
    memcpy(file + off, hdr, strlen(hdr));
    off += hl;
    for (int i = 0; i < FUZZ_GRAPH_D; i++) {
        uint16_t h = seer_fp32_to_fp16(happy[i]);
        memcpy(file + off + 2 * (size_t)i, &h, 2);
    }
    snprintf(path, sizeof(path), "%s/half.safetensors", fuzz_graph_dir);
    if (seer_write_file_atomic(path, file, off + 2 * FUZZ_GRAPH_D, &err) != SEER_OK) abort();
    fuzz_graph_sae("sae_res2", SEER_SAE_TOPK, "blocks.2.hook_resid_post", SEER_SAE_FORMAT_SAELENS);
    fuzz_graph_sae("sae_any", SEER_SAE_TOPK, "", SEER_SAE_FORMAT_SPARSIFY);
    fuzz_graph_sae("sae_relu", SEER_SAE_RELU, "", SEER_SAE_FORMAT_SAELENS);
    seer_graph_set_codec(seer_sae_hook_codec());
}

/* The JSON summary of a result, in a malloc'd string. */
static char *fuzz_graph_summary(const seer_trace_result *r, size_t *len) {
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) abort();
    seer_trace_result_print_json(r, f);
    fclose(f);
    /* a copy: gcc 12 otherwise takes pointers into it for pointers to the local 'buf' */
    char *text = malloc(n + 1);
    if (!text) abort();
    memcpy(text, buf, n + 1);
    free(buf);
    *len = n;
    return text;
}

static void fuzz_graph_check_result(const seer_graph *g, const seer_trace_result *r, const seer_graph_limits *lim) {
    int64_t saved = 0;
    for (int64_t i = 0; i < seer_trace_result_n_tensors(r); i++) {
        const seer_tensor *t = seer_trace_result_tensor(r, i);
        FUZZ_CHECK(t && t->name && t->name[0] && t->type == SEER_DTYPE_F32);
        FUZZ_CHECK(seer_trace_result_find(r, t->name) != NULL);
        int64_t ne = seer_tensor_nelem(t);
        FUZZ_CHECK(ne >= 0 && t->nbytes == (size_t)ne * sizeof(float));
        fuzz_touch(t->data, t->nbytes);
        saved += (int64_t)t->nbytes;
    }
    FUZZ_CHECK(saved <= lim->max_save_bytes);
    size_t len = 0;
    char *text = fuzz_graph_summary(r, &len);
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (!j) fprintf(stderr, "trace summary is not JSON: %s\n", text);
    FUZZ_CHECK(j != NULL); /* non-finite metrics print as null */
    const cJSON *prompts = cJSON_GetObjectItemCaseSensitive(j, "prompts");
    FUZZ_CHECK(cJSON_IsArray(prompts) && cJSON_GetArraySize(prompts) == seer_graph_n_prompts(g));
    cJSON_Delete(j);
    free(text);
}

/* Same graph, same model: the same bits (noise and sampling are seeded). */
static void fuzz_graph_check_same(const seer_trace_result *a, const seer_trace_result *b) {
    FUZZ_CHECK(seer_trace_result_n_tensors(a) == seer_trace_result_n_tensors(b));
    for (int64_t i = 0; i < seer_trace_result_n_tensors(a); i++) {
        const seer_tensor *x = seer_trace_result_tensor(a, i), *y = seer_trace_result_tensor(b, i);
        FUZZ_CHECK(!strcmp(x->name, y->name) && x->nbytes == y->nbytes);
        FUZZ_CHECK(x->nbytes == 0 || memcmp(x->data, y->data, x->nbytes) == 0);
    }
    size_t la = 0, lb = 0;
    char *ta = fuzz_graph_summary(a, &la), *tb = fuzz_graph_summary(b, &lb);
    FUZZ_CHECK(la == lb && memcmp(ta, tb, la) == 0);
    free(ta);
    free(tb);
}

static void fuzz_graph_on(int which, const uint8_t *data, size_t size) {
    const seer_model *m = fuzz_graph_models[which];
    seer_graph_limits lim = fuzz_graph_limits();
    seer_graph *g = NULL;
    seer_err err;
    seer_status st = seer_graph_load(m, (const char *)data, size, fuzz_graph_dir, &lim, &g, &err);
    if (st != SEER_OK) {
        FUZZ_CHECK_ERR(st, err);
        FUZZ_CHECK(g == NULL);
        return;
    }
    FUZZ_CHECK(seer_graph_n_prompts(g) >= 1 && seer_graph_n_prompts(g) <= lim.max_prompts);
    seer_ctx_params cp = seer_trace_ctx_params(g);
    FUZZ_CHECK(cp.n_ctx >= 1 && cp.n_ctx <= lim.max_tokens && cp.n_seq == seer_graph_n_prompts(g));
    seer_trace_result *r = NULL;
    st = seer_trace_run(m, g, 1, &r, &err);
    if (st != SEER_OK) fprintf(stderr, "a graph that loaded did not run: %s\n", err.msg);
    FUZZ_CHECK(st == SEER_OK && r != NULL);
    fuzz_graph_check_result(g, r, &lim);
    if (which == 0) {
        seer_trace_result *again = NULL;
        FUZZ_CHECK(seer_trace_run(m, g, 1, &again, &err) == SEER_OK);
        fuzz_graph_check_same(r, again);
        seer_trace_result_free(again);
    }
    seer_trace_result_free(r);
    seer_graph_free(g);
}

static void fuzz_graph_one(const uint8_t *data, size_t size) {
    fuzz_graph_init();
    fuzz_graph_on(0, data, size);
    fuzz_graph_on(1, data, size);
}

FUZZ_ENTRY(fuzz_graph_one)
