/* The seer binary end to end: greedy text byte for byte, JSON outputs, conversions, and bad
 * input of every kind giving a clear one-line error and a non-zero exit (never a signal). */
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static const char *bin(void) {
    const char *b = getenv("SEER_BIN");
    return b && *b ? b : "./seer";
}

/* Runs "seer <args>", stdout to out_path, stderr to err_path; returns the exit code, or
 * 1000 + signal when it died from one. */
static int run(const char *args, const char *out_path, const char *err_path) {
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "%s %s >%s 2>%s", bin(), args, out_path, err_path);
    int st = system(cmd);
    if (st == -1) return -1;
    if (WIFSIGNALED(st)) return 1000 + WTERMSIG(st);
    int code = WEXITSTATUS(st);
    return code >= 128 ? 1000 + code - 128 : code; /* the shell reports signals as 128+n */
}

static char *slurp(const char *path, size_t *len) {
    seer_err err;
    char *s = NULL;
    size_t n = 0;
    if (seer_read_file(path, &s, &n, &err)) return calloc(1, 1);
    if (len) *len = n;
    return s;
}

/* Must fail with exit 1 or 2 and one line on stderr that contains needle. */
static void expect_error(const char *args, const char *needle) {
    char o[1024], e[1024];
    snprintf(o, sizeof(o), "%s", test_tmp("cli_out.txt"));
    snprintf(e, sizeof(e), "%s", test_tmp("cli_err.txt"));
    int code = run(args, o, e);
    char *msg = slurp(e, NULL);
    size_t lines = 0;
    for (char *p = msg; *p; p++) lines += *p == '\n';
    CHECK_MSG((code == 1 || code == 2) && lines == 1 && strstr(msg, needle),
              "seer %s: exit %d, stderr '%s' (expected one line with '%s')", args, code, msg, needle);
    free(msg);
}

static void copy_prefix(const char *src, const char *dst, size_t n) {
    size_t len;
    char *d = slurp(src, &len);
    if (n > len) n = len;
    FILE *f = fopen(dst, "wb");
    fwrite(d, 1, n, f);
    fclose(f);
    free(d);
}

