/* Activation patching: the corrupted prompt run once per patch, with one activation taken from
 * the clean run. Runs are batched: each patch is its own sequence of one forward (many copies
 * of the corrupted prompt side by side), and a tap swaps in the clean rows its sequence asks
 * for; patches whose clean rows equal the corrupted ones are not run at all. A sweep lays the
 * patches out as layer x position (or layer x head) grids and normalises the metric as
 * (patched - corrupt) / (clean - corrupt). */
#include "analysis_internal.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const metric_names[] = {[SEER_PATCH_LOGIT_DIFF] = "logit_diff", [SEER_PATCH_PROB] = "prob"};
static_assert(SEER_PATCH_METRIC_COUNT == sizeof(metric_names) / sizeof(metric_names[0]), "metric_names covers seer_patch_metric");

const char *seer_patch_metric_name(seer_patch_metric k) {
    return (unsigned)k < SEER_PATCH_METRIC_COUNT ? metric_names[k] : "unknown";
}

int seer_patch_metric_from_name(const char *name, seer_patch_metric *out) {
    for (int i = 0; i < SEER_PATCH_METRIC_COUNT; i++)
        if (!strcmp(name, metric_names[i])) {
            *out = (seer_patch_metric)i;
            return 0;
        }
    return -1;
}

static double metric(const seer_patch_params *p, const float *logits, int32_t V) {
    if (p->metric == SEER_PATCH_LOGIT_DIFF) return (double)logits[p->tok_a] - (double)logits[p->tok_b];
    float mx = logits[0];
    for (int32_t v = 1; v < V; v++) mx = logits[v] > mx ? logits[v] : mx;
    double z = 0;
    for (int32_t v = 0; v < V; v++) z += exp((double)logits[v] - mx);
    return exp((double)logits[p->tok_a] - mx) / z;
}

/* Heads of a per-head point (1 when the point is not per head). */
static int32_t point_heads(const seer_model_config *c, seer_hook_point p) {
    switch (p) {
    case SEER_HP_Q:
    case SEER_HP_ROT_Q:
    case SEER_HP_Z: return c->n_heads;
    case SEER_HP_K:
    case SEER_HP_V:
    case SEER_HP_ROT_K: return c->n_kv_heads;
    default: return 1;
    }
}

static seer_status check_cell(const seer_model *m, const seer_patch_cell *c, int32_t i, int32_t T, seer_err *err) {
    const seer_model_config *cfg = seer_model_get_config(m);
    if ((unsigned)c->point >= SEER_HP_COUNT || !seer_hook_point_exists(cfg->arch, c->point))
        return seer_err_set(err, SEER_ERR_INVALID, "patch %d: %s models have no hook point %d", i, seer_arch_name(cfg->arch),
                            (int)c->point);
    const char *name = seer_hook_point_name(c->point);
    if (c->point == SEER_HP_ATTN_SCORES || c->point == SEER_HP_PATTERN || c->point == SEER_HP_LOGITS)
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "patch %d: %s cannot be patched (per-position points only)", i, name);
    int global = seer_hook_point_is_global(c->point);
    if (global ? c->layer != -1 : (c->layer < 0 || c->layer >= cfg->n_layers))
        return seer_err_set(err, SEER_ERR_RANGE, "patch %d: layer %d out of range for %s (model has %d layers)", i, c->layer,
                            name, cfg->n_layers);
    if (c->pos < -1 || c->pos >= T)
        return seer_err_set(err, SEER_ERR_RANGE, "patch %d: position %d outside the %d-token prompts (-1: all)", i, c->pos, T);
    int32_t H = point_heads(cfg, c->point);
    if (c->head < -1 || c->head >= H || (H == 1 && c->head != -1))
        return seer_err_set(err, SEER_ERR_RANGE, "patch %d: head %d out of range for %s (%d heads; -1: all)", i, c->head,
                            name, H == 1 ? 0 : H);
    return SEER_OK;
}

typedef struct patch_state {
    const an_capture *clean;
    const seer_patch_cell *cells; /* cells[s]: the patch sequence s of this forward carries */
} patch_state;

