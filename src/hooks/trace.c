/* Running an intervention graph: every prompt its own sequence in one batch, the graph's nodes
 * applied at their hooks (in graph order) through the engine's taps, saved values gathered into
 * [batch, pos, ...] tensors (padding positions stay zero), metrics from the logits, and optional
 * generation with the nodes applied at every step or at the steps they name. */
#include "intervene.h"
#include "seer/grad.h"
#include "seer/safetensors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct res_tensor {
    char *name;
    seer_tensor t;
    float *data;
} res_tensor;

struct seer_trace_result {
    res_tensor *t;
    int64_t n, cap;
    int32_t n_prompts;
    int32_t *len;
    char **text;
    char **gen_text;
    int32_t n_metrics;
    char **metric_names;
    double *metric_vals; /* [n_metrics][n_prompts] */
};

typedef struct trace_state {
    const seer_model *m;
    const seer_graph *g;
    seer_trace_result *res;
    seer_trace_result *hidden; /* saves not listed in outputs.save: kept for "from", not returned */
    uint8_t *is_output;        /* per node */
    int32_t step;
    int32_t tmax, tcap; /* longest prompt; positions the context holds */
    const int32_t *row_b, *row_pos;
    int32_t *cur_len;  /* per prompt: tokens so far, counting this visit's */
    int32_t *row_at;   /* [b * tcap + pos] -> row of this batch, or -1 */
    float **save_buf;  /* per node: this step's saved tensor */
    int64_t *offs;     /* scratch: selected element offsets */
    float *scratch;    /* scratch: one row */
    int64_t scratch_n;
    seer_status st;
    seer_err *err;
} trace_state;

static seer_status res_add(seer_trace_result *r, const char *name, int n_dims, const int64_t *shape, float **data, seer_err *err) {
    if (r->n == r->cap) {
        int64_t cap = r->cap ? r->cap * 2 : 16;
        res_tensor *nt = realloc(r->t, (size_t)cap * sizeof(*nt));
        if (!nt) return seer_err_set(err, SEER_ERR_NOMEM, "trace: out of memory");
        r->t = nt;
        r->cap = cap;
    }
    int64_t ne = 1;
    for (int i = 0; i < n_dims; i++) ne *= shape[i];
    res_tensor *t = &r->t[r->n];
    memset(t, 0, sizeof(*t));
    t->name = strdup(name);
    t->data = calloc((size_t)(ne > 0 ? ne : 1), sizeof(float));
    if (!t->name || !t->data) {
        free(t->name);
        free(t->data);
        return seer_err_set(err, SEER_ERR_NOMEM, "trace: cannot allocate %lld floats for '%s'", (long long)ne, name);
    }
    t->t.name = t->name;
    t->t.type = SEER_DTYPE_F32;
    t->t.n_dims = n_dims;
    memcpy(t->t.shape, shape, (size_t)n_dims * sizeof(int64_t));
    t->t.data = t->data;
    t->t.nbytes = (size_t)ne * sizeof(float);
    *data = t->data;
    r->n++;
    return SEER_OK;
}

static int is_scores(seer_hook_point p) { return p == SEER_HP_ATTN_SCORES || p == SEER_HP_PATTERN; }

/* Where row (b, pos) of a hook lives in a [batch, pos, ...] tensor of T positions (scores and
 * patterns: [batch, head, q, k], so head h of the row is a separate run). */
static float *saved_row(float *buf, const seer_tap_event *ev, int32_t b, int32_t qpos, int32_t T, int64_t h, int64_t Tk) {
    if (is_scores(ev->point)) return buf + (((int64_t)b * ev->n_heads + h) * T + qpos) * Tk;
    return buf + ((int64_t)b * T + qpos) * ev->width;
}

static void do_save(trace_state *s, int ni, const graph_node *n, const seer_tap_event *ev) {
    const seer_graph *g = s->g;
    int32_t T = s->step == 0 ? s->tmax : 1;
    int64_t Tk = is_scores(ev->point) ? (s->step == 0 ? s->tmax : ev->head_width) : 0;
    if (!s->save_buf[ni]) {
        int64_t shape[4];
        int nd = seer_hook_shape(s->m, n->point, g->n_prompts, T, shape);
        if (is_scores(ev->point)) shape[3] = Tk;
        char name[300];
        if (s->step == 0) snprintf(name, sizeof(name), "%s", n->id);
        else snprintf(name, sizeof(name), "%s@%d", n->id, s->step);
        seer_trace_result *dst = s->is_output[ni] ? s->res : s->hidden;
        if ((s->st = res_add(dst, name, nd, shape, &s->save_buf[ni], s->err))) return;
    }
    for (int64_t r = 0; r < ev->n_rows; r++) {
        int64_t ti = ev->row_token ? ev->row_token[r] : r;
        int32_t b = s->row_b[ti], qpos = s->step == 0 ? s->row_pos[ti] : 0;
        const float *src = ev->data + r * ev->row_stride;
        if (is_scores(ev->point)) {
            int64_t nk = ev->head_width < Tk ? ev->head_width : Tk;
            for (int64_t h = 0; h < ev->n_heads; h++)
                memcpy(saved_row(s->save_buf[ni], ev, b, qpos, T, h, Tk), src + h * ev->head_width, (size_t)nk * sizeof(float));
        } else {
            memcpy(saved_row(s->save_buf[ni], ev, b, qpos, T, 0, 0), src, (size_t)ev->width * sizeof(float));
        }
    }
}

