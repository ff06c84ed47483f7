/* Memory of a trace grows only with what the graph saves: on a random model with a 1024-token
 * prompt, in a context kept across traces, repeating a trace that saves one residual stream
 * raises the process's peak RSS by (almost) nothing, and one saving four raises it by about the
 * three extra streams (the first reuses the freed buffer of the earlier trace). */
#include "seer/hooks.h"
#include "test.h"

static size_t peak_rss(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmHWM:", 6)) kb = (size_t)strtoull(line + 6, NULL, 10);
    fclose(f);
    return kb * 1024;
}

static char *graph_json(int T, const char *nodes) {
    size_t cap = (size_t)T * 8 + 4096, k = 0;
    char *j = malloc(cap);
    k += (size_t)snprintf(j + k, cap - k, "{\"version\": 1, \"inputs\": {\"prompts\": [{\"ids\": [");
    for (int t = 0; t < T; t++) k += (size_t)snprintf(j + k, cap - k, "%s%d", t ? "," : "", (t * 37 + 11) % 500);
    snprintf(j + k, cap - k, "]}]}, \"nodes\": [%s]}", nodes);
    return j;
}

static void run(seer_ctx *ctx, const seer_model *m, const char *json, int64_t *saved_bytes) {
    seer_err err;
    seer_graph *g = NULL;
    seer_trace_result *r = NULL;
    CHECK_OK(seer_graph_load(m, json, strlen(json), NULL, NULL, &g, &err), &err);
    if (g) CHECK_OK(seer_trace_run_ctx(ctx, m, g, &r, &err), &err);
    *saved_bytes = 0;
    for (int64_t i = 0; r && i < seer_trace_result_n_tensors(r); i++) *saved_bytes += (int64_t)seer_trace_result_tensor(r, i)->nbytes;
    seer_trace_result_free(r);
    seer_graph_free(g);
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

int main(void) {
#ifdef UNDER_ASAN
    return 77; /* ASan's quarantine and redzones hide what the program itself holds */
#endif
    if (!peak_rss()) return 77; /* no /proc */
    seer_err err;
    seer_model_config c = {.arch = SEER_ARCH_LLAMA, .n_vocab = 512, .d_model = 512, .n_layers = 4, .n_heads = 8,
                           .n_kv_heads = 8, .d_head = 64, .d_mlp = 1024, .n_ctx = 2048, .norm_eps = 1e-5f,
                           .rope_theta = 10000.0f, .tied_embeddings = 1};
    seer_model *m = NULL;
    CHECK_OK(seer_model_random(&c, 1, &m, &err), &err);
    if (!m) return test_done("test_trace_mem");
    enum { T = 1024 };
    char *none = graph_json(T, "");
    char *one = graph_json(T, "{\"id\": \"r0\", \"hook\": \"blocks.0.hook_resid_post\", \"op\": \"save\"}");
    char *four = graph_json(T, "{\"id\": \"r0\", \"hook\": \"blocks.0.hook_resid_post\", \"op\": \"save\"},"
                               "{\"id\": \"r1\", \"hook\": \"blocks.1.hook_resid_post\", \"op\": \"save\"},"
                               "{\"id\": \"r2\", \"hook\": \"blocks.2.hook_resid_post\", \"op\": \"save\"},"
                               "{\"id\": \"r3\", \"hook\": \"blocks.3.hook_resid_post\", \"op\": \"save\"}");
    seer_graph *g0 = NULL;
    CHECK_OK(seer_graph_load(m, none, strlen(none), NULL, NULL, &g0, &err), &err);
    seer_ctx *ctx = NULL;
    if (g0) {
        seer_ctx_params p = seer_trace_ctx_params(g0);
        p.n_threads = 2;
        CHECK_OK(seer_ctx_init(m, &p, &ctx, &err), &err);
    }
    seer_graph_free(g0);
    if (ctx) {
        int64_t saved;
        /* warm: the context's scratch and KV pages are now touched (untapped batches run in
         * slices, tapped ones whole, so warm both ways) */
        run(ctx, m, none, &saved);
        run(ctx, m, one, &saved);
        size_t h0 = peak_rss();
        for (int i = 0; i < 3; i++) run(ctx, m, none, &saved), run(ctx, m, one, &saved);
        size_t h1 = peak_rss();
        run(ctx, m, four, &saved);
        size_t h2 = peak_rss();
        double grow_same = (double)(h1 - h0), grow_four = (double)(h2 - h1), want = 0.75 * (double)saved;
        CHECK_MSG(saved == 4 * (int64_t)T * 512 * 4, "four saves hold %lld bytes", (long long)saved);
        /* allocator noise (arenas, thread stacks) measured up to ~0.3 MiB; one stray copy of a
         * saved stream would be 2 MiB */
        CHECK_MSG(grow_same < 0.1 * want, "repeating the same traces grew the peak RSS by %.0f bytes", grow_same);
        CHECK_MSG(grow_four > 0.8 * want && grow_four < 1.3 * want,
                  "three more saved streams (%.0f bytes) grew the peak RSS by %.0f bytes", want, grow_four);
        seer_ctx_free(ctx);
    }
    free(none), free(one), free(four);
    seer_model_free(m);
    return test_done("test_trace_mem");
}
