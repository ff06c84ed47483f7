/* The golden CLI run under valgrind memcheck: greedy generation from the llama2.c checkpoint and
 * from the GGUF (a one-token and a five-token prompt, so both the single-row and the batched
 * prefill paths run) must print the golden text with no memcheck error and no leak of any kind.
 * Skipped (77) without valgrind, the seer binary or the shared data, and in sanitizer builds
 * (valgrind cannot run ASan binaries). */
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define SEER_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SEER_TEST_ASAN 1
#endif
#endif

static const char *bin(void) {
    const char *b = getenv("SEER_BIN");
    return b && *b ? b : "./seer";
}

static char *slurp(const char *path, size_t *len) {
    seer_err err;
    char *s = NULL;
    size_t n = 0;
    if (seer_read_file(path, &s, &n, &err)) return calloc(1, 1);
    if (len) *len = n;
    return s;
}

/* One memcheck run of "seer <args>"; checks the exit code, the report and the text. */
static void memcheck(const char *label, const char *args, const char *expect, size_t elen) {
    char out[1024], log[1024], cmd[8192];
    snprintf(out, sizeof(out), "%s", test_tmp("valgrind_out.txt"));
    snprintf(log, sizeof(log), "%s", test_tmp("valgrind_log.txt"));
    /* --error-exitcode makes any memcheck error (leaks included, via errors-for-leak-kinds) a
     * distinct exit code; the log is checked as well so a failure says what was found. */
    snprintf(cmd, sizeof(cmd),
             "valgrind --error-exitcode=9 --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all "
             "--track-origins=yes %s %s >%s 2>%s",
             bin(), args, out, log);
    double t0 = seer_time_sec();
    int st = system(cmd);
    double dt = seer_time_sec() - t0;
    int code = st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
    char *report = slurp(log, NULL);
    CHECK_MSG(code == 0, "%s: valgrind exit %d (9 = memcheck errors); its log:\n%s", label, code, report);
    CHECK_MSG(strstr(report, "ERROR SUMMARY: 0 errors") != NULL, "%s: memcheck reported errors:\n%s", label, report);
    CHECK_MSG(strstr(report, "All heap blocks were freed") != NULL, "%s: memory still in use at exit:\n%s", label,
              report);
    size_t glen = 0;
    char *got = slurp(out, &glen);
    CHECK_MSG(glen == elen && memcmp(got, expect, elen) == 0, "%s: text under valgrind differs from the golden:\n%s",
              label, got);
    printf("%-28s %.1f s under memcheck\n", label, dt);
    free(got);
    free(report);
}

int main(void) {
#ifdef SEER_TEST_ASAN
    fprintf(stderr, "sanitizer build: valgrind cannot run it, skipping\n");
    return 77;
#endif
    if (system("valgrind --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "valgrind not installed: skipping (apt-get install valgrind)\n");
        return 77;
    }
    if (access(bin(), X_OK) != 0) {
        fprintf(stderr, "seer binary %s not found: skipping\n", bin());
        return 77;
    }
    char model[1024], tok[1024], gguf[1024], golden[1024], args[4096];
    snprintf(model, sizeof(model), "%s", test_data("models/stories260K/stories260K.bin"));
    snprintf(tok, sizeof(tok), "%s", test_data("models/stories260K/tok512.bin"));
    snprintf(gguf, sizeof(gguf), "%s", test_data("models/stories260K/stories260K.gguf"));
    snprintf(golden, sizeof(golden), "%s", test_data("models/stories260K/golden/greedy_200.txt"));
    if (access(model, R_OK) != 0 || access(gguf, R_OK) != 0 || access(golden, R_OK) != 0) {
        fprintf(stderr, "no shared data at %s: skipping\n", test_data_dir());
        return 77;
    }
    size_t elen = 0;
    char *expect = slurp(golden, &elen);
    CHECK(elen > 100);
    /* Greedy from an empty prompt is the golden text; greedy from its first five tokens
     * continues it identically. Two threads, so the pool's start and stop are checked too. */
    snprintf(args, sizeof(args), "generate -m %s -z %s -p '' -n 200 --temp 0 -t 2", model, tok);
    memcheck("llama2.c, empty prompt", args, expect, elen);
    snprintf(args, sizeof(args), "generate -m %s -p 'Once upon a time' -n 200 --temp 0 -t 2", gguf);
    memcheck("gguf, five-token prompt", args, expect, elen);
    free(expect);
    return test_done("test_valgrind");
}