/* The source row for set-from-node / patch / mean-ablate, laid out like the event's rows. */
static const float *source_row(trace_state *s, const graph_node *n, const seer_tap_event *ev, int64_t r, int32_t b,
                               int32_t pos) {
    if (n->op == OP_SET && n->from_node >= 0) {
        float *buf = s->save_buf[n->from_node];
        if (!buf) return NULL;
        int32_t qpos = s->step == 0 ? pos : 0, T = s->step == 0 ? s->tmax : 1;
        if (!is_scores(ev->point)) return saved_row(buf, ev, b, qpos, T, 0, 0);
        /* a query's scores are one run per head in the save ([batch, head, query, key], keys
         * as do_save sized them this step): gather them into the event's layout */
        int64_t Tk = s->step == 0 ? s->tmax : ev->head_width, nk = ev->head_width < Tk ? ev->head_width : Tk;
        for (int64_t h = 0; h < ev->n_heads; h++) {
            float *dst = s->scratch + h * ev->head_width;
            memcpy(dst, saved_row(buf, ev, b, qpos, T, h, Tk), (size_t)nk * sizeof(float));
            for (int64_t k = nk; k < ev->head_width; k++) dst[k] = ev->data[r * ev->row_stride + h * ev->head_width + k];
        }
        return s->scratch;
    }
    if (n->op == OP_PATCH && n->from_batch >= 0) {
        if (pos >= s->tcap) return NULL;
        int32_t rr = s->row_at[(int64_t)n->from_batch * s->tcap + pos];
        return rr < 0 ? NULL : ev->data + (int64_t)rr * ev->row_stride;
    }
    if (n->op == OP_PATCH) { /* a tensor shaped like the hook for the prompts */
        if (s->step != 0 || pos >= s->tmax) return NULL;
        const float *t = n->tensor->data;
        if (!is_scores(ev->point)) return t + ((int64_t)b * s->tmax + pos) * ev->width;
        for (int64_t h = 0; h < ev->n_heads; h++)
            for (int64_t k = 0; k < ev->head_width; k++)
                s->scratch[h * ev->head_width + k] = k < s->tmax ? t[(((int64_t)b * ev->n_heads + h) * s->tmax + pos) * s->tmax + k] : 0;
        return s->scratch;
    }
    if (n->op == OP_MEAN_ABLATE && !n->tensor && !n->inline_v) { /* mean over the selected prompts at this position */
        int64_t cnt = 0;
        memset(s->scratch, 0, (size_t)ev->width * sizeof(float));
        for (int32_t bb = 0; bb < s->g->n_prompts; bb++) {
            if (!iv_row_selected(n, bb, pos, s->cur_len[bb]) || pos >= s->tcap) continue;
            int32_t rr = s->row_at[(int64_t)bb * s->tcap + pos];
            if (rr < 0) continue;
            const float *src = ev->data + (int64_t)rr * ev->row_stride;
            for (int64_t j = 0; j < ev->width; j++) s->scratch[j] += src[j];
            cnt++;
        }
        for (int64_t j = 0; j < ev->width && cnt; j++) s->scratch[j] /= (float)cnt;
        return s->scratch;
    }
    return NULL;
}

/* sae: the selected rows, gathered, go through the dictionary in one batch: encode, save the
 * latents, edit them, decode; with keep_error the part the dictionary misses is added back, so
 * an empty edit leaves the activation as it was. */
