/* Attribution patching: clean and corrupted prompts as one batch of two through the gradient
 * engine, the metric differentiated on the corrupted one, and grad · (clean − corrupt) summed
 * over each position's (and head's) activation. */
#include "seer/attrib.h"
#include "seer/hooks.h"

#include <stdlib.h>
#include <string.h>

void seer_attrib_result_free(seer_attrib_result *r) {
    if (!r) return;
    for (int32_t g = 0; g < r->n_grids; g++) free(r->grids[g].scores);
    free(r->grids);
    memset(r, 0, sizeof(*r));
}

/* Heads of a hook's rows: the per-head points have [B, T, heads, d_head]. */
static int32_t hook_heads(const seer_model *m, const char *name, seer_err *err, int *ok) {
    seer_hook_point p;
    int layer;
    *ok = seer_hook_parse(m, name, &p, &layer, err) == SEER_OK;
    if (!*ok) return 0;
    if (p == SEER_HP_ATTN_SCORES || p == SEER_HP_PATTERN) {
        seer_err_set(err, SEER_ERR_INVALID, "attrib: %s: attention scores and patterns are not patched per position", name);
        *ok = 0;
        return 0;
    }
    int64_t shape[4];
    int nd = seer_hook_shape(m, p, 1, 1, shape);
    return nd == 4 ? (int32_t)shape[2] : 1;
}

seer_status seer_attrib_run(const seer_model *m, const int32_t *clean, const int32_t *corrupt, int32_t T,
                            const seer_metric *metric, int32_t t_metric, const char *const *hooks, int n_hooks,
                            int n_threads, seer_attrib_result *out, seer_err *err) {
    memset(out, 0, sizeof(*out));
    if (T < 1) return seer_err_set(err, SEER_ERR_INVALID, "attrib: empty prompts");
    if (t_metric < 0 || t_metric >= T) return seer_err_set(err, SEER_ERR_RANGE, "attrib: metric position %d outside [0, %d)", t_metric, T);
    if (n_hooks < 1) return seer_err_set(err, SEER_ERR_INVALID, "attrib: no hook points to attribute");
    seer_tmodel *tm = NULL;
    seer_tctx *tc = NULL;
    seer_hook_grad *hg = calloc((size_t)n_hooks, sizeof(*hg));
    int32_t *tokens = malloc(2 * (size_t)T * sizeof(int32_t));
    out->grids = calloc((size_t)n_hooks, sizeof(*out->grids));
    seer_status st = SEER_OK;
    if (!hg || !tokens || !out->grids) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "attrib: out of memory");
        goto done;
    }
    out->n_pos = T;
    memcpy(tokens, clean, (size_t)T * sizeof(int32_t));
    memcpy(tokens + T, corrupt, (size_t)T * sizeof(int32_t));
    if ((st = seer_tmodel_from_model(m, &tm, err)) || (st = seer_tctx_init(tm, 2, T, n_threads, &tc, err))) goto done;
    for (int h = 0; h < n_hooks; h++) {
        int ok;
        int32_t heads = hook_heads(m, hooks[h], err, &ok);
        if (!ok) {
            st = SEER_ERR_INVALID;
            goto done;
        }
        size_t n = seer_tctx_hook_size(tc, hooks[h], 2, T, err);
        if (!n) {
            st = SEER_ERR_INVALID;
            goto done;
        }
        seer_attrib_grid *G = &out->grids[out->n_grids++];
        snprintf(G->hook, sizeof(G->hook), "%s", hooks[h]);
        G->n_heads = heads;
        G->scores = calloc((size_t)T * (size_t)heads, sizeof(float));
        hg[h] = (seer_hook_grad){.name = hooks[h], .value = malloc(n * sizeof(float)), .grad = malloc(n * sizeof(float))};
        if (!G->scores || !hg[h].value || !hg[h].grad) {
            st = seer_err_set(err, SEER_ERR_NOMEM, "attrib: out of memory");
            goto done;
        }
    }
    /* the metric on the corrupted prompt (batch row 1); the clean one's value from a second call */
    seer_tbatch b = {.B = 2, .T = T, .tokens = tokens};
    seer_metric mt = *metric;
    mt.b = 1;
    mt.t = t_metric;
    float mv = 0;
    if ((st = seer_tctx_hook_grads(tc, &b, &mt, hg, n_hooks, &mv, err))) goto done;
    out->metric_corrupt = mv;
    mt.b = 0;
    if ((st = seer_tctx_hook_grads(tc, &b, &mt, NULL, 0, &mv, err))) goto done;
    out->metric_clean = mv;
    for (int h = 0; h < n_hooks; h++) {
        seer_attrib_grid *G = &out->grids[h];
        size_t n = seer_tctx_hook_size(tc, hooks[h], 2, T, err);
        int64_t w = (int64_t)(n / 2 / (size_t)T), hw = w / G->n_heads; /* floats per row, per head */
        const float *vc = hg[h].value, *vx = hg[h].value + (int64_t)T * w, *gx = hg[h].grad + (int64_t)T * w;
        for (int32_t p = 0; p < T; p++)
            for (int32_t k = 0; k < G->n_heads; k++) {
                double s = 0;
                for (int64_t j = k * hw; j < (k + 1) * hw; j++) s += (double)gx[p * w + j] * (vc[p * w + j] - vx[p * w + j]);
                G->scores[(int64_t)p * G->n_heads + k] = (float)s;
            }
    }
done:
    for (int h = 0; hg && h < n_hooks; h++) free(hg[h].value), free(hg[h].grad);
    free(hg), free(tokens);
    seer_tctx_free(tc);
    seer_tmodel_free(tm);
    if (st) seer_attrib_result_free(out);
    return st;
}
