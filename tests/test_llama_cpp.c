/* GGUF files seer writes load in llama.cpp and give the golden text. Runs when the llama.cpp
 * peer is built (LLAMA_BIN, default /tmp/llama.cpp-peer/build/bin, made by
 * ../shared/tools/build-llama-cpp.sh) and reports a skip otherwise. */
#include <unistd.h>

#include "seer/model.h"
#include "test.h"

static void trim(char *s, size_t *n) {
    size_t a = 0;
    while (a < *n && s[a] == ' ') a++; /* llama.cpp prints the first piece's leading space */
    memmove(s, s + a, *n - a);
    *n -= a;
    while (*n && (s[*n - 1] == '\n' || s[*n - 1] == ' ')) (*n)--;
    s[*n] = 0;
}

int main(void) {
    const char *dir = getenv("LLAMA_BIN");
    if (!dir || !*dir) dir = "/tmp/llama.cpp-peer/build/bin";
    char exe[1024];
    snprintf(exe, sizeof(exe), "%s/llama-completion", dir);
    if (access(exe, X_OK) != 0) {
        printf("test_llama_cpp: llama.cpp not built at %s (../shared/tools/build-llama-cpp.sh): skipped\n", dir);
        return 77;
    }
    seer_err err;
    seer_model *m;
    char bin[1024], tok[1024];
    snprintf(bin, sizeof(bin), "%s", test_data("models/stories260K/stories260K.bin"));
    snprintf(tok, sizeof(tok), "%s", test_data("models/stories260K/tok512.bin"));
    CHECK_OK(seer_model_load(bin, tok, &m, &err), &err);
    if (test_failures) return test_done("test_llama_cpp");
    char *expect;
    size_t elen;
    CHECK_OK(seer_read_file(test_data("models/stories260K/golden/greedy_200.txt"), &expect, &elen, &err), &err);
    trim(expect, &elen);
    /* f32 must reproduce the golden text exactly; q8_0 must load and generate */
    const char *types[] = {"f32", "q8_0"};
    seer_dtype dt[] = {SEER_DTYPE_F32, SEER_DTYPE_Q8_0};
    for (int i = 0; i < 2; i++) {
        char gguf[1024], out[1024], cmd[4096];
        snprintf(gguf, sizeof(gguf), "%s", test_tmp(i ? "llama_cpp_q8.gguf" : "llama_cpp_f32.gguf"));
        snprintf(out, sizeof(out), "%s", test_tmp("llama_cpp_out.txt"));
        CHECK_OK(seer_model_save(m, SEER_FORMAT_GGUF, gguf, dt[i], &err), &err);
        snprintf(cmd, sizeof(cmd), "%s -m %s -p '' -n 200 --temp 0 -no-cnv -t 2 >%s 2>/dev/null", exe, gguf, out);
        char *got = NULL;
        size_t glen = 0;
        /* llama-completion now and then ends its output a few tokens early on a loaded machine
         * (seen here 1 run in 6 at load 5, 0 in 12 when quiet): one retry tells such a run from a
         * wrong file, which fails both times */
        for (int attempt = 0; attempt < 2; attempt++) {
            free(got);
            got = NULL;
            int rc = system(cmd);
            CHECK_MSG(rc == 0, "llama-completion failed on seer's %s GGUF (exit %d)", types[i], rc);
            CHECK_OK(seer_read_file(out, &got, &glen, &err), &err);
            if (!got) break;
            trim(got, &glen);
            if (i != 0 || (glen == elen && memcmp(got, expect, elen) == 0)) break;
        }
        if (!got) continue;
        if (i == 0)
            CHECK_MSG(glen == elen && memcmp(got, expect, elen) == 0, "llama.cpp on seer's f32 GGUF:\n%s\n--- expected ---\n%s",
                      got, expect);
        else
            CHECK_MSG(glen > 100 && strncmp(got, "Once upon a time", 16) == 0, "llama.cpp on seer's q8_0 GGUF gave:\n%s", got);
        free(got);
    }
    free(expect);
    seer_model_free(m);
    return test_done("test_llama_cpp");
}