static void do_sae(trace_state *s, int ni, const graph_node *n, const seer_tap_event *ev) {
    const graph_sae *d = n->sae;
    int64_t W = ev->width, L = d->n_latents, k = 0;
    int64_t *rows = malloc((size_t)ev->n_rows * sizeof(int64_t));
    float *x = NULL, *z = NULL, *y = NULL, *rec = NULL;
    if (!rows) goto oom;
    for (int64_t r = 0; r < ev->n_rows; r++) {
        int64_t ti = ev->row_token ? ev->row_token[r] : r;
        if (iv_row_selected(n, s->row_b[ti], s->row_pos[ti], s->cur_len[s->row_b[ti]])) rows[k++] = r;
    }
    if (!k) goto done;
    x = malloc((size_t)(k * W) * sizeof(float));
    y = malloc((size_t)(k * W) * sizeof(float));
    z = malloc((size_t)(k * L) * sizeof(float));
    if (n->keep_error) rec = malloc((size_t)(k * W) * sizeof(float));
    if (!x || !y || !z || (n->keep_error && !rec)) goto oom;
    for (int64_t i = 0; i < k; i++) memcpy(x + i * W, ev->data + rows[i] * ev->row_stride, (size_t)W * sizeof(float));
    if ((s->st = d->codec->encode(d->state, x, k, z, s->err))) goto done;
    if (n->save_latents) {
        int32_t T = s->step == 0 ? s->tmax : 1;
        if (!s->save_buf[ni]) {
            int64_t shape[3] = {s->g->n_prompts, T, L};
            char name[300];
            if (s->step == 0) snprintf(name, sizeof(name), "%s", n->id);
            else snprintf(name, sizeof(name), "%s@%d", n->id, s->step);
            if ((s->st = res_add(s->res, name, 3, shape, &s->save_buf[ni], s->err))) goto done;
        }
        for (int64_t i = 0; i < k; i++) {
            int64_t ti = ev->row_token ? ev->row_token[rows[i]] : rows[i];
            int32_t b = s->row_b[ti], qpos = s->step == 0 ? s->row_pos[ti] : 0;
            memcpy(s->save_buf[ni] + ((int64_t)b * T + qpos) * L, z + i * L, (size_t)L * sizeof(float));
        }
    }
    if (rec) d->codec->decode(d->state, z, k, rec);
    if (n->edit != SAE_EDIT_NONE) {
        int64_t nl = n->latents ? n->n_latents : L;
        for (int64_t i = 0; i < k; i++) {
            float *zi = z + i * L;
            for (int64_t j = 0; j < nl; j++) {
                float *v = &zi[n->latents ? n->latents[j] : j];
                switch (n->edit) {
                case SAE_EDIT_ZERO: *v = 0; break;
                case SAE_EDIT_SET: *v = n->edit_value; break;
                case SAE_EDIT_ADD: *v += n->edit_value; break;
                case SAE_EDIT_SCALE: *v *= n->edit_value; break;
                default: break;
                }
            }
        }
    }
    d->codec->decode(d->state, z, k, y);
    for (int64_t i = 0; i < k; i++) {
        float *row = ev->data + rows[i] * ev->row_stride;
        const float *yi = y + i * W;
        if (rec) {
            const float *xi = x + i * W, *ri = rec + i * W;
            /* x + (edited - unedited): exactly x when the edit changes nothing */
            for (int64_t j = 0; j < W; j++) row[j] = xi[j] + (yi[j] - ri[j]);
        } else {
            memcpy(row, yi, (size_t)W * sizeof(float));
        }
    }
    goto done;
oom:
    s->st = seer_err_set(s->err, SEER_ERR_NOMEM, "trace: node '%s': out of memory for %lld rows x %lld latents", n->id,
                         (long long)ev->n_rows, (long long)L);
done:
    free(rows), free(x), free(y), free(z), free(rec);
}

static int step_active(const graph_node *n, int32_t step) {
    if (!n->n_steps) return 1;
    for (int32_t i = 0; i < n->n_steps; i++)
        if (n->steps[i] == step) return 1;
    return 0;
}

