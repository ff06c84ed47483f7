/* Every JSON example in docs/intervention-graph.md loads and runs on stories260K, so the
 * documentation cannot drift from the parser. */
#include "seer/hooks.h"
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
