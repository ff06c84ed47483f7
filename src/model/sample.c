/* Sampling: greedy, temperature, top-k, top-p (nucleus), all from a seeded PRNG so the same
 * seed gives the same text. Buffers are allocated once per sampler, not per token. */
#include "seer/model.h"

#include <math.h>
#include <stdlib.h>

struct seer_sampler {
    seer_sampler_params p;
    int32_t n_vocab;
    seer_rng rng;
    float *probs;
    int32_t *idx;
};

seer_status seer_sampler_init(const seer_sampler_params *p, int32_t n_vocab, seer_sampler **out, seer_err *err) {
    *out = NULL;
    if (!(p->temp >= 0) || p->temp > SEER_SAMPLER_MAX_TEMP)
        return seer_err_set(err, SEER_ERR_INVALID, "sampler: temperature %g must be in [0, %g]", (double)p->temp,
                            SEER_SAMPLER_MAX_TEMP);
    if (!(p->top_p > 0 && p->top_p <= 1)) return seer_err_set(err, SEER_ERR_INVALID, "sampler: top-p %g must be in (0, 1]", (double)p->top_p);
    if (p->top_k < 0) return seer_err_set(err, SEER_ERR_INVALID, "sampler: top-k %d must be >= 0", p->top_k);
    if (n_vocab <= 0) return seer_err_set(err, SEER_ERR_INVALID, "sampler: vocabulary size %d", n_vocab);
    seer_sampler *s = calloc(1, sizeof(*s));
    if (!s) return seer_err_set(err, SEER_ERR_NOMEM, "sampler: out of memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    s->probs = malloc((size_t)n_vocab * sizeof(float));
    s->idx = malloc((size_t)n_vocab * sizeof(int32_t));
    if (!s->probs || !s->idx) {
        seer_sampler_free(s);
        return seer_err_set(err, SEER_ERR_NOMEM, "sampler: out of memory");
    }
    seer_rng_seed(&s->rng, p->seed);
    *out = s;
    return SEER_OK;
}

void seer_sampler_free(seer_sampler *s) {
    if (!s) return;
    free(s->probs);
    free(s->idx);
    free(s);
}

static int32_t argmax(const float *x, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Orders ids by probability descending (ties by id, so results never depend on qsort). */
static int cmp_desc(const void *a, const void *b, void *ctx) {
    const float *probs = ctx;
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    if (probs[i] != probs[j]) return probs[i] > probs[j] ? -1 : 1;
    return i < j ? -1 : (i > j);
}

/* Min-heap (worst candidate on top) over idx[0..n), in cmp_desc order. */
static void sift_down(int32_t *h, int32_t n, int32_t i, const float *probs) {
    for (;;) {
        int32_t w = i, l = 2 * i + 1, r = l + 1;
        if (l < n && cmp_desc(&h[l], &h[w], (void *)probs) > 0) w = l;
        if (r < n && cmp_desc(&h[r], &h[w], (void *)probs) > 0) w = r;
        if (w == i) return;
        int32_t t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

int32_t seer_sampler_sample(seer_sampler *s, const float *logits) {
    int32_t n = s->n_vocab;
    if (s->p.temp == 0.0f) return argmax(logits, n);
    float mx = logits[argmax(logits, n)];
    double sum = 0;
    for (int32_t i = 0; i < n; i++) {
        s->probs[i] = expf((logits[i] - mx) / s->p.temp);
        sum += s->probs[i];
    }
    for (int32_t i = 0; i < n; i++) s->probs[i] = (float)(s->probs[i] / sum);
    int32_t keep = n;
    int truncate = (s->p.top_k > 0 && s->p.top_k < n) || s->p.top_p < 1.0f;
    if (truncate) {
        /* Candidates: with top-p, a token below (1 - p) / (n - 1) can never be in the nucleus
         * (as llama2.c argues), which usually leaves a few dozen to sort instead of n. */
        float cutoff = s->p.top_p < 1.0f ? (1.0f - s->p.top_p) / (float)(n - 1) : 0.0f;
        int32_t nc = 0;
        for (int32_t i = 0; i < n; i++)
            if (s->probs[i] >= cutoff) s->idx[nc++] = i;
        if (nc == 0) return argmax(logits, n);
        if (s->p.top_k > 0 && s->p.top_k < nc) {
            /* keep the k best in a min-heap at the front of idx: O(n log k) */
            int32_t k = s->p.top_k;
            for (int32_t i = k / 2 - 1; i >= 0; i--) sift_down(s->idx, k, i, s->probs);
            for (int32_t i = k; i < nc; i++) {
                if (cmp_desc(&s->idx[i], &s->idx[0], s->probs) < 0) {
                    s->idx[0] = s->idx[i];
                    sift_down(s->idx, k, 0, s->probs);
                }
            }
            nc = k;
        }
        qsort_r(s->idx, (size_t)nc, sizeof(int32_t), cmp_desc, s->probs);
        keep = nc;
        if (s->p.top_p < 1.0f) {
            double cum = 0;
            for (int32_t i = 0; i < keep; i++) {
                cum += s->probs[s->idx[i]];
                if (cum >= s->p.top_p) {
                    keep = i + 1;
                    break;
                }
            }
        }
    }
    double total = 0;
    for (int32_t i = 0; i < keep; i++) total += s->probs[truncate ? s->idx[i] : i];
    double r = (double)seer_rng_uniform(&s->rng) * total, cum = 0;
    for (int32_t i = 0; i < keep; i++) {
        int32_t id = truncate ? s->idx[i] : i;
        cum += s->probs[id];
        if (r < cum) return id;
    }
    return truncate ? s->idx[keep - 1] : keep - 1;
}
