/* Trace overheads: a plain batched forward vs a trace saving 10 hook points on the same prompts,
 * the fixed cost of a trace's set-up (graph parse + validation + context), and the cost per
 * intervention operation. Usage: bench_trace MODEL [reps]. Prints JSON. */
#include "seer/hooks.h"

#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(double), cmp);
    return v[n / 2];
}

/* Seconds for parse + validation + run of a graph in a context kept across traces (as a server
 * keeps one per model). */
static seer_ctx *CTX;
static double time_graph(const seer_model *m, const char *json, int reps) {
    double t[64];
    for (int r = 0; r < reps; r++) {
        seer_err err;
        seer_graph *g;
        seer_trace_result *res;
        double t0 = seer_time_sec();
        if (seer_graph_load(m, json, strlen(json), NULL, NULL, &g, &err) || seer_trace_run_ctx(CTX, m, g, &res, &err)) {
            fprintf(stderr, "bench_trace: %s\n", err.msg);
            exit(1);
        }
        t[r] = seer_time_sec() - t0;
        seer_trace_result_free(res);
        seer_graph_free(g);
    }
    return median(t, reps);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_trace MODEL [reps]\n");
        return 2;
    }
    seer_malloc_tune();
    int reps = argc > 2 ? atoi(argv[2]) : 9;
    if (reps < 1 || reps > 64) reps = 9;
    seer_err err;
    seer_model *m;
    if (seer_model_load(argv[1], NULL, &m, &err)) {
        fprintf(stderr, "bench_trace: %s\n", err.msg);
        return 1;
    }
    const seer_model_config *c = seer_model_get_config(m);
    enum { B = 4, T = 64 };
    /* prompts as token ids, so no tokenizer is needed */
    char prompts[8192];
    size_t k = 0;
    k += (size_t)snprintf(prompts + k, sizeof(prompts) - k, "[");
    for (int b = 0; b < B; b++) {
        k += (size_t)snprintf(prompts + k, sizeof(prompts) - k, "%s{\"ids\": [", b ? ", " : "");
        for (int t = 0; t < T; t++) k += (size_t)snprintf(prompts + k, sizeof(prompts) - k, "%s%d", t ? "," : "", (b * 131 + t * 7) % c->n_vocab);
        k += (size_t)snprintf(prompts + k, sizeof(prompts) - k, "]}");
    }
    snprintf(prompts + k, sizeof(prompts) - k, "]");

    /* plain forward: the same batch through a context made once */
    seer_ctx *ctx;
    seer_ctx_params p = seer_ctx_default_params();
    p.n_seq = B;
    p.n_ctx = T;
    p.n_batch = B * T;
    p.n_threads = 2;
    if (seer_ctx_init(m, &p, &ctx, &err)) {
        fprintf(stderr, "bench_trace: %s\n", err.msg);
        return 1;
    }
    int32_t toks[B * T], pos[B * T], seq[B * T];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) toks[b * T + t] = (b * 131 + t * 7) % c->n_vocab, pos[b * T + t] = t, seq[b * T + t] = b;
    float *logits = malloc((size_t)c->n_vocab * sizeof(float));
    CTX = ctx;
    double tf[64];
    for (int r = 0; r <= reps; r++) {
        for (int b = 0; b < B; b++) seer_ctx_clear_seq(ctx, b);
        seer_batch bt = {.n = B * T, .tokens = toks, .pos = pos, .seq = seq};
        double t0 = seer_time_sec();
        seer_ctx_decode(ctx, &bt, logits, &err);
        if (r) tf[r - 1] = seer_time_sec() - t0;
    }
    double plain = median(tf, reps);

    char *json = malloc(65536);
    /* no nodes: set-up cost; 10 saves: overhead; 50 zero ops on one element: per-op cost */
    snprintf(json, 65536, "{\"version\": 1, \"inputs\": {\"prompts\": %s}}", prompts);
    time_graph(m, json, 2);
    double empty = time_graph(m, json, reps);
    static const char *const pts[] = {"hook_resid_pre", "hook_resid_mid", "hook_resid_post", "hook_attn_out", "hook_mlp_out"};
    k = (size_t)snprintf(json, 65536, "{\"version\": 1, \"inputs\": {\"prompts\": %s}, \"nodes\": [", prompts);
    for (int i = 0; i < 10; i++)
        k += (size_t)snprintf(json + k, 65536 - k, "%s{\"id\": \"s%d\", \"hook\": \"blocks.%d.%s\", \"op\": \"save\"}", i ? ", " : "", i,
                              (i / 5) % c->n_layers, pts[i % 5]);
    snprintf(json + k, 65536 - k, "]}");
    double saves = time_graph(m, json, reps);
    k = (size_t)snprintf(json, 65536, "{\"version\": 1, \"inputs\": {\"prompts\": %s}, \"nodes\": [", prompts);
    for (int i = 0; i < 50; i++)
        k += (size_t)snprintf(json + k, 65536 - k,
                              "%s{\"id\": \"z%d\", \"hook\": \"blocks.%d.hook_resid_post\", \"op\": \"zero\", \"select\": {\"pos\": [-1], \"index\": [%d]}}",
                              i ? ", " : "", i, i % c->n_layers, i % c->d_model);
    snprintf(json + k, 65536 - k, "]}");
    double ops = time_graph(m, json, reps);
    printf("{\"model\": \"%s\", \"batch\": %d, \"tokens_per_prompt\": %d, \"plain_forward_ms\": %.3f, \"trace_empty_ms\": %.3f, "
           "\"trace_10_saves_ms\": %.3f, \"save_overhead_vs_empty_trace\": %.4f, \"trace_setup_us\": %.1f, \"per_op_us\": %.2f}\n",
           argv[1], B, T, plain * 1e3, empty * 1e3, saves * 1e3, saves / empty - 1, (empty - plain) * 1e6, (ops - empty) / 50 * 1e6);
    free(json);
    free(logits);
    seer_ctx_free(ctx);
    seer_model_free(m);
    return 0;
}
