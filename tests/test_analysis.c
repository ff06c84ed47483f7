/* Analyses on stories260K and random GPT-2/Llama models:
 * - logit lens: the last row equals the model's logits and the golden llama2.c logits; earlier
 *   rows equal a double-precision norm + unembedding of residuals saved through a trace;
 * - DLA: components sum to the model's own logit difference (Llama, and GPT-2 with random
 *   biases and norms); single heads equal an independent computation from saved hook_z;
 * - patching: clean resid_pre at layer 0 everywhere restores the clean metric; batched runs
 *   equal one-at-a-time runs and the trace graph's patch op; positions before the prompts
 *   differ change nothing; bad input is refused; the SVG is well formed;
 * - diff: a model against itself is identical everywhere; a copy with one layer perturbed is
 *   identical exactly up to that layer and different after;
 * - tokens named on a command line, labels, and the CLI commands end to end (JSON parsed). */
#include <cJSON.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seer/analysis.h"
#include "trace_util.h"

static seer_model *M; /* stories260K */
static char model_path[1024], tok_path[1024];

/* logits [n, V] of the plain forward, every row */
static float *plain_logits(const seer_model *m, const int32_t *toks, int32_t n) {
    seer_err err;
    int32_t V = seer_model_get_config(m)->n_vocab;
    float *out = malloc((size_t)n * (size_t)V * sizeof(float));
    int32_t *pos = malloc((size_t)n * sizeof(int32_t));
    uint8_t *want = malloc((size_t)n);
    for (int32_t i = 0; i < n; i++) pos[i] = i, want[i] = 1;
    seer_ctx *c = NULL;
    seer_ctx_params p = seer_ctx_default_params();
    p.n_ctx = n;
    p.n_batch = n;
    CHECK_OK(seer_ctx_init(m, &p, &c, &err), &err);
    seer_batch b = {.n = n, .tokens = toks, .pos = pos, .want_logits = want};
    if (c) CHECK_OK(seer_ctx_decode(c, &b, out, &err), &err);
    seer_ctx_free(c);
    free(pos);
    free(want);
    return out;
}

static const float *saved(const seer_trace_result *r, const char *name) {
    const seer_tensor *t = r ? seer_trace_result_find(r, name) : NULL;
    CHECK_MSG(t != NULL, "saved tensor '%s' missing", name);
    return t ? t->data : NULL;
}

static void ids_json(char *buf, size_t cap, const int32_t *ids, int32_t n) {
    size_t k = (size_t)snprintf(buf, cap, "{\"ids\": [");
    for (int32_t i = 0; i < n; i++) k += (size_t)snprintf(buf + k, cap - k, "%s%d", i ? ", " : "", ids[i]);
    snprintf(buf + k, cap - k, "]}");
}

static void unembed_row(const seer_model *m, int32_t id, double *out) {
    const seer_model_config *c = seer_model_get_config(m);
    const seer_tensor *u = seer_model_find_tensor(m, c->tied_embeddings ? "token_embd.weight" : "output.weight");
    const float *w = u->data;
    for (int i = 0; i < c->d_model; i++) out[i] = w[(int64_t)id * c->d_model + i];
}

/* Norms near 1 and biases that are not zero, so LayerNorm's centring and biases are exercised. */
static void randomise_vectors(seer_model *m, uint64_t seed) {
    seer_rng r;
    seer_rng_seed(&r, seed);
    for (int64_t i = 0; i < seer_model_n_tensors(m); i++) {
        seer_tensor *t = (seer_tensor *)seer_model_tensor(m, i);
        if (t->n_dims != 1 || t->type != SEER_DTYPE_F32) continue;
        float *v = t->data;
        int is_bias = strstr(t->name, ".bias") != NULL;
        for (int64_t j = 0; j < t->shape[0]; j++) v[j] = is_bias ? 0.3f * seer_rng_normal(&r) : 1.0f + 0.3f * seer_rng_normal(&r);
    }
}

/* ---- tokens ---- */

static void test_tokens(void) {
    seer_err err;
    int32_t id = -1;
    CHECK_OK(seer_analysis_parse_token(M, "Lily", &id, &err), &err);
    CHECK(id == 317);
    id = -1;
    CHECK_OK(seer_analysis_parse_token(M, "317", &id, &err), &err);
    CHECK(id == 317);
    id = -1;
    CHECK_OK(seer_analysis_parse_token(M, "\xe2\x96\x81Lily", &id, &err), &err); /* GGUF's raw piece "▁Lily" */
    CHECK(id == 317);
    id = -1;
    CHECK_OK(seer_analysis_parse_token(M, " Lily", &id, &err), &err); /* llama2.c's raw piece */
    CHECK(id == 317);
    CHECK_FAILS(seer_analysis_parse_token(M, "Tom", &id, &err), &err, "encodes to 2 tokens [274 287]");
    CHECK_FAILS(seer_analysis_parse_token(M, "512", &id, &err), &err, "token id 512 outside the vocabulary [0, 512)");
    char buf[64];
    const seer_tok *t = seer_model_tok(M);
    CHECK(!strcmp(seer_analysis_token_label(t, -1, 1, buf, sizeof(buf)), "<s>"));
    CHECK(!strcmp(seer_analysis_token_label(t, 1, 13, buf, sizeof(buf)), "\\n"));     /* <0x0A> */
    CHECK(!strcmp(seer_analysis_token_label(t, 1, 3 + 0xE2, buf, sizeof(buf)), "<0xE2>")); /* half a character */
    CHECK(!strcmp(seer_analysis_token_label(t, 1, 317, buf, sizeof(buf)), "Lily"));       /* after BOS: no space */
    CHECK(!strcmp(seer_analysis_token_label(t, 5, 317, buf, sizeof(buf)), " Lily"));
    char small[8];
    CHECK(strlen(seer_analysis_token_label(t, 5, 405, small, sizeof(small))) < sizeof(small));
    int32_t p;
    CHECK_OK(seer_analysis_resolve_pos(-1, 5, &p, &err), &err);
    CHECK(p == 4);
    CHECK_FAILS(seer_analysis_resolve_pos(5, 5, &p, &err), &err, "position 5 outside a prompt of 5 tokens");
    CHECK_FAILS(seer_analysis_resolve_pos(-6, 5, &p, &err), &err, "position -6");
}

