/* Sampling: greedy is argmax; frequencies follow softmax(logits / T); top-k and top-p keep
 * exactly the tokens they should; the same seed gives the same draws; bad settings are refused. */
#include "seer/model.h"
#include "test.h"

int main(void) {
    seer_err err;
    enum { V = 8, N = 200000 };
    float logits[V] = {1.0f, 2.0f, 0.5f, 3.0f, -1.0f, 2.5f, 0.0f, 1.5f};
    seer_sampler *s;
    seer_sampler_params p = {.temp = 0, .top_k = 0, .top_p = 1, .seed = 1};
    CHECK_OK(seer_sampler_init(&p, V, &s, &err), &err);
    CHECK(seer_sampler_sample(s, logits) == 3);
    seer_sampler_free(s);

    /* temperature 0.7, no truncation: frequencies match softmax within 4 sigma */
    p.temp = 0.7f;
    CHECK_OK(seer_sampler_init(&p, V, &s, &err), &err);
    int count[V] = {0};
    for (int i = 0; i < N; i++) count[seer_sampler_sample(s, logits)]++;
    double z = 0, pr[V];
    for (int i = 0; i < V; i++) z += exp(logits[i] / 0.7);
    for (int i = 0; i < V; i++) {
        pr[i] = exp(logits[i] / 0.7) / z;
        double sd = sqrt(N * pr[i] * (1 - pr[i]));
        CHECK_MSG(fabs(count[i] - N * pr[i]) < 4 * sd + 1, "token %d: %d draws, expected %.0f", i, count[i], N * pr[i]);
    }
    seer_sampler_free(s);

    /* top-k 3: only tokens 3, 5, 1, in proportion */
    p.temp = 1;
    p.top_k = 3;
    CHECK_OK(seer_sampler_init(&p, V, &s, &err), &err);
    memset(count, 0, sizeof(count));
    for (int i = 0; i < N; i++) count[seer_sampler_sample(s, logits)]++;
    CHECK(count[0] == 0 && count[2] == 0 && count[4] == 0 && count[6] == 0 && count[7] == 0);
    CHECK(count[3] > count[5] && count[5] > count[1] && count[1] > 0);
    seer_sampler_free(s);

    /* top-p 0.5: the smallest prefix of sorted probs reaching 0.5 (tokens 3 then 5) */
    p.top_k = 0;
    p.top_p = 0.5f;
    CHECK_OK(seer_sampler_init(&p, V, &s, &err), &err);
    memset(count, 0, sizeof(count));
    for (int i = 0; i < N; i++) count[seer_sampler_sample(s, logits)]++;
    z = 0;
    for (int i = 0; i < V; i++) z += exp(logits[i]);
    double p3 = exp(3.0) / z; /* 0.43 < 0.5, so token 5 is needed too */
    CHECK(p3 < 0.5);
    CHECK(count[3] > 0 && count[5] > 0 && count[3] + count[5] == N);
    seer_sampler_free(s);

    /* same seed, same draws; another seed, other draws */
    int32_t a[64], b[64], c[64];
    p.top_p = 0.95f;
    p.top_k = 5;
    for (int run = 0; run < 3; run++) {
        p.seed = run == 2 ? 99 : 5;
        CHECK_OK(seer_sampler_init(&p, V, &s, &err), &err);
        for (int i = 0; i < 64; i++) (run == 0 ? a : run == 1 ? b : c)[i] = seer_sampler_sample(s, logits);
        seer_sampler_free(s);
    }
    CHECK(memcmp(a, b, sizeof(a)) == 0);
    CHECK(memcmp(a, c, sizeof(a)) != 0);

    /* a large vocabulary with top-k only (heap path) agrees with sorting */
    enum { BV = 32000 };
    float *big = malloc(BV * sizeof(float));
    seer_rng r;
    seer_rng_seed(&r, 3);
    for (int i = 0; i < BV; i++) big[i] = 3 * seer_rng_normal(&r);
    p.top_k = 1;
    p.top_p = 1;
    p.temp = 1;
    CHECK_OK(seer_sampler_init(&p, BV, &s, &err), &err);
    int best = 0;
    for (int i = 1; i < BV; i++) best = big[i] > big[best] ? i : best;
    CHECK(seer_sampler_sample(s, big) == best);
    seer_sampler_free(s);
    free(big);

    p.temp = -1;
    CHECK_FAILS(seer_sampler_init(&p, V, &s, &err), &err, "temperature");
    p.temp = 1;
    p.top_p = 0;
    CHECK_FAILS(seer_sampler_init(&p, V, &s, &err), &err, "top-p");
    return test_done("test_sample");
}