static void on_tap(void *ud, const seer_tap_event *ev) {
    trace_state *s = ud;
    if (s->st) return;
    if (ev->width > s->scratch_n) {
        float *ns = realloc(s->scratch, (size_t)ev->width * 2 * sizeof(float));
        int64_t *no = realloc(s->offs, (size_t)ev->width * sizeof(int64_t));
        if (ns) s->scratch = ns;
        if (no) s->offs = no;
        if (!ns || !no) {
            s->st = seer_err_set(s->err, SEER_ERR_NOMEM, "trace: out of memory");
            return;
        }
        s->scratch_n = ev->width;
    }
    /* row lookup by (prompt, position) for patch and mean-ablate */
    for (int64_t r = 0; r < ev->n_rows; r++) {
        int64_t ti = ev->row_token ? ev->row_token[r] : r;
        s->row_at[(int64_t)s->row_b[ti] * s->tcap + s->row_pos[ti]] = (int32_t)r;
    }
    /* mean-ablation reads the rows as they were before this visit's edits: copy them first */
    float *before = NULL;
    for (int32_t ni = 0; ni < s->g->n_nodes; ni++) {
        const graph_node *n = &s->g->nodes[ni];
        if (n->point != ev->point || n->layer != ev->layer || n->op == OP_GRAD || !step_active(n, s->step)) continue;
        if (n->op == OP_SAVE || n->op == OP_SAE) {
            if (n->op == OP_SAVE) do_save(s, ni, n, ev);
            else do_sae(s, ni, n, ev);
            if (s->st) break;
            continue;
        }
        int64_t ne = iv_select_elems(n, ev, s->offs);
        seer_tap_event src_ev = *ev;
        if (n->op == OP_MEAN_ABLATE || (n->op == OP_PATCH && n->from_batch >= 0)) {
            if (!before) {
                before = malloc((size_t)(ev->n_rows * ev->width) * sizeof(float));
                if (!before) {
                    s->st = seer_err_set(s->err, SEER_ERR_NOMEM, "trace: out of memory");
                    break;
                }
            }
            for (int64_t r = 0; r < ev->n_rows; r++)
                memcpy(before + r * ev->width, ev->data + r * ev->row_stride, (size_t)ev->width * sizeof(float));
            src_ev.data = before;
            src_ev.row_stride = ev->width;
        }
        for (int64_t r = 0; r < ev->n_rows; r++) {
            int64_t ti = ev->row_token ? ev->row_token[r] : r;
            int32_t b = s->row_b[ti], pos = s->row_pos[ti];
            if (!iv_row_selected(n, b, pos, s->cur_len[b])) continue;
            const float *src = source_row(s, n, &src_ev, r, b, pos);
            if ((n->op == OP_PATCH || (n->op == OP_SET && n->from_node >= 0)) && !src) continue;
            iv_apply_row(n, ni, ev->data + r * ev->row_stride, s->offs, ne, b, pos, s->step, src);
        }
    }
    free(before);
    for (int64_t r = 0; r < ev->n_rows; r++) {
        int64_t ti = ev->row_token ? ev->row_token[r] : r;
        s->row_at[(int64_t)s->row_b[ti] * s->tcap + s->row_pos[ti]] = -1;
    }
}

/* grad nodes: each prompt alone through the gradient engine (an f32 copy of the weights), the
 * gradient of each node's metric at its hook written into [batch, pos, ...] like a save. */
static seer_status grad_pass(trace_state *s, seer_ctx *ctx, seer_err *err) {
    const seer_graph *g = s->g;
    int any = 0;
    for (int32_t k = 0; k < g->n_nodes; k++) any |= g->nodes[k].op == OP_GRAD;
    if (!any) return SEER_OK;
    seer_tmodel *tm = NULL;
    seer_tctx *tc = NULL;
    seer_hook_grad *hg = calloc((size_t)g->n_nodes, sizeof(*hg));
    int32_t *which = calloc((size_t)g->n_nodes, sizeof(int32_t));
    float **dst = calloc((size_t)g->n_nodes, sizeof(float *));
    seer_status st = SEER_OK;
    if (!hg || !which || !dst) st = seer_err_set(err, SEER_ERR_NOMEM, "trace: out of memory");
    if (!st) st = seer_tmodel_from_model(s->m, &tm, err);
    if (!st) st = seer_tctx_init(tm, 1, s->tmax, seer_pool_size(seer_ctx_pool(ctx)), &tc, err);
    for (int32_t k = 0; k < g->n_nodes && !st; k++) { /* result tensors, zero past each prompt's end */
        const graph_node *n = &g->nodes[k];
        if (n->op != OP_GRAD) continue;
        int64_t shape[4];
        int nd = seer_hook_shape(s->m, n->point, g->n_prompts, s->tmax, shape);
        st = res_add(s->res, n->id, nd, shape, &dst[k], err);
    }
    for (int32_t mi = 0; mi < g->n_metrics && !st; mi++) {
        const graph_metric *mt = &g->metrics[mi];
        for (int32_t b = 0; b < g->n_prompts && !st; b++) {
            int32_t T = g->prompt_len[b], nh = 0;
            for (int32_t k = 0; k < g->n_nodes && !st; k++) {
                const graph_node *n = &g->nodes[k];
                if (n->op != OP_GRAD || n->metric != mi) continue;
                size_t sz = seer_tctx_hook_size(tc, n->hook, 1, T, err);
                float *buf = sz ? malloc(sz * sizeof(float)) : NULL;
                if (!buf) st = sz ? seer_err_set(err, SEER_ERR_NOMEM, "trace: out of memory") : SEER_ERR_INVALID;
                hg[nh] = (seer_hook_grad){.name = n->hook, .grad = buf};
                which[nh++] = k;
            }
            if (!nh || st) goto next;
            int32_t pos = mt->pos < 0 ? T + mt->pos : mt->pos;
            seer_metric me = {.kind = mt->kind == 0 ? SEER_METRIC_LOGIT_DIFF : mt->kind == 2 ? SEER_METRIC_LOGIT : SEER_METRIC_LOSS,
                              .b = 0, .t = pos, .token = mt->tok_a, .token2 = mt->tok_b};
            seer_tbatch tb = {.B = 1, .T = T, .tokens = g->prompt_ids[b]};
            if (T < 2 && me.kind == SEER_METRIC_LOSS) goto next; /* no prediction to differentiate: gradient 0 */
            if ((st = seer_tctx_hook_grads(tc, &tb, &me, hg, nh, NULL, err))) goto next;
            for (int32_t i = 0; i < nh; i++) {
                const graph_node *n = &g->nodes[which[i]];
                int64_t shape[4];
                int nd = seer_hook_shape(s->m, n->point, 1, T, shape);
                if (n->point == SEER_HP_ATTN_SCORES || n->point == SEER_HP_PATTERN) { /* [1, H, T, T] into [B, H, tmax, tmax] */
                    for (int64_t h = 0; h < shape[1]; h++)
                        for (int64_t q = 0; q < T; q++)
                            memcpy(dst[which[i]] + (((int64_t)b * shape[1] + h) * s->tmax + q) * s->tmax, hg[i].grad + (h * T + q) * T,
                                   (size_t)T * sizeof(float));
                } else {
                    int64_t w = 1;
                    for (int d = 2; d < nd; d++) w *= shape[d];
                    memcpy(dst[which[i]] + (int64_t)b * s->tmax * w, hg[i].grad, (size_t)(T * w) * sizeof(float));
                }
            }
        next:
            for (int32_t i = 0; i < nh; i++) free(hg[i].grad);
        }
    }
    seer_tctx_free(tc);
    seer_tmodel_free(tm);
    free(hg), free(which), free(dst);
    return st;
}