/* ---- logit lens ---- */

static void test_lens_golden(void) {
    seer_err err;
    char *raw = NULL;
    size_t len = 0;
    CHECK_OK(seer_read_file(test_data("models/stories260K/golden/logits_story.bin"), &raw, &len, &err), &err);
    if (!raw) return;
    int32_t n = ((int32_t *)raw)[0], V = ((int32_t *)raw)[1];
    const int32_t *ids = (int32_t *)raw + 2;
    const float *gold = (const float *)(ids + n);
    CHECK(V == 512 && len == 8 + (size_t)n * 4 + (size_t)n * V * 4);
    float *lg = plain_logits(M, ids, n);
    int32_t positions[] = {-1, 3, n / 2, 0};
    for (int k = 0; k < 4; k++) {
        seer_lens_params p = seer_lens_default_params();
        p.pos = positions[k];
        p.target = 317;
        p.top_k = 7;
        seer_lens_result *r = NULL;
        CHECK_OK(seer_lens_run(M, ids, n, &p, &r, &err), &err);
        if (!r) continue;
        int32_t at = positions[k] < 0 ? n + positions[k] : positions[k];
        CHECK(r->n_rows == 6 && r->pos == at && r->token == ids[at]);
        CHECK(!strcmp(r->rows[0].hook, "blocks.0.hook_resid_pre") && !strcmp(r->rows[5].hook, "blocks.4.hook_resid_post"));
        char what[96];
        snprintf(what, sizeof(what), "lens resid_post vs model logits at pos %d", at);
        check_close(r->rows[5].logits, lg + (int64_t)at * V, (size_t)V, 1e-4f, what);
        snprintf(what, sizeof(what), "lens resid_post vs golden logits at pos %d", at);
        check_close(r->rows[5].logits, gold + (int64_t)at * V, (size_t)V, 1e-4f, what);
        for (int32_t i = 0; i < r->n_rows; i++) {
            const seer_lens_row *row = &r->rows[i];
            int sorted = 1, above = 0, best = 0;
            for (int j = 1; j < 7; j++) sorted &= row->top_probs[j] <= row->top_probs[j - 1];
            for (int32_t v = 0; v < V; v++) {
                above += row->logits[v] > row->logits[317];
                if (row->logits[v] > row->logits[best]) best = v;
            }
            double z = 0;
            for (int32_t v = 0; v < V; v++) z += exp((double)row->logits[v] - row->logits[best]);
            CHECK_MSG(sorted && row->top_ids[0] == best, "row %d: top-k not sorted or not led by the argmax", i);
            CHECK_MSG(row->target_rank == above + 1, "row %d: target rank %d, %d tokens above", i, row->target_rank, above);
            CHECK(fabs(row->target_prob - exp((double)row->logits[317] - row->logits[best]) / z) < 1e-6);
            CHECK(fabs(row->top_probs[0] - 1.0 / z) < 1e-6);
        }
        seer_lens_result_free(r);
    }
    /* earlier layers: a double-precision RMSNorm + unembedding of resid_pre saved by a trace */
    char prompt[4096], json[8192];
    ids_json(prompt, sizeof(prompt), ids, 12);
    snprintf(json, sizeof(json), "{\"version\": 1, \"inputs\": {\"prompts\": [%s]}, \"nodes\": ["
             "{\"id\": \"r2\", \"hook\": \"blocks.2.hook_resid_pre\", \"op\": \"save\"}]}", prompt);
    seer_trace_result *tr = trace_run_json(M, json);
    seer_lens_params p = seer_lens_default_params();
    p.pos = 7;
    seer_lens_result *r = NULL;
    CHECK_OK(seer_lens_run(M, ids, 12, &p, &r, &err), &err);
    if (tr && r) {
        const float *x = saved(tr, "r2") + 7 * 64;
        const float *w = seer_model_find_tensor(M, "output_norm.weight")->data;
        double ss = 0, u[64];
        for (int i = 0; i < 64; i++) ss += (double)x[i] * x[i];
        double inv = 1.0 / sqrt(ss / 64 + 1e-5);
        float ref[512];
        for (int32_t v = 0; v < 512; v++) {
            unembed_row(M, v, u);
            double s = 0;
            for (int i = 0; i < 64; i++) s += x[i] * inv * w[i] * u[i];
            ref[v] = (float)s;
        }
        check_close(r->rows[2].logits, ref, 512, 1e-4f, "lens blocks.2.hook_resid_pre vs double-precision reference");
    }
    seer_lens_result_free(r);
    seer_trace_result_free(tr);
    /* bad parameters */
    p = seer_lens_default_params();
    p.pos = 12;
    CHECK_FAILS(seer_lens_run(M, ids, 12, &p, &r, &err), &err, "position 12 outside a prompt of 12 tokens");
    p = seer_lens_default_params();
    p.top_k = 0;
    CHECK_FAILS(seer_lens_run(M, ids, 12, &p, &r, &err), &err, "top-k 0");
    p = seer_lens_default_params();
    p.target = 600;
    CHECK_FAILS(seer_lens_run(M, ids, 12, &p, &r, &err), &err, "target 600");
    free(lg);
    free(raw);
}

/* ---- direct logit attribution ---- */

/* One head's share computed here from a saved hook_z and the residual: W_O slice, then the
 * final norm linearised (LayerNorm: centred) at the residual's scale. */
static double head_share(const seer_model *m, const float *z_row, const float *x, int l, int h, int32_t a, int32_t b) {
    const seer_model_config *c = seer_model_get_config(m);
    int d = c->d_model, dh = c->d_head;
    int ln = c->arch == SEER_ARCH_GPT2;
    char name[64];
    snprintf(name, sizeof(name), "blk.%d.attn_output.weight", l);
    const float *wo = seer_model_find_tensor(m, name)->data;
    const float *w = seer_model_find_tensor(m, "output_norm.weight")->data;
    double v[1024], ua[1024], ub[1024], mean = 0, var = 0, xm = 0;
    for (int i = 0; i < d; i++) {
        v[i] = 0;
        for (int j = 0; j < dh; j++) v[i] += (double)wo[(int64_t)i * d + h * dh + j] * z_row[h * dh + j];
        mean += v[i] / d;
        xm += (double)x[i] / d;
    }
    for (int i = 0; i < d; i++) var += ln ? (x[i] - xm) * (x[i] - xm) / d : (double)x[i] * x[i] / d;
    double scale = sqrt(var + c->norm_eps), s = 0;
    unembed_row(m, a, ua);
    unembed_row(m, b, ub);
    for (int i = 0; i < d; i++) s += (ln ? v[i] - mean : v[i]) / scale * w[i] * (ua[i] - ub[i]);
    return s;
}

