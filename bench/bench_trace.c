/* Trace overheads, two measurements:
 *  - a trace saving 10 hook points against a plain batched forward of the same prompts (4 x 64
 *    tokens), and against a trace with no nodes;
 *  - fixed costs on a one-token prompt, where the forward is short and the costs stand out: the
 *    set-up of a trace (graph parse + validation + the run's bookkeeping) over a plain decode of
 *    that token, the parse alone, and the cost of one intervention operation (50 of them).
 * The variants of each measurement run interleaved, round after round, so drift in the machine's
 * speed hits all alike; each is the median over rounds. Usage: bench_trace MODEL [rounds].
 * Prints JSON. */
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

static void die(const seer_err *err) {
    fprintf(stderr, "bench_trace: %s\n", err->msg);
    exit(1);
}

/* Seconds for parse + validation + run of a graph, in a context kept across traces (as a
 * server keeps one per model); parse_only stops after the parse. */
static double time_graph(seer_ctx *ctx, const seer_model *m, const char *json, int parse_only) {
    seer_err err;
    seer_graph *g;
    seer_trace_result *res = NULL;
    double t0 = seer_time_sec();
    if (seer_graph_load(m, json, strlen(json), NULL, NULL, &g, &err)) die(&err);
    if (!parse_only && seer_trace_run_ctx(ctx, m, g, &res, &err)) die(&err);
    double t = seer_time_sec() - t0;
    seer_trace_result_free(res);
    seer_graph_free(g);
    return t;
}

/* Seconds for a plain decode of the batch after clearing its sequences. */
static double time_plain(seer_ctx *ctx, const seer_batch *b, int n_seq, float *logits) {
    seer_err err;
    for (int s = 0; s < n_seq; s++) seer_ctx_clear_seq(ctx, s);
    double t0 = seer_time_sec();
    if (seer_ctx_decode(ctx, b, logits, &err)) die(&err);
    return seer_time_sec() - t0;
}

