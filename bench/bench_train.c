/* Training throughput: forward + backward (no optimizer update) of a random Llama of the
 * stories15M or stories110M shape on a fixed batch, timed over several steps after a warm-up;
 * prints one JSON object with tokens/s and the process's peak resident memory.
 *
 *   bench_train [15m|110m] [--batch B] [--seq T] [--threads N] [--steps K] [--vocab V]
 *
 * bench/torch_train.py runs the same model and batch in PyTorch for comparison. */
#include "seer/grad.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static long peak_rss_kib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

int main(int argc, char **argv) {
    const char *shape = "15m";
    int B = 4, T = 256, threads = 2, steps = 5, vocab = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "15m") || !strcmp(a, "110m")) shape = a;
        else if (!strcmp(a, "--batch") && v) B = atoi(v), i++;
        else if (!strcmp(a, "--seq") && v) T = atoi(v), i++;
        else if (!strcmp(a, "--threads") && v) threads = atoi(v), i++;
        else if (!strcmp(a, "--steps") && v) steps = atoi(v), i++;
        else if (!strcmp(a, "--vocab") && v) vocab = atoi(v), i++;
        else {
            fprintf(stderr, "usage: bench_train [15m|110m] [--batch B] [--seq T] [--threads N] [--steps K] [--vocab V]\n");
            return 2;
        }
    }
    seer_model_config c = {.arch = SEER_ARCH_LLAMA, .n_ctx = T, .norm_eps = 1e-5f, .rope_theta = 10000.0f,
                           .tied_embeddings = 1};
    if (!strcmp(shape, "15m")) {
        c.d_model = 288, c.n_layers = 6, c.n_heads = 6, c.n_kv_heads = 6, c.d_mlp = 768, c.n_vocab = 512;
    } else {
        c.d_model = 768, c.n_layers = 12, c.n_heads = 12, c.n_kv_heads = 12, c.d_mlp = 2048, c.n_vocab = 32000;
    }
    if (vocab > 0) c.n_vocab = vocab;
    c.d_head = c.d_model / c.n_heads;
    seer_malloc_tune();
    seer_err err;
    seer_tmodel *tm = NULL;
    seer_tctx *tc = NULL;
    if (seer_tmodel_random(&c, 1, &tm, &err) || seer_tctx_init(tm, B, T, threads, &tc, &err)) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        seer_tmodel_free(tm);
        return 1;
    }
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)B * (size_t)T);
    seer_rng r;
    seer_rng_seed(&r, 7);
    for (int64_t i = 0; i < (int64_t)B * T; i++) tok[i] = (int32_t)(seer_rng_u64(&r) % (uint64_t)c.n_vocab);
    seer_tbatch b = {.B = B, .T = T, .tokens = tok};
    float loss = 0;
    int rc = 0;
    double best = 1e30, total = 0;
    for (int s = 0; s <= steps && !rc; s++) {
        double t0 = seer_time_sec();
        seer_tmodel_zero_grads(tm);
        if (seer_tctx_step(tc, &b, &loss, &err)) {
            fprintf(stderr, "bench_train: %s\n", err.msg);
            rc = 1;
        }
        double dt = seer_time_sec() - t0;
        if (s == 0) continue; /* warm-up: first touch of activations */
        total += dt;
        if (dt < best) best = dt;
    }
    size_t np;
    seer_tmodel_params(tm, &np);
    if (!rc) {
        double mean = total / steps;
        printf("{\"engine\": \"seer\", \"shape\": \"%s\", \"params\": %zu, \"vocab\": %d, \"batch\": %d, \"seq\": %d, "
               "\"threads\": %d, \"steps\": %d, \"step_ms_mean\": %.1f, \"step_ms_best\": %.1f, "
               "\"tokens_per_s\": %.0f, \"peak_rss_mib\": %.1f, \"activation_mib\": %.1f, \"loss\": %.4f}\n",
               shape, np, c.n_vocab, B, T, threads, steps, mean * 1e3, best * 1e3, (double)B * T / mean,
               (double)peak_rss_kib() / 1024.0, (double)seer_tctx_bytes(tc) / (1 << 20), (double)loss);
    }
    free(tok);
    seer_tctx_free(tc);
    seer_tmodel_free(tm);
    return rc;
}
