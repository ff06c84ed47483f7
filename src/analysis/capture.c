/* Running prompts for the analyses: several token sequences as one batch with a tap callback on
 * chosen hook points, and a capture that keeps each visited activation as [tokens, width]. */
#include "analysis_internal.h"

#include <stdlib.h>
#include <string.h>

static int64_t slot(seer_hook_point p, int layer) { return (int64_t)(layer + 1) * SEER_HP_COUNT + p; }

seer_status an_capture_init(an_capture *c, const seer_model *m, int64_t n_rows, seer_err *err) {
    memset(c, 0, sizeof(*c));
    c->n_layers = seer_model_get_config(m)->n_layers;
    c->n_slots = (int64_t)(c->n_layers + 1) * SEER_HP_COUNT;
    c->n_rows = n_rows;
    c->err = err;
    c->want = calloc((size_t)c->n_slots, 1);
    c->buf = calloc((size_t)c->n_slots, sizeof(*c->buf));
    c->width = calloc((size_t)c->n_slots, sizeof(*c->width));
    if (!c->want || !c->buf || !c->width) {
        an_capture_free(c);
        return seer_err_set(err, SEER_ERR_NOMEM, "analysis: out of memory");
    }
    return SEER_OK;
}

void an_capture_free(an_capture *c) {
    for (int64_t i = 0; c->buf && i < c->n_slots; i++) free(c->buf[i]);
    free(c->buf);
    free(c->want);
    free(c->width);
    memset(c, 0, sizeof(*c));
}

void an_capture_want(an_capture *c, seer_hook_point p, int layer) {
    SEER_ASSERT(layer >= -1 && layer < c->n_layers && (unsigned)p < SEER_HP_COUNT);
    c->want[slot(p, layer)] = 1;
}

void an_capture_want_all(an_capture *c, const seer_model *m) {
    seer_arch arch = seer_model_get_config(m)->arch;
    for (int p = 0; p < SEER_HP_COUNT; p++) {
        seer_hook_point hp = (seer_hook_point)p;
        if (!seer_hook_point_exists(arch, hp)) continue;
        if (seer_hook_point_is_global(hp)) an_capture_want(c, hp, -1);
        else
            for (int l = 0; l < c->n_layers; l++) an_capture_want(c, hp, l);
    }
}

const float *an_capture_get(const an_capture *c, seer_hook_point p, int layer, int64_t *width) {
    if (layer < -1 || layer >= c->n_layers || (unsigned)p >= SEER_HP_COUNT) return NULL;
    int64_t i = slot(p, layer);
    if (width) *width = c->width[i];
    return c->buf[i];
}

void an_capture_tap(void *ud, const seer_tap_event *ev) {
    an_capture *c = ud;
    if (c->st) return;
    int64_t i = slot(ev->point, ev->layer);
    if (!c->want[i]) return;
    if (!c->buf[i]) {
        size_t n;
        if (seer_mul_size((size_t)c->n_rows, (size_t)ev->width, &n) || !(c->buf[i] = calloc(n ? n : 1, sizeof(float)))) {
            c->st = seer_err_set(c->err, SEER_ERR_NOMEM, "analysis: cannot keep %lld x %lld floats of %s",
                                 (long long)c->n_rows, (long long)ev->width, seer_hook_point_name(ev->point));
            return;
        }
        c->width[i] = ev->width;
    }
    SEER_ASSERT(c->width[i] == ev->width);
    for (int64_t r = 0; r < ev->n_rows; r++) {
        int64_t row = ev->row_token ? ev->row_token[r] : r;
        SEER_ASSERT(row >= 0 && row < c->n_rows);
        memcpy(c->buf[i] + row * ev->width, ev->data + r * ev->row_stride, (size_t)ev->width * sizeof(float));
    }
}

seer_status an_forward(const seer_model *m, int n_threads, int32_t n_seq, const int32_t *const *tokens,
                       const int32_t *len, const uint8_t *enable, seer_tap_fn fn, void *ud, const uint8_t *want_rows,
                       float *logits, seer_err *err) {
    const seer_model_config *cfg = seer_model_get_config(m);
    int64_t total = 0;
    int32_t tmax = 0;
    for (int32_t s = 0; s < n_seq; s++) {
        if (len[s] <= 0) return seer_err_set(err, SEER_ERR_INVALID, "analysis: prompt %d has no tokens", s);
        total += len[s];
        tmax = len[s] > tmax ? len[s] : tmax;
    }
    if (n_seq <= 0 || total > (1 << 24))
        return seer_err_set(err, SEER_ERR_RANGE, "analysis: %d prompts of %lld tokens in all: expected 1 to %d tokens",
                            n_seq, (long long)total, 1 << 24);
    if (tmax > cfg->n_ctx && cfg->arch == SEER_ARCH_GPT2)
        return seer_err_set(err, SEER_ERR_RANGE, "analysis: a prompt of %d tokens exceeds the model's %d positions", tmax,
                            cfg->n_ctx);
    int32_t *tok = malloc((size_t)total * sizeof(int32_t)), *pos = malloc((size_t)total * sizeof(int32_t));
    int32_t *seq = malloc((size_t)total * sizeof(int32_t));
    uint8_t *want = malloc((size_t)total);
    seer_ctx *ctx = NULL;
    seer_status st = SEER_OK;
    if (!tok || !pos || !seq || !want) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "analysis: out of memory for %lld tokens", (long long)total);
        goto out;
    }
    int64_t k = 0;
    for (int32_t s = 0; s < n_seq; s++)
        for (int32_t i = 0; i < len[s]; i++, k++) tok[k] = tokens[s][i], pos[k] = i, seq[k] = s, want[k] = want_rows ? want_rows[k] : 1;
    seer_ctx_params cp = seer_ctx_default_params();
    cp.n_ctx = tmax;
    cp.n_seq = n_seq;
    cp.n_batch = (int32_t)total;
    cp.n_threads = n_threads;
    if ((st = seer_ctx_init(m, &cp, &ctx, err))) goto out;
    if (fn && enable) {
        seer_ctx_set_tap(ctx, fn, ud);
        for (int l = -1; l < cfg->n_layers; l++)
            for (int p = 0; p < SEER_HP_COUNT; p++)
                if (enable[slot((seer_hook_point)p, l)] && (st = seer_ctx_tap_enable(ctx, (seer_hook_point)p, l, 1, err)))
                    goto out;
    }
    seer_batch b = {.n = (int32_t)total, .tokens = tok, .pos = pos, .seq = seq, .want_logits = logits ? want : NULL};
    float *lg = logits;
    float *one = NULL;
    if (!lg) { /* the engine computes the last row's logits whatever we want; give it room */
        one = malloc((size_t)cfg->n_vocab * sizeof(float));
        if (!one) {
            st = seer_err_set(err, SEER_ERR_NOMEM, "analysis: out of memory");
            goto out;
        }
        lg = one;
    }
    st = seer_ctx_decode(ctx, &b, lg, err);
    free(one);
out:
    seer_ctx_free(ctx);
    free(tok), free(pos), free(seq), free(want);
    return st;
}
