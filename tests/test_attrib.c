/* Attribution patching on stories260K: each estimate grad · (clean − corrupt) equals the
 * derivative of the metric along the straight line from the corrupted activation towards the
 * clean one, measured by finite differences through the inference engine (a trace adding
 * ±eps·(clean − corrupt) at that hook and position); positions where the prompts agree get 0
 * at the residual stream before the first block. */
#include "seer/attrib.h"
#include "seer/hooks.h"
#include "trace_util.h"

#include <math.h>

static seer_model *M;

static double metric_after_add(const int32_t *ids, int T, const char *hook, int pos, const float *delta, int d, double coef) {
    size_t cap = 65536, k = 0;
    char *j = malloc(cap);
    k += (size_t)snprintf(j + k, cap - k, "{\"version\": 1, \"inputs\": {\"prompts\": [{\"ids\": [");
    for (int t = 0; t < T; t++) k += (size_t)snprintf(j + k, cap - k, "%s%d", t ? "," : "", ids[t]);
    k += (size_t)snprintf(j + k, cap - k, "]}]}, \"nodes\": [{\"id\": \"a\", \"hook\": \"%s\", \"op\": \"add\", \"coef\": %.9g, "
                          "\"select\": {\"pos\": %d}, \"value\": [", hook, coef, pos);
    for (int i = 0; i < d; i++) k += (size_t)snprintf(j + k, cap - k, "%s%.9g", i ? "," : "", (double)delta[i]);
    snprintf(j + k, cap - k, "]}], \"outputs\": {\"metrics\": [{\"name\": \"ld\", \"type\": \"logit_diff\", \"tokens\": [\"a\", \"the\"]}]}}");
    double out = trace_metric(M, j, "ld");
    free(j);
    return out;
}

/* Activations of hook at every position of one prompt, through a save. */
static float *acts(const int32_t *ids, int T, const char *hook, int d) {
    size_t cap = 8192, k = 0;
    char *j = malloc(cap);
    k += (size_t)snprintf(j + k, cap - k, "{\"version\": 1, \"inputs\": {\"prompts\": [{\"ids\": [");
    for (int t = 0; t < T; t++) k += (size_t)snprintf(j + k, cap - k, "%s%d", t ? "," : "", ids[t]);
    snprintf(j + k, cap - k, "]}]}, \"nodes\": [{\"id\": \"s\", \"hook\": \"%s\", \"op\": \"save\"}]}", hook);
    seer_err err;
    seer_graph *g = NULL;
    seer_trace_result *r = NULL;
    float *out = NULL;
    if (!seer_graph_load(M, j, strlen(j), NULL, NULL, &g, &err) && !seer_trace_run(M, g, 2, &r, &err)) {
        out = malloc((size_t)T * (size_t)d * sizeof(float));
        memcpy(out, seer_trace_result_find(r, "s")->data, (size_t)T * (size_t)d * sizeof(float));
    }
    seer_trace_result_free(r);
    seer_graph_free(g);
    free(j);
    return out;
}

int main(void) {
    seer_err err;
    char bin[1024], tok[1024];
    snprintf(bin, sizeof(bin), "%s", test_data("models/stories260K/stories260K.bin"));
    snprintf(tok, sizeof(tok), "%s", test_data("models/stories260K/tok512.bin"));
    if (seer_model_load(bin, tok, &M, &err)) return 77;
    const seer_tok *tk = seer_model_tok(M);
    int32_t *c = NULL, *x = NULL, *ta = NULL, *tb = NULL;
    size_t nc, nx, na, nb;
    CHECK_OK(seer_tok_encode(tk, "Once upon a time there was a big dog", 36, 1, &c, &nc, &err), &err);
    CHECK_OK(seer_tok_encode(tk, "Once upon a time there was a big cat", 36, 1, &x, &nx, &err), &err);
    CHECK_OK(seer_tok_encode(tk, "a", 1, 0, &ta, &na, &err), &err);
    CHECK_OK(seer_tok_encode(tk, "the", 3, 0, &tb, &nb, &err), &err);
    CHECK(nc == nx && na == 1 && nb == 1);
    if (nc != nx || na != 1 || nb != 1) return test_done("test_attrib");
    int T = (int)nc, d = 64, diff = -1;
    for (int t = 0; t < T; t++)
        if (c[t] != x[t] && diff < 0) diff = t;
    CHECK(diff > 0);
    const char *hooks[] = {"blocks.0.hook_resid_pre", "blocks.2.hook_resid_pre", "blocks.1.hook_attn_out", "blocks.3.attn.hook_z"};
    seer_metric mt = {.kind = SEER_METRIC_LOGIT_DIFF, .token = ta[0], .token2 = tb[0]};
    seer_attrib_result r;
    CHECK_OK(seer_attrib_run(M, c, x, T, &mt, T - 1, hooks, 4, 2, &r, &err), &err);
    if (r.n_grids == 4) {
        CHECK(r.grids[3].n_heads == 8 && r.grids[0].n_heads == 1);
        /* clean/corrupt metric values agree with the inference engine */
        float zero[64] = {0};
        double mc = metric_after_add(c, T, hooks[0], 0, zero, d, 0), mx = metric_after_add(x, T, hooks[0], 0, zero, d, 0);
        CHECK_MSG(fabs(mc - r.metric_clean) < 1e-3 && fabs(mx - r.metric_corrupt) < 1e-3, "metrics %g %g vs %g %g", r.metric_clean,
                  r.metric_corrupt, mc, mx);
        /* before the first block, positions where the prompts agree have identical activations */
        for (int t = 0; t < diff; t++) CHECK_MSG(r.grids[0].scores[t] == 0.0f, "position %d: estimate %g", t, (double)r.grids[0].scores[t]);
        /* finite differences along (clean - corrupt) at the residual stream of block 2 */
        float *ac = acts(c, T, hooks[1], d), *ax = acts(x, T, hooks[1], d);
        double worst = 0;
        for (int p = diff; ac && ax && p < T; p++) {
            float delta[64];
            for (int i = 0; i < d; i++) delta[i] = ac[p * d + i] - ax[p * d + i];
            double eps = 1e-2;
            double fd = (metric_after_add(x, T, hooks[1], p, delta, d, eps) - metric_after_add(x, T, hooks[1], p, delta, d, -eps)) / (2 * eps);
            double est = r.grids[1].scores[p], e = fabs(fd - est) / (fabs(fd) + 1e-2);
            worst = e > worst ? e : worst;
        }
        CHECK_MSG(worst < 2e-2, "attribution vs finite differences: worst relative error %g", worst);
        free(ac), free(ax);
    }
    seer_attrib_result_free(&r);
    /* bad input */
    const char *bad[] = {"blocks.9.hook_resid_pre"};
    CHECK_FAILS(seer_attrib_run(M, c, x, T, &mt, T - 1, bad, 1, 2, &r, &err), &err, "blocks.9");
    const char *pat[] = {"blocks.0.attn.hook_pattern"};
    CHECK_FAILS(seer_attrib_run(M, c, x, T, &mt, T - 1, pat, 1, 2, &r, &err), &err, "not patched per position");
    CHECK_FAILS(seer_attrib_run(M, c, x, T, &mt, T, hooks, 1, 2, &r, &err), &err, "metric position");
    free(c), free(x), free(ta), free(tb);
    seer_model_free(M);
    return test_done("test_attrib");
}