static double log_softmax_at(const float *l, int32_t V, int32_t id) {
    int32_t am = 0;
    for (int32_t k = 1; k < V; k++) am = l[k] > l[am] ? k : am;
    double z = 1.0; /* exp(0) for the largest logit, so the log below is of a number >= 1 */
    for (int32_t k = 0; k < V; k++)
        if (k != am) z += exp((double)(l[k] - l[am]));
    return (double)(l[id] - l[am]) - log(z);
}

seer_status seer_trace_run(const seer_model *m, const seer_graph *g, int n_threads, seer_trace_result **out, seer_err *err) {
    *out = NULL;
    seer_ctx *ctx = NULL;
    seer_ctx_params cp = seer_trace_ctx_params(g);
    cp.n_threads = n_threads;
    seer_status st = seer_ctx_init(m, &cp, &ctx, err);
    if (!st) st = seer_trace_run_ctx(ctx, m, g, out, err);
    seer_ctx_free(ctx);
    return st;
}

seer_ctx_params seer_trace_ctx_params(const seer_graph *g) {
    seer_ctx_params cp = seer_ctx_default_params();
    int32_t total = 0, tmax = 0;
    for (int32_t b = 0; b < g->n_prompts; b++) {
        total += g->prompt_len[b];
        tmax = g->prompt_len[b] > tmax ? g->prompt_len[b] : tmax;
    }
    cp.n_ctx = tmax + g->gen.steps;
    cp.n_seq = g->n_prompts;
    cp.n_batch = total > g->n_prompts ? total : g->n_prompts;
    return cp;
}

