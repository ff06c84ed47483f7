/* grad nodes in intervention graphs on stories260K: the gradient of a logit difference at a hook
 * agrees with finite differences taken through the inference engine (an "add" of ±eps at one
 * element), prompts of different lengths in one graph equal separate graphs, the loss metric
 * works too, and misuse is refused with its own message. */
#include "seer/hooks.h"
#include "trace_util.h"

#include <math.h>

static seer_model *M;

/* The metric "ld" of prompt 0 with value v added at (pos, index) of hook. */
static double metric_with(const char *hook, int pos, int index, double v) {
    char json[2048];
    snprintf(json, sizeof(json),
             "{\"version\": 1, \"inputs\": {\"prompts\": [\"Once upon a time there was\"]}, \"nodes\": ["
             "{\"id\": \"a\", \"hook\": \"%s\", \"op\": \"add\", \"value\": [%.9g], \"select\": {\"pos\": %d, \"index\": %d}}],"
             " \"outputs\": {\"metrics\": [{\"name\": \"ld\", \"type\": \"logit_diff\", \"tokens\": [\"a\", \"the\"]}]}}",
             hook, v, pos, index);
    return trace_metric(M, json, "ld");
}

#define METRICS "\"outputs\": {\"metrics\": [{\"name\": \"ld\", \"type\": \"logit_diff\", \"tokens\": [\"a\", \"the\"]}, {\"name\": \"nll\", \"type\": \"loss\"}]}"

