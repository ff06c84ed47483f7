/* seer bench: prefill of p tokens as one batch and decode of n tokens one at a time (never
 * stopping at EOS), median over repetitions, like llama-bench's pp/tg tests. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static void help(void) {
    printf("usage: seer bench -m MODEL [-p 256] [-n 128] [-t THREADS] [-r REPS] [-ub SLICE] [--json]\n"
           "  -ub SLICE  prefill in slices of SLICE tokens (default: chosen from the model's size)\n");
}

/* VmRSS or VmHWM of this process in bytes (0 when /proc is unavailable). */
static size_t proc_status_kb(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    size_t kb = 0, n = strlen(key);
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, key, n) && line[n] == ':') {
            kb = (size_t)strtoull(line + n + 1, NULL, 10);
            break;
        }
    (void)fclose(f); /* opened for reading: nothing to lose */
    return kb * 1024;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cmd_bench(int argc, char **argv) {
    const char *cmd = "bench", *model_path = NULL;
    long long np = 256, ng = 128, threads = 0, reps = 5, ub = 0;
    int json = 0;
    const cli_opt opts[] = {CLI_OPT_STR("-m", &model_path), CLI_OPT_INT("-p", &np, 0, 1 << 20),
                            CLI_OPT_INT("-n", &ng, 0, 1 << 20), CLI_OPT_THREADS(&threads),
                            CLI_OPT_INT("-r", &reps, 1, 1000), CLI_OPT_INT("-ub", &ub, 1, 1 << 20),
                            CLI_OPT_SWITCH("--json", &json, 1), {0}};
    int prc = cli_parse(cmd, argc, argv, opts, help, NULL);
    if (prc >= 0) return prc;
    if (!model_path) {
        fprintf(stderr, "seer bench: -m MODEL is required\n");
        return 2;
    }
    seer_err err = {0};
    seer_model *m = NULL;
    seer_ctx *ctx = NULL;
    int32_t *toks = NULL, *pos = NULL;
    float *logits = NULL;
    double *tp = NULL, *tg = NULL;
    int rc = 1;
    /* the process before the model: libraries, the C runtime; the memory target concerns what
     * the model adds to it */
    size_t rss_start = proc_status_kb("VmRSS");
    if (seer_model_load(model_path, NULL, &m, &err)) goto fail;
    const seer_model_config *cfg = seer_model_get_config(m);
    long long need = np > ng ? np : ng;
    seer_ctx_params cp = seer_ctx_default_params();
    cp.n_ctx = (int32_t)(need > 0 ? need : 1);
    cp.n_batch = (int32_t)(np > 0 ? np : 1);
    cp.n_threads = (int)threads;
    cp.n_ubatch = (int32_t)ub;
    if (seer_ctx_init(m, &cp, &ctx, &err)) goto fail;
    toks = malloc((size_t)cp.n_ctx * sizeof(int32_t));
    pos = malloc((size_t)cp.n_ctx * sizeof(int32_t));
    logits = malloc((size_t)cfg->n_vocab * sizeof(float));
    tp = calloc((size_t)reps + 1, sizeof(double));
    tg = calloc((size_t)reps + 1, sizeof(double));
    if (!toks || !pos || !logits || !tp || !tg) {
        seer_err_set(&err, SEER_ERR_NOMEM, "out of memory");
        goto fail;
    }
    seer_rng r;
    seer_rng_seed(&r, 1234);
    for (int32_t i = 0; i < cp.n_ctx; i++) {
        toks[i] = (int32_t)(seer_rng_u64(&r) % (uint64_t)cfg->n_vocab);
        pos[i] = i;
    }
    /* repetition 0 warms caches and the pool and is not counted */
    for (long long rep = 0; rep <= reps; rep++) {
        if (np > 0) {
            seer_ctx_clear_seq(ctx, 0);
            seer_batch b = {.n = (int32_t)np, .tokens = toks, .pos = pos};
            double t0 = seer_time_sec();
            if (seer_ctx_decode(ctx, &b, logits, &err)) goto fail;
            tp[rep] = (double)np / (seer_time_sec() - t0);
        }
        if (ng > 0) {
            seer_ctx_clear_seq(ctx, 0);
            double t0 = seer_time_sec();
            for (int32_t i = 0; i < ng; i++) {
                seer_batch b = {.n = 1, .tokens = &toks[i], .pos = &pos[i]};
                if (seer_ctx_decode(ctx, &b, logits, &err)) goto fail;
            }
            tg[rep] = (double)ng / (seer_time_sec() - t0);
        }
    }
    qsort(tp + 1, (size_t)reps, sizeof(double), cmp_double);
    qsort(tg + 1, (size_t)reps, sizeof(double), cmp_double);
    double pp_med = tp[1 + reps / 2], tg_med = tg[1 + reps / 2];
    int nth = seer_pool_size(seer_ctx_pool(ctx));
    if (json) {
        printf("{\"model\": ");
        cli_json_str(stdout, model_path, strlen(model_path));
        printf(", \"prefill_tokens\": %lld, \"decode_tokens\": %lld, \"prefill_tok_s\": %.2f, \"decode_tok_s\": %.2f, "
               "\"threads\": %d, \"ubatch\": %d, \"reps\": %lld, \"simd\": \"%s\", \"n_params\": %lld, \"weight_bytes\": %zu, "
               "\"kv_bytes\": %zu, \"rss_start_bytes\": %zu, \"rss_peak_bytes\": %zu}\n",
               np, ng, pp_med, tg_med, nth, seer_ctx_n_ubatch(ctx), reps, seer_simd_name(seer_simd_level()), (long long)seer_model_n_params(m),
               seer_model_weight_bytes(m), seer_ctx_kv_bytes(ctx), rss_start, proc_status_kb("VmHWM"));
    } else {
        printf("model %s: %.2f M params, %zu weight bytes, %d threads, %s\n", model_path,
               (double)seer_model_n_params(m) / 1e6, seer_model_weight_bytes(m), nth, seer_simd_name(seer_simd_level()));
        if (np > 0) printf("  pp%-5lld %10.2f tok/s (median of %lld)\n", np, pp_med, reps);
        if (ng > 0) printf("  tg%-5lld %10.2f tok/s (median of %lld)\n", ng, tg_med, reps);
    }
    rc = 0;
    goto out;
fail:
    cli_error(cmd, &err);
out:
    free(toks);
    free(pos);
    free(logits);
    free(tp);
    free(tg);
    seer_ctx_free(ctx);
    seer_model_free(m);
    return rc;
}