/* {"version": 1, "inputs": {"prompts": P}, "nodes": [n_nodes nodes of the given kind]} */
static void graph_json(char *buf, size_t cap, const char *prompts, const seer_model_config *c, int kind, int n_nodes) {
    static const char *const pts[] = {"hook_resid_pre", "hook_resid_mid", "hook_resid_post", "hook_attn_out", "hook_mlp_out"};
    size_t k = (size_t)snprintf(buf, cap, "{\"version\": 1, \"inputs\": {\"prompts\": %s}, \"nodes\": [", prompts);
    for (int i = 0; i < n_nodes && k < cap; i++) {
        if (kind == 0)
            k += (size_t)snprintf(buf + k, cap - k, "%s{\"id\": \"s%d\", \"hook\": \"blocks.%d.%s\", \"op\": \"save\"}",
                                  i ? ", " : "", i, (i / 5) % c->n_layers, pts[i % 5]);
        else
            k += (size_t)snprintf(buf + k, cap - k,
                                  "%s{\"id\": \"z%d\", \"hook\": \"blocks.%d.hook_resid_post\", \"op\": \"zero\", "
                                  "\"select\": {\"pos\": [-1], \"index\": [%d]}}",
                                  i ? ", " : "", i, i % c->n_layers, i % c->d_model);
    }
    if (k < cap) snprintf(buf + k, cap - k, "]}");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_trace MODEL [rounds]\n");
        return 2;
    }
    seer_malloc_tune();
    int rounds = argc > 2 ? atoi(argv[2]) : 21;
    if (rounds < 1 || rounds > 1000) rounds = 21;
    seer_err err;
    seer_model *m;
    if (seer_model_load(argv[1], NULL, &m, &err)) die(&err);
    const seer_model_config *c = seer_model_get_config(m);
    enum { B = 4, T = 64, SMALL_ROUNDS = 10 };
    /* prompts as token ids, so no tokenizer is needed */
    char prompts[8192], one[64];
    size_t k = (size_t)snprintf(prompts, sizeof(prompts), "[");
    for (int b = 0; b < B; b++) {
        k += (size_t)snprintf(prompts + k, sizeof(prompts) - k, "%s{\"ids\": [", b ? ", " : "");
        for (int t = 0; t < T; t++) k += (size_t)snprintf(prompts + k, sizeof(prompts) - k, "%s%d", t ? "," : "", (b * 131 + t * 7) % c->n_vocab);
        k += (size_t)snprintf(prompts + k, sizeof(prompts) - k, "]}");
    }
    snprintf(prompts + k, sizeof(prompts) - k, "]");
    snprintf(one, sizeof(one), "[{\"ids\": [%d]}]", 1 % c->n_vocab);

    seer_ctx *ctx;
    seer_ctx_params p = seer_ctx_default_params();
    p.n_seq = B;
    p.n_ctx = T;
    p.n_batch = B * T;
    p.n_threads = 2;
    if (seer_ctx_init(m, &p, &ctx, &err)) die(&err);
    int32_t toks[B * T], pos[B * T], seq[B * T];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) toks[b * T + t] = (b * 131 + t * 7) % c->n_vocab, pos[b * T + t] = t, seq[b * T + t] = b;
    float *logits = malloc((size_t)c->n_vocab * sizeof(float));
    char *g_empty = malloc(65536), *g_saves = malloc(65536), *s_empty = malloc(65536), *s_ops = malloc(65536);
    double *tv = malloc(sizeof(double) * (size_t)rounds * SMALL_ROUNDS * 8);
    if (!logits || !g_empty || !g_saves || !s_empty || !s_ops || !tv) {
        fprintf(stderr, "bench_trace: out of memory\n");
        return 1;
    }
    graph_json(g_empty, 65536, prompts, c, 0, 0);
    graph_json(g_saves, 65536, prompts, c, 0, 10);
    graph_json(s_empty, 65536, one, c, 0, 0);
    graph_json(s_ops, 65536, one, c, 1, 50);

    /* 4 x 64 tokens: plain forward, empty trace, 10 saves (one warm-up round first) */
    seer_batch bt = {.n = B * T, .tokens = toks, .pos = pos, .seq = seq};
    double *plain = tv, *empty = tv + rounds, *saves = tv + 2 * rounds;
    for (int r = -1; r < rounds; r++) {
        double a = time_plain(ctx, &bt, B, logits), e = time_graph(ctx, m, g_empty, 0), s = time_graph(ctx, m, g_saves, 0);
        if (r >= 0) plain[r] = a, empty[r] = e, saves[r] = s;
    }
    double plain_s = median(plain, rounds), empty_s = median(empty, rounds), saves_s = median(saves, rounds);

    /* one token: plain decode, parse alone, empty trace, 50 operations */
    int nr = rounds * SMALL_ROUNDS;
    double *p1 = tv, *parse = tv + nr, *e1 = tv + 2 * nr, *o1 = tv + 3 * nr;
    seer_batch b1 = {.n = 1, .tokens = toks, .pos = pos};
    for (int r = -1; r < nr; r++) {
        double a = time_plain(ctx, &b1, 1, logits), q = time_graph(ctx, m, s_empty, 1), e = time_graph(ctx, m, s_empty, 0),
               o = time_graph(ctx, m, s_ops, 0);
        if (r >= 0) p1[r] = a, parse[r] = q, e1[r] = e, o1[r] = o;
    }
    double p1_s = median(p1, nr), parse_s = median(parse, nr), e1_s = median(e1, nr), o1_s = median(o1, nr);

    printf("{\"model\": \"%s\", \"rounds\": %d, \"batch\": %d, \"tokens_per_prompt\": %d, \"plain_forward_ms\": %.3f, "
           "\"trace_empty_ms\": %.3f, \"trace_10_saves_ms\": %.3f, \"save_overhead_vs_plain\": %.4f, "
           "\"save_overhead_vs_empty_trace\": %.4f, \"one_token_plain_us\": %.1f, \"one_token_trace_empty_us\": %.1f, "
           "\"trace_setup_us\": %.1f, \"graph_parse_us\": %.1f, \"per_op_us\": %.3f}\n",
           argv[1], rounds, B, T, plain_s * 1e3, empty_s * 1e3, saves_s * 1e3, saves_s / plain_s - 1, saves_s / empty_s - 1,
           p1_s * 1e6, e1_s * 1e6, (e1_s - p1_s) * 1e6, parse_s * 1e6, (o1_s - e1_s) / 50 * 1e6);
    free(g_empty), free(g_saves), free(s_empty), free(s_ops), free(tv);
    free(logits);
    seer_ctx_free(ctx);
    seer_model_free(m);
    return 0;
}
