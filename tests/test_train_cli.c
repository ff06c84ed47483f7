/* seer train and seer finetune end to end: a run stopped at a step and resumed logs the same
 * losses and writes the same model, byte for byte, as one that never stopped; the loss falls;
 * the trained model generates; LoRA and full fine-tuning lower the validation loss on the
 * completions; bad input (empty corpus, JSONL without a field, a checkpoint of another shape,
 * --resume without a checkpoint, bad flags) is a clear error. */
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static const char *bin(void) {
    const char *b = getenv("SEER_BIN");
    return b && *b ? b : "./seer";
}

static int run(const char *args) {
    char cmd[8192], o[1024], e[1024];
    snprintf(o, sizeof(o), "%s", test_tmp("train_out.txt"));
    snprintf(e, sizeof(e), "%s", test_tmp("train_err.txt"));
    snprintf(cmd, sizeof(cmd), "%s %s >%s 2>%s", bin(), args, o, e);
    int st = system(cmd);
    if (st == -1) return -1;
    if (WIFSIGNALED(st)) return 1000 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

static char *slurp(const char *path, size_t *len) {
    seer_err err;
    char *s = NULL;
    size_t n = 0;
    if (seer_read_file(path, &s, &n, &err)) return calloc(1, 1);
    if (len) *len = n;
    return s;
}

/* Exit 1 or 2, and the last line of stderr names the problem. */
static void expect_error(const char *args, const char *needle) {
    int code = run(args);
    char *msg = slurp(test_tmp("train_err.txt"), NULL);
    char *last = msg, *p;
    while ((p = strchr(last, '\n')) && p[1]) last = p + 1;
    CHECK_MSG((code == 1 || code == 2) && strstr(last, needle), "seer %s: exit %d, stderr '%s' (expected '%s')", args, code,
              msg, needle);
    free(msg);
}

static double json_num(const char *line, const char *key) {
    char k[64];
    snprintf(k, sizeof(k), "\"%s\": ", key);
    const char *p = strstr(line, k);
    return p ? strtod(p + strlen(k), NULL) : NAN;
}

/* Values of key over the log's lines, in order; returns the count. */
static int log_values(const char *path, const char *key, double *v, int cap) {
    char *s = slurp(path, NULL);
    int n = 0;
    for (char *line = s; *line && n < cap;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        double x = json_num(line, key);
        if (!isnan(x)) v[n++] = x;
        line = nl ? nl + 1 : line + strlen(line);
    }
    free(s);
    return n;
}

static int same_file(const char *a, const char *b) {
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = na == nb && na > 0 && memcmp(x, y, na) == 0;
    free(x), free(y);
    return same;
}

int main(void) {
    if (access(bin(), X_OK) != 0) {
        fprintf(stderr, "seer binary %s not found: skipping\n", bin());
        return 77;
    }
    char tok[1024], model[1024], corpus[1024], empty[1024], a[1024], b[1024], ft[1024], bad[1024], lora[1024], full[1024];
    snprintf(tok, sizeof(tok), "%s", test_data("models/stories260K/tok512.bin"));
    snprintf(model, sizeof(model), "%s", test_data("models/stories260K/stories260K.bin"));
    if (access(tok, R_OK) != 0) return 77;
    /* a 200 kB slice of Shakespeare */
    snprintf(corpus, sizeof(corpus), "%s", test_tmp("train_corpus.txt"));
    size_t n;
    char *text = slurp(test_data("data/tinyshakespeare.txt"), &n);
    if (n < 200000) return 77;
    seer_err err;
    CHECK_OK(seer_write_file_atomic(corpus, text, 200000, &err), &err);
    free(text);
    snprintf(empty, sizeof(empty), "%s", test_tmp("train_empty.txt"));
    CHECK_OK(seer_write_file_atomic(empty, "", 0, &err), &err);
    snprintf(a, sizeof(a), "%s", test_tmp("train_a"));
    snprintf(b, sizeof(b), "%s", test_tmp("train_b"));
    char cmd[16384], common[4096];
    snprintf(common, sizeof(common),
             "--corpus %s -z %s --dim 32 --layers 2 --heads 2 --seq 32 --batch 4 --accum 2 --steps 24 --lr 3e-3 "
             "--warmup 2 --eval-every 8 --ckpt-every 5 -t 2 --seed 3",
             corpus, tok);

    /* uninterrupted, then stopped at 11 and resumed */
    snprintf(cmd, sizeof(cmd), "train %s --out %s", common, a);
    CHECK_MSG(run(cmd) == 0, "seer %s failed", cmd);
    snprintf(cmd, sizeof(cmd), "train %s --out %s --stop-at 11", common, b);
    CHECK_MSG(run(cmd) == 0, "seer %s failed", cmd);
    snprintf(cmd, sizeof(cmd), "train %s --out %s --resume", common, b);
    CHECK_MSG(run(cmd) == 0, "seer %s failed", cmd);
    char la[1100], lb[1100], ma[1100], mb[1100];
    snprintf(la, sizeof(la), "%s/log.jsonl", a);
    snprintf(lb, sizeof(lb), "%s/log.jsonl", b);
    snprintf(ma, sizeof(ma), "%s/model.gguf", a);
    snprintf(mb, sizeof(mb), "%s/model.gguf", b);
    CHECK_MSG(same_file(la, lb), "the resumed run's log differs from the uninterrupted one");
    CHECK_MSG(same_file(ma, mb), "the resumed run's model differs from the uninterrupted one");
    double loss[64], val[16];
    int nl = log_values(la, "loss", loss, 64), nv = log_values(la, "val_loss", val, 16);
    CHECK_MSG(nl == 24 && nv == 3, "log has %d losses and %d validation losses (want 24 and 3)", nl, nv);
    if (nl == 24 && nv == 3) {
        CHECK_MSG(loss[23] < loss[0] - 0.5, "training loss went from %g to %g", loss[0], loss[23]);
        CHECK_MSG(val[2] < val[0], "validation loss went from %g to %g", val[0], val[2]);
    }
    snprintf(cmd, sizeof(cmd), "generate -m %s -p \"To be\" -n 8 --temp 0", ma);
    CHECK_MSG(run(cmd) == 0, "the trained model does not generate");

    /* fine-tuning: records whose completions the model must learn */
    snprintf(ft, sizeof(ft), "%s", test_tmp("train_ft.jsonl"));
    const char *recs = "{\"prompt\": \"Once upon a time, there was a little dog named\", \"completion\": \" Spot. Spot liked to run.\"}\n"
                       "{\"prompt\": \"Lily had a red ball. She\", \"completion\": \" gave the ball to her friend Tom.\"}\n"
                       "\n"
                       "{\"prompt\": \"The sun was hot. Ben\", \"completion\": \" went to the lake to swim.\"}\n";
    CHECK_OK(seer_write_file_atomic(ft, recs, strlen(recs), &err), &err);
    snprintf(lora, sizeof(lora), "%s", test_tmp("train_lora"));
    snprintf(cmd, sizeof(cmd), "finetune -m %s -z %s --data %s --val %s --out %s --lora-rank 4 --steps 40 --batch 3 --eos "
             "--eval-every 10 -t 2", model, tok, ft, ft, lora);
    CHECK_MSG(run(cmd) == 0, "seer %s failed", cmd);
    snprintf(la, sizeof(la), "%s/log.jsonl", lora);
    nv = log_values(la, "val_loss", val, 16);
    CHECK_MSG(nv == 4 && val[3] < 0.6 * val[0], "LoRA validation loss: %d values, %g -> %g", nv, nv ? val[0] : 0.0,
              nv ? val[nv - 1] : 0.0);
    snprintf(ma, sizeof(ma), "%s/adapter.safetensors", lora);
    CHECK_MSG(access(ma, R_OK) == 0, "no adapter file");
    snprintf(ma, sizeof(ma), "%s/model.gguf", lora);
    snprintf(cmd, sizeof(cmd), "generate -m %s -p \"Lily had a red ball. She\" -n 20 --temp 0", ma);
    CHECK_MSG(run(cmd) == 0, "the fine-tuned model does not generate");
    snprintf(full, sizeof(full), "%s", test_tmp("train_full"));
    snprintf(cmd, sizeof(cmd), "finetune -m %s -z %s --data %s --val %s --out %s --steps 20 --batch 3 --lr 1e-3 --eval-every 10 -t 2",
             model, tok, ft, ft, full);
    CHECK_MSG(run(cmd) == 0, "seer %s failed", cmd);
    snprintf(la, sizeof(la), "%s/log.jsonl", full);
    nv = log_values(la, "val_loss", val, 16);
    CHECK_MSG(nv == 2 && val[1] < val[0], "full fine-tuning validation loss: %d values", nv);

    /* bad input */
    snprintf(cmd, sizeof(cmd), "train --corpus %s -z %s --out %s", empty, tok, test_tmp("train_bad"));
    expect_error(cmd, "is empty");
    snprintf(bad, sizeof(bad), "%s", test_tmp("train_bad.jsonl"));
    const char *badrecs = "{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": \"c\"}\n";
    CHECK_OK(seer_write_file_atomic(bad, badrecs, strlen(badrecs), &err), &err);
    snprintf(cmd, sizeof(cmd), "finetune -m %s -z %s --data %s --out %s", model, tok, bad, test_tmp("train_bad"));
    expect_error(cmd, "line 2: field \"completion\" is missing");
    snprintf(cmd, sizeof(cmd), "train %s --out %s --resume --dim 64", common, b);
    expect_error(cmd, "made for a model of shape");
    snprintf(cmd, sizeof(cmd), "train %s --out %s --resume", common, test_tmp("train_nothing"));
    expect_error(cmd, "no checkpoint");
    snprintf(cmd, sizeof(cmd), "train %s --out %s --resume --seed 4", common, b);
    expect_error(cmd, "written with --seed 3");
    snprintf(cmd, sizeof(cmd), "train --corpus %s -z %s", corpus, tok);
    expect_error(cmd, "are required");
    snprintf(cmd, sizeof(cmd), "train %s --out %s --schedule linear", common, a);
    expect_error(cmd, "expected cosine or constant");
    snprintf(cmd, sizeof(cmd), "finetune -m %s --data %s --out %s --lora-targets q,x", model, ft, a);
    expect_error(cmd, "--lora-targets");
    snprintf(cmd, sizeof(cmd), "train %s --out %s --frobnicate", common, a);
    expect_error(cmd, "--frobnicate");
    snprintf(cmd, sizeof(cmd), "train --corpus %s -z %s --out %s --dim 30 --heads 4", corpus, tok, test_tmp("train_bad"));
    expect_error(cmd, "not a multiple");
    return test_done("test_train_cli");
}