int main(void) {
    seer_err err;
    char bin[1024], tok[1024];
    snprintf(bin, sizeof(bin), "%s", test_data("models/stories260K/stories260K.bin"));
    snprintf(tok, sizeof(tok), "%s", test_data("models/stories260K/tok512.bin"));
    if (seer_model_load(bin, tok, &M, &err)) return 77;
    const int d = 64;

    seer_trace_result *r = trace_run_json(M, 
        "{\"version\": 1, \"inputs\": {\"prompts\": [\"Once upon a time there was\", \"Lily\"]}, \"nodes\": ["
        "{\"id\": \"g_resid\", \"hook\": \"blocks.2.hook_resid_post\", \"op\": \"grad\", \"metric\": \"ld\"},"
        "{\"id\": \"g_mlp\", \"hook\": \"blocks.1.mlp.hook_post\", \"op\": \"grad\", \"metric\": \"ld\"},"
        "{\"id\": \"g_pat\", \"hook\": \"blocks.3.attn.hook_pattern\", \"op\": \"grad\", \"metric\": \"ld\"},"
        "{\"id\": \"g_loss\", \"hook\": \"blocks.0.hook_resid_pre\", \"op\": \"grad\", \"metric\": \"nll\"},"
        "{\"id\": \"saved\", \"hook\": \"blocks.2.hook_resid_post\", \"op\": \"save\"}], " METRICS "}");
    const seer_tensor *gr = r ? seer_trace_result_find(r, "g_resid") : NULL;
    const seer_tensor *gm = r ? seer_trace_result_find(r, "g_mlp") : NULL, *gp = r ? seer_trace_result_find(r, "g_pat") : NULL;
    const seer_tensor *gl = r ? seer_trace_result_find(r, "g_loss") : NULL, *sv = r ? seer_trace_result_find(r, "saved") : NULL;
    CHECK(gr && gm && gp && gl && sv);
    if (gr && gm && gp && gl) {
        const float *g = gr->data;
        int64_t T = gr->shape[1];
        CHECK(gr->n_dims == 3 && gr->shape[0] == 2 && gr->shape[2] == d);
        CHECK(gp->n_dims == 4 && gp->shape[2] == T && gp->shape[3] == T);
        /* finite differences through the inference engine, at a few elements of two positions */
        const int pos[2] = {2, (int)T - 1}, idx[3] = {0, 17, 50};
        double eps = 1e-2, worst = 0;
        for (int pi = 0; pi < 2; pi++)
            for (int ii = 0; ii < 3; ii++) {
                double fd = (metric_with("blocks.2.hook_resid_post", pos[pi], idx[ii], eps) -
                             metric_with("blocks.2.hook_resid_post", pos[pi], idx[ii], -eps)) / (2 * eps);
                double an = g[(int64_t)pos[pi] * d + idx[ii]], e = fabs(fd - an) / (fabs(an) + 1e-2);
                worst = e > worst ? e : worst;
            }
        CHECK_MSG(worst < 2e-2, "hook gradient vs finite differences: worst relative error %g", worst);
        /* the metric reads the last position: later positions have no influence, earlier do */
        double early = 0;
        for (int j = 0; j < d; j++) early += fabs(g[2 * d + j]);
        CHECK_MSG(early > 0, "an earlier position has zero gradient");
        /* causal: nothing depends on the future, so a pattern's gradient is zero above the diagonal */
        const float *pg = gp->data;
        double above = 0;
        for (int64_t h = 0; h < gp->shape[1]; h++)
            for (int64_t q = 0; q < T; q++)
                for (int64_t k = q + 1; k < T; k++) above += fabs(pg[(h * T + q) * T + k]);
        CHECK_MSG(above == 0, "pattern gradient above the diagonal: %g", above);
        /* prompt 1 alone gives the same gradient as inside the two-prompt graph */
        seer_trace_result *one = trace_run_json(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"Lily\"]}, \"nodes\": ["
                                           "{\"id\": \"g_resid\", \"hook\": \"blocks.2.hook_resid_post\", \"op\": \"grad\", \"metric\": \"ld\"}], " METRICS "}");
        const seer_tensor *g1 = one ? seer_trace_result_find(one, "g_resid") : NULL;
        if (g1) {
            int64_t T1 = g1->shape[1];
            check_close((const float *)gr->data + T * d, g1->data, (size_t)(T1 * d), 1e-6f, "prompt 1 gradient, batched vs alone");
            double pad = 0;
            for (int64_t k = T1 * d; k < T * d; k++) pad += fabs(((const float *)gr->data)[T * d + k]);
            CHECK_MSG(pad == 0, "padding positions of prompt 1 hold a gradient");
        }
        seer_trace_result_free(one);
        /* the loss gradient is non-zero at every position but the last (which predicts nothing) */
        const float *lg = gl->data;
        double last = 0, first = 0;
        for (int j = 0; j < d; j++) last += fabs(lg[(T - 1) * d + j]), first += fabs(lg[j]);
        CHECK_MSG(last == 0 && first > 0, "loss gradient: last position %g, first %g", last, first);
    }
    seer_trace_result_free(r);

    /* misuse */
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a b\"]}, \"nodes\": [{\"id\": \"g\", \"hook\": \"blocks.0.hook_resid_post\", "
               "\"op\": \"grad\", \"metric\": \"nope\"}], " METRICS "}",
               "is not in outputs.metrics");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a b\"]}, \"nodes\": [{\"id\": \"g\", \"hook\": \"blocks.0.hook_resid_post\", "
               "\"op\": \"grad\"}], " METRICS "}",
               "grad needs 'metric'");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a b\"]}, \"nodes\": [{\"id\": \"g\", \"hook\": \"blocks.0.hook_resid_post\", "
               "\"op\": \"grad\", \"metric\": \"p\"}], \"outputs\": {\"metrics\": [{\"name\": \"p\", \"type\": \"prob\", \"tokens\": [\"a\"]}]}}",
               "not prob");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a b\"]}, \"nodes\": [{\"id\": \"g\", \"hook\": \"blocks.0.hook_resid_post\", "
               "\"op\": \"grad\", \"metric\": \"ld\"}, {\"id\": \"z\", \"hook\": \"blocks.0.hook_resid_post\", \"op\": \"zero\"}], " METRICS "}",
               "may only save");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a b\"]}, \"generate\": {\"steps\": 2}, \"nodes\": [{\"id\": \"g\", "
               "\"hook\": \"blocks.0.hook_resid_post\", \"op\": \"grad\", \"metric\": \"ld\"}], " METRICS "}",
               "generation cannot be combined");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a b\"]}, \"nodes\": [{\"id\": \"g\", \"hook\": \"blocks.0.hook_resid_post\", "
               "\"op\": \"grad\", \"metric\": \"ld\", \"select\": {\"pos\": 0}}], " METRICS "}",
               "no selector");
    seer_model_free(M);
    return test_done("test_trace_grad");
}
