/* Traces and intervention graphs on stories260K: batches equal single runs; patching clean into
 * clean and adding zero change nothing; noise with a seed reproduces; project_out leaves no
 * component along the direction; mean-ablation gives the batch mean; generation inside a trace
 * equals greedy generation; steering changes it; and every kind of bad graph is refused with
 * its own message before anything runs. */
#include "seer/hooks.h"
#include "trace_util.h"

static seer_model *M;

static const float *get(const seer_trace_result *r, const char *name) {
    const seer_tensor *t = r ? seer_trace_result_find(r, name) : NULL;
    CHECK_MSG(t != NULL, "saved tensor '%s' missing", name);
    return t ? t->data : NULL;
}

#define P2 "\"inputs\": {\"prompts\": [\"Once upon a time there was\", \"Lily\"]}"

int main(void) {
    seer_err err;
    char bin[1024], tok[1024];
    snprintf(bin, sizeof(bin), "%s", test_data("models/stories260K/stories260K.bin"));
    snprintf(tok, sizeof(tok), "%s", test_data("models/stories260K/tok512.bin"));
    if (seer_model_load(bin, tok, &M, &err)) return 77;
    const int d = 64;

    /* batch of two prompts == each alone, for several hooks including the pattern */
    const char *saves = "\"nodes\": [{\"id\": \"r\", \"hook\": \"blocks.3.hook_resid_post\", \"op\": \"save\"},"
                        "{\"id\": \"p\", \"hook\": \"blocks.1.attn.hook_pattern\", \"op\": \"save\"},"
                        "{\"id\": \"q\", \"hook\": \"blocks.0.attn.hook_rot_q\", \"op\": \"save\"},"
                        "{\"id\": \"l\", \"hook\": \"logits\", \"op\": \"save\"}]";
    char json[4096];
    snprintf(json, sizeof(json), "{\"version\": 1, " P2 ", %s}", saves);
    seer_trace_result *both = trace_run_json(M, json);
    snprintf(json, sizeof(json), "{\"version\": 1, \"inputs\": {\"prompts\": [\"Once upon a time there was\"]}, %s}", saves);
    seer_trace_result *a = trace_run_json(M, json);
    snprintf(json, sizeof(json), "{\"version\": 1, \"inputs\": {\"prompts\": [\"Lily\"]}, %s}", saves);
    seer_trace_result *b = trace_run_json(M, json);
    if (both && a && b) {
        const seer_tensor *tr = seer_trace_result_find(both, "r"), *ta = seer_trace_result_find(a, "r");
        int64_t T = tr->shape[1], Ta = ta->shape[1], Tb = seer_trace_result_find(b, "r")->shape[1];
        CHECK(T == Ta && Tb < T && tr->shape[0] == 2);
        check_close(get(both, "r"), get(a, "r"), (size_t)(Ta * d), 1e-5f, "batch row 0 resid_post vs alone");
        check_close(get(both, "r") + T * d, get(b, "r"), (size_t)(Tb * d), 1e-5f, "batch row 1 resid_post vs alone");
        check_close(get(both, "l") + T * 512, get(b, "l"), (size_t)(Tb * 512), 1e-5f, "batch row 1 logits vs alone");
        /* padding positions of the shorter prompt are zero */
        const float *pad = get(both, "r") + (T + Tb) * d;
        float mx = 0;
        for (int64_t i = 0; i < (T - Tb) * d; i++) mx = fmaxf(mx, fabsf(pad[i]));
        CHECK(mx == 0);
        /* pattern of prompt 1: [8 heads, T, T] block vs alone [8, Tb, Tb] */
        const float *pb = get(both, "p") + 8 * T * T, *pa = get(b, "p");
        int bad = 0;
        for (int h = 0; h < 8; h++)
            for (int64_t qq = 0; qq < Tb; qq++)
                for (int64_t k = 0; k < Tb; k++)
                    bad += fabsf(pb[(h * T + qq) * T + k] - pa[(h * Tb + qq) * Tb + k]) > 1e-5f;
        CHECK_MSG(bad == 0, "%d pattern entries differ between batch and alone", bad);
    }

    /* the logits saved equal the model's: last layer through the final norm is the lens identity */
    {
        seer_ctx *c;
        seer_ctx_params p = seer_ctx_default_params();
        CHECK_OK(seer_ctx_init(M, &p, &c, &err), &err);
        const seer_tok *tk = seer_model_tok(M);
        int32_t *ids;
        size_t n;
        seer_tok_encode(tk, "Lily", 4, 1, &ids, &n, &err);
        int32_t pos[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        float logits[512];
        seer_batch bt = {.n = (int32_t)n, .tokens = ids, .pos = pos};
        CHECK_OK(seer_ctx_decode(c, &bt, logits, &err), &err);
        if (b) check_close(get(b, "l") + (n - 1) * 512, logits, 512, 1e-5f, "trace logits vs plain forward");
        free(ids);
        seer_ctx_free(c);
    }

    /* patch clean into clean: nothing changes; add zero: nothing changes */
    seer_trace_result *same = trace_run_json(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"One day\", \"One day\"],"
                                        "\"tensors\": {\"z\": {\"data\": [" "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,"
                                        "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}}},"
                                        "\"nodes\": [{\"id\": \"base\", \"hook\": \"logits\", \"op\": \"save\"}]}");
    seer_trace_result *pat = trace_run_json(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"One day\", \"One day\"],"
                                       "\"tensors\": {\"z\": {\"data\": [" "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,"
                                       "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}}},"
                                       "\"nodes\": [{\"id\": \"pt\", \"hook\": \"blocks.2.hook_resid_pre\", \"op\": \"patch\", \"from_batch\": 0,"
                                       " \"select\": {\"batch\": [1]}},"
                                       "{\"id\": \"add0\", \"hook\": \"blocks.1.hook_mlp_out\", \"op\": \"add\", \"tensor\": \"z\", \"coef\": 3},"
                                       "{\"id\": \"base\", \"hook\": \"logits\", \"op\": \"save\"}]}");
    if (same && pat) {
        const seer_tensor *t = seer_trace_result_find(same, "base");
        CHECK_MSG(memcmp(get(same, "base"), get(pat, "base"), t->nbytes) == 0, "patch clean->clean or add 0 changed the logits");
    }

    /* patching a different prompt does change things, and equals the source at the patched layer */
    seer_trace_result *pd = trace_run_json(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"The dog ran\", \"One cat sat\"]},"
                                      "\"nodes\": [{\"id\": \"pt\", \"hook\": \"blocks.2.hook_resid_pre\", \"op\": \"patch\", \"from_batch\": 0},"
                                      "{\"id\": \"r\", \"hook\": \"blocks.2.hook_resid_pre\", \"op\": \"save\"},"
                                      "{\"id\": \"o\", \"hook\": \"blocks.4.hook_resid_post\", \"op\": \"save\"}]}");
    if (pd) {
        const seer_tensor *t = seer_trace_result_find(pd, "o");
        int64_t T = t->shape[1];
        CHECK(memcmp(get(pd, "r"), get(pd, "r") + T * d, (size_t)(T * d) * 4) == 0);
        check_close(get(pd, "o"), get(pd, "o") + T * d, (size_t)(T * d), 1e-5f, "patched prompt follows its source");
    }

    /* noise: same seed same values, other seed other values; relative scale */
    const char *noise = "{\"version\": 1, \"inputs\": {\"prompts\": [\"Once upon\"]}, \"nodes\": ["
                        "{\"id\": \"n\", \"hook\": \"blocks.0.hook_resid_post\", \"op\": \"noise\", \"scale\": 0.3, \"relative\": true, \"seed\": %d},"
                        "{\"id\": \"s\", \"hook\": \"blocks.4.hook_resid_post\", \"op\": \"save\"}]}";
    snprintf(json, sizeof(json), noise, 5);
    seer_trace_result *n1 = trace_run_json(M, json), *n2 = trace_run_json(M, json);
    snprintf(json, sizeof(json), noise, 6);
    seer_trace_result *n3 = trace_run_json(M, json);
    if (n1 && n2 && n3) {
        const seer_tensor *t = seer_trace_result_find(n1, "s");
        CHECK(memcmp(get(n1, "s"), get(n2, "s"), t->nbytes) == 0);
        CHECK(memcmp(get(n1, "s"), get(n3, "s"), t->nbytes) != 0);
    }

    /* relative noise on attention scores: masked keys stay -inf, the keys a query sees get
     * noise scaled by the RMS of those alone (so everything downstream stays finite) */
    seer_trace_result *ns = trace_run_json(M, 
        "{\"version\": 1, \"inputs\": {\"prompts\": [\"Once upon a time\"]}, \"nodes\": ["
        "{\"id\": \"a\", \"hook\": \"blocks.1.attn.hook_attn_scores\", \"op\": \"save\"},"
        "{\"id\": \"n\", \"hook\": \"blocks.1.attn.hook_attn_scores\", \"op\": \"noise\", \"scale\": 0.5, \"relative\": true, \"seed\": 3},"
        "{\"id\": \"b\", \"hook\": \"blocks.1.attn.hook_attn_scores\", \"op\": \"save\"},"
        "{\"id\": \"o\", \"hook\": \"blocks.4.hook_resid_post\", \"op\": \"save\"}]}");
    if (ns) {
        const seer_tensor *ta = seer_trace_result_find(ns, "a"), *to = seer_trace_result_find(ns, "o");
        const float *a = get(ns, "a"), *bb = get(ns, "b"), *o = get(ns, "o");
        int64_t H = ta->shape[1], Tq = ta->shape[2], Tk = ta->shape[3], bad = 0, moved = 0;
        for (int64_t h = 0; h < H; h++)
            for (int64_t q = 0; q < Tq; q++)
                for (int64_t kk = 0; kk < Tk; kk++) {
                    int64_t i = (h * Tq + q) * Tk + kk;
                    if (kk > q) bad += !(isinf(bb[i]) && bb[i] < 0);
                    else bad += !isfinite(bb[i]), moved += bb[i] != a[i];
                }
        CHECK_MSG(bad == 0, "relative noise on scores: %lld entries not -inf where masked or not finite where seen", (long long)bad);
        CHECK(moved > 0);
        int64_t no = seer_tensor_nelem(to);
        for (int64_t i = 0; i < no; i++) bad += !isfinite(o[i]);
        CHECK_MSG(bad == 0, "relative noise on scores: the residual stream downstream is not finite");
    }
    seer_trace_result_free(ns);

    /* set from a saved pattern: from its own save nothing changes; another layer's pattern set
     * from it reads back exactly, for two prompts of different lengths */
    const char *sp = "{\"version\": 1, \"inputs\": {\"prompts\": [\"Once upon a time there was\", \"Lily\"]}, \"nodes\": ["
                     "{\"id\": \"p1\", \"hook\": \"blocks.1.attn.hook_pattern\", \"op\": \"save\"},"
                     "{\"id\": \"same\", \"hook\": \"blocks.1.attn.hook_pattern\", \"op\": \"set\", \"from\": \"p1\"},"
                     "{\"id\": \"p2\", \"hook\": \"blocks.2.attn.hook_pattern\", \"op\": \"set\", \"from\": \"p1\"},"
                     "{\"id\": \"q2\", \"hook\": \"blocks.2.attn.hook_pattern\", \"op\": \"save\"},"
                     "{\"id\": \"o\", \"hook\": \"blocks.1.hook_resid_post\", \"op\": \"save\"}]}";
    seer_trace_result *spr = trace_run_json(M, sp);
    seer_trace_result *plain = trace_run_json(M, 
        "{\"version\": 1, \"inputs\": {\"prompts\": [\"Once upon a time there was\", \"Lily\"]}, \"nodes\": ["
        "{\"id\": \"o\", \"hook\": \"blocks.1.hook_resid_post\", \"op\": \"save\"}]}");
    if (spr && plain) {
        const seer_tensor *tp = seer_trace_result_find(spr, "p1"), *to = seer_trace_result_find(spr, "o");
        CHECK(memcmp(get(spr, "p1"), get(spr, "q2"), tp->nbytes) == 0);
        CHECK(memcmp(get(spr, "o"), get(plain, "o"), to->nbytes) == 0);
    }
    seer_trace_result_free(spr), seer_trace_result_free(plain);

    /* project_out: the saved value has no component along the direction; clamp bounds; set from node */
    char dir[2048] = "";
    size_t k = 0;
    for (int i = 0; i < d; i++) k += (size_t)snprintf(dir + k, sizeof(dir) - k, "%s%d", i ? "," : "", (i % 3) - 1);
    snprintf(json, sizeof(json),
             "{\"version\": 1, \"inputs\": {\"prompts\": [\"Once upon a time\"], \"tensors\": {\"u\": {\"data\": [%s]}}},"
             "\"nodes\": [{\"id\": \"po\", \"hook\": \"blocks.2.hook_resid_mid\", \"op\": \"project_out\", \"tensor\": \"u\"},"
             "{\"id\": \"s\", \"hook\": \"blocks.2.hook_resid_mid\", \"op\": \"save\"},"
             "{\"id\": \"c\", \"hook\": \"blocks.3.hook_resid_mid\", \"op\": \"clamp\", \"min\": -0.5, \"max\": 0.25},"
             "{\"id\": \"cs\", \"hook\": \"blocks.3.hook_resid_mid\", \"op\": \"save\"},"
             "{\"id\": \"e\", \"hook\": \"blocks.0.hook_resid_pre\", \"op\": \"save\"},"
             "{\"id\": \"st\", \"hook\": \"blocks.4.hook_resid_pre\", \"op\": \"set\", \"from\": \"e\"},"
             "{\"id\": \"s4\", \"hook\": \"blocks.4.hook_resid_pre\", \"op\": \"save\"}]}",
             dir);
    seer_trace_result *pr = trace_run_json(M, json);
    if (pr) {
        const float *v = get(pr, "s");
        int64_t T = seer_trace_result_find(pr, "s")->shape[1];
        double worst = 0;
        for (int64_t t = 0; t < T; t++) {
            double dot = 0;
            for (int i = 0; i < d; i++) dot += v[t * d + i] * ((i % 3) - 1);
            worst = fmax(worst, fabs(dot));
        }
        CHECK_MSG(worst < 1e-4, "project_out left %g along the direction", worst);
        const float *cv = get(pr, "cs");
        int out = 0;
        for (int64_t i = 0; i < T * d; i++) out += cv[i] < -0.5f || cv[i] > 0.25f;
        CHECK(out == 0);
        CHECK(memcmp(get(pr, "s4"), get(pr, "e"), (size_t)(T * d) * 4) == 0);
    }

    /* mean-ablation over the batch at position 0 (BOS for all: the mean is the row itself) and
     * at pos 1 across two prompts */
    seer_trace_result *ma = trace_run_json(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"The dog\", \"One cat\"]},"
                                      "\"nodes\": [{\"id\": \"pre\", \"hook\": \"blocks.1.hook_resid_post\", \"op\": \"save\"},"
                                      "{\"id\": \"m\", \"hook\": \"blocks.1.hook_resid_post\", \"op\": \"mean_ablate\", \"select\": {\"pos\": [1]}},"
                                      "{\"id\": \"post\", \"hook\": \"blocks.1.hook_resid_post\", \"op\": \"save\"}]}");
    if (ma) {
        const float *pre = get(ma, "pre"), *post = get(ma, "post");
        int64_t T = seer_trace_result_find(ma, "pre")->shape[1];
        float mean[64];
        for (int i = 0; i < d; i++) mean[i] = 0.5f * (pre[1 * d + i] + pre[(T + 1) * d + i]);
        check_close(post + 1 * d, mean, d, 1e-6f, "mean-ablated row 0");
        check_close(post + (T + 1) * d, mean, d, 1e-6f, "mean-ablated row 1");
        check_close(post, pre, d, 0, "unselected position untouched");
    }

    /* generation inside a trace: greedy equals seer generate's greedy continuation */
    seer_trace_result *gen = trace_run_json(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"\"]}, \"generate\": {\"steps\": 40, \"temp\": 0},"
                                       "\"nodes\": [{\"id\": \"r\", \"hook\": \"blocks.4.hook_resid_post\", \"op\": \"save\", \"steps\": [0, 3]}]}");
    if (gen) {
        FILE *f = tmpfile();
        seer_trace_result_print_json(gen, f);
        rewind(f);
        char out[8192] = {0};
        size_t got = fread(out, 1, sizeof(out) - 1, f);
        fclose(f);
        (void)got;
        char *expect;
        size_t elen;
        CHECK_OK(seer_read_file(test_data("models/stories260K/golden/greedy_200.txt"), &expect, &elen, &err), &err);
        /* the first 40 generated tokens are a prefix of the golden text */
        char *gstart = strstr(out, "\"generated\": \"");
        CHECK(gstart != NULL);
        if (gstart && expect) {
            gstart += 14;
            char *gend = strchr(gstart, '"');
            size_t gl = gend ? (size_t)(gend - gstart) : 0;
            CHECK_MSG(gl > 50 && strncmp(gstart, expect, gl) == 0, "trace greedy '%.*s' is not a prefix of the golden text", (int)gl, gstart);
        }
        free(expect);
        CHECK(seer_trace_result_find(gen, "r") && seer_trace_result_find(gen, "r@3") && !seer_trace_result_find(gen, "r@2"));
    }

    /* bad graphs, each refused with its own message */
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"nodes\": [{\"id\": \"x\", \"hook\": \"blocks.0.hook_nope\", \"op\": \"save\"}]}",
               "unknown hook");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"nodes\": [{\"id\": \"x\", \"hook\": \"blocks.7.hook_resid_pre\", \"op\": \"save\"}]}",
               "layer 7 out of range");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"], \"tensors\": {\"v\": {\"data\": [1, 2, 3]}}}, \"nodes\": "
               "[{\"id\": \"x\", \"hook\": \"blocks.0.hook_resid_pre\", \"op\": \"add\", \"tensor\": \"v\"}]}",
               "shape mismatch");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"nodes\": [{\"id\": \"x\", \"hook\": \"blocks.0.attn.hook_z\", \"op\": \"zero\","
               " \"select\": {\"head\": [8]}}]}",
               "select.head");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"nodes\": [{\"id\": \"x\", \"hook\": \"blocks.0.hook_resid_pre\", \"op\": \"zero\","
               " \"select\": {\"batch\": [1]}}]}",
               "select.batch");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"nodes\": [{\"id\": \"x\", \"hook\": \"blocks.0.hook_resid_pre\", \"op\": \"zero\","
               " \"select\": {\"index\": [64]}}]}",
               "select.index");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"nodes\": [{\"id\": \"x\", \"hook\": \"blocks.0.hook_resid_pre\", \"op\": \"zero\","
               " \"colour\": 3}]}",
               "unknown field 'colour'");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"extra\": 1}", "unknown field 'extra'");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"nodes\": [{\"id\": \"x\", \"hook\": \"blocks.0.hook_resid_pre\", \"op\": \"set\","
               " \"from\": \"ghost\"}]}",
               "undefined node 'ghost'");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"nodes\": [{\"id\": \"late\", \"hook\": \"blocks.3.hook_resid_pre\", \"op\": \"save\"},"
               "{\"id\": \"x\", \"hook\": \"blocks.1.hook_resid_pre\", \"op\": \"set\", \"from\": \"late\"}]}",
               "a cycle");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"nodes\": [{\"id\": \"s\", \"hook\": \"blocks.3.attn.hook_pattern\", \"op\": \"save\"}]}"
               "trailing",
               "malformed JSON");
    trace_expect_bad(M, "{\"version\": 2, \"inputs\": {\"prompts\": [\"a\"]}}", "version 2 is newer than this seer understands (1)");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"nodes\": [{\"id\": \"x\", \"hook\": \"logits\", \"op\": \"explode\"}]}",
               "unknown op 'explode'");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"nodes\": [{\"id\": \"x\", \"hook\": \"logits\", \"op\": \"save\"},"
               "{\"id\": \"x\", \"hook\": \"logits\", \"op\": \"save\"}]}",
               "id used twice");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"nodes\": [{\"id\": \"x\", \"hook\": \"logits\", \"op\": \"save\","
               " \"select\": {\"pos\": [0]}}]}",
               "save takes no selector");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"nodes\": [{\"id\": \"x\", \"hook\": \"blocks.0.hook_resid_pre\", \"op\": \"add\","
               " \"tensor\": \"nope\"}]}",
               "not declared in inputs.tensors");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"], \"tensors\": {\"f\": {\"file\": \"/nonexistent/x.safetensors\"}}}}",
               "cannot open");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": []}}", "non-empty list");
    trace_expect_bad(M, "[1, 2]", "top level must be a JSON object");
    trace_expect_bad(M, "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"]}, \"nodes\": [{\"id\": \"x\", \"hook\": \"blocks.0.hook_resid_pre\", \"op\": \"scale\"}]}",
               "needs 'factor'");
    /* over the configured limits */
    {
        seer_graph_limits lim = seer_graph_default_limits();
        lim.max_save_bytes = 1000;
        const char *j = "{\"version\": 1, \"inputs\": {\"prompts\": [\"Once upon a time\"]}, \"nodes\": "
                        "[{\"id\": \"x\", \"hook\": \"logits\", \"op\": \"save\"}]}";
        seer_graph *g = NULL;
        CHECK_FAILS(seer_graph_load(M, j, strlen(j), NULL, &lim, &g, &err), &err, "over the limit");
        lim = seer_graph_default_limits();
        lim.allow_any_path = 0;
        const char *j2 = "{\"version\": 1, \"inputs\": {\"prompts\": [\"a\"], \"tensors\": {\"f\": {\"file\": \"../secret.safetensors\"}}}}";
        CHECK_FAILS(seer_graph_load(M, j2, strlen(j2), NULL, &lim, &g, &err), &err, "must be a relative path");
    }
    /* outputs.save picks what is returned; an unlisted save still feeds "from" */
    {
        seer_trace_result *r = trace_run_json(M, 
            "{\"version\": 1, \"inputs\": {\"prompts\": [\"Once upon a time\"]}, \"nodes\": ["
            "{\"id\": \"src\", \"hook\": \"blocks.0.hook_resid_post\", \"op\": \"save\"},"
            "{\"id\": \"cp\", \"hook\": \"blocks.1.hook_resid_post\", \"op\": \"set\", \"from\": \"src\"},"
            "{\"id\": \"out\", \"hook\": \"blocks.1.hook_resid_post\", \"op\": \"save\"}],"
            " \"outputs\": {\"save\": [\"out\"]}}");
        CHECK(r && seer_trace_result_n_tensors(r) == 1 && seer_trace_result_find(r, "src") == NULL);
        seer_trace_result *all = trace_run_json(M, 
            "{\"version\": 1, \"inputs\": {\"prompts\": [\"Once upon a time\"]}, \"nodes\": ["
            "{\"id\": \"src\", \"hook\": \"blocks.0.hook_resid_post\", \"op\": \"save\"}]}");
        const seer_tensor *o = r ? seer_trace_result_find(r, "out") : NULL, *sv = all ? seer_trace_result_find(all, "src") : NULL;
        CHECK(o && sv && o->nbytes == sv->nbytes && memcmp(o->data, sv->data, o->nbytes) == 0);
        seer_trace_result_free(r), seer_trace_result_free(all);
    }
    seer_trace_result_free(both), seer_trace_result_free(a), seer_trace_result_free(b);
    seer_trace_result_free(same), seer_trace_result_free(pat), seer_trace_result_free(pd);
    seer_trace_result_free(n1), seer_trace_result_free(n2), seer_trace_result_free(n3);
    seer_trace_result_free(pr), seer_trace_result_free(ma), seer_trace_result_free(gen);
    seer_model_free(M);
    return test_done("test_trace");
}
