/* Text sampled from the model itself, so an SAE can be trained and evaluated on the model's own
 * distribution (a TinyStories model read on Shakespeare is far off it, and the loss of splicing
 * an SAE in means little there). Several stories are sampled at once, one per sequence of a
 * batch, each from its own seeded sampler, so the text depends only on the seed. */
#include "sae_internal.h"

#include <stdlib.h>
#include <string.h>

#define SAMPLE_STREAMS 16

typedef struct text_buf {
    char *p;
    size_t len, cap;
} text_buf;

static int text_put(text_buf *t, const char *s, size_t n) {
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 1 << 16;
        while (cap < t->len + n + 1) {
            if (cap > SIZE_MAX / 2) return -1;
            cap *= 2;
        }
        char *p = realloc(t->p, cap);
        if (!p) return -1;
        t->p = p, t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = 0;
    return 0;
}

seer_status seer_sae_sample_text(const seer_model *m, int64_t n_tokens, uint64_t seed, double temp, int n_threads,
                                 char **out, size_t *len, seer_err *err) {
    *out = NULL, *len = 0;
    const seer_tok *tok = seer_model_tok(m);
    if (!tok) return seer_err_set(err, SEER_ERR_INVALID, "sae: the model has no tokenizer to turn samples into text");
    if (n_tokens < 1) return seer_err_set(err, SEER_ERR_RANGE, "sae: %lld tokens to sample", (long long)n_tokens);
    const seer_model_config *mc = seer_model_get_config(m);
    int32_t bos = seer_tok_bos(tok), eos = seer_tok_eos(tok), V = mc->n_vocab, S = SAMPLE_STREAMS;
    if (bos < 0) return seer_err_set(err, SEER_ERR_INVALID, "sae: the tokenizer has no BOS token to start stories from");
    seer_ctx *ctx = NULL;
    seer_sampler *smp[SAMPLE_STREAMS] = {0};
    text_buf tb = {0}, story[SAMPLE_STREAMS] = {{0}};
    int32_t tokens[SAMPLE_STREAMS], pos[SAMPLE_STREAMS], seq[SAMPLE_STREAMS], prev[SAMPLE_STREAMS];
    uint8_t want[SAMPLE_STREAMS];
    float *logits = malloc((size_t)S * (size_t)V * sizeof(float));
    seer_status st = SEER_OK;
    if (!logits) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory for sampling");
        goto out;
    }
    seer_ctx_params cp = seer_ctx_default_params();
    cp.n_ctx = mc->n_ctx, cp.n_seq = S, cp.n_batch = S, cp.n_threads = n_threads;
    if ((st = seer_ctx_init(m, &cp, &ctx, err))) goto out;
    for (int32_t q = 0; q < S; q++) {
        seer_sampler_params sp = {.temp = (float)temp, .top_k = 0, .top_p = 1.0f, .seed = seed * SAMPLE_STREAMS + (uint64_t)q};
        if ((st = seer_sampler_init(&sp, V, &smp[q], err))) goto out;
        tokens[q] = prev[q] = bos, pos[q] = 0, seq[q] = q, want[q] = 1;
    }
    /* Each stream writes its current story to its own buffer; a finished story moves to the
     * output, so the output holds whole stories one per line, in order of completion. */
    char piece[256];
    for (int64_t made = 0; made < n_tokens;) {
        seer_batch b = {.n = S, .tokens = tokens, .pos = pos, .seq = seq, .want_logits = want};
        if ((st = seer_ctx_decode(ctx, &b, logits, err))) {
            seer_err_wrap(err, "sae: sampling text: ");
            goto out;
        }
        for (int32_t q = 0; q < S; q++) {
            int32_t id = seer_sampler_sample(smp[q], logits + (int64_t)q * V);
            int end = id == bos || id == eos || pos[q] + 1 >= cp.n_ctx || made >= n_tokens;
            if (!end) {
                size_t k = seer_tok_decode_piece(tok, prev[q], id, piece, sizeof(piece));
                if (text_put(&story[q], piece, k < sizeof(piece) ? k : sizeof(piece))) goto nomem;
                made++;
                prev[q] = tokens[q] = id, pos[q]++;
                continue;
            }
            if (story[q].len && (text_put(&tb, story[q].p, story[q].len) || text_put(&tb, "\n", 1))) goto nomem;
            story[q].len = 0;
            seer_ctx_clear_seq(ctx, q);
            tokens[q] = prev[q] = bos, pos[q] = 0;
        }
    }
    for (int32_t q = 0; q < S; q++)
        if (story[q].len && (text_put(&tb, story[q].p, story[q].len) || text_put(&tb, "\n", 1))) goto nomem;
    if (!tb.p && text_put(&tb, "", 0)) goto nomem; /* every story empty: still a string */
    goto out;
nomem:
    st = seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory for %lld sampled tokens", (long long)n_tokens);
out:
    for (int32_t q = 0; q < S; q++) seer_sampler_free(smp[q]), free(story[q].p);
    seer_ctx_free(ctx);
    free(logits);
    if (st) free(tb.p);
    else *out = tb.p, *len = tb.len;
    return st;
}
