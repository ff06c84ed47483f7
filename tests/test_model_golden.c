/* The forward pass against the llama2.c reference: token ids of both prompts exactly, every
 * logit at every position within 1e-4 through batched prefill and through single-token decode,
 * greedy text byte for byte; for the llama2.c checkpoint, llama.cpp's GGUF of it, and seer's
 * own conversions to GGUF and safetensors. Also: two prompts of different lengths in one batch
 * equal each run alone (1e-5). */
#include "seer/model.h"
#include "test.h"

#define TOL 1e-4f

typedef struct golden {
    int32_t n, vocab;
    int32_t *ids;
    float *logits;
} golden;

static int load_golden(const char *rel, golden *g) {
    seer_err err;
    char *buf;
    size_t len;
    if (seer_read_file(test_data(rel), &buf, &len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    memcpy(&g->n, buf, 4);
    memcpy(&g->vocab, buf + 4, 4);
    g->ids = malloc((size_t)g->n * 4);
    g->logits = malloc((size_t)g->n * (size_t)g->vocab * 4);
    memcpy(g->ids, buf + 8, (size_t)g->n * 4);
    memcpy(g->logits, buf + 8 + (size_t)g->n * 4, (size_t)g->n * (size_t)g->vocab * 4);
    free(buf);
    return 0;
}

static void free_golden(golden *g) {
    free(g->ids);
    free(g->logits);
}

static void check_prompt(seer_model *m, const char *name, const char *prompt_rel, const golden *g) {
    seer_err err;
    char *text;
    size_t len;
    CHECK_OK(seer_read_file(test_data(prompt_rel), &text, &len, &err), &err);
    const seer_tok *tok = seer_model_tok(m);
    CHECK(tok != NULL);
    if (!tok) return;
    int32_t *ids;
    size_t n;
    CHECK_OK(seer_tok_encode(tok, text, len, 1, &ids, &n, &err), &err);
    int same = n == (size_t)g->n;
    for (size_t i = 0; same && i < n; i++) same = ids[i] == g->ids[i];
    CHECK_MSG(same, "%s: %s token ids differ from golden (%zu vs %d tokens)", name, prompt_rel, n, g->n);
    free(ids);
    free(text);

    int32_t V = g->vocab;
    float *out = malloc((size_t)g->n * (size_t)V * 4);
    int32_t *pos = malloc((size_t)g->n * 4);
    uint8_t *want = malloc((size_t)g->n);
    for (int32_t i = 0; i < g->n; i++) {
        pos[i] = i;
        want[i] = 1;
    }
    /* batched prefill over the whole prompt */
    seer_ctx *c;
    seer_ctx_params p = seer_ctx_default_params();
    p.n_batch = g->n;
    p.n_ctx = g->n;
    CHECK_OK(seer_ctx_init(m, &p, &c, &err), &err);
    seer_batch b = {.n = g->n, .tokens = g->ids, .pos = pos, .want_logits = want};
    CHECK_OK(seer_ctx_decode(c, &b, out, &err), &err);
    char what[128];
    snprintf(what, sizeof(what), "%s %s batched prefill", name, prompt_rel);
    check_close(out, g->logits, (size_t)g->n * (size_t)V, TOL, what);
    /* one token at a time through the cache */
    seer_ctx_clear_seq(c, 0);
    for (int32_t i = 0; i < g->n; i++) {
        seer_batch one = {.n = 1, .tokens = &g->ids[i], .pos = &pos[i]};
        CHECK_OK(seer_ctx_decode(c, &one, out + (size_t)i * V, &err), &err);
    }
    snprintf(what, sizeof(what), "%s %s single-token decode", name, prompt_rel);
    check_close(out, g->logits, (size_t)g->n * (size_t)V, TOL, what);
    seer_ctx_free(c);
    free(out);
    free(pos);
    free(want);
}

/* Greedy decoding from BOS as llama2.c's run does with steps 200. */
static void check_greedy(seer_model *m, const char *name) {
    seer_err err;
    char *expect;
    size_t elen;
    CHECK_OK(seer_read_file(test_data("models/stories260K/golden/greedy_200.txt"), &expect, &elen, &err), &err);
    const seer_tok *tok = seer_model_tok(m);
    if (!tok) return;
    seer_ctx *c;
    seer_ctx_params p = seer_ctx_default_params();
    p.n_ctx = 200;
    p.n_batch = 1;
    CHECK_OK(seer_ctx_init(m, &p, &c, &err), &err);
    int32_t V = seer_model_get_config(m)->n_vocab;
    float *logits = malloc((size_t)V * 4);
    char *text = calloc(1, 65536);
    size_t tl = 0;
    seer_tok_stream ts;
    seer_tok_stream_init(&ts, tok);
    int32_t token = seer_tok_bos(tok);
    tl += seer_tok_stream_push(&ts, token, text, 65536); /* BOS: nothing, but drops the next space */
    for (int32_t pos = 0; pos < 200; pos++) {
        seer_batch b = {.n = 1, .tokens = &token, .pos = &pos};
        if (seer_ctx_decode(c, &b, logits, &err)) break;
        int32_t next = 0;
        for (int32_t k = 1; k < V; k++)
            if (logits[k] > logits[next]) next = k;
        if (next == seer_tok_bos(tok)) break;
        tl += seer_tok_stream_push(&ts, next, text + tl, 65536 - tl);
        token = next;
    }
    tl += seer_tok_stream_flush(&ts, text + tl, 65536 - tl);
    text[tl++] = '\n';
    CHECK_MSG(tl == elen && memcmp(text, expect, elen) == 0, "%s: greedy text differs:\n%.*s\n---expected---\n%s", name,
              (int)tl, text, expect);
    free(text);
    free(logits);
    free(expect);
    seer_ctx_free(c);
}

/* Two prompts of different lengths as two sequences in one batch == each alone. */
static void check_multi_seq(seer_model *m, const golden *g1, const golden *g2) {
    seer_err err;
    int32_t n1 = g1->n < 40 ? g1->n : 40, n2 = 17, n = n1 + n2, V = g1->vocab;
    int32_t *toks = malloc((size_t)n * 4), *pos = malloc((size_t)n * 4), *seq = malloc((size_t)n * 4);
    uint8_t *want = malloc((size_t)n);
    /* interleave the two sequences to exercise the batch bookkeeping */
    int32_t a = 0, b = 0;
    for (int32_t i = 0; i < n; i++) {
        int pick_a = (a < n1) && (b >= n2 || i % 3 != 2);
        toks[i] = pick_a ? g1->ids[a] : g2->ids[b];
        pos[i] = pick_a ? a++ : b++;
        seq[i] = pick_a ? 0 : 1;
        want[i] = 1;
    }
    seer_ctx *c;
    seer_ctx_params p = seer_ctx_default_params();
    p.n_seq = 2;
    p.n_batch = n;
    p.n_ctx = 64;
    CHECK_OK(seer_ctx_init(m, &p, &c, &err), &err);
    float *out = malloc((size_t)n * (size_t)V * 4);
    seer_batch bt = {.n = n, .tokens = toks, .pos = pos, .seq = seq, .want_logits = want};
    CHECK_OK(seer_ctx_decode(c, &bt, out, &err), &err);
    for (int32_t i = 0; i < n; i++) {
        const golden *g = seq[i] == 0 ? g1 : g2;
        char what[64];
        snprintf(what, sizeof(what), "multi-seq batch row %d", i);
        if (!check_close(out + (size_t)i * V, g->logits + (size_t)pos[i] * V, (size_t)V, TOL, what)) break;
    }
    seer_ctx_free(c);
    free(out);
    free(toks);
    free(pos);
    free(seq);
    free(want);
}

static void check_model(const char *name, const char *path, const char *tok, const golden *gs, const golden *gk) {
    seer_err err;
    seer_model *m;
    CHECK_OK(seer_model_load(path, tok, &m, &err), &err);
    if (test_failures) return;
    check_prompt(m, name, "models/stories260K/golden/prompt_story.txt", gs);
    check_prompt(m, name, "models/stories260K/golden/prompt_shakespeare.txt", gk);
    check_greedy(m, name);
    check_multi_seq(m, gs, gk);
    seer_model_free(m);
}

int main(void) {
    golden gs, gk;
    if (load_golden("models/stories260K/golden/logits_story.bin", &gs) ||
        load_golden("models/stories260K/golden/logits_shakespeare.bin", &gk)) {
        fprintf(stderr, "golden files missing under %s: skipping\n", test_data_dir());
        return 77;
    }
    char bin[1024], tok[1024];
    snprintf(bin, sizeof(bin), "%s", test_data("models/stories260K/stories260K.bin"));
    snprintf(tok, sizeof(tok), "%s", test_data("models/stories260K/tok512.bin"));
    check_model("llama2c", bin, tok, &gs, &gk);
    check_model("llama.cpp gguf", test_data("models/stories260K/stories260K.gguf"), NULL, &gs, &gk);

    /* seer's own conversions */
    seer_err err;
    seer_model *m;
    CHECK_OK(seer_model_load(bin, tok, &m, &err), &err);
    if (!test_failures) {
        const char *g = test_tmp("golden_conv.gguf"), *st = test_tmp("golden_conv_hf"), *l2 = test_tmp("golden_conv.bin");
        CHECK_OK(seer_model_save(m, SEER_FORMAT_GGUF, g, SEER_DTYPE_COUNT, &err), &err);
        CHECK_OK(seer_model_save(m, SEER_FORMAT_SAFETENSORS, st, SEER_DTYPE_COUNT, &err), &err);
        CHECK_OK(seer_model_save(m, SEER_FORMAT_LLAMA2C, l2, SEER_DTYPE_COUNT, &err), &err);
        check_model("seer gguf", g, NULL, &gs, &gk);
        check_model("seer safetensors", st, NULL, &gs, &gk);
        check_model("seer llama2c", l2, tok, &gs, &gk);
        seer_model_free(m);
    }
    free_golden(&gs);
    free_golden(&gk);
    return test_done("test_model_golden");
}
