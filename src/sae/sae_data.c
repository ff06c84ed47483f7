/* Activation sources for training: rows of a tensor (file or memory), or a model run over a
 * corpus with taps collecting one or two hooks' activations. Either way rows come from a
 * buffer shuffled by a generator seeded from (seed, buffer number), so a position is just
 * (buffer, row) and resuming is exact: the buffer is rebuilt, not stored. */
#include "sae_internal.h"

#include <stdlib.h>
#include <string.h>

#include "seer/hooks.h"
#include "seer/safetensors.h"

struct seer_sae_data {
    int64_t d_in, d_out;
    uint64_t seed;
    /* the whole tensor (file and memory sources) */
    const float *rows;
    float *owned; /* converted copy when the file is not f32 or not aligned */
    seer_st *st;
    int64_t n_rows;
    /* model source */
    const seer_model *m;
    seer_ctx *ctx;
    seer_hook_point p_in, p_out;
    int l_in, l_out, two_hooks;
    int32_t *text; /* the corpus tokens, BOS not included */
    int64_t n_text;
    int32_t n_ctx, n_seq;
    int32_t *btok, *bpos, *bseq; /* [n_seq * n_ctx] */
    float *bx, *by;              /* buffer rows */
    int64_t cap_rows, fill_x, fill_y;
    /* shared */
    int64_t buffer, row, buf_rows;
    int64_t *perm;
    seer_status tap_st;
};

static seer_status alloc_data(seer_sae_data **out, seer_err *err) {
    *out = calloc(1, sizeof(**out));
    if (!*out) return seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory");
    (*out)->buffer = -1;
    return SEER_OK;
}

seer_status seer_sae_data_open_memory(const float *rows, int64_t n, int64_t d, seer_sae_data **out, seer_err *err) {
    *out = NULL;
    if (n < 1 || d < 1) return seer_err_set(err, SEER_ERR_INVALID, "sae: activations [%lld, %lld] are empty", (long long)n, (long long)d);
    seer_status st = alloc_data(out, err);
    if (st) return st;
    (*out)->rows = rows, (*out)->n_rows = n, (*out)->d_in = (*out)->d_out = d;
    return SEER_OK;
}

seer_status seer_sae_data_open_file(const char *path, const char *name, seer_sae_data **out, seer_err *err) {
    *out = NULL;
    seer_st *st_file = NULL;
    seer_status st = seer_st_open_file(path, &st_file, err);
    if (st) return st;
    const seer_tensor *t = NULL;
    if (name) {
        if (!(t = seer_st_find(st_file, name))) {
            st = seer_err_set(err, SEER_ERR_INVALID, "sae: %s: no tensor '%s'", path, name);
            goto fail;
        }
    } else if (seer_st_n_tensors(st_file) != 1) {
        st = seer_err_set(err, SEER_ERR_INVALID, "sae: %s holds %lld tensors: expected exactly one [n, d] tensor", path,
                          (long long)seer_st_n_tensors(st_file));
        goto fail;
    } else t = seer_st_tensor(st_file, 0);
    if (t->n_dims != 2 || t->shape[0] < 1 || t->shape[1] < 1) {
        char sh[96];
        st = seer_err_set(err, SEER_ERR_FORMAT, "sae: %s: tensor '%s' has shape %s: expected [n, d]", path, t->name,
                          seer_shape_str(t->shape, t->n_dims, sh, sizeof(sh)));
        goto fail;
    }
    if ((st = alloc_data(out, err))) goto fail;
    seer_sae_data *d = *out;
    d->st = st_file, d->n_rows = t->shape[0], d->d_in = d->d_out = t->shape[1];
    if (t->type == SEER_DTYPE_F32 && ((uintptr_t)t->data & 3) == 0) d->rows = t->data;
    else {
        size_t n = (size_t)t->shape[0] * (size_t)t->shape[1];
        if (!(d->owned = malloc(n * sizeof(float)))) {
            st = seer_err_set(err, SEER_ERR_NOMEM, "sae: %s: out of memory for %zu floats", path, n);
            goto fail_d;
        }
        if (t->type == SEER_DTYPE_F32) memcpy(d->owned, t->data, n * sizeof(float));
        else if ((st = seer_convert_to_f32(t->type, t->data, d->owned, (int64_t)n, err))) goto fail_d;
        d->rows = d->owned;
    }
    return SEER_OK;
fail_d:
    seer_sae_data_free(*out);
    *out = NULL;
    return st;
fail:
    seer_st_free(st_file);
    return st;
}

static int64_t hook_width(const seer_model *m, seer_hook_point p) {
    int64_t shape[4];
    int nd = seer_hook_shape(m, p, 1, 1, shape);
    int64_t w = 1;
    for (int i = 2; i < nd; i++) w *= shape[i];
    return w;
}