static void patch_tap(void *ud, const seer_tap_event *ev) {
    const patch_state *s = ud;
    int64_t w;
    const float *src = an_capture_get(s->clean, ev->point, ev->layer, &w);
    if (!src) return;
    SEER_ASSERT(w == ev->width);
    for (int64_t r = 0; r < ev->n_rows; r++) {
        int64_t ti = ev->row_token ? ev->row_token[r] : r;
        int32_t sq = ev->batch->seq[ti], pos = ev->batch->pos[ti];
        const seer_patch_cell *c = &s->cells[sq];
        if (c->point != ev->point || c->layer != ev->layer || (c->pos >= 0 && c->pos != pos)) continue;
        float *dst = ev->data + r * ev->row_stride;
        const float *from = src + (int64_t)pos * w;
        if (c->head < 0) memcpy(dst, from, (size_t)w * sizeof(float));
        else memcpy(dst + (int64_t)c->head * ev->head_width, from + (int64_t)c->head * ev->head_width,
                    (size_t)ev->head_width * sizeof(float));
    }
}

/* Whether the patch would copy in exactly what the corrupted run already has there: then the
 * patched run is the corrupted run, bit for bit, and need not be computed. In a causal model
 * that holds wherever both prompts agree up to the position (and at layer 0's residual wherever
 * the tokens agree), so it spares a sweep every cell before the first differing token. */
static int patch_is_noop(const an_capture *clean, const an_capture *corrupt, const seer_model_config *cfg,
                         const seer_patch_cell *c, int32_t T) {
    int64_t w, wx;
    const float *a = an_capture_get(clean, c->point, c->layer, &w), *b = an_capture_get(corrupt, c->point, c->layer, &wx);
    if (!a || !b || w != wx) return 0;
    int64_t hw = c->head < 0 ? w : w / point_heads(cfg, c->point), off = c->head < 0 ? 0 : (int64_t)c->head * hw;
    for (int32_t t = c->pos < 0 ? 0 : c->pos; t < (c->pos < 0 ? T : c->pos + 1); t++)
        if (memcmp(a + t * w + off, b + t * w + off, (size_t)hw * sizeof(float)) != 0) return 0;
    return 1;
}

/* Copies of the corrupted prompt per forward: as many as ~64 MiB of activations and cache allow. */
static int32_t auto_seqs(const seer_model_config *c, int32_t T) {
    int64_t kvd = (int64_t)c->n_kv_heads * c->d_head;
    int64_t per_token = 7 * (int64_t)c->d_model + 2 * kvd + 2 * (int64_t)c->d_mlp + 2 * kvd * c->n_layers;
    int64_t n = ((int64_t)16 << 20) / (per_token * T + 1);
    if (n * T > (1 << 16)) n = (1 << 16) / T;
    return n < 1 ? 1 : (int32_t)n;
}