static void check_dla(const seer_model *m, const int32_t *toks, int32_t n, int32_t pos, int32_t a, int32_t b,
                      const char *what) {
    seer_err err;
    const seer_model_config *c = seer_model_get_config(m);
    seer_dla_params p = {.pos = pos, .tok_a = a, .tok_b = b, .n_threads = 2};
    seer_dla_result *r = NULL;
    CHECK_OK(seer_dla_run(m, toks, n, &p, &r, &err), &err);
    if (!r) return;
    int32_t at = pos < 0 ? n + pos : pos;
    float *lg = plain_logits(m, toks, n);
    double ld = (double)lg[(int64_t)at * c->n_vocab + a] - lg[(int64_t)at * c->n_vocab + b], sum = 0;
    for (int32_t i = 0; i < r->n; i++) sum += r->c[i].value;
    int gpt2 = c->arch == SEER_ARCH_GPT2;
    int32_t expect = 1 + gpt2 + c->n_layers * (c->n_heads + 1 + gpt2) + gpt2;
    CHECK_MSG(r->n == expect, "%s: %d components, expected %d", what, r->n, expect);
    CHECK_MSG(fabs(sum - r->total) < 1e-9 && fabs(r->logit_diff - ld) < 1e-5, "%s: total %g vs sum %g, logit diff %g vs %g",
              what, r->total, sum, r->logit_diff, ld);
    CHECK_MSG(fabs(sum - ld) < 1e-4, "%s: components sum to %.7f, model's logit difference %.7f (diff %.3g)", what, sum, ld,
              fabs(sum - ld));
    CHECK_MSG(fabs(ld) > 1e-3, "%s: degenerate logit difference %g", what, ld);
    /* names in forward order */
    CHECK(!strcmp(r->c[0].name, "embed") && r->c[0].kind == SEER_DLA_EMBED);
    if (gpt2) CHECK(!strcmp(r->c[1].name, "pos_embed") && !strcmp(r->c[r->n - 1].name, "ln_final.bias"));
    CHECK(!strcmp(r->c[1 + gpt2].name, "L0H0") && r->c[1 + gpt2].layer == 0 && r->c[1 + gpt2].head == 0);
    /* one head per layer checked against hook_z saved through a trace */
    char prompt[4096], json[8192];
    ids_json(prompt, sizeof(prompt), toks, n);
    int L = c->n_layers;
    snprintf(json, sizeof(json), "{\"version\": 1, \"inputs\": {\"prompts\": [%s]}, \"nodes\": ["
             "{\"id\": \"x\", \"hook\": \"blocks.%d.hook_resid_post\", \"op\": \"save\"}", prompt, L - 1);
    for (int l = 0; l < L; l++)
        snprintf(json + strlen(json), sizeof(json) - strlen(json), ", {\"id\": \"z%d\", \"hook\": \"blocks.%d.attn.hook_z\", \"op\": \"save\"}", l, l);
    snprintf(json + strlen(json), sizeof(json) - strlen(json), "]}");
    seer_trace_result *tr = trace_run_json(m, json);
    if (tr) {
        const float *x = saved(tr, "x") + (int64_t)at * c->d_model;
        for (int l = 0; l < L; l++) {
            char id[16];
            snprintf(id, sizeof(id), "z%d", l);
            int h = (l * 3 + 1) % c->n_heads;
            double want = head_share(m, saved(tr, id) + (int64_t)at * c->d_model, x, l, h, a, b);
            const seer_dla_component *comp = &r->c[1 + gpt2 + l * (c->n_heads + 1 + gpt2) + h];
            CHECK_MSG(comp->kind == SEER_DLA_HEAD && comp->layer == l && comp->head == h && fabs(comp->value - want) < 1e-5,
                      "%s: %s = %.7f, recomputed L%dH%d = %.7f", what, comp->name, comp->value, l, h, want);
        }
        seer_trace_result_free(tr);
    }
    free(lg);
    seer_dla_result_free(r);
}

static void test_dla(void) {
    seer_err err;
    int32_t *ids = NULL, n = 0;
    CHECK_OK(seer_analysis_encode(M, "Once upon a time, there was a little girl named Lily. Lily", &ids, &n, &err), &err);
    if (!ids) return;
    check_dla(M, ids, n, -1, 263 /* " w" */, 358 /* " she" */, "stories260K last");
    check_dla(M, ids, n, 4, 267, 265, "stories260K pos 4");
    check_dla(M, ids, n, -3, 317, 405, "stories260K pos -3");
    seer_dla_params p = {.pos = -1, .tok_a = 512, .tok_b = 3};
    seer_dla_result *r = NULL;
    CHECK_FAILS(seer_dla_run(M, ids, n, &p, &r, &err), &err, "must be in the vocabulary");
    free(ids);

    seer_model_config g = {.arch = SEER_ARCH_GPT2, .n_vocab = 300, .d_model = 64, .n_layers = 3, .n_heads = 4,
                           .n_kv_heads = 4, .d_head = 16, .d_mlp = 128, .n_ctx = 32, .norm_eps = 1e-5f,
                           .rope_theta = 10000.0f, .tied_embeddings = 1};
    seer_model *gm = NULL;
    CHECK_OK(seer_model_random(&g, 5, &gm, &err), &err);
    if (!gm) return;
    randomise_vectors(gm, 9);
    int32_t toks[11];
    for (int i = 0; i < 11; i++) toks[i] = (i * 37 + 11) % 300;
    check_dla(gm, toks, 11, -1, 7, 100, "gpt2 last");
    check_dla(gm, toks, 11, 2, 250, 3, "gpt2 pos 2");
    seer_model_free(gm);
}

