/* Every JSON example in docs/intervention-graph.md loads and runs on stories260K, so the
 * documentation cannot drift from the parser. */
#include "seer/hooks.h"
#include "seer/sae.h"
#include "seer/sae_hook.h"
#include "seer/safetensors.h"
#include "test.h"

int main(void) {
    const char *src = getenv("SEER_SRC");
    char path[1024];
    snprintf(path, sizeof(path), "%s/docs/intervention-graph.md", src && *src ? src : ".");
    seer_err err;
    char *doc;
    size_t len;
    if (seer_read_file(path, &doc, &len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    seer_model *m;
    char bin[1024], tok[1024];
    snprintf(bin, sizeof(bin), "%s", test_data("models/stories260K/stories260K.bin"));
    snprintf(tok, sizeof(tok), "%s", test_data("models/stories260K/tok512.bin"));
    if (seer_model_load(bin, tok, &m, &err)) return 77;
    /* the steering example reads steer.safetensors#happy from the graph's folder */
    char dir[1024], stp[1100];
    snprintf(dir, sizeof(dir), "%s", test_tmp("graph_docs"));
    mkdir(dir, 0755);
    snprintf(stp, sizeof(stp), "%s/steer.safetensors", dir);
    float happy[64];
    for (int i = 0; i < 64; i++) happy[i] = (float)((i % 5) - 2) * 0.1f;
    seer_st_writer *w = seer_st_writer_init();
    int64_t shape[1] = {64};
    seer_st_writer_add(w, "happy", SEER_DTYPE_F32, 1, shape, happy);
    CHECK_OK(seer_st_writer_write(w, stp, &err), &err);
    seer_st_writer_free(w);
    /* the sae example reads sae_res2/ from the same folder: a random TopK SAE */
    seer_graph_set_codec(seer_sae_hook_codec());
    seer_sae_config sc = {.arch = SEER_SAE_TOPK, .d_in = 64, .d_sae = 128, .d_out = 64, .k = 8, .apply_b_dec_to_input = 1,
                          .hook_in = "blocks.2.hook_resid_post", .hook_out = "blocks.2.hook_resid_post"};
    seer_sae *sae = NULL;
    CHECK_OK(seer_sae_init(&sc, &sae, &err), &err);
    if (sae) {
        seer_rng r;
        seer_rng_seed(&r, 5);
        for (int i = 0; i < 64 * 128; i++) sae->W_enc[i] = 0.2f * seer_rng_normal(&r), sae->W_dec[i] = 0.2f * seer_rng_normal(&r);
        char sd[1100];
        snprintf(sd, sizeof(sd), "%s/sae_res2", dir);
        CHECK_OK(seer_sae_save(sae, SEER_SAE_FORMAT_SAELENS, sd, &err), &err);
        seer_sae_free(sae);
    }

    int n = 0;
    for (char *p = strstr(doc, "```json\n"); p; p = strstr(p, "```json\n")) {
        p += 8;
        char *end = strstr(p, "```");
        if (!end) break;
        seer_graph *g = NULL;
        seer_trace_result *r = NULL;
        CHECK_OK(seer_graph_load(m, p, (size_t)(end - p), dir, NULL, &g, &err), &err);
        if (g) CHECK_OK(seer_trace_run(m, g, 2, &r, &err), &err);
        if (test_failures) fprintf(stderr, "in example %d:\n%.*s\n", n, (int)(end - p), p);
        seer_trace_result_free(r);
        seer_graph_free(g);
        n++;
        p = end + 3;
        if (test_failures) break;
    }
    CHECK_MSG(n >= 12, "only %d examples found", n);
    printf("test_graph_docs: %d examples ran\n", n);
    free(doc);
    seer_model_free(m);
    return test_done("test_graph_docs");
}
