/* Logit lens: every layer's residual stream at one position (each block's hook_resid_pre, and
 * the last block's hook_resid_post) through the model's own final norm and unembedding, with
 * the top tokens and a target's rank at each depth. */
#include "analysis_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

seer_lens_params seer_lens_default_params(void) {
    seer_lens_params p = {.pos = -1, .top_k = 5, .target = -1, .n_threads = 0};
    return p;
}

void seer_lens_result_free(seer_lens_result *r) {
    if (!r) return;
    for (int32_t i = 0; r->rows && i < r->n_rows; i++) {
        free(r->rows[i].top_ids);
        free(r->rows[i].top_probs);
        free(r->rows[i].logits);
    }
    free(r->rows);
    free(r);
}

/* Top k of probs by partial selection (k is small next to the vocabulary). */
static void top_k(const float *probs, int32_t V, int32_t k, int32_t *ids, float *out) {
    int32_t n = 0;
    for (int32_t v = 0; v < V; v++) {
        if (n == k && probs[v] <= out[k - 1]) continue;
        int32_t at = n < k ? n++ : k - 1;
        while (at > 0 && out[at - 1] < probs[v]) {
            out[at] = out[at - 1];
            ids[at] = ids[at - 1];
            at--;
        }
        out[at] = probs[v];
        ids[at] = v;
    }
}

static seer_status fill_row(seer_lens_row *row, const float *logits, int32_t V, int32_t k, int32_t target,
                            float *probs, seer_err *err) {
    row->top_ids = malloc((size_t)k * sizeof(int32_t));
    row->top_probs = malloc((size_t)k * sizeof(float));
    row->logits = malloc((size_t)V * sizeof(float));
    if (!row->top_ids || !row->top_probs || !row->logits) return seer_err_set(err, SEER_ERR_NOMEM, "lens: out of memory");
    memcpy(row->logits, logits, (size_t)V * sizeof(float));
    float mx = logits[0];
    for (int32_t v = 1; v < V; v++) mx = logits[v] > mx ? logits[v] : mx;
    double z = 0;
    for (int32_t v = 0; v < V; v++) z += exp((double)logits[v] - mx);
    for (int32_t v = 0; v < V; v++) probs[v] = (float)(exp((double)logits[v] - mx) / z);
    top_k(probs, V, k, row->top_ids, row->top_probs);
    if (target >= 0) {
        int32_t above = 0;
        for (int32_t v = 0; v < V; v++) above += logits[v] > logits[target];
        row->target_rank = above + 1;
        row->target_prob = probs[target];
        row->target_logit = logits[target];
    }
    return SEER_OK;
}

seer_status seer_lens_run(const seer_model *m, const int32_t *tokens, int32_t n_tokens, const seer_lens_params *p,
                          seer_lens_result **out, seer_err *err) {
    *out = NULL;
    const seer_model_config *cfg = seer_model_get_config(m);
    int32_t L = cfg->n_layers, V = cfg->n_vocab, pos;
    int64_t d = cfg->d_model;
    seer_status st = seer_analysis_resolve_pos(p->pos, n_tokens, &pos, err);
    if (st) return st;
    if (p->top_k < 1 || p->top_k > V)
        return seer_err_set(err, SEER_ERR_RANGE, "lens: top-k %d outside [1, %d]", p->top_k, V);
    if (p->target >= V || p->target < -1)
        return seer_err_set(err, SEER_ERR_RANGE, "lens: target %d outside the vocabulary [0, %d)", p->target, V);
    an_unembed u;
    if ((st = an_unembed_init(&u, m, err))) return st;

    an_capture cap;
    seer_lens_result *r = NULL;
    seer_pool *pool = NULL;
    float *normed = NULL, *logits = NULL, *probs = NULL;
    if ((st = an_capture_init(&cap, m, n_tokens, err))) return st;
    for (int l = 0; l < L; l++) an_capture_want(&cap, SEER_HP_RESID_PRE, l);
    an_capture_want(&cap, SEER_HP_RESID_POST, L - 1);
    const int32_t *seqs[1] = {tokens};
    if ((st = an_forward(m, p->n_threads, 1, seqs, &n_tokens, cap.want, an_capture_tap, &cap, NULL, NULL, err)) ||
        (st = cap.st))
        goto out;

    int32_t n_rows = L + 1;
    r = calloc(1, sizeof(*r));
    normed = malloc((size_t)n_rows * (size_t)d * sizeof(float));
    logits = malloc((size_t)n_rows * (size_t)V * sizeof(float));
    probs = malloc((size_t)V * sizeof(float));
    if (!r || !normed || !logits || !probs || !(r->rows = calloc((size_t)n_rows, sizeof(*r->rows)))) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "lens: out of memory");
        goto out;
    }
    r->n_rows = n_rows;
    r->top_k = p->top_k;
    r->n_vocab = V;
    r->pos = pos;
    r->token = tokens[pos];
    r->target = p->target;
    for (int32_t i = 0; i < n_rows; i++) {
        int post = i == L;
        seer_hook_point hp = post ? SEER_HP_RESID_POST : SEER_HP_RESID_PRE;
        r->rows[i].layer = post ? L - 1 : i;
        seer_hook_format(hp, r->rows[i].layer, r->rows[i].hook, sizeof(r->rows[i].hook));
        const float *x = an_capture_get(&cap, hp, r->rows[i].layer, NULL);
        SEER_ASSERT(x != NULL);
        an_final_norm(&u, normed + i * d, x + pos * d);
    }
    if ((st = seer_pool_init(p->n_threads, &pool, err))) goto out;
    if ((st = an_unembed_rows(&u, pool, normed, n_rows, logits, err))) goto out;
    for (int32_t i = 0; i < n_rows && !st; i++)
        st = fill_row(&r->rows[i], logits + (int64_t)i * V, V, p->top_k, p->target, probs, err);
out:
    seer_pool_free(pool);
    an_capture_free(&cap);
    free(normed), free(logits), free(probs);
    if (st) {
        seer_lens_result_free(r);
        return st;
    }
    *out = r;
    return SEER_OK;
}