seer_status seer_trace_run_ctx(seer_ctx *ctx, const seer_model *m, const seer_graph *g, seer_trace_result **out, seer_err *err) {
    *out = NULL;
    const seer_model_config *cfg = seer_model_get_config(m);
    int32_t B = g->n_prompts, V = cfg->n_vocab, total = 0, tmax = 0;
    for (int32_t b = 0; b < B; b++) {
        total += g->prompt_len[b];
        tmax = g->prompt_len[b] > tmax ? g->prompt_len[b] : tmax;
    }
    SEER_ASSERT(B > 0 && total > 0); /* the graph parser refuses empty prompt lists and prompts */
    seer_ctx_params need = seer_trace_ctx_params(g);
    if (seer_ctx_n_ctx(ctx) < need.n_ctx || seer_ctx_n_seq(ctx) < need.n_seq || seer_ctx_n_batch(ctx) < need.n_batch)
        return seer_err_set(err, SEER_ERR_RANGE, "trace: the context holds %d sequences of %d positions in batches of %d; "
                            "this graph needs %d, %d and %d", seer_ctx_n_seq(ctx), seer_ctx_n_ctx(ctx), seer_ctx_n_batch(ctx),
                            need.n_seq, need.n_ctx, need.n_batch);
    seer_trace_result *res = calloc(1, sizeof(*res));
    trace_state s = {.m = m, .g = g, .res = res, .tmax = tmax, .tcap = tmax + g->gen.steps, .err = err};
    s.hidden = calloc(1, sizeof(*s.hidden));
    s.is_output = calloc((size_t)g->n_nodes + 1, 1);
    for (int32_t k = 0; s.is_output && k < g->n_save_outputs; k++) s.is_output[g->save_outputs[k]] = 1;
    for (int32_t k = 0; s.is_output && k < g->n_nodes; k++) s.is_output[k] |= g->nodes[k].op == OP_SAE || g->nodes[k].op == OP_GRAD;
    seer_sampler **smp = NULL;
    int32_t *row_b = malloc((size_t)total * sizeof(int32_t)), *row_pos = malloc((size_t)total * sizeof(int32_t));
    int32_t *toks = malloc((size_t)total * sizeof(int32_t)), *seq = malloc((size_t)total * sizeof(int32_t));
    uint8_t *want = calloc((size_t)total, 1);
    int32_t *last_row = calloc((size_t)B, sizeof(int32_t)), *out_of_row = malloc((size_t)total * sizeof(int32_t));
    float *logits = NULL;
    s.cur_len = calloc((size_t)B, sizeof(int32_t));
    s.row_at = malloc((size_t)B * (size_t)s.tcap * sizeof(int32_t));
    s.save_buf = calloc((size_t)g->n_nodes + 1, sizeof(float *));
    seer_status st = SEER_OK;
    if (!res || !s.hidden || !s.is_output || !row_b || !row_pos || !toks || !seq || !want || !last_row || !out_of_row ||
        !s.cur_len || !s.row_at || !s.save_buf) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "trace: out of memory");
        goto out;
    }
    for (int64_t i = 0; i < (int64_t)B * s.tcap; i++) s.row_at[i] = -1;
    res->n_prompts = B;
    res->len = calloc((size_t)B, sizeof(int32_t));
    res->text = calloc((size_t)B, sizeof(char *));
    res->gen_text = calloc((size_t)B, sizeof(char *));
    res->n_metrics = g->n_metrics;
    res->metric_names = calloc((size_t)g->n_metrics + 1, sizeof(char *));
    res->metric_vals = calloc((size_t)g->n_metrics * (size_t)B + 1, sizeof(double));
    if (!res->len || !res->text || !res->gen_text || !res->metric_names || !res->metric_vals) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "trace: out of memory");
        goto out;
    }
    for (int32_t b = 0; b < B; b++) {
        res->len[b] = g->prompt_len[b];
        res->text[b] = strdup(g->prompt_text[b]);
    }
    for (int32_t k = 0; k < g->n_metrics; k++) res->metric_names[k] = strdup(g->metrics[k].name);

    /* which logits rows are needed: metric positions, every row for loss or a logits node,
     * the last row of each prompt for generation */
    int all_rows = 0;
    for (int32_t k = 0; k < g->n_metrics; k++) all_rows |= g->metrics[k].kind == 3;
    for (int32_t k = 0; k < g->n_nodes; k++) all_rows |= g->nodes[k].point == SEER_HP_LOGITS;
    int32_t r = 0;
    for (int32_t b = 0; b < B; b++) {
        for (int32_t p = 0; p < g->prompt_len[b]; p++, r++) {
            row_b[r] = b;
            row_pos[r] = p;
            toks[r] = g->prompt_ids[b][p];
            seq[r] = b;
            want[r] = (uint8_t)(all_rows || (g->gen.steps && p == g->prompt_len[b] - 1));
            for (int32_t k = 0; k < g->n_metrics; k++) {
                int32_t mp = g->metrics[k].pos < 0 ? g->prompt_len[b] + g->metrics[k].pos : g->metrics[k].pos;
                if (mp == p) want[r] = 1;
            }
        }
        s.cur_len[b] = g->prompt_len[b];
    }
    int32_t n_out = 0;
    for (int32_t i = 0; i < total; i++) {
        out_of_row[i] = want[i] ? n_out : -1;
        n_out += want[i];
    }
    logits = malloc(((size_t)n_out + (size_t)B) * (size_t)V * sizeof(float));
    if (!logits) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "trace: cannot allocate logits for %d rows", n_out);
        goto out;
    }
    for (int32_t b = 0; b < seer_ctx_n_seq(ctx); b++) seer_ctx_clear_seq(ctx, b);
    seer_ctx_tap_clear(ctx);
    seer_ctx_set_tap(ctx, on_tap, &s);
    for (int32_t k = 0; k < g->n_nodes; k++)
        if (g->nodes[k].op != OP_GRAD && (st = seer_ctx_tap_enable(ctx, g->nodes[k].point, g->nodes[k].layer, 1, err))) goto out;
    s.row_b = row_b;
    s.row_pos = row_pos;
    seer_batch batch = {.n = total, .tokens = toks, .pos = row_pos, .seq = seq, .want_logits = want};
    if ((st = seer_ctx_decode(ctx, &batch, logits, err)) || (st = s.st)) goto out;

    /* metrics on the prompt */
    for (int32_t k = 0; k < g->n_metrics; k++) {
        const graph_metric *mt = &g->metrics[k];
        int32_t base = 0;
        for (int32_t b = 0; b < B; b++) {
            SEER_ASSERT(base + g->prompt_len[b] <= total); /* rows of prompt b lie in the batch */
            double v = 0;
            if (mt->kind == 3) {
                for (int32_t p = 0; p + 1 < g->prompt_len[b]; p++)
                    v -= log_softmax_at(logits + (size_t)out_of_row[base + p] * V, V, g->prompt_ids[b][p + 1]);
                v = g->prompt_len[b] > 1 ? v / (g->prompt_len[b] - 1) : 0;
            } else {
                int32_t mp = mt->pos < 0 ? g->prompt_len[b] + mt->pos : mt->pos;
                const float *l = logits + (size_t)out_of_row[base + mp] * V;
                v = mt->kind == 0 ? (double)l[mt->tok_a] - l[mt->tok_b] : mt->kind == 2 ? l[mt->tok_a] : exp(log_softmax_at(l, V, mt->tok_a));
            }
            res->metric_vals[(size_t)k * B + b] = v;
            base += g->prompt_len[b];
        }
    }

    if ((st = grad_pass(&s, ctx, err))) goto out;

    /* generation: one token per prompt per step, all prompts in one batch */
    if (g->gen.steps > 0) {
        smp = calloc((size_t)B, sizeof(*smp));
        char **gen = calloc((size_t)B, sizeof(char *));
        size_t *glen = calloc((size_t)B, sizeof(size_t));
        uint8_t *done = calloc((size_t)B, 1);
        seer_tok_stream *ts = calloc((size_t)B, sizeof(seer_tok_stream));
        const seer_tok *tok = seer_model_tok(m);
        if (!smp || !gen || !glen || !done || !ts) st = seer_err_set(err, SEER_ERR_NOMEM, "trace: out of memory");
        for (int32_t b = 0; b < B && !st; b++) {
            seer_sampler_params sp = {.temp = g->gen.temp, .top_k = g->gen.top_k, .top_p = g->gen.top_p, .seed = g->gen.seed + (uint64_t)b};
            st = seer_sampler_init(&sp, V, &smp[b], err);
            gen[b] = calloc((size_t)g->gen.steps * 64 + 64, 1);
            if (!gen[b]) st = seer_err_set(err, SEER_ERR_NOMEM, "trace: out of memory");
            if (tok) {
                seer_tok_stream_init(&ts[b], tok);
                ts[b].prev = g->prompt_ids[b][g->prompt_len[b] - 1];
            }
        }
        int32_t base = 0;
        for (int32_t b = 0; b < B; b++) {
            SEER_ASSERT(base + g->prompt_len[b] <= total);
            last_row[b] = out_of_row[base + g->prompt_len[b] - 1];
            base += g->prompt_len[b];
        }
        const float *cur = logits;
        int32_t *next = toks, *npos = row_pos + 0;
        for (int32_t step = 1; step <= g->gen.steps && !st; step++) {
            for (int32_t b = 0; b < B; b++) {
                const float *l = step == 1 ? logits + (size_t)last_row[b] * V : cur + (size_t)b * V;
                next[b] = seer_sampler_sample(smp[b], l);
                if (tok && !done[b]) {
                    if (next[b] == seer_tok_eos(tok)) done[b] = 1;
                    else glen[b] += seer_tok_stream_push(&ts[b], next[b], gen[b] + glen[b], 64);
                }
            }
            if (step == g->gen.steps) break; /* the last sampled token needs no forward */
            for (int32_t b = 0; b < B; b++) {
                row_b[b] = b;
                npos[b] = g->prompt_len[b] + step - 1;
                seq[b] = b;
                want[b] = 1;
                s.cur_len[b] = g->prompt_len[b] + step;
            }
            /* npos aliases row_pos: set the row positions after row_b so on_tap sees both */
            s.step = step;
            memset(s.save_buf, 0, ((size_t)g->n_nodes + 1) * sizeof(float *));
            seer_batch one = {.n = B, .tokens = next, .pos = npos, .seq = seq, .want_logits = want};
            float *lg = logits + (size_t)n_out * V;
            if ((st = seer_ctx_decode(ctx, &one, lg, err)) || (st = s.st)) break;
            cur = lg;
        }
        for (int32_t b = 0; b < B && gen; b++) {
            if (gen[b] && tok) glen[b] += seer_tok_stream_flush(&ts[b], gen[b] + glen[b], 64);
            res->gen_text[b] = gen[b];
        }
        free(gen);
        free(glen);
        free(done);
        free(ts);
    }