static void data_tap(void *ud, const seer_tap_event *ev) {
    seer_sae_data *d = ud;
    int is_in = ev->point == d->p_in && ev->layer == d->l_in;
    int is_out = d->two_hooks && ev->point == d->p_out && ev->layer == d->l_out;
    for (int pass = 0; pass < 2; pass++) {
        if (!(pass ? is_out : is_in)) continue;
        float *dst = pass ? d->by : d->bx;
        int64_t *fill = pass ? &d->fill_y : &d->fill_x, w = pass ? d->d_out : d->d_in;
        SEER_ASSERT(ev->width == w);
        for (int64_t r = 0; r < ev->n_rows; r++) {
            int64_t tok = ev->row_token ? ev->row_token[r] : r;
            if (ev->batch->pos[tok] == 0 || *fill >= d->cap_rows) continue; /* BOS rows are outliers */
            memcpy(dst + *fill * w, ev->data + r * ev->row_stride, (size_t)w * sizeof(float));
            (*fill)++;
        }
    }
}

seer_status seer_sae_data_open_model(const seer_model *m, const char *hook, const char *hook_out, const char *text,
                                     size_t len, int32_t n_ctx, int64_t buffer_rows, int n_threads,
                                     seer_sae_data **out, seer_err *err) {
    *out = NULL;
    const seer_tok *tok = seer_model_tok(m);
    if (!tok) return seer_err_set(err, SEER_ERR_INVALID, "sae: the model has no tokenizer to encode the corpus");
    const seer_model_config *mc = seer_model_get_config(m);
    if (n_ctx <= 0 || n_ctx > mc->n_ctx) n_ctx = mc->n_ctx;
    if (n_ctx < 2) return seer_err_set(err, SEER_ERR_RANGE, "sae: context %d too short", n_ctx);
    seer_status st = alloc_data(out, err);
    if (st) return st;
    seer_sae_data *d = *out;
    d->m = m;
    if ((st = seer_hook_parse(m, hook, &d->p_in, &d->l_in, err))) goto fail;
    d->p_out = d->p_in, d->l_out = d->l_in;
    if (hook_out && strcmp(hook_out, hook) != 0) {
        if ((st = seer_hook_parse(m, hook_out, &d->p_out, &d->l_out, err))) goto fail;
        d->two_hooks = 1;
    }
    if (d->p_in == SEER_HP_ATTN_SCORES || d->p_in == SEER_HP_PATTERN || d->p_out == SEER_HP_ATTN_SCORES ||
        d->p_out == SEER_HP_PATTERN) {
        st = seer_err_set(err, SEER_ERR_UNSUPPORTED, "sae: attention scores and patterns are not trainable inputs");
        goto fail;
    }
    d->d_in = hook_width(m, d->p_in);
    d->d_out = d->two_hooks ? hook_width(m, d->p_out) : d->d_in;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    if ((st = seer_tok_encode(tok, text, len, 0, &ids, &n_ids, err))) goto fail;
    d->text = ids, d->n_text = (int64_t)n_ids;
    if (d->n_text < n_ctx - 1) {
        st = seer_err_set(err, SEER_ERR_INVALID, "sae: the corpus has %lld tokens, fewer than one context of %d",
                          (long long)d->n_text, n_ctx);
        goto fail;
    }
    d->n_ctx = n_ctx;
    int64_t per_seq = n_ctx - 1;
    if (buffer_rows < per_seq) buffer_rows = per_seq;
    int64_t n_seqs = buffer_rows / per_seq;
    d->cap_rows = n_seqs * per_seq;
    d->n_seq = n_seqs < 8 ? (int32_t)n_seqs : 8;
    size_t nb = (size_t)d->n_seq * (size_t)n_ctx;
    d->btok = malloc(nb * sizeof(int32_t)), d->bpos = malloc(nb * sizeof(int32_t)), d->bseq = malloc(nb * sizeof(int32_t));
    d->bx = malloc((size_t)d->cap_rows * (size_t)d->d_in * sizeof(float));
    if (d->two_hooks) d->by = malloc((size_t)d->cap_rows * (size_t)d->d_out * sizeof(float));
    if (!d->btok || !d->bpos || !d->bseq || !d->bx || (d->two_hooks && !d->by)) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory for a buffer of %lld activations", (long long)d->cap_rows);
        goto fail;
    }
    seer_ctx_params cp = seer_ctx_default_params();
    cp.n_ctx = n_ctx, cp.n_seq = d->n_seq, cp.n_batch = (int32_t)nb, cp.n_threads = n_threads;
    if ((st = seer_ctx_init(m, &cp, &d->ctx, err))) goto fail;
    seer_ctx_set_tap(d->ctx, data_tap, d);
    if ((st = seer_ctx_tap_enable(d->ctx, d->p_in, d->l_in, 1, err))) goto fail;
    if (d->two_hooks && (st = seer_ctx_tap_enable(d->ctx, d->p_out, d->l_out, 1, err))) goto fail;
    return SEER_OK;
fail:
    seer_sae_data_free(d);
    *out = NULL;
    return st;
}

void seer_sae_data_free(seer_sae_data *d) {
    if (!d) return;
    seer_ctx_free(d->ctx);
    seer_st_free(d->st);
    free(d->owned), free(d->text), free(d->btok), free(d->bpos), free(d->bseq), free(d->bx), free(d->by), free(d->perm);
    free(d);
}

