/* bench_sae: training tokens/s of a TopK SAE on synthetic activations (sparse non-negative
 * mixtures of random unit atoms, as bench/torch_sae.py makes them), and the process's peak RSS,
 * printed as one JSON line. bench/sae.sh runs it against the PyTorch peer and prints ratios. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "seer/sae.h"

static void usage(void) {
    fprintf(stderr, "usage: bench_sae [--d-in D] [--latents N] [--k K] [--batch B] [--steps S] [--warmup W]\n"
                    "                 [--rows R] [--threads T] [--seed S]\n");
}

int main(int argc, char **argv) {
    long long d = 64, n = 1024, k = 16, batch = 4096, steps = 20, warmup = 2, rows = 65536, threads = 2, seed = 1;
    for (int i = 1; i < argc; i++) {
        long long *dst = NULL;
        if (!strcmp(argv[i], "--d-in")) dst = &d;
        else if (!strcmp(argv[i], "--latents")) dst = &n;
        else if (!strcmp(argv[i], "--k")) dst = &k;
        else if (!strcmp(argv[i], "--batch")) dst = &batch;
        else if (!strcmp(argv[i], "--steps")) dst = &steps;
        else if (!strcmp(argv[i], "--warmup")) dst = &warmup;
        else if (!strcmp(argv[i], "--rows")) dst = &rows;
        else if (!strcmp(argv[i], "--threads")) dst = &threads;
        else if (!strcmp(argv[i], "--seed")) dst = &seed;
        char *end = NULL;
        if (!dst || i + 1 >= argc || (*dst = strtoll(argv[++i], &end, 10), *end) || *dst < 0) {
            usage();
            return 2;
        }
    }
    if (d < 1 || n < 1 || k < 1 || batch < 1 || steps < 1 || rows < 1) {
        usage();
        return 2;
    }
    seer_malloc_tune();
    /* The activations. */
    seer_rng r;
    seer_rng_seed(&r, (uint64_t)seed);
    float *atoms = malloc((size_t)(n * d) * sizeof(float)), *x = malloc((size_t)(rows * d) * sizeof(float));
    if (!atoms || !x) {
        fprintf(stderr, "bench_sae: out of memory for %lld x %lld activations\n", rows, d);
        return 1;
    }
    for (long long j = 0; j < n; j++) {
        double s = 0;
        for (long long i = 0; i < d; i++) atoms[j * d + i] = seer_rng_normal(&r), s += atoms[j * d + i] * atoms[j * d + i];
        seer_vec_scale_f32(atoms + j * d, (float)(1.0 / sqrt(s)), d);
    }
    for (long long b = 0; b < rows; b++) {
        float *row = x + b * d;
        for (long long i = 0; i < d; i++) row[i] = 1.0f + 0.05f * seer_rng_normal(&r);
        for (long long q = 0; q < k; q++)
            seer_vec_axpy_f32(row, 0.5f + seer_rng_uniform(&r), atoms + (long long)(seer_rng_u64(&r) % (uint64_t)n) * d, d);
    }
    free(atoms);

    seer_err err = {0};
    seer_sae_data *data = NULL;
    seer_sae_trainer *t = NULL;
    seer_sae_config c = {.arch = SEER_SAE_TOPK, .d_in = d, .d_sae = n, .d_out = d, .k = (int32_t)k, .apply_b_dec_to_input = 1};
    seer_sae_train_params p = seer_sae_train_default_params();
    p.batch = batch, p.tokens = (warmup + steps) * batch, p.seed = (uint64_t)seed, p.n_threads = (int)threads;
    p.dead_tokens = 10000000; /* as the peer: no latent goes dead within a benchmark */
    p.b_dec_init = SEER_SAE_BDEC_MEAN; /* as the peer */
    if (seer_sae_data_open_memory(x, rows, d, &data, &err) || seer_sae_trainer_init(&c, &p, data, &t, &err)) {
        fprintf(stderr, "bench_sae: %s\n", err.msg);
        return 1;
    }
    seer_sae_stats s = {0};
    double t0 = 0;
    for (long long i = 0; i < warmup + steps; i++) {
        if (i == warmup) t0 = seer_time_sec();
        if (seer_sae_trainer_step(t, &s, &err)) {
            fprintf(stderr, "bench_sae: step %lld: %s\n", i, err.msg);
            return 1;
        }
    }
    double el = seer_time_sec() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"impl\": \"seer\", \"d_in\": %lld, \"latents\": %lld, \"k\": %lld, \"batch\": %lld, \"steps\": %lld, "
           "\"threads\": %lld, \"seconds\": %.4f, \"tokens_per_s\": %.1f, \"peak_rss_mb\": %.1f, \"final_loss\": %.6f}\n",
           d, n, k, batch, steps, threads, el, (double)(steps * batch) / el, (double)ru.ru_maxrss / 1024.0, s.loss);
    seer_sae_trainer_free(t);
    seer_sae_data_free(data);
    free(x);
    return 0;
}