seer_status seer_patch_run(const seer_model *m, const int32_t *clean, int32_t n_clean, const int32_t *corrupt,
                           int32_t n_corrupt, const seer_patch_params *p, const seer_patch_cell *cells, int32_t n_cells,
                           double *values, double *clean_metric, double *corrupt_metric, seer_err *err) {
    const seer_model_config *cfg = seer_model_get_config(m);
    int32_t V = cfg->n_vocab, T = n_clean;
    if (n_clean != n_corrupt)
        return seer_err_set(err, SEER_ERR_INVALID,
                            "patch: the clean prompt has %d tokens and the corrupted one %d: patching needs equal lengths",
                            n_clean, n_corrupt);
    if (T <= 0) return seer_err_set(err, SEER_ERR_INVALID, "patch: empty prompts");
    if ((unsigned)p->metric >= SEER_PATCH_METRIC_COUNT)
        return seer_err_set(err, SEER_ERR_INVALID, "patch: unknown metric %d", (int)p->metric);
    if (p->tok_a < 0 || p->tok_a >= V || (p->metric == SEER_PATCH_LOGIT_DIFF && (p->tok_b < 0 || p->tok_b >= V)))
        return seer_err_set(err, SEER_ERR_RANGE, "patch: tokens %d and %d must be in the vocabulary [0, %d)", p->tok_a,
                            p->tok_b, V);
    seer_status st;
    for (int32_t i = 0; i < n_cells; i++)
        if ((st = check_cell(m, &cells[i], i, T, err))) return st;

    an_capture cap, capx;
    if ((st = an_capture_init(&cap, m, T, err))) return st;
    if ((st = an_capture_init(&capx, m, T, err))) {
        an_capture_free(&cap);
        return st;
    }
    int32_t chunk = p->max_seqs > 0 ? p->max_seqs : auto_seqs(cfg, T);
    if (chunk > n_cells) chunk = n_cells > 0 ? n_cells : 1;
    seer_ctx *ctx = NULL;
    float *logits = malloc((size_t)chunk * (size_t)V * sizeof(float));
    int32_t *tok = malloc((size_t)chunk * (size_t)T * sizeof(int32_t)), *pos = malloc((size_t)chunk * (size_t)T * sizeof(int32_t));
    int32_t *seq = malloc((size_t)chunk * (size_t)T * sizeof(int32_t));
    uint8_t *want = calloc((size_t)chunk * (size_t)T, 1);
    int32_t *todo = malloc((size_t)(n_cells > 0 ? n_cells : 1) * sizeof(int32_t)); /* cells that need a run */
    seer_patch_cell *bcells = malloc((size_t)chunk * sizeof(*bcells));           /* this forward's, by sequence */
    if (!logits || !tok || !pos || !seq || !want || !todo || !bcells) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "patch: out of memory for %d copies of %d tokens", chunk, T);
        goto out;
    }
    for (int32_t i = 0; i < n_cells; i++) {
        an_capture_want(&cap, cells[i].point, cells[i].layer);
        an_capture_want(&capx, cells[i].point, cells[i].layer);
    }
    const int32_t *one[1] = {clean};
    want[T - 1] = 1;
    /* baselines: both runs also keep every activation a patch will need or be compared with */
    if ((st = an_forward(m, p->n_threads, 1, one, &T, cap.want, an_capture_tap, &cap, want, logits, err)) || (st = cap.st))
        goto out;
    *clean_metric = metric(p, logits, V);
    one[0] = corrupt;
    if ((st = an_forward(m, p->n_threads, 1, one, &T, capx.want, an_capture_tap, &capx, want, logits, err)) ||
        (st = capx.st))
        goto out;
    *corrupt_metric = metric(p, logits, V);
    int32_t n_todo = 0;
    for (int32_t i = 0; i < n_cells; i++) {
        if (patch_is_noop(&cap, &capx, cfg, &cells[i], T)) values[i] = *corrupt_metric;
        else todo[n_todo++] = i;
    }
    if (n_todo == 0) goto out;
    if (chunk > n_todo) chunk = n_todo;

    seer_ctx_params cp = seer_ctx_default_params();
    cp.n_ctx = T;
    cp.n_seq = chunk;
    cp.n_batch = chunk * T;
    cp.n_threads = p->n_threads;
    if ((st = seer_ctx_init(m, &cp, &ctx, err))) goto out;
    patch_state ps = {.clean = &cap, .cells = bcells};
    seer_ctx_set_tap(ctx, patch_tap, &ps);
    for (int l = -1; l < cfg->n_layers; l++)
        for (int hp = 0; hp < SEER_HP_COUNT; hp++)
            if (cap.want[(int64_t)(l + 1) * SEER_HP_COUNT + hp] &&
                (st = seer_ctx_tap_enable(ctx, (seer_hook_point)hp, l, 1, err)))
                goto out;
    for (int32_t c0 = 0; c0 < n_todo; c0 += chunk) {
        int32_t ns = n_todo - c0 < chunk ? n_todo - c0 : chunk;
        for (int32_t s = 0; s < ns; s++) {
            bcells[s] = cells[todo[c0 + s]];
            for (int32_t t = 0; t < T; t++) {
                int64_t k = (int64_t)s * T + t;
                tok[k] = corrupt[t];
                pos[k] = t;
                seq[k] = s;
                want[k] = t == T - 1;
            }
        }
        seer_batch b = {.n = ns * T, .tokens = tok, .pos = pos, .seq = seq, .want_logits = want};
        if ((st = seer_ctx_decode(ctx, &b, logits, err))) goto out;
        for (int32_t s = 0; s < ns; s++) values[todo[c0 + s]] = metric(p, logits + (int64_t)s * V, V);
    }
out:
    seer_ctx_free(ctx);
    an_capture_free(&cap);
    an_capture_free(&capx);
    free(logits), free(tok), free(pos), free(seq), free(want), free(todo), free(bcells);
    return st;
}

void seer_patch_result_free(seer_patch_result *r) {
    if (!r) return;
    for (int32_t i = 0; r->grids && i < r->n_grids; i++) {
        free(r->grids[i].raw);
        free(r->grids[i].normalised);
    }
    free(r->grids);
    free(r->clean_tokens);
    free(r->corrupt_tokens);
    free(r);
}

