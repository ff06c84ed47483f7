/* Evaluation on held-out text: reconstruction statistics at the hook (L0, MSE, FVU about the
 * mean, dead and dense latents, firing densities) and the cost of splicing the SAE into the
 * forward pass: next-token loss with the hook replaced by the reconstruction, against the clean
 * loss and the loss with the hook zeroed. BOS rows are left alone in every run: they were not
 * trained on and their activations are outliers. */
#include "sae_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seer/hooks.h"

enum { EV_CLEAN = 0, EV_SPLICE, EV_ZERO };

typedef struct ev_tap {
    const seer_sae *s;
    int mode;
    seer_hook_point p_in, p_out;
    int l_in, l_out;
    float *xin, *yout, *tmp; /* [n_batch, d] by batch token */
    uint8_t *have_in;        /* [n_batch] */
    seer_status st;
    seer_err *err;
} ev_tap;

static void ev_tap_fn(void *ud, const seer_tap_event *ev) {
    ev_tap *t = ud;
    if (t->st) return;
    int64_t di = t->s->cfg.d_in, dout = t->s->cfg.d_out;
    if (ev->point == t->p_in && ev->layer == t->l_in)
        for (int64_t r = 0; r < ev->n_rows; r++) {
            int64_t tok = ev->row_token ? ev->row_token[r] : r;
            memcpy(t->xin + tok * di, ev->data + r * ev->row_stride, (size_t)di * sizeof(float));
            t->have_in[tok] = 1;
        }
    if (!(ev->point == t->p_out && ev->layer == t->l_out)) return;
    int64_t n = ev->n_rows;
    if (t->mode == EV_SPLICE) {
        for (int64_t r = 0; r < n; r++) {
            int64_t tok = ev->row_token ? ev->row_token[r] : r;
            if (!t->have_in[tok]) {
                t->st = seer_err_set(t->err, SEER_ERR_INVALID, "sae: hook '%s' comes after '%s' in the forward pass",
                                     t->s->cfg.hook_in, t->s->cfg.hook_out);
                return;
            }
            memcpy(t->tmp + r * di, t->xin + tok * di, (size_t)di * sizeof(float));
        }
        if ((t->st = seer_sae_forward(t->s, t->tmp, n, t->yout, t->err))) return;
    }
    for (int64_t r = 0; r < n; r++) {
        int64_t tok = ev->row_token ? ev->row_token[r] : r;
        float *row = ev->data + r * ev->row_stride;
        if (t->mode == EV_CLEAN) memcpy(t->yout + tok * dout, row, (size_t)dout * sizeof(float));
        else if (ev->batch->pos[tok] == 0) continue;
        else if (t->mode == EV_SPLICE) memcpy(row, t->yout + r * dout, (size_t)dout * sizeof(float));
        else memset(row, 0, (size_t)dout * sizeof(float));
    }
}

/* Mean NLL of token i+1 given logits at i, within each sequence. */
static double nll_sum(const float *logits, const int32_t *tok, const int32_t *seq, int64_t n, int32_t vocab, int64_t *count) {
    double s = 0;
    for (int64_t i = 0; i + 1 < n; i++) {
        if (seq[i + 1] != seq[i]) continue;
        const float *l = logits + i * vocab;
        float mx = l[0];
        for (int32_t v = 1; v < vocab; v++) mx = l[v] > mx ? l[v] : mx;
        double z = 0;
        for (int32_t v = 0; v < vocab; v++) z += exp((double)l[v] - mx);
        s += log(z > 1.0 ? z : 1.0) + mx - l[tok[i + 1]]; /* z >= 1: the max term is exp(0) */
        (*count)++;
    }
    return s;
}