out:
    if (smp)
        for (int32_t b = 0; b < B; b++) seer_sampler_free(smp[b]);
    free(smp);
    seer_ctx_set_tap(ctx, NULL, NULL);
    seer_ctx_tap_clear(ctx);
    free(row_b), free(row_pos), free(toks), free(seq), free(want), free(last_row), free(out_of_row), free(logits);
    free(s.cur_len), free(s.row_at), free(s.save_buf), free(s.offs), free(s.scratch), free(s.is_output);
    seer_trace_result_free(s.hidden);
    if (st) {
        seer_trace_result_free(res);
        return st;
    }
    *out = res;
    return SEER_OK;
}

void seer_trace_result_free(seer_trace_result *r) {
    if (!r) return;
    for (int64_t i = 0; i < r->n; i++) free(r->t[i].name), free(r->t[i].data);
    free(r->t);
    for (int32_t b = 0; b < r->n_prompts; b++) {
        if (r->text) free(r->text[b]);
        if (r->gen_text) free(r->gen_text[b]);
    }
    free(r->text);
    free(r->gen_text);
    free(r->len);
    for (int32_t k = 0; k < r->n_metrics && r->metric_names; k++) free(r->metric_names[k]);
    free(r->metric_names);
    free(r->metric_vals);
    free(r);
}