/* ---- patching ---- */

#define CLEAN "Lily and Timmy went to the park. Lily gave the ball to"
#define CORRUPT "Lily and Timmy went to the park. Timmy gave the ball to"

static int count(const char *s, const char *needle) {
    int k = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) k++;
    return k;
}

static void test_patch(void) {
    seer_err err;
    int32_t *ic = NULL, *ix = NULL, nc = 0, nx = 0;
    CHECK_OK(seer_analysis_encode(M, CLEAN, &ic, &nc, &err), &err);
    CHECK_OK(seer_analysis_encode(M, CORRUPT, &ix, &nx, &err), &err);
    if (!ic || !ix) return;
    CHECK(nc == 20 && nx == 20);
    int32_t first_diff = 0;
    while (first_diff < nc && ic[first_diff] == ix[first_diff]) first_diff++;
    CHECK(first_diff == 12);
    seer_patch_params pp = {.metric = SEER_PATCH_LOGIT_DIFF, .tok_a = 405, .tok_b = 317, .n_threads = 2};
    float *lc = plain_logits(M, ic, nc), *lx = plain_logits(M, ix, nx);
    double clean_ref = (double)lc[19 * 512 + 405] - lc[19 * 512 + 317], corrupt_ref = (double)lx[19 * 512 + 405] - lx[19 * 512 + 317];

    /* patches that must restore the clean run entirely */
    seer_patch_cell full[] = {
        {SEER_HP_RESID_PRE, 0, -1, -1}, {SEER_HP_EMBED, -1, -1, -1}, {SEER_HP_RESID_POST, 4, 19, -1},
        {SEER_HP_LN_FINAL, -1, 19, -1}, {SEER_HP_RESID_PRE, 0, 5, -1},
    };
    double v[5], mc = 0, mx = 0;
    CHECK_OK(seer_patch_run(M, ic, nc, ix, nx, &pp, full, 5, v, &mc, &mx, &err), &err);
    CHECK_MSG(fabs(mc - clean_ref) < 1e-5 && fabs(mx - corrupt_ref) < 1e-5, "baselines %g %g vs %g %g", mc, mx, clean_ref, corrupt_ref);
    for (int i = 0; i < 4; i++)
        CHECK_MSG(fabs(v[i] - mc) < 1e-5, "full patch %d: %.7f, clean %.7f (normalised %.5f)", i, v[i], mc, (v[i] - mx) / (mc - mx));
    CHECK_MSG(fabs(v[4] - mx) < 1e-5, "patching an identical position changed the metric: %g vs %g", v[4], mx);

    /* the sweep: batched (auto, and 7 copies per forward leaving a remainder) vs one at a time */
    seer_hook_point pts[] = {SEER_HP_RESID_PRE, SEER_HP_ATTN_OUT, SEER_HP_MLP_OUT, SEER_HP_Z};
    seer_patch_result *ra = NULL, *r1 = NULL, *r7 = NULL;
    CHECK_OK(seer_patch_sweep(M, ic, nc, ix, nx, &pp, pts, 4, &ra, &err), &err);
    pp.max_seqs = 1;
    CHECK_OK(seer_patch_sweep(M, ic, nc, ix, nx, &pp, pts, 4, &r1, &err), &err);
    pp.max_seqs = 7;
    CHECK_OK(seer_patch_sweep(M, ic, nc, ix, nx, &pp, pts, 4, &r7, &err), &err);
    pp.max_seqs = 0;
    if (ra && r1 && r7) {
        CHECK(ra->n_grids == 4 && ra->n_runs == 3 * 5 * 20 + 5 * 8 && ra->n_tokens == 20);
        CHECK(ra->grids[0].n_rows == 5 && ra->grids[0].n_cols == 20 && !ra->grids[0].per_head);
        CHECK(ra->grids[3].n_rows == 5 && ra->grids[3].n_cols == 8 && ra->grids[3].per_head);
        double worst = 0, worst7 = 0;
        int before = 0, nan = 0;
        for (int g = 0; g < 4; g++) {
            const seer_patch_grid *G = &ra->grids[g];
            for (int64_t i = 0; i < (int64_t)G->n_rows * G->n_cols; i++) {
                worst = fmax(worst, fabs(G->raw[i] - r1->grids[g].raw[i]));
                worst7 = fmax(worst7, fabs(G->raw[i] - r7->grids[g].raw[i]));
                nan += !isfinite(G->normalised[i]);
                double want = (G->raw[i] - ra->corrupt) / (ra->clean - ra->corrupt);
                CHECK(fabs(G->normalised[i] - want) < 1e-12);
                if (!G->per_head && i % G->n_cols < first_diff) before += fabs(G->raw[i] - ra->corrupt) > 1e-5;
            }
        }
        CHECK_MSG(worst < 1e-5 && worst7 < 1e-5, "batched vs one at a time: worst %.3g (7 per batch: %.3g)", worst, worst7);
        CHECK_MSG(nan == 0, "%d non-finite cells", nan);
        CHECK_MSG(before == 0, "%d patches before the first differing position changed the metric", before);
        /* resid_pre at layer 0 equals the embedding: only the differing position matters, fully */
        CHECK(fabs(ra->grids[0].normalised[first_diff] - 1.0) < 1e-4);

        /* independent reference: the trace graph's patch op, one graph per cell */
        struct { int g, l, c; const char *hook; } ref[] = {
            {0, 2, 12, "hook_resid_pre"}, {1, 3, 19, "hook_attn_out"}, {2, 1, 12, "hook_mlp_out"}, {3, 2, 6, "attn.hook_z"}, {3, 4, 0, "attn.hook_z"},
        };
        for (size_t k = 0; k < sizeof(ref) / sizeof(ref[0]); k++) {
            char json[2048];
            snprintf(json, sizeof(json),
                     "{\"version\": 1, \"inputs\": {\"prompts\": [\"" CLEAN "\", \"" CORRUPT "\"]}, \"nodes\": ["
                     "{\"id\": \"p\", \"hook\": \"blocks.%d.%s\", \"op\": \"patch\", \"from_batch\": 0, \"select\": {\"batch\": [1], \"%s\": [%d]}},"
                     "{\"id\": \"l\", \"hook\": \"logits\", \"op\": \"save\"}]}",
                     ref[k].l, ref[k].hook, ref[k].g == 3 ? "head" : "pos", ref[k].c);
            seer_trace_result *tr = trace_run_json(M, json);
            const float *l = saved(tr, "l");
            if (l) {
                const float *row = l + (int64_t)(20 + 19) * 512;
                double want = (double)row[405] - row[317];
                const seer_patch_grid *G = &ra->grids[ref[k].g];
                double got = G->raw[(int64_t)ref[k].l * G->n_cols + ref[k].c];
                CHECK_MSG(fabs(got - want) < 1e-4, "cell %s L%d %d: sweep %.6f, trace patch %.6f", ref[k].hook, ref[k].l, ref[k].c,
                          got, want);
            }
            seer_trace_result_free(tr);
        }

        /* SVG: one rect per cell plus background and colour bar, escaped labels, balanced tags */
        const char *svg = test_tmp("ana_patch.svg");
        CHECK_OK(seer_patch_result_write_svg(ra, seer_model_tok(M), svg, &err), &err);
        char *s = NULL;
        size_t len = 0;
        CHECK_OK(seer_read_file(svg, &s, &len, &err), &err);
        if (s) {
            CHECK(!strncmp(s, "<?xml", 5) && strstr(s, "</svg>\n"));
            CHECK_MSG(count(s, "<rect") == (int)ra->n_runs + 2, "%d rects for %lld cells", count(s, "<rect"), (long long)ra->n_runs);
            CHECK(count(s, "<text") == count(s, "</text>") && count(s, "<title>") == (int)ra->n_runs);
            CHECK(strstr(s, "0 &lt;s&gt;") != NULL && strstr(s, "<s>") == NULL);
            CHECK(strstr(s, "hook_resid_pre") && strstr(s, "hook_z") && strstr(s, ">H7<"));
            free(s);
        }
        CHECK_FAILS(seer_patch_result_write_svg(ra, NULL, "/nonexistent-dir/x.svg", &err), &err, "/nonexistent-dir/x.svg");
    }
    seer_patch_result_free(ra), seer_patch_result_free(r1), seer_patch_result_free(r7);

    /* speed: layers x positions of resid_pre in well under a second */
    {
        seer_patch_result *r = NULL;
        double t0 = seer_time_sec();
        CHECK_OK(seer_patch_sweep(M, ic, nc, ix, nx, &pp, pts, 1, &r, &err), &err);
        double dt = seer_time_sec() - t0;
        printf("patch sweep: 5 layers x 20 positions of resid_pre in %.3f s (%.1f ms per patched run)\n", dt, 1e3 * dt / 100);
        CHECK_MSG(dt < 1.0, "sweep took %.3f s", dt);
        seer_patch_result_free(r);
    }

    /* prob metric: baselines are softmax probabilities of the plain forward */
    {
        seer_patch_params pr = {.metric = SEER_PATCH_PROB, .tok_a = 405, .tok_b = -1, .n_threads = 2};
        seer_patch_cell one = {SEER_HP_RESID_PRE, 0, -1, -1};
        double val = 0, c = 0, x = 0, zc = 0, zx = 0;
        CHECK_OK(seer_patch_run(M, ic, nc, ix, nx, &pr, &one, 1, &val, &c, &x, &err), &err);
        for (int32_t k = 0; k < 512; k++) zc += exp(lc[19 * 512 + k]), zx += exp(lx[19 * 512 + k]);
        CHECK(fabs(c - exp(lc[19 * 512 + 405]) / zc) < 1e-6 && fabs(x - exp(lx[19 * 512 + 405]) / zx) < 1e-6);
        CHECK(fabs(val - c) < 1e-6);
    }

    /* clean == corrupt: the raw runs are NaN-free and equal; the sweep refuses to normalise */
    {
        seer_patch_cell cells[] = {{SEER_HP_RESID_PRE, 2, 3, -1}, {SEER_HP_Z, 1, -1, 4}};
        double vals[2] = {NAN, NAN}, c = NAN, x = NAN;
        CHECK_OK(seer_patch_run(M, ic, nc, ic, nc, &pp, cells, 2, vals, &c, &x, &err), &err);
        CHECK(isfinite(vals[0]) && isfinite(vals[1]) && c == x && fabs(vals[0] - c) < 1e-5 && fabs(vals[1] - c) < 1e-5);
        seer_patch_result *r = NULL;
        CHECK_FAILS(seer_patch_sweep(M, ic, nc, ic, nc, &pp, pts, 4, &r, &err), &err, "give the same logit_diff");
        CHECK(r == NULL);
    }

    /* bad input */
    {
        seer_patch_result *r = NULL;
        double vv, c, x;
        CHECK_FAILS(seer_patch_sweep(M, ic, nc, ix, nc - 1, &pp, pts, 4, &r, &err), &err, "clean prompt has 20 tokens and the corrupted one 19");
        seer_hook_point bad[] = {SEER_HP_RESID_PRE, SEER_HP_RESID_PRE};
        CHECK_FAILS(seer_patch_sweep(M, ic, nc, ix, nx, &pp, bad, 2, &r, &err), &err, "listed twice");
        seer_hook_point glob = SEER_HP_LOGITS;
        CHECK_FAILS(seer_patch_sweep(M, ic, nc, ix, nx, &pp, &glob, 1, &r, &err), &err, "not logits");
        seer_patch_cell cells[][1] = {{{SEER_HP_PATTERN, 1, 3, -1}}, {{SEER_HP_RESID_PRE, 5, 3, -1}}, {{SEER_HP_Z, 1, -1, 8}},
                                      {{SEER_HP_RESID_PRE, 1, -1, 0}}, {{SEER_HP_RESID_PRE, 1, 20, -1}}, {{SEER_HP_K, 1, -1, 4}},
                                      {{SEER_HP_POS_EMBED, -1, 0, -1}}};
        const char *needles[] = {"attn.hook_pattern cannot be patched", "layer 5 out of range", "head 8 out of range for attn.hook_z (8 heads",
                                 "head 0 out of range for hook_resid_pre", "position 20 outside", "head 4 out of range for attn.hook_k (4 heads",
                                 "llama models have no hook point"};
        for (int k = 0; k < 7; k++) CHECK_FAILS(seer_patch_run(M, ic, nc, ix, nx, &pp, cells[k], 1, &vv, &c, &x, &err), &err, needles[k]);
        seer_patch_params bp = pp;
        bp.tok_b = 512;
        CHECK_FAILS(seer_patch_run(M, ic, nc, ix, nx, &bp, cells[1], 0, &vv, &c, &x, &err), &err, "tokens 405 and 512");
    }
    free(lc), free(lx), free(ic), free(ix);

    /* GPT-2 (position embeddings, biases): layer-0 resid_pre everywhere restores the clean run */
    seer_model_config g = {.arch = SEER_ARCH_GPT2, .n_vocab = 300, .d_model = 64, .n_layers = 2, .n_heads = 4,
                           .n_kv_heads = 4, .d_head = 16, .d_mlp = 128, .n_ctx = 32, .norm_eps = 1e-5f,
                           .rope_theta = 10000.0f, .tied_embeddings = 1};
    seer_model *gm = NULL;
    CHECK_OK(seer_model_random(&g, 3, &gm, &err), &err);
    if (gm) {
        randomise_vectors(gm, 4);
        int32_t a[9] = {1, 50, 60, 70, 80, 90, 100, 110, 120}, b[9] = {1, 50, 60, 71, 80, 90, 100, 110, 120};
        seer_patch_params gp = {.metric = SEER_PATCH_LOGIT_DIFF, .tok_a = 5, .tok_b = 6, .n_threads = 2};
        seer_patch_cell cells[] = {{SEER_HP_RESID_PRE, 0, -1, -1}, {SEER_HP_POS_EMBED, -1, -1, -1}, {SEER_HP_RESID_MID, 1, -1, -1}};
        double vals[3], c, x;
        CHECK_OK(seer_patch_run(gm, a, 9, b, 9, &gp, cells, 3, vals, &c, &x, &err), &err);
        CHECK(fabs(c - x) > 1e-4);
        CHECK_MSG(fabs(vals[0] - c) < 1e-5 && fabs(vals[1] - x) < 1e-5 && fabs(vals[2] - c) < 1e-5,
                  "gpt2 patches: %g %g %g (clean %g, corrupt %g)", vals[0], vals[1], vals[2], c, x);
        seer_model_free(gm);
    }
}

