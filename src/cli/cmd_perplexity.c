/* seer perplexity: mean negative log-likelihood of a text under the model. The text is encoded
 * as generate does (BOS first) and every token after BOS is predicted. Texts longer than the
 * context are scored in windows of n_ctx tokens that overlap by half: each window restarts the
 * cache and scores only the tokens the previous window did not, so every token is predicted
 * once, with at least n_ctx/2 tokens of context after the first window. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void help(void) {
    printf("usage: seer perplexity -m MODEL [-z TOKENIZER] -f TEXT [-c CTX] [-t THREADS] [--json]\n");
}

int cmd_perplexity(int argc, char **argv) {
    const char *cmd = "perplexity", *model_path = NULL, *tok_path = NULL, *file = NULL;
    long long threads = 0, nctx_arg = 0;
    int json = 0;
    const cli_opt opts[] = {CLI_OPT_STR("-m", &model_path), CLI_OPT_STR("-z", &tok_path), CLI_OPT_STR("-f", &file),
                            CLI_OPT_THREADS(&threads), CLI_OPT_INT("-c", &nctx_arg, 2, 1 << 22),
                            CLI_OPT_SWITCH("--json", &json, 1), {0}};
    int prc = cli_parse(cmd, argc, argv, opts, help, NULL);
    if (prc >= 0) return prc;
    if (!model_path || !file) {
        fprintf(stderr, "seer perplexity: needs -m MODEL and -f TEXT\n");
        return 2;
    }
    seer_err err = {0};
    seer_model *m = NULL;
    seer_ctx *ctx = NULL;
    char *text = NULL;
    size_t len = 0, n = 0;
    int32_t *ids = NULL, *pos = NULL;
    float *logits = NULL;
    uint8_t *want = NULL;
    int rc = 1;
    if (seer_read_file(file, &text, &len, &err)) goto fail;
    if (seer_model_load(model_path, tok_path, &m, &err)) goto fail;
    if (!seer_model_tok(m)) {
        seer_err_set(&err, SEER_ERR_INVALID, "model %s has no tokenizer: pass one with -z", model_path);
        goto fail;
    }
    if (seer_tok_encode(seer_model_tok(m), text, len, 1, &ids, &n, &err)) goto fail;
    if (n < 2) {
        seer_err_set(&err, SEER_ERR_INVALID, "%s: text too short to score (%zu tokens)", file, n);
        goto fail;
    }
    const seer_model_config *cfg = seer_model_get_config(m);
    int32_t W = cfg->n_ctx;
    if (nctx_arg > 0 && nctx_arg < W) W = (int32_t)nctx_arg;
    if ((size_t)W > n) W = (int32_t)n;
    int32_t B = W < 512 ? W : 512;
    seer_ctx_params cp = seer_ctx_default_params();
    cp.n_ctx = W;
    cp.n_batch = B;
    cp.n_threads = (int)threads;
    if (seer_ctx_init(m, &cp, &ctx, &err)) goto fail;
    logits = malloc((size_t)B * (size_t)cfg->n_vocab * sizeof(float));
    pos = malloc((size_t)W * sizeof(int32_t));
    want = malloc((size_t)B);
    if (!logits || !pos || !want) {
        seer_err_set(&err, SEER_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int32_t i = 0; i < W; i++) pos[i] = i;
    memset(want, 1, (size_t)B);
    double nll = 0;
    size_t scored = 0, done = 1; /* tokens [0, done) have been predicted (BOS needs none) */
    size_t start = 0;
    while (done < n) {
        size_t end = start + (size_t)W < n ? start + (size_t)W : n;
        seer_ctx_clear_seq(ctx, 0);
        for (size_t b0 = start; b0 < end; b0 += (size_t)B) {
            int32_t nb = (int32_t)(end - b0 < (size_t)B ? end - b0 : (size_t)B);
            seer_batch b = {.n = nb, .tokens = ids + b0, .pos = pos + (b0 - start), .want_logits = want};
            if (seer_ctx_decode(ctx, &b, logits, &err)) goto fail;
            for (int32_t i = 0; i < nb; i++) {
                size_t target = b0 + (size_t)i + 1; /* logits of token i predict token i+1 */
                if (target < done || target >= end) continue;
                const float *l = logits + (size_t)i * (size_t)cfg->n_vocab;
                float mx = l[0];
                for (int32_t k = 1; k < cfg->n_vocab; k++) mx = l[k] > mx ? l[k] : mx;
                double s = 0;
                for (int32_t k = 0; k < cfg->n_vocab; k++) s += exp((double)(l[k] - mx));
                /* cppcheck-suppress invalidFunctionArg ; s >= 1: the largest logit adds exp(0) */
                nll += log(s) + (double)mx - (double)l[ids[target]];
                scored++;
            }
        }
        done = end;
        if (end >= n) break;
        start = end - (size_t)W / 2;
    }
    double mean = nll / (double)scored, bpb = nll / log(2.0) / (double)len;
    if (json) {
        printf("{\"tokens\": %zu, \"nll_mean\": %.6f, \"perplexity\": %.4f, \"bits_per_byte\": %.6f, \"bytes\": %zu, \"window\": %d}\n",
               scored, mean, exp(mean), bpb, len, W);
    } else {
        printf("%s: %zu tokens predicted, mean NLL %.4f nats, perplexity %.3f, %.4f bits per byte (window %d)\n", file,
               scored, mean, exp(mean), bpb, W);
    }
    rc = 0;
    goto out;
fail:
    cli_error(cmd, &err);
out:
    free(text);
    free(ids);
    free(pos);
    free(logits);
    free(want);
    seer_ctx_free(ctx);
    seer_model_free(m);
    return rc;
}