int64_t seer_sae_data_d_in(const seer_sae_data *d) { return d->d_in; }
int64_t seer_sae_data_d_out(const seer_sae_data *d) { return d->d_out; }
void sae_data_set_seed(seer_sae_data *d, uint64_t seed) { d->seed = seed; }

void sae_data_tell(const seer_sae_data *d, int64_t *buffer, int64_t *row) {
    *buffer = d->buffer;
    *row = d->row;
}

/* Runs the model over buffer b's sequences: b·S .. b·S + S - 1 (mod the corpus's count). */
static seer_status fill_model(seer_sae_data *d, int64_t b, seer_err *err) {
    int64_t per_seq = d->n_ctx - 1, S = d->cap_rows / per_seq, n_corpus = d->n_text / per_seq;
    d->fill_x = d->fill_y = 0;
    for (int64_t s0 = 0; s0 < S; s0 += d->n_seq) {
        int32_t ns = (int32_t)(S - s0 < d->n_seq ? S - s0 : d->n_seq);
        int64_t k = 0;
        for (int32_t q = 0; q < ns; q++) {
            int64_t seq = (b * S + s0 + q) % n_corpus;
            seer_ctx_clear_seq(d->ctx, q);
            d->btok[k] = seer_tok_bos(seer_model_tok(d->m)) >= 0 ? seer_tok_bos(seer_model_tok(d->m)) : 0;
            d->bpos[k] = 0, d->bseq[k++] = q;
            for (int64_t i = 0; i < per_seq; i++, k++)
                d->btok[k] = d->text[seq * per_seq + i], d->bpos[k] = (int32_t)(i + 1), d->bseq[k] = q;
        }
        seer_batch bt = {.n = (int32_t)k, .tokens = d->btok, .pos = d->bpos, .seq = d->bseq, .want_logits = NULL};
        float *lg = malloc((size_t)seer_model_get_config(d->m)->n_vocab * sizeof(float));
        if (!lg) return seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory");
        seer_status st = seer_ctx_decode(d->ctx, &bt, lg, err);
        free(lg);
        if (st) return seer_err_wrap(err, "sae: collecting activations: ");
    }
    SEER_ASSERT(d->fill_x == d->cap_rows && (!d->two_hooks || d->fill_y == d->cap_rows));
    d->buf_rows = d->cap_rows;
    return SEER_OK;
}

static seer_status load_buffer(seer_sae_data *d, int64_t b, seer_err *err) {
    if (d->ctx) {
        seer_status st = fill_model(d, b, err);
        if (st) return st;
    } else d->buf_rows = d->n_rows;
    if (!d->perm && !(d->perm = malloc((size_t)d->buf_rows * sizeof(*d->perm))))
        return seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory for %lld rows", (long long)d->buf_rows);
    seer_rng r;
    seer_rng_seed(&r, d->seed ^ ((uint64_t)(b + 1) * 0x9E3779B97F4A7C15ull));
    for (int64_t i = 0; i < d->buf_rows; i++) d->perm[i] = i;
    for (int64_t i = d->buf_rows - 1; i > 0; i--) {
        int64_t j = (int64_t)(seer_rng_u64(&r) % (uint64_t)(i + 1));
        int64_t t = d->perm[i];
        d->perm[i] = d->perm[j], d->perm[j] = t;
    }
    d->buffer = b;
    d->row = 0;
    return SEER_OK;
}

seer_status sae_data_seek(seer_sae_data *d, int64_t buffer, int64_t row, seer_err *err) {
    if (buffer < 0) {
        d->buffer = -1, d->row = 0;
        return SEER_OK;
    }
    if (buffer != d->buffer) {
        seer_status st = load_buffer(d, buffer, err);
        if (st) return st;
    }
    if (row < 0 || row > d->buf_rows)
        return seer_err_set(err, SEER_ERR_RANGE, "sae: data position %lld outside a buffer of %lld rows", (long long)row,
                            (long long)d->buf_rows);
    d->row = row;
    return SEER_OK;
}

seer_status sae_data_next(seer_sae_data *d, float *x, float *y, int64_t n, seer_err *err) {
    for (int64_t i = 0; i < n; i++) {
        if (d->buffer < 0 || d->row >= d->buf_rows) {
            seer_status st = load_buffer(d, d->buffer + 1, err);
            if (st) return st;
        }
        SEER_ASSERT(d->perm != NULL && d->row < d->buf_rows); /* load_buffer filled a buffer */
        int64_t r = d->perm[d->row++];
        const float *src = d->ctx ? d->bx + r * d->d_in : d->rows + r * d->d_in;
        memcpy(x + i * d->d_in, src, (size_t)d->d_in * sizeof(float));
        const float *srcy = d->two_hooks ? d->by + r * d->d_out : src;
        memcpy(y + i * d->d_out, srcy, (size_t)d->d_out * sizeof(float));
    }
    return SEER_OK;
}
