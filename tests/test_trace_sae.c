/* The graph's "sae" operation on stories260K with a random TopK SAE: the activation after the
 * node is the SAE's reconstruction, the saved latents are its codes, keep_error with no edit
 * changes nothing, an edit with keep_error moves the activation by exactly the edited latents'
 * decoder rows, selections limit the rows, and bad uses are refused with their own message. */
#include "seer/hooks.h"
#include "seer/sae.h"
#include "seer/sae_hook.h"
#include "trace_util.h"

#include <math.h>

static seer_model *M;
#define DATA(t) ((const float *)(t)->data)

static const seer_tensor *get(const seer_trace_result *r, const char *name) {
    const seer_tensor *t = r ? seer_trace_result_find(r, name) : NULL;
    CHECK_MSG(t != NULL, "saved tensor '%s' missing", name);
    return t;
}

static seer_sae *random_sae(const char *hook, int64_t d_in, int64_t d_sae, int32_t k, uint64_t seed) {
    seer_err err;
    seer_sae_config c = {.arch = SEER_SAE_TOPK, .d_in = d_in, .d_sae = d_sae, .d_out = d_in, .k = k,
                         .apply_b_dec_to_input = 1};
    snprintf(c.hook_in, sizeof(c.hook_in), "%s", hook);
    snprintf(c.hook_out, sizeof(c.hook_out), "%s", hook);
    seer_sae *s = NULL;
    CHECK_OK(seer_sae_init(&c, &s, &err), &err);
    if (!s) return NULL;
    seer_rng r;
    seer_rng_seed(&r, seed);
    for (int64_t i = 0; i < d_in * d_sae; i++) s->W_enc[i] = 0.3f * seer_rng_normal(&r);
    for (int64_t i = 0; i < d_in * d_sae; i++) s->W_dec[i] = 0.2f * seer_rng_normal(&r);
    for (int64_t i = 0; i < d_sae; i++) s->b_enc[i] = 0.1f * seer_rng_normal(&r);
    for (int64_t i = 0; i < d_in; i++) s->b_dec[i] = 0.05f * seer_rng_normal(&r);
    return s;
}

#define PROMPTS "\"prompts\": [\"Once upon a time there was\", \"Lily\"]"
#define HOOK "blocks.2.hook_resid_post"