/* ---- model diff ---- */

static const seer_diff_entry *find_entry(const seer_diff_result *r, const char *hook) {
    for (int32_t i = 0; i < r->n; i++)
        if (!strcmp(r->e[i].hook, hook)) return &r->e[i];
    return NULL;
}

/* A copy of stories260K.bin with every weight of layer `layer` scaled by 1.01. */
static const char *perturbed_copy(int layer) {
    seer_err err;
    char *raw = NULL;
    size_t len = 0;
    CHECK_OK(seer_read_file(model_path, &raw, &len, &err), &err);
    if (!raw) return NULL;
    int32_t hdr[7];
    memcpy(hdr, raw, sizeof(hdr));
    int64_t d = hdr[0], hid = hdr[1], L = hdr[2], H = hdr[3], KV = hdr[4], V = hdr[5] < 0 ? -hdr[5] : hdr[5];
    int64_t kvd = d / H * KV;
    /* per-layer arrays in file order: rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3 */
    int64_t per[9] = {d, d * d, kvd * d, kvd * d, d * d, d, hid * d, d * hid, hid * d};
    float *f = (float *)(raw + 28);
    int64_t at = V * d;
    for (int k = 0; k < 9; k++) {
        float *w = f + at + per[k] * layer;
        for (int64_t i = 0; i < per[k]; i++) w[i] *= 1.01f;
        at += per[k] * L;
    }
    const char *path = test_tmp("ana_perturbed.bin");
    CHECK_OK(seer_write_file_atomic(path, raw, len, &err), &err);
    free(raw);
    return path;
}

