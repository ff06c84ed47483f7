/* Model diff: two models on the same tokens, every hook point they share compared. The first
 * model's activations are kept; the second's are compared in its taps as they happen, so only
 * one model's worth of activations is held. */
#include "analysis_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

seer_status seer_diff_check_vocab(const seer_model *a, const seer_model *b, seer_err *err) {
    int32_t va = seer_model_get_config(a)->n_vocab, vb = seer_model_get_config(b)->n_vocab;
    if (va != vb)
        return seer_err_set(err, SEER_ERR_INVALID, "diff: the models' vocabularies differ in size (%d vs %d tokens)", va, vb);
    const seer_tok *ta = seer_model_tok(a), *tb = seer_model_tok(b);
    if (!ta || !tb) return SEER_OK;
    if (seer_tok_n_vocab(ta) != seer_tok_n_vocab(tb))
        return seer_err_set(err, SEER_ERR_INVALID, "diff: the tokenizers differ in size (%d vs %d pieces)", seer_tok_n_vocab(ta),
                            seer_tok_n_vocab(tb));
    /* Compare what each id stands for, not how it is stored: llama2.c files keep " Lily" and
     * "\n<s>\n" where GGUF keeps "▁Lily" and "<s>" for the same tokens. */
    for (int32_t i = 0; i < seer_tok_n_vocab(ta); i++) {
        char xa[256], xb[256];
        size_t la = seer_tok_decode_piece(ta, -1, i, xa, sizeof(xa)), lb = seer_tok_decode_piece(tb, -1, i, xb, sizeof(xb));
        if (la != lb || memcmp(xa, xb, la < sizeof(xa) ? la : sizeof(xa)) != 0 || seer_tok_get_type(ta, i) != seer_tok_get_type(tb, i)) {
            char ya[64], yb[64];
            return seer_err_set(err, SEER_ERR_INVALID, "diff: the tokenizers differ at token %d ('%s' vs '%s')", i,
                                seer_analysis_token_label(ta, -1, i, ya, sizeof(ya)),
                                seer_analysis_token_label(tb, -1, i, yb, sizeof(yb)));
        }
    }
    return SEER_OK;
}

void seer_diff_result_free(seer_diff_result *r) {
    if (!r) return;
    free(r->e);
    free(r);
}

typedef struct diff_state {
    const an_capture *a;
    seer_diff_entry *e;
    int32_t n, cap;
    seer_status st;
    seer_err *err;
} diff_state;

static void diff_tap(void *ud, const seer_tap_event *ev) {
    diff_state *s = ud;
    if (s->st) return;
    int64_t w;
    const float *base = an_capture_get(s->a, ev->point, ev->layer, &w);
    if (!base || w != ev->width) return; /* not a point the two share */
    if (s->n == s->cap) {
        int32_t cap = s->cap ? 2 * s->cap : 64;
        seer_diff_entry *ne = realloc(s->e, (size_t)cap * sizeof(*ne));
        if (!ne) {
            s->st = seer_err_set(s->err, SEER_ERR_NOMEM, "diff: out of memory");
            return;
        }
        s->e = ne;
        s->cap = cap;
    }
    seer_diff_entry *e = &s->e[s->n++];
    memset(e, 0, sizeof(*e));
    e->point = ev->point;
    e->layer = ev->layer;
    e->width = w;
    seer_hook_format(ev->point, ev->layer, e->hook, sizeof(e->hook));
    double ss_a = 0, ss_d = 0, cos_sum = 0;
    for (int64_t r = 0; r < ev->n_rows; r++) {
        int64_t ti = ev->row_token ? ev->row_token[r] : r;
        const float *x = base + ti * w, *y = ev->data + r * ev->row_stride;
        double dot = 0, na = 0, nb = 0;
        for (int64_t j = 0; j < w; j++) {
            if (!isfinite(x[j]) && x[j] == y[j]) continue; /* masked in both: -inf attention scores */
            double a = x[j], b = y[j], dd = a - b;
            dot += a * b;
            na += a * a;
            nb += b * b;
            ss_d += dd * dd;
            if (fabs(dd) > e->max_abs || dd != dd) e->max_abs = fabs(dd);
        }
        ss_a += na;
        cos_sum += na == 0 && nb == 0 ? 1.0 : na == 0 || nb == 0 ? 0.0 : dot / sqrt(na * nb);
    }
    e->cosine = ev->n_rows ? cos_sum / (double)ev->n_rows : 1.0;
    e->rel_l2 = ss_a > 0 ? sqrt(ss_d) / sqrt(ss_a) : ss_d == 0 ? 0.0 : INFINITY;
}

seer_status seer_diff_run(const seer_model *a, const seer_model *b, int32_t n_prompts, const int32_t *const *prompts,
                          const int32_t *lens, int n_threads, seer_diff_result **out, seer_err *err) {
    *out = NULL;
    seer_status st = seer_diff_check_vocab(a, b, err);
    if (st) return st;
    if (n_prompts <= 0) return seer_err_set(err, SEER_ERR_INVALID, "diff: no prompts");
    int64_t total = 0;
    for (int32_t i = 0; i < n_prompts; i++) total += lens[i] > 0 ? lens[i] : 0;
    if (total > (1 << 20)) return seer_err_set(err, SEER_ERR_RANGE, "diff: %lld tokens in all is too many", (long long)total);
    if (total == 0) return seer_err_set(err, SEER_ERR_INVALID, "diff: all %d prompts are empty", n_prompts);
    int32_t V = seer_model_get_config(a)->n_vocab;
    an_capture ca, cb;
    diff_state ds = {.err = err};
    seer_diff_result *r = NULL;
    float *logits = NULL;
    if ((st = an_capture_init(&ca, a, total, err))) return st;
    if ((st = an_capture_init(&cb, b, total, err))) {
        an_capture_free(&ca);
        return st;
    }
    an_capture_want_all(&ca, a);
    an_capture_want_all(&cb, b); /* only its want[] is used: which points b visits */
    logits = malloc((size_t)total * (size_t)V * sizeof(float));
    if (!logits) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "diff: out of memory for %lld x %d logits", (long long)total, V);
        goto out;
    }
    if ((st = an_forward(a, n_threads, n_prompts, prompts, lens, ca.want, an_capture_tap, &ca, NULL, logits, err)) ||
        (st = ca.st))
        goto out;
    ds.a = &ca;
    if ((st = an_forward(b, n_threads, n_prompts, prompts, lens, cb.want, diff_tap, &ds, NULL, logits, err)) || (st = ds.st))
        goto out;
    if (!(r = calloc(1, sizeof(*r)))) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "diff: out of memory");
        goto out;
    }
    r->n = ds.n;
    r->e = ds.e;
    r->n_tokens = (int32_t)total;
    ds.e = NULL;
out:
    free(ds.e);
    free(logits);
    an_capture_free(&ca);
    an_capture_free(&cb);
    if (st) return st;
    *out = r;
    return SEER_OK;
}