int main(void) {
    seer_err err;
    char bin[1024], tok[1024], dir[1024], dir_other[1024], dir_wide[1024];
    snprintf(bin, sizeof(bin), "%s", test_data("models/stories260K/stories260K.bin"));
    snprintf(tok, sizeof(tok), "%s", test_data("models/stories260K/tok512.bin"));
    if (seer_model_load(bin, tok, &M, &err)) return 77;
    seer_graph_set_codec(seer_sae_hook_codec());
    const int64_t d = 64, L = 48;
    snprintf(dir, sizeof(dir), "%s", test_tmp("trace_sae"));
    snprintf(dir_other, sizeof(dir_other), "%s", test_tmp("trace_sae_other"));
    snprintf(dir_wide, sizeof(dir_wide), "%s", test_tmp("trace_sae_wide"));
    seer_sae *sae = random_sae(HOOK, d, L, 4, 1), *other = random_sae("blocks.0.hook_resid_post", d, L, 4, 2);
    seer_sae *wide = random_sae(HOOK, 2 * d, L, 4, 3);
    if (!sae || !other || !wide) return test_done("test_trace_sae");
    CHECK_OK(seer_sae_save(sae, SEER_SAE_FORMAT_SAELENS, dir, &err), &err);
    CHECK_OK(seer_sae_save(other, SEER_SAE_FORMAT_SAELENS, dir_other, &err), &err);
    CHECK_OK(seer_sae_save(wide, SEER_SAE_FORMAT_SAELENS, dir_wide, &err), &err);

    char json[16384];
    /* reconstruction: "after" is forward(before), "z" its codes */
    snprintf(json, sizeof(json),
             "{\"version\": 1, \"inputs\": {" PROMPTS ", \"saes\": {\"s\": {\"path\": \"%s\"}}}, \"nodes\": ["
             "{\"id\": \"before\", \"hook\": \"" HOOK "\", \"op\": \"save\"},"
             "{\"id\": \"z\", \"hook\": \"" HOOK "\", \"op\": \"sae\", \"sae\": \"s\", \"save_latents\": true},"
             "{\"id\": \"after\", \"hook\": \"" HOOK "\", \"op\": \"save\"},"
             "{\"id\": \"logits\", \"hook\": \"logits\", \"op\": \"save\"}]}",
             dir);
    seer_trace_result *rec = trace_run_json(M, json);
    const seer_tensor *before = get(rec, "before"), *after = get(rec, "after"), *z = get(rec, "z");
    if (before && after && z) {
        int64_t rows = before->shape[0] * before->shape[1];
        CHECK(z->n_dims == 3 && z->shape[0] == 2 && z->shape[1] == before->shape[1] && z->shape[2] == L);
        float *want = malloc((size_t)(rows * d) * sizeof(float)), *wz = malloc((size_t)(rows * L) * sizeof(float));
        CHECK_OK(seer_sae_forward(sae, DATA(before), rows, want, &err), &err);
        CHECK_OK(seer_sae_encode(sae, DATA(before), rows, wz, &err), &err);
        /* prompt 1 is shorter: its padding rows are zero in the saved tensors and never visited */
        int64_t T = before->shape[1], len1 = 0;
        for (int64_t p = 0; p < T; p++) {
            int pad = 1;
            for (int64_t j = 0; j < d; j++) pad &= DATA(before)[(T + p) * d + j] == 0.0f;
            len1 += !pad;
        }
        CHECK(len1 > 0 && len1 < T);
        check_close(DATA(after), want, (size_t)(T * d), 1e-5f, "sae reconstruction, prompt 0");
        check_close(DATA(after) + T * d, want + T * d, (size_t)(len1 * d), 1e-5f, "sae reconstruction, prompt 1");
        check_close(DATA(z), wz, (size_t)(T * L), 1e-5f, "saved latents, prompt 0");
        int64_t active = 0;
        for (int64_t i = 0; i < T * L; i++) active += DATA(z)[i] != 0.0f;
        CHECK_MSG(active > 0 && active <= T * 4, "TopK k=4 latents: %lld active over %lld rows", (long long)active, (long long)T);
        free(want), free(wz);
    }

    /* keep_error without an edit: nothing changes, exactly */
    snprintf(json, sizeof(json),
             "{\"version\": 1, \"inputs\": {" PROMPTS ", \"saes\": {\"s\": {\"path\": \"%s\"}}}, \"nodes\": ["
             "{\"id\": \"z\", \"hook\": \"" HOOK "\", \"op\": \"sae\", \"sae\": \"s\", \"keep_error\": true},"
             "{\"id\": \"after\", \"hook\": \"" HOOK "\", \"op\": \"save\"},"
             "{\"id\": \"logits\", \"hook\": \"logits\", \"op\": \"save\"}]}",
             dir);
    seer_trace_result *keep = trace_run_json(M, json);
    snprintf(json, sizeof(json),
             "{\"version\": 1, \"inputs\": {" PROMPTS "}, \"nodes\": [{\"id\": \"after\", \"hook\": \"" HOOK "\", \"op\": \"save\"},"
             "{\"id\": \"logits\", \"hook\": \"logits\", \"op\": \"save\"}]}");
    seer_trace_result *clean = trace_run_json(M, json);
    const seer_tensor *ka = get(keep, "after"), *ca = get(clean, "after"), *kl = get(keep, "logits"), *cl = get(clean, "logits");
    if (ka && ca && kl && cl) {
        CHECK_MSG(memcmp(DATA(ka), DATA(ca), ka->nbytes) == 0, "keep_error with no edit changed the activation");
        CHECK_MSG(memcmp(DATA(kl), DATA(cl), kl->nbytes) == 0, "keep_error with no edit changed the logits");
    }

    /* an edit with keep_error: the activation moves by (edited - unedited) reconstruction; on
     * the selected position only */
    const seer_tensor *zz = z;
    int32_t lat = -1;
    for (int64_t j = 0; zz && j < L && lat < 0; j++) /* a latent active at prompt 0, position 2 */
        if (DATA(zz)[2 * L + j] != 0.0f) lat = (int32_t)j;
    CHECK(lat >= 0);
    if (lat >= 0 && ca) {
        snprintf(json, sizeof(json),
                 "{\"version\": 1, \"inputs\": {" PROMPTS ", \"saes\": {\"s\": {\"path\": \"%s\"}}}, \"nodes\": ["
                 "{\"id\": \"z\", \"hook\": \"" HOOK "\", \"op\": \"sae\", \"sae\": \"s\", \"keep_error\": true,"
                 " \"select\": {\"batch\": 0, \"pos\": 2}, \"edit\": {\"op\": \"scale\", \"latents\": [%d], \"value\": 3}},"
                 "{\"id\": \"after\", \"hook\": \"" HOOK "\", \"op\": \"save\"}]}",
                 dir, lat);
        seer_trace_result *ed = trace_run_json(M, json);
        const seer_tensor *ea = get(ed, "after");
        if (ea) {
            float *want = malloc(ca->nbytes);
            memcpy(want, DATA(ca), ca->nbytes);
            /* scaling latent lat by 3 adds 2 * z_lat * W_dec[lat] */
            for (int64_t j = 0; j < d; j++) want[2 * d + j] += 2.0f * DATA(zz)[2 * L + lat] * sae->W_dec[lat * d + j];
            check_close(DATA(ea), want, (size_t)(ca->nbytes / 4), 1e-4f, "latent edit with keep_error");
            int same_elsewhere = memcmp(DATA(ea), DATA(ca), 2 * (size_t)d * 4) == 0 &&
                                 memcmp(DATA(ea) + 3 * d, DATA(ca) + 3 * d, ca->nbytes - 3 * (size_t)d * 4) == 0;
            CHECK_MSG(same_elsewhere, "rows outside the selection changed");
            free(want);
        }
        seer_trace_result_free(ed);
    }

    /* zeroing every latent without keep_error leaves b_dec */
    snprintf(json, sizeof(json),
             "{\"version\": 1, \"inputs\": {" PROMPTS ", \"saes\": {\"s\": {\"path\": \"%s\"}}}, \"nodes\": ["
             "{\"id\": \"z\", \"hook\": \"" HOOK "\", \"op\": \"sae\", \"sae\": \"s\", \"select\": {\"batch\": 0},"
             " \"edit\": {\"op\": \"zero\"}},"
             "{\"id\": \"after\", \"hook\": \"" HOOK "\", \"op\": \"save\"}]}",
             dir);
    seer_trace_result *zero = trace_run_json(M, json);
    const seer_tensor *za = get(zero, "after");
    if (za) {
        float maxd = 0;
        for (int64_t j = 0; j < d; j++) maxd = fmaxf(maxd, fabsf(DATA(za)[j] - sae->b_dec[j]));
        CHECK_MSG(maxd < 1e-6f, "zeroed latents should decode to b_dec (max diff %g)", (double)maxd);
    }

    /* bad uses */
    char head[8192];
    snprintf(head, sizeof(head), "{\"version\": 1, \"inputs\": {" PROMPTS ", \"saes\": {\"s\": {\"path\": \"%s\"}, "
             "\"o\": {\"path\": \"%s\"}, \"w\": {\"path\": \"%s\"}, \"n\": {\"path\": \"%s/missing\"}}}, \"nodes\": [",
             dir, dir_other, dir_wide, dir);
#define BAD(node, needle)                                              \
    do {                                                               \
        snprintf(json, sizeof(json), "%s%s]}", head, node);            \
        trace_expect_bad(M, json, needle);                                      \
    } while (0)
    BAD("{\"id\": \"x\", \"hook\": \"" HOOK "\", \"op\": \"sae\", \"sae\": \"nope\"}", "not declared in inputs.saes");
    BAD("{\"id\": \"x\", \"hook\": \"" HOOK "\", \"op\": \"sae\"}", "'sae' must name");
    BAD("{\"id\": \"x\", \"hook\": \"" HOOK "\", \"op\": \"sae\", \"sae\": \"o\"}", "was trained on blocks.0.hook_resid_post");
    BAD("{\"id\": \"x\", \"hook\": \"" HOOK "\", \"op\": \"sae\", \"sae\": \"w\"}", "reads 128 values per row");
    BAD("{\"id\": \"x\", \"hook\": \"" HOOK "\", \"op\": \"sae\", \"sae\": \"n\"}", "missing");
    BAD("{\"id\": \"x\", \"hook\": \"" HOOK "\", \"op\": \"sae\", \"sae\": \"s\", \"edit\": {\"op\": \"set\", \"latents\": [48], \"value\": 1}}",
        "expected integers in [0, 47]");
    BAD("{\"id\": \"x\", \"hook\": \"" HOOK "\", \"op\": \"sae\", \"sae\": \"s\", \"edit\": {\"op\": \"set\", \"latents\": [1]}}",
        "need 'value'");
    BAD("{\"id\": \"x\", \"hook\": \"" HOOK "\", \"op\": \"sae\", \"sae\": \"s\", \"edit\": {\"op\": \"boost\"}}",
        "must be zero, set, add or scale");
    BAD("{\"id\": \"x\", \"hook\": \"" HOOK "\", \"op\": \"sae\", \"sae\": \"s\", \"select\": {\"index\": [1]}}",
        "select batch and pos only");
    BAD("{\"id\": \"x\", \"hook\": \"" HOOK "\", \"op\": \"sae\", \"sae\": \"s\", \"factor\": 2}", "unknown field 'factor'");
    BAD("{\"id\": \"x\", \"hook\": \"" HOOK "\", \"op\": \"sae\", \"sae\": \"s\", \"keep_error\": 1}", "must be true or false");
    BAD("{\"id\": \"x\", \"hook\": \"" HOOK "\", \"op\": \"sae\", \"sae\": \"s\"}, "
        "{\"id\": \"y\", \"hook\": \"blocks.1.hook_resid_post\", \"op\": \"sae\", \"sae\": \"s\"}",
        "belongs to " HOOK);
    seer_graph_set_codec(NULL);
    BAD("{\"id\": \"x\", \"hook\": \"" HOOK "\", \"op\": \"sae\", \"sae\": \"s\"}", "no SAE support installed");

    seer_trace_result_free(rec), seer_trace_result_free(keep), seer_trace_result_free(clean), seer_trace_result_free(zero);
    seer_sae_free(sae), seer_sae_free(other), seer_sae_free(wide);
    seer_model_free(M);
    return test_done("test_trace_sae");
}
