/* seer generate: prompt -> text. Steps count every position including the prompt's (as
 * llama2.c's run does), the prompt is prefilled as one batch, and text streams to stdout as
 * whole UTF-8 characters; speed goes to stderr. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void help(void) {
    printf("usage: seer generate -m MODEL [-z TOKENIZER] [-p PROMPT | -f FILE] [-n STEPS] [--temp T]\n"
           "                     [--top-p P] [--top-k K] [--seed S] [-t THREADS] [--ignore-eos] [--no-bos]\n"
           "  -n STEPS     positions to run, counting the prompt's tokens (default 256, capped at the context)\n"
           "  --temp T     0 = greedy (default 1.0)     --top-p P  nucleus (default 0.9)\n"
           "  --top-k K    keep the K likeliest (0 = off, default)     --seed S  (default 42)\n"
           "  --ignore-eos keep going past BOS/EOS\n");
}

/* Text goes out as it is made; a failed write (a full disk, a closed pipe) ends the run. */
static int emit(const char *buf, size_t n, seer_err *err) {
    if (fwrite(buf, 1, n, stdout) == n && fflush(stdout) == 0) return 0;
    seer_err_set(err, SEER_ERR_IO, "cannot write the generated text to stdout: %s", strerror(errno));
    return -1;
}