seer_status seer_patch_sweep(const seer_model *m, const int32_t *clean, int32_t n_clean, const int32_t *corrupt,
                             int32_t n_corrupt, const seer_patch_params *p, const seer_hook_point *points,
                             int32_t n_points, seer_patch_result **out, seer_err *err) {
    *out = NULL;
    const seer_model_config *cfg = seer_model_get_config(m);
    int32_t L = cfg->n_layers, T = n_clean;
    double t0 = seer_time_sec();
    if (n_points <= 0) return seer_err_set(err, SEER_ERR_INVALID, "patch: no hook points to sweep");
    for (int32_t i = 0; i < n_points; i++) {
        if ((unsigned)points[i] >= SEER_HP_COUNT || seer_hook_point_is_global(points[i]))
            return seer_err_set(err, SEER_ERR_INVALID, "patch: sweeps run over block hook points (blocks.L.*), not %s",
                                seer_hook_point_name(points[i]));
        for (int32_t j = 0; j < i; j++)
            if (points[j] == points[i])
                return seer_err_set(err, SEER_ERR_INVALID, "patch: %s listed twice", seer_hook_point_name(points[i]));
    }
    seer_patch_result *r = calloc(1, sizeof(*r));
    seer_patch_cell *cells = NULL;
    double *values = NULL;
    seer_status st = SEER_OK;
    if (!r || !(r->grids = calloc((size_t)n_points, sizeof(*r->grids)))) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "patch: out of memory");
        goto out;
    }
    int64_t n_cells = 0;
    for (int32_t i = 0; i < n_points; i++) {
        seer_patch_grid *g = &r->grids[i];
        int32_t H = point_heads(cfg, points[i]);
        g->point = points[i];
        g->per_head = H > 1;
        g->n_rows = L;
        g->n_cols = g->per_head ? H : T;
        n_cells += (int64_t)g->n_rows * g->n_cols;
        g->raw = calloc((size_t)g->n_rows * (size_t)g->n_cols, sizeof(double));
        g->normalised = calloc((size_t)g->n_rows * (size_t)g->n_cols, sizeof(double));
        r->n_grids = i + 1;
        if (!g->raw || !g->normalised) {
            st = seer_err_set(err, SEER_ERR_NOMEM, "patch: out of memory");
            goto out;
        }
    }
    if (n_cells > (1 << 24)) {
        st = seer_err_set(err, SEER_ERR_RANGE, "patch: %lld patched runs is too many", (long long)n_cells);
        goto out;
    }
    cells = malloc((size_t)n_cells * sizeof(*cells));
    values = malloc((size_t)n_cells * sizeof(*values));
    r->clean_tokens = malloc((size_t)(T > 0 ? T : 1) * sizeof(int32_t));
    r->corrupt_tokens = malloc((size_t)(T > 0 ? T : 1) * sizeof(int32_t));
    if (!cells || !values || !r->clean_tokens || !r->corrupt_tokens) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "patch: out of memory for %lld patched runs", (long long)n_cells);
        goto out;
    }
    int64_t k = 0;
    for (int32_t i = 0; i < n_points; i++) {
        const seer_patch_grid *g = &r->grids[i];
        for (int32_t l = 0; l < g->n_rows; l++)
            for (int32_t c = 0; c < g->n_cols; c++, k++) {
                cells[k].point = g->point;
                cells[k].layer = l;
                cells[k].pos = g->per_head ? -1 : c;
                cells[k].head = g->per_head ? c : -1;
            }
    }
    SEER_ASSERT(k == n_cells); /* every cell filled: the grids are what n_cells was summed from */
    if ((st = seer_patch_run(m, clean, n_clean, corrupt, n_corrupt, p, cells, (int32_t)n_cells, values, &r->clean,
                             &r->corrupt, err)))
        goto out;
    double denom = r->clean - r->corrupt;
    if (!(fabs(denom) > 1e-6)) {
        st = seer_err_set(err, SEER_ERR_INVALID,
                          "patch: the clean and corrupted prompts give the same %s (%.6g vs %.6g), so (patched - corrupt) / "
                          "(clean - corrupt) is undefined: use prompts whose answers differ",
                          seer_patch_metric_name(p->metric), r->clean, r->corrupt);
        goto out;
    }
    k = 0;
    for (int32_t i = 0; i < n_points; i++) {
        seer_patch_grid *g = &r->grids[i];
        for (int64_t j = 0; j < (int64_t)g->n_rows * g->n_cols; j++, k++) {
            g->raw[j] = values[k];
            g->normalised[j] = (values[k] - r->corrupt) / denom;
        }
    }
    memcpy(r->clean_tokens, clean, (size_t)T * sizeof(int32_t));
    memcpy(r->corrupt_tokens, corrupt, (size_t)T * sizeof(int32_t));
    r->n_tokens = T;
    r->metric = p->metric;
    r->tok_a = p->tok_a;
    r->tok_b = p->tok_b;
    r->n_runs = n_cells;
    r->seconds = seer_time_sec() - t0;
out:
    free(cells);
    free(values);
    if (st) {
        seer_patch_result_free(r);
        return st;
    }
    *out = r;
    return SEER_OK;
}