seer_status seer_sae_evaluate(const seer_sae *s, const seer_model *m, const char *text, size_t len, int32_t n_ctx,
                              int64_t max_tokens, int n_threads, seer_sae_eval_result *out, seer_err *err) {
    memset(out, 0, sizeof(*out));
    seer_status st = seer_sae_check_model(s, m, err);
    if (st) return st;
    const seer_tok *tk = seer_model_tok(m);
    if (!tk) return seer_err_set(err, SEER_ERR_INVALID, "sae: the model has no tokenizer to encode the evaluation text");
    const seer_model_config *mc = seer_model_get_config(m);
    if (n_ctx <= 0 || n_ctx > mc->n_ctx) n_ctx = mc->n_ctx;
    if (n_ctx < 2) return seer_err_set(err, SEER_ERR_RANGE, "sae: context %d too short", n_ctx);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    if ((st = seer_tok_encode(tk, text, len, 0, &ids, &n_ids, err))) return st;
    int64_t per = n_ctx - 1, n_seqs = (int64_t)n_ids / per;
    if (max_tokens > 0 && n_seqs * per > max_tokens) n_seqs = (max_tokens + per - 1) / per;
    if (n_seqs < 1) {
        free(ids);
        return seer_err_set(err, SEER_ERR_INVALID, "sae: evaluation text has %zu tokens, fewer than one context of %d", n_ids,
                            n_ctx);
    }
    const int32_t NS = 8;
    int64_t nb = (int64_t)NS * n_ctx, di = s->cfg.d_in, dl = s->cfg.d_sae, dout = s->cfg.d_out;
    ev_tap t = {.s = s, .err = err};
    seer_hook_parse(m, s->cfg.hook_in, &t.p_in, &t.l_in, err);
    seer_hook_parse(m, s->cfg.hook_out, &t.p_out, &t.l_out, err);
    int32_t *tok = malloc((size_t)nb * sizeof(int32_t)), *pos = malloc((size_t)nb * sizeof(int32_t));
    int32_t *seq = malloc((size_t)nb * sizeof(int32_t));
    uint8_t *want = malloc((size_t)nb);
    float *logits = malloc((size_t)nb * (size_t)mc->n_vocab * sizeof(float));
    t.xin = malloc((size_t)(nb * di) * sizeof(float));
    t.yout = malloc((size_t)(nb * dout) * sizeof(float));
    t.tmp = malloc((size_t)(nb * (di > dout ? di : dout)) * sizeof(float));
    t.have_in = calloc((size_t)nb, 1);
    float *f = malloc((size_t)(nb * dl) * sizeof(float)), *rec = malloc((size_t)(nb * dout) * sizeof(float));
    float *xs = malloc((size_t)(nb * di) * sizeof(float)), *ys = malloc((size_t)(nb * dout) * sizeof(float));
    int64_t *fires = calloc((size_t)dl, sizeof(int64_t));
    double *ysum = calloc((size_t)dout, sizeof(double)), *ysq = calloc((size_t)dout, sizeof(double));
    seer_ctx *ctx = NULL;
    if (!tok || !pos || !seq || !want || !logits || !t.xin || !t.yout || !t.tmp || !t.have_in || !f || !rec || !xs || !ys ||
        !fires || !ysum || !ysq) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory for evaluation batches");
        goto out;
    }
    seer_ctx_params cp = seer_ctx_default_params();
    cp.n_ctx = n_ctx, cp.n_seq = NS, cp.n_batch = (int32_t)nb, cp.n_threads = n_threads;
    if ((st = seer_ctx_init(m, &cp, &ctx, err))) goto out;
    seer_ctx_set_tap(ctx, ev_tap_fn, &t);
    if ((st = seer_ctx_tap_enable(ctx, t.p_in, t.l_in, 1, err)) || (st = seer_ctx_tap_enable(ctx, t.p_out, t.l_out, 1, err)))
        goto out;
    memset(want, 1, (size_t)nb);
    double ce[3] = {0}, sse = 0, l0 = 0;
    int64_t n_pred = 0, n_rows = 0;
    int32_t bos = seer_tok_bos(tk) >= 0 ? seer_tok_bos(tk) : 0;
    for (int64_t s0 = 0; s0 < n_seqs; s0 += NS) {
        int32_t ns = (int32_t)(n_seqs - s0 < NS ? n_seqs - s0 : NS);
        int64_t k = 0;
        for (int32_t q = 0; q < ns; q++) {
            tok[k] = bos, pos[k] = 0, seq[k++] = q;
            for (int64_t i = 0; i < per; i++, k++) tok[k] = ids[(s0 + q) * per + i], pos[k] = (int32_t)(i + 1), seq[k] = q;
        }
        seer_batch b = {.n = (int32_t)k, .tokens = tok, .pos = pos, .seq = seq, .want_logits = want};
        for (int mode = 0; mode < 3; mode++) {
            for (int32_t q = 0; q < ns; q++) seer_ctx_clear_seq(ctx, q);
            t.mode = mode;
            memset(t.have_in, 0, (size_t)nb);
            if ((st = seer_ctx_decode(ctx, &b, logits, err)) || (st = t.st)) goto out;
            int64_t cnt = 0;
            ce[mode] += nll_sum(logits, tok, seq, k, mc->n_vocab, &cnt);
            if (mode == EV_CLEAN) {
                n_pred += cnt;
                /* Reconstruction statistics over the non-BOS rows. */
                int64_t r = 0;
                for (int64_t i = 0; i < k; i++)
                    if (pos[i] > 0) {
                        memcpy(xs + r * di, t.xin + i * di, (size_t)di * sizeof(float));
                        memcpy(ys + r * dout, t.yout + i * dout, (size_t)dout * sizeof(float));
                        r++;
                    }
                if ((st = seer_sae_encode(s, xs, r, f, err)) || (st = seer_sae_forward(s, xs, r, rec, err))) goto out;
                for (int64_t i = 0; i < r; i++) {
                    for (int64_t j = 0; j < dl; j++)
                        if (f[i * dl + j] != 0) fires[j]++, l0++;
                    for (int64_t o = 0; o < dout; o++) {
                        double y = ys[i * dout + o], e = rec[i * dout + o] - y;
                        sse += e * e, ysum[o] += y, ysq[o] += y * y;
                    }
                }
                n_rows += r;
            }
        }
    }
    double var = 0;
    for (int64_t o = 0; o < dout; o++) var += ysq[o] - ysum[o] * ysum[o] / (double)n_rows;
    out->tokens = n_rows;
    out->l0 = l0 / (double)n_rows;
    out->mse = sse / (double)n_rows / (double)dout;
    out->fvu = var > 0 ? sse / var : 0;
    int64_t dead = 0, dense = 0;
    for (int64_t j = 0; j < dl; j++) {
        double d = (double)fires[j] / (double)n_rows;
        dead += fires[j] == 0, dense += d > 0.1;
        int bin = 0;
        if (fires[j]) {
            bin = (int)floor(log10(d)) + 12;
            bin = bin < 1 ? 1 : bin > SEER_SAE_HIST_BINS - 1 ? SEER_SAE_HIST_BINS - 1 : bin;
        }
        out->hist[bin]++;
    }
    out->dead_frac = (double)dead / (double)dl;
    out->dense_frac = (double)dense / (double)dl;
    out->ce_clean = ce[EV_CLEAN] / (double)n_pred;
    out->ce_spliced = ce[EV_SPLICE] / (double)n_pred;
    out->ce_zero = ce[EV_ZERO] / (double)n_pred;
    out->ce_increase = out->ce_spliced - out->ce_clean;
    double gap = out->ce_zero - out->ce_clean;
    out->frac_recovered = gap != 0 ? (out->ce_zero - out->ce_spliced) / gap : 0;
out:
    seer_ctx_free(ctx);
    free(ids), free(tok), free(pos), free(seq), free(want), free(logits), free(t.xin), free(t.yout), free(t.tmp);
    free(t.have_in), free(f), free(rec), free(xs), free(ys), free(fires), free(ysum), free(ysq);
    return st;
}