static void test_diff(void) {
    seer_err err;
    seer_model *m2 = NULL;
    CHECK_OK(seer_model_load(model_path, tok_path, &m2, &err), &err);
    int32_t *p0 = NULL, *p1 = NULL, n0 = 0, n1 = 0;
    CHECK_OK(seer_analysis_encode(M, "Once upon a time, there was a girl", &p0, &n0, &err), &err);
    CHECK_OK(seer_analysis_encode(M, "Lily went", &p1, &n1, &err), &err);
    const int32_t *prompts[2] = {p0, p1};
    int32_t lens[2] = {n0, n1};
    seer_diff_result *r = NULL;
    if (m2) CHECK_OK(seer_diff_run(M, m2, 2, prompts, lens, 2, &r, &err), &err);
    if (r) {
        CHECK_MSG(r->n == 18 * 5 + 3 && r->n_tokens == n0 + n1, "%d hooks over %d tokens", r->n, r->n_tokens);
        int bad = 0;
        for (int32_t i = 0; i < r->n; i++) bad += fabs(r->e[i].cosine - 1.0) > 1e-12 || r->e[i].rel_l2 != 0 || r->e[i].max_abs != 0;
        CHECK_MSG(bad == 0, "model vs itself: %d hooks not identical", bad);
        CHECK(!strcmp(r->e[0].hook, "hook_embed") && !strcmp(r->e[1].hook, "blocks.0.hook_resid_pre") &&
              !strcmp(r->e[r->n - 1].hook, "logits"));
        const seer_diff_entry *sc = find_entry(r, "blocks.2.attn.hook_attn_scores");
        CHECK(sc && sc->width == 8 * n0 && isfinite(sc->cosine));
        seer_diff_result_free(r);
        r = NULL;
    }
    seer_model_free(m2);
    m2 = NULL;

    /* a copy with layer 2 perturbed: identical before it, different from its first use on */
    const char *copy = perturbed_copy(2);
    if (copy) CHECK_OK(seer_model_load(copy, tok_path, &m2, &err), &err);
    if (m2) CHECK_OK(seer_diff_run(M, m2, 2, prompts, lens, 2, &r, &err), &err);
    if (r) {
        CHECK(r->n == 93);
        int wrong = 0;
        for (int32_t i = 0; i < r->n; i++) {
            const seer_diff_entry *e = &r->e[i];
            int same = e->point == SEER_HP_EMBED || (e->layer >= 0 && e->layer < 2) || (e->layer == 2 && e->point == SEER_HP_RESID_PRE);
            int is_same = e->max_abs == 0 && e->rel_l2 == 0 && fabs(e->cosine - 1.0) < 1e-12;
            int differs = e->max_abs > 0 && e->rel_l2 > 1e-6;
            if (same ? !is_same : !differs) {
                wrong++;
                fprintf(stderr, "perturbed layer 2: %s cos %.9f rel %.3g max %.3g\n", e->hook, e->cosine, e->rel_l2, e->max_abs);
            }
        }
        CHECK_MSG(wrong == 0, "%d hooks on the wrong side of the perturbed layer", wrong);
        const seer_diff_entry *lg = find_entry(r, "logits");
        CHECK(lg && lg->cosine > 0.9 && lg->rel_l2 < 0.5); /* a 1% change stays a small one */
        seer_diff_result_free(r);
        r = NULL;
    }
    seer_model_free(m2);
    m2 = NULL;

    /* GPT-2, different prompts lengths, one matrix perturbed inside a block: the split falls
     * exactly at the first hook that reads it */
    seer_model_config g = {.arch = SEER_ARCH_GPT2, .n_vocab = 300, .d_model = 64, .n_layers = 3, .n_heads = 4,
                           .n_kv_heads = 4, .d_head = 16, .d_mlp = 128, .n_ctx = 32, .norm_eps = 1e-5f,
                           .rope_theta = 10000.0f, .tied_embeddings = 1};
    seer_model *ga = NULL, *gb = NULL;
    CHECK_OK(seer_model_random(&g, 8, &ga, &err), &err);
    CHECK_OK(seer_model_random(&g, 8, &gb, &err), &err);
    if (ga && gb) {
        randomise_vectors(ga, 2);
        randomise_vectors(gb, 2);
        seer_tensor *up = (seer_tensor *)seer_model_find_tensor(gb, "blk.1.ffn_up.weight");
        ((float *)up->data)[77] += 0.5f;
        int32_t a[6] = {1, 20, 30, 40, 50, 60}, b[3] = {1, 7, 9};
        const int32_t *gp[2] = {a, b};
        int32_t gl[2] = {6, 3};
        CHECK_OK(seer_diff_run(ga, gb, 2, gp, gl, 2, &r, &err), &err);
        if (r) {
            CHECK_MSG(r->n == 15 * 3 + 4, "gpt2: %d hooks", r->n);
            int wrong = 0;
            for (int32_t i = 0; i < r->n; i++) {
                const seer_diff_entry *e = &r->e[i];
                int same = e->layer < 1 ? e->point != SEER_HP_LN_FINAL && e->point != SEER_HP_LOGITS
                                        : e->layer == 1 && e->point < SEER_HP_MLP_PRE;
                if (same != (e->max_abs == 0)) {
                    wrong++;
                    fprintf(stderr, "gpt2 perturbed blk.1.ffn_up: %s max %.3g\n", e->hook, e->max_abs);
                }
            }
            CHECK_MSG(wrong == 0, "gpt2: %d hooks on the wrong side of blocks.1.mlp.hook_pre", wrong);
            CHECK(find_entry(r, "hook_pos_embed") != NULL);
            seer_diff_result_free(r);
            r = NULL;
        }
    }
    seer_model_free(ga);
    seer_model_free(gb);

    /* vocabularies: the same tokens stored differently (llama2.c vs GGUF) are the same; a
     * different size or one different piece is refused */
    seer_model *gg = NULL, *x1 = NULL, *x2 = NULL;
    CHECK_OK(seer_model_load(test_data("models/stories260K/stories260K.gguf"), NULL, &gg, &err), &err);
    if (gg) CHECK_OK(seer_diff_check_vocab(M, gg, &err), &err);
    seer_model_free(gg);
    seer_model_config l300 = {.arch = SEER_ARCH_LLAMA, .n_vocab = 300, .d_model = 64, .n_layers = 2, .n_heads = 4,
                              .n_kv_heads = 2, .d_head = 16, .d_mlp = 96, .n_ctx = 32, .norm_eps = 1e-5f,
                              .rope_theta = 10000.0f, .tied_embeddings = 0};
    CHECK_OK(seer_model_random(&l300, 1, &x1, &err), &err);
    if (x1) CHECK_FAILS(seer_diff_run(M, x1, 2, prompts, lens, 2, &r, &err), &err, "vocabularies differ in size (512 vs 300 tokens)");
    seer_model_free(x1);
    char *tb = NULL;
    size_t tlen = 0;
    CHECK_OK(seer_read_file(tok_path, &tb, &tlen, &err), &err);
    if (tb) {
        char *at = memmem(tb, tlen, " Lily", 5);
        CHECK(at != NULL);
        if (at) at[4] = 'x';
        const char *tp = test_tmp("ana_tok_changed.bin");
        CHECK_OK(seer_write_file_atomic(tp, tb, tlen, &err), &err);
        CHECK_OK(seer_model_load(model_path, tp, &x2, &err), &err);
        if (x2) CHECK_FAILS(seer_diff_check_vocab(M, x2, &err), &err, "tokenizers differ at token 317 (' Lily' vs ' Lilx')");
        seer_model_free(x2);
        free(tb);
    }
    free(p0);
    free(p1);
}