int64_t seer_trace_result_n_tensors(const seer_trace_result *r) { return r->n; }
const seer_tensor *seer_trace_result_tensor(const seer_trace_result *r, int64_t i) {
    return i >= 0 && i < r->n ? &r->t[i].t : NULL;
}
const seer_tensor *seer_trace_result_find(const seer_trace_result *r, const char *name) {
    for (int64_t i = 0; i < r->n; i++)
        if (!strcmp(r->t[i].name, name)) return &r->t[i].t;
    return NULL;
}

seer_status seer_trace_result_save(const seer_trace_result *r, const char *path, seer_err *err) {
    seer_st_writer *w = seer_st_writer_init();
    if (!w) return seer_err_set(err, SEER_ERR_NOMEM, "trace: out of memory");
    seer_st_writer_set_metadata(w, "producer", "seer trace");
    for (int64_t i = 0; i < r->n; i++) seer_st_writer_add(w, r->t[i].name, SEER_DTYPE_F32, r->t[i].t.n_dims, r->t[i].t.shape, r->t[i].data);
    seer_status st = seer_st_writer_write(w, path, err);
    seer_st_writer_free(w);
    return st;
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

void seer_trace_result_print_json(const seer_trace_result *r, FILE *f) {
    fprintf(f, "{\"prompts\": [");
    for (int32_t b = 0; b < r->n_prompts; b++) {
        fprintf(f, "%s{\"text\": ", b ? ", " : "");
        json_str(f, r->text[b]);
        fprintf(f, ", \"tokens\": %d", r->len[b]);
        if (r->gen_text[b]) {
            fprintf(f, ", \"generated\": ");
            json_str(f, r->gen_text[b]);
        }
        fprintf(f, "}");
    }
    fprintf(f, "], \"saved\": [");
    for (int64_t i = 0; i < r->n; i++) {
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        json_str(f, r->t[i].name);
        fprintf(f, ", \"shape\": [");
        for (int k = 0; k < r->t[i].t.n_dims; k++) fprintf(f, "%s%lld", k ? ", " : "", (long long)r->t[i].t.shape[k]);
        fprintf(f, "]}");
    }
    fprintf(f, "], \"metrics\": {");
    for (int32_t k = 0; k < r->n_metrics; k++) {
        fprintf(f, "%s", k ? ", " : "");
        json_str(f, r->metric_names[k]);
        fprintf(f, ": [");
        for (int32_t b = 0; b < r->n_prompts; b++) {
            double v = r->metric_vals[(size_t)k * r->n_prompts + b];
            /* JSON has no NaN or infinity: an overflowed metric is null */
            if (isfinite(v)) fprintf(f, "%s%.6g", b ? ", " : "", v);
            else fprintf(f, "%snull", b ? ", " : "");
        }
        fprintf(f, "]");
    }
    fprintf(f, "}}\n");
}