int main(void) {
    if (access(bin(), X_OK) != 0) {
        fprintf(stderr, "seer binary %s not found: skipping\n", bin());
        return 77;
    }
    char model[1024], tok[1024], gguf[1024], args[4096];
    snprintf(model, sizeof(model), "%s", test_data("models/stories260K/stories260K.bin"));
    snprintf(tok, sizeof(tok), "%s", test_data("models/stories260K/tok512.bin"));
    snprintf(gguf, sizeof(gguf), "%s", test_data("models/stories260K/stories260K.gguf"));
    if (access(model, R_OK) != 0) return 77;
    char o[1024], e[1024];
    snprintf(o, sizeof(o), "%s", test_tmp("cli_out.txt"));
    snprintf(e, sizeof(e), "%s", test_tmp("cli_err.txt"));

    /* golden greedy text, from both formats */
    size_t elen, glen;
    char *expect = slurp(test_data("models/stories260K/golden/greedy_200.txt"), &elen);
    const char *models[] = {model, gguf};
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof(args), "generate -m %s -z %s -p '' -n 200 --temp 0", models[i], tok);
        CHECK(run(args, o, e) == 0);
        char *got = slurp(o, &glen);
        CHECK_MSG(glen == elen && memcmp(got, expect, elen) == 0, "greedy text from %s differs:\n%s", models[i], got);
        free(got);
    }
    free(expect);

    /* seeded sampling is reproducible */
    snprintf(args, sizeof(args), "generate -m %s -p 'Once upon' -n 60 --temp 0.9 --top-k 40 --seed 7", gguf);
    CHECK(run(args, o, e) == 0);
    char *s1 = slurp(o, NULL);
    CHECK(run(args, o, e) == 0);
    char *s2 = slurp(o, NULL);
    CHECK(strcmp(s1, s2) == 0 && strlen(s1) > 20);
    free(s1);
    free(s2);

    /* JSON outputs */
    snprintf(args, sizeof(args), "tokenize -z %s -p 'Hello world' --json", tok);
    CHECK(run(args, o, e) == 0);
    char *js = slurp(o, NULL);
    CHECK(strstr(js, "{\"ids\": [1, ") == js && strstr(js, "\"pieces\": ["));
    free(js);
    snprintf(args, sizeof(args), "bench -m %s -p 16 -n 8 -r 2 --json", gguf);
    CHECK(run(args, o, e) == 0);
    js = slurp(o, NULL);
    CHECK(strstr(js, "\"prefill_tok_s\": ") && strstr(js, "\"decode_tok_s\": ") && strstr(js, "\"threads\": "));
    free(js);
    snprintf(args, sizeof(args), "perplexity -m %s -z %s -f %s --json", model, tok,
             test_data("models/stories260K/golden/prompt_story.txt"));
    CHECK(run(args, o, e) == 0);
    js = slurp(o, NULL);
    CHECK(strstr(js, "\"tokens\": ") && strstr(js, "\"nll_mean\": ") && strstr(js, "\"bits_per_byte\": "));
    free(js);
    snprintf(args, sizeof(args), "info %s --json", gguf);
    CHECK(run(args, o, e) == 0);
    js = slurp(o, NULL);
    CHECK(strstr(js, "\"arch\": \"llama\"") && strstr(js, "\"n_layers\": 5"));
    free(js);

    /* a GPT-2 Hugging Face folder with GPT-2's real tokenizer: BOS <|endoftext|> by default */
    char hf[1024];
    snprintf(hf, sizeof(hf), "%s", test_tmp("cli_gpt2_hf"));
    snprintf(args, sizeof(args),
             "model random --arch gpt2 --dim 64 --layers 2 --heads 4 --hidden 256 --vocab 50257 --ctx 64 --to safetensors %s",
             hf);
    CHECK(run(args, o, e) == 0);
    char cp[4096];
    snprintf(cp, sizeof(cp), "cp %s/encoder.json %s/vocab.bpe %s/", test_data("models/gpt2-tokenizer"),
             test_data("models/gpt2-tokenizer"), hf);
    CHECK(system(cp) == 0);
    snprintf(args, sizeof(args), "tokenize -z %s -p 'Hello world' --json", hf);
    CHECK(run(args, o, e) == 0);
    js = slurp(o, NULL);
    CHECK_MSG(strstr(js, "{\"ids\": [50256, 15496, 995]") == js, "gpt2 tokenize: %s", js);
    free(js);
    snprintf(args, sizeof(args), "generate -m %s -p 'Hello world' -n 12 --temp 0", hf);
    CHECK(run(args, o, e) == 0);
    js = slurp(o, NULL);
    CHECK_MSG(strncmp(js, "Hello world", 11) == 0, "gpt2 generate: %s", js);
    free(js);
    snprintf(args, sizeof(args), "generate -m %s -p 'Hello' -n 100", hf);
    expect_error(args, "learned positions");
    snprintf(args, sizeof(args), "info %s --json", hf);
    CHECK(run(args, o, e) == 0);
    js = slurp(o, NULL);
    CHECK(strstr(js, "\"arch\": \"gpt2\"") && strstr(js, "\"tokenizer\": \"gpt2\""));
    free(js);

    /* bad input: truncated model at each sixteenth of its length */
    char trunc[1024], gtrunc[1024];
    snprintf(trunc, sizeof(trunc), "%s", test_tmp("cli_trunc.bin"));
    snprintf(gtrunc, sizeof(gtrunc), "%s", test_tmp("cli_trunc.gguf"));
    size_t mlen;
    free(slurp(model, &mlen));
    for (int k = 0; k < 16; k++) {
        copy_prefix(model, trunc, mlen * (size_t)k / 16);
        snprintf(args, sizeof(args), "generate -m %s -z %s -n 5", trunc, tok);
        expect_error(args, "seer generate:");
    }
    size_t glen2;
    free(slurp(gguf, &glen2));
    for (int k = 0; k < 16; k++) {
        copy_prefix(gguf, gtrunc, glen2 * (size_t)k / 16);
        snprintf(args, sizeof(args), "generate -m %s -n 5", gtrunc);
        expect_error(args, "seer generate:");
    }
    /* wrong magic / absurd dimensions */
    char bad[1024];
    snprintf(bad, sizeof(bad), "%s", test_tmp("cli_bad.bin"));
    FILE *f = fopen(bad, "wb");
    int32_t hdr[7] = {64, 172, INT32_MAX, 8, 4, 512, 512};
    fwrite(hdr, 4, 7, f);
    fclose(f);
    snprintf(args, sizeof(args), "info %s", bad);
    expect_error(args, "n_layers");
    f = fopen(bad, "wb");
    int32_t neg[7] = {-64, 172, 5, 8, 4, 512, 512};
    fwrite(neg, 4, 7, f);
    fclose(f);
    expect_error(args, "dim");
    f = fopen(bad, "wb");
    fwrite("GGUF\x03\0\0\0", 1, 8, f);
    fclose(f);
    snprintf(args, sizeof(args), "info %s", bad);
    expect_error(args, "gguf");
    /* vocab mismatch: a GPT-2 tokenizer for a 512-token model */
    snprintf(args, sizeof(args), "generate -m %s -z %s -n 5", model, test_data("models/gpt2-tokenizer"));
    expect_error(args, "vocabulary");
    snprintf(args, sizeof(args), "generate -m /nonexistent/model.bin -n 5");
    expect_error(args, "cannot open");
    snprintf(args, sizeof(args), "generate -m %s -z %s -p '' --no-bos", model, tok);
    expect_error(args, "empty prompt");
    /* prompt longer than the context (512) */
    snprintf(args, sizeof(args), "generate -m %s -z %s -f %s", model, tok, test_data("data/tinyshakespeare.txt"));
    expect_error(args, "tokens");
    snprintf(args, sizeof(args), "generate -m %s --bogus", model);
    expect_error(args, "unknown option");
    snprintf(args, sizeof(args), "generate -m %s -n abc", model);
    expect_error(args, "-n expects");
    /* the shared option parser: missing values, pairs, ranges, extra positional arguments */
    snprintf(args, sizeof(args), "generate -m %s -z", model);
    expect_error(args, "-z needs a value");
    snprintf(args, sizeof(args), "dla -m %s -p hi --tokens 5", model);
    expect_error(args, "--tokens needs two values");
    snprintf(args, sizeof(args), "bench -m %s -ub 0", model);
    expect_error(args, "-ub expects an integer in [1, 1048576]");
    snprintf(args, sizeof(args), "generate -m %s --temp -1", model);
    expect_error(args, "--temp expects a number");
    snprintf(args, sizeof(args), "info %s %s", model, model);
    expect_error(args, "unknown option");
    snprintf(args, sizeof(args), "convert %s %s %s --to gguf", model, model, model);
    expect_error(args, "unknown option");
    snprintf(args, sizeof(args), "frobnicate");
    int code = run(args, o, e);
    CHECK(code == 2);
    return test_done("test_cli");
}