/* ---- the CLI ---- */

static const char *bin(void) {
    const char *b = getenv("SEER_BIN");
    return b && *b ? b : "./seer";
}

static int run(const char *args, char **out, char **errs) {
    char cmd[12288], o[1024], e[1024];
    snprintf(o, sizeof(o), "%s", test_tmp("ana_out.txt"));
    snprintf(e, sizeof(e), "%s", test_tmp("ana_err.txt"));
    snprintf(cmd, sizeof(cmd), "%s %s >%s 2>%s", bin(), args, o, e);
    int st = system(cmd);
    seer_err err;
    size_t len;
    *out = NULL;
    *errs = NULL;
    if (seer_read_file(o, out, &len, &err)) *out = calloc(1, 1);
    if (seer_read_file(e, errs, &len, &err)) *errs = calloc(1, 1);
    return st == -1 || WIFSIGNALED(st) ? -1 : WEXITSTATUS(st);
}

static void test_cli(void) {
    if (access(bin(), X_OK) != 0) {
        printf("seer binary %s not found: CLI checks skipped\n", bin());
        return;
    }
    char args[8192], mz[2200], *out, *errs;
    snprintf(mz, sizeof(mz), "-m %s -z %s", model_path, tok_path);

    snprintf(args, sizeof(args), "lens %s -p 'Once upon a time' --target Lily -k 3 --json", mz);
    CHECK(run(args, &out, &errs) == 0);
    cJSON *j = cJSON_Parse(out);
    CHECK_MSG(j != NULL, "lens --json is not JSON: %s", out);
    if (j) {
        cJSON *layers = cJSON_GetObjectItem(j, "layers");
        CHECK(cJSON_GetArraySize(layers) == 6 && cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(layers, 5), "top")) == 3);
        CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(layers, 0), "target_rank") != NULL);
        CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "target"), "id")->valueint == 317);
        cJSON_Delete(j);
    }
    free(out), free(errs);

    snprintf(args, sizeof(args), "dla %s -p 'Once upon a time' --tokens , there --json", mz);
    CHECK(run(args, &out, &errs) == 0);
    j = cJSON_Parse(out);
    CHECK_MSG(j != NULL, "dla --json is not JSON: %s", out);
    if (j) {
        double ld = cJSON_GetObjectItem(j, "logit_diff")->valuedouble, tot = cJSON_GetObjectItem(j, "total")->valuedouble;
        CHECK(fabs(ld - tot) < 1e-4 && cJSON_GetArraySize(cJSON_GetObjectItem(j, "components")) == 1 + 5 * 9);
        cJSON_Delete(j);
    }
    free(out), free(errs);

    const char *svg = test_tmp("ana_cli.svg");
    snprintf(args, sizeof(args), "patch %s --clean '" CLEAN "' --corrupt '" CORRUPT "' --tokens Timmy Lily --what resid_pre,z --svg %s --json",
             mz, svg);
    CHECK(run(args, &out, &errs) == 0);
    j = cJSON_Parse(out);
    CHECK_MSG(j != NULL, "patch --json is not JSON: %s", out);
    if (j) {
        cJSON *grids = cJSON_GetObjectItem(j, "grids");
        CHECK(cJSON_GetArraySize(grids) == 2);
        cJSON *norm = cJSON_GetObjectItem(cJSON_GetArrayItem(grids, 0), "normalised");
        CHECK(cJSON_GetArraySize(norm) == 5 && cJSON_GetArraySize(cJSON_GetArrayItem(norm, 0)) == 20);
        CHECK(fabs(cJSON_GetArrayItem(cJSON_GetArrayItem(norm, 0), 12)->valuedouble - 1.0) < 1e-3);
        cJSON_Delete(j);
    }
    CHECK(access(svg, R_OK) == 0);
    free(out), free(errs);

    snprintf(args, sizeof(args), "patch %s --clean '" CLEAN "' --corrupt 'Tom and Timmy' --tokens Timmy Lily", mz);
    CHECK(run(args, &out, &errs) == 1 && strstr(errs, "equal lengths") && count(errs, "\n") == 1);
    free(out), free(errs);
    snprintf(args, sizeof(args), "patch %s --clean '" CLEAN "' --corrupt '" CLEAN "' --tokens Timmy Lily", mz);
    CHECK(run(args, &out, &errs) == 1 && strstr(errs, "give the same logit_diff"));
    free(out), free(errs);
    snprintf(args, sizeof(args), "patch %s --clean a --corrupt b --tokens Timmy Lily --what resid_pre,nope", mz);
    CHECK(run(args, &out, &errs) == 2 && strstr(errs, "unknown hook point 'nope'"));
    free(out), free(errs);
    snprintf(args, sizeof(args), "dla %s -p 'Once' --tokens Tom Lily", mz);
    CHECK(run(args, &out, &errs) == 1 && strstr(errs, "token 'Tom' encodes to 2 tokens"));
    free(out), free(errs);

    snprintf(args, sizeof(args), "diff %s --m2 %s -p 'Once upon a time' -p 'Lily'", mz, model_path);
    CHECK(run(args, &out, &errs) == 0 && strstr(out, "93 hooks compared over 7 tokens: identical"));
    free(out), free(errs);
    snprintf(args, sizeof(args), "diff %s --m2 %s --z2 %s -p 'Once upon a time' --json", mz, perturbed_copy(3), tok_path);
    CHECK(run(args, &out, &errs) == 0);
    j = cJSON_Parse(out);
    CHECK_MSG(j != NULL, "diff --json is not JSON: %s", out);
    if (j) {
        cJSON *hooks = cJSON_GetObjectItem(j, "hooks");
        CHECK(cJSON_GetArraySize(hooks) == 93);
        cJSON *e = cJSON_GetArrayItem(hooks, 1 + 18 * 3); /* blocks.3.hook_resid_pre, then ln1 */
        CHECK(!strcmp(cJSON_GetObjectItem(e, "hook")->valuestring, "blocks.3.hook_resid_pre") &&
              cJSON_GetObjectItem(e, "rel_l2")->valuedouble == 0);
        e = cJSON_GetArrayItem(hooks, 2 + 18 * 3);
        CHECK(cJSON_GetObjectItem(e, "rel_l2")->valuedouble > 0);
        cJSON_Delete(j);
    }
    free(out), free(errs);
}

int main(void) {
    seer_err err;
    snprintf(model_path, sizeof(model_path), "%s", test_data("models/stories260K/stories260K.bin"));
    snprintf(tok_path, sizeof(tok_path), "%s", test_data("models/stories260K/tok512.bin"));
    if (seer_model_load(model_path, tok_path, &M, &err)) {
        fprintf(stderr, "stories260K not found (%s): skipping\n", err.msg);
        return 77;
    }
    test_tokens();
    test_lens_golden();
    test_dla();
    test_patch();
    test_diff();
    test_cli();
    seer_model_free(M);
    return test_done("test_analysis");
}