int cmd_generate(int argc, char **argv) {
    const char *cmd = "generate", *model_path = NULL, *tok_path = NULL, *prompt = "", *prompt_file = NULL;
    long long steps = 0, top_k = 0, seed = 42, threads = 0; /* steps 0: not given */
    double temp = 1.0, top_p = 0.9;
    int ignore_eos = 0, add_bos = 1;
    const cli_opt opts[] = {CLI_OPT_STR("-m", &model_path), CLI_OPT_STR("-z", &tok_path), CLI_OPT_STR("-p", &prompt),
                            CLI_OPT_STR("-f", &prompt_file), CLI_OPT_INT("-n", &steps, 1, 1 << 22),
                            CLI_OPT_NUM("--temp", &temp, 0, SEER_SAMPLER_MAX_TEMP), CLI_OPT_NUM("--top-p", &top_p, 1e-9, 1),
                            CLI_OPT_INT("--top-k", &top_k, 0, 1LL << 30), CLI_OPT_INT("--seed", &seed, 0, INT64_MAX),
                            CLI_OPT_THREADS(&threads), CLI_OPT_SWITCH("--ignore-eos", &ignore_eos, 1),
                            CLI_OPT_SWITCH("--no-bos", &add_bos, 0), {0}};
    int prc = cli_parse(cmd, argc, argv, opts, help, NULL);
    if (prc >= 0) return prc;
    if (!model_path) {
        fprintf(stderr, "seer generate: -m MODEL is required\n");
        return 2;
    }
    seer_err err = {0};
    seer_model *m = NULL;
    seer_ctx *ctx = NULL;
    seer_sampler *smp = NULL;
    int32_t *ids = NULL;
    char *file_text = NULL;
    float *logits = NULL;
    int32_t *pos = NULL;
    int rc = 1;
    size_t n_ids = 0, plen = strlen(prompt);
    if (prompt_file) {
        if (seer_read_file(prompt_file, &file_text, &plen, &err)) goto fail;
        prompt = file_text;
    }
    if (seer_model_load(model_path, tok_path, &m, &err)) goto fail;
    const seer_tok *tok = seer_model_tok(m);
    if (!tok) {
        seer_err_set(&err, SEER_ERR_INVALID, "model %s has no tokenizer: pass one with -z", model_path);
        goto fail;
    }
    const seer_model_config *cfg = seer_model_get_config(m);
    if (seer_tok_encode(tok, prompt, plen, add_bos, &ids, &n_ids, &err)) goto fail;
    if (n_ids == 0) {
        seer_err_set(&err, SEER_ERR_INVALID, "empty prompt and no BOS: nothing to condition on");
        goto fail;
    }
    if (!steps) steps = 256 < cfg->n_ctx ? 256 : cfg->n_ctx; /* default: 256, within the context */
    if (steps > cfg->n_ctx && cfg->arch == SEER_ARCH_GPT2) {
        seer_err_set(&err, SEER_ERR_RANGE, "-n %lld exceeds the model's %d learned positions", steps, cfg->n_ctx);
        goto fail;
    }
    if (steps > cfg->n_ctx)
        fprintf(stderr, "seer: warning: %lld steps exceed the model's trained context of %d\n", steps, cfg->n_ctx);
    if ((long long)n_ids > steps) {
        seer_err_set(&err, SEER_ERR_RANGE, "prompt has %zu tokens, more than the %lld steps (context %d)", n_ids, steps,
                     cfg->n_ctx);
        goto fail;
    }
    seer_ctx_params cp = seer_ctx_default_params();
    cp.n_ctx = (int32_t)steps;
    cp.n_batch = (int32_t)n_ids;
    cp.n_threads = (int)threads;
    if (seer_ctx_init(m, &cp, &ctx, &err)) goto fail;
    seer_sampler_params sp = {.temp = (float)temp, .top_k = (int32_t)top_k, .top_p = (float)top_p, .seed = (uint64_t)seed};
    if (seer_sampler_init(&sp, cfg->n_vocab, &smp, &err)) goto fail;
    logits = malloc((size_t)cfg->n_vocab * sizeof(float));
    pos = malloc(n_ids * sizeof(int32_t));
    if (!logits || !pos) {
        seer_err_set(&err, SEER_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n_ids; i++) pos[i] = (int32_t)i;

    seer_tok_stream ts;
    seer_tok_stream_init(&ts, tok);
    char buf[512];
    for (size_t i = 0; i < n_ids; i++) {
        size_t k = seer_tok_stream_push(&ts, ids[i], buf, sizeof(buf));
        if (emit(buf, k, &err)) goto fail;
    }

    double t0 = seer_time_sec();
    seer_batch b = {.n = (int32_t)n_ids, .tokens = ids, .pos = pos};
    if (seer_ctx_decode(ctx, &b, logits, &err)) goto fail;
    double t1 = seer_time_sec();
    int32_t p = (int32_t)n_ids, n_gen = 0;
    int32_t bos = seer_tok_bos(tok), eos = seer_tok_eos(tok);
    /* As llama2.c: positions 0..steps-1 are run, so the token sampled after the last one is
     * still printed (steps - prompt + 1 new tokens at most). */
    for (;;) {
        int32_t next = seer_sampler_sample(smp, logits);
        if (!ignore_eos && (next == bos || next == eos)) break;
        size_t k = seer_tok_stream_push(&ts, next, buf, sizeof(buf));
        if (emit(buf, k, &err)) goto fail;
        n_gen++;
        if (p >= steps) break;
        seer_batch one = {.n = 1, .tokens = &next, .pos = &p};
        if (seer_ctx_decode(ctx, &one, logits, &err)) goto fail;
        p++;
    }
    size_t k = seer_tok_stream_flush(&ts, buf, sizeof(buf));
    if (emit(buf, k, &err) || emit("\n", 1, &err)) goto fail;
    double t2 = seer_time_sec();
    fprintf(stderr, "seer: prefill %zu tokens %.1f tok/s, generated %d tokens %.1f tok/s (%d threads)\n", n_ids,
            (double)n_ids / (t1 - t0 + 1e-12), n_gen, n_gen > 1 ? (double)(n_gen - 1) / (t2 - t1 + 1e-12) : 0.0,
            seer_pool_size(seer_ctx_pool(ctx)));
    rc = 0;
    goto out;
fail:
    cli_error(cmd, &err);
out:
    free(pos);
    free(logits);
    free(ids);
    free(file_text);
    seer_sampler_free(smp);
    seer_ctx_free(ctx);
    seer_model_free(m);
    return rc;
}
