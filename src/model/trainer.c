/* The training loop: micro-batches from a corpus or from prompt/completion records, gradient
 * accumulation, clipping, AdamW on the trainable spans, validation, and checkpoints holding
 * everything a resumed run needs to continue exactly (weights, moments, step, data position). */
#include "model_internal.h"
#include "seer/checkpoint.h"
#include "seer/trainer.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

seer_train_opts seer_train_default_opts(void) {
    seer_train_opts o = {.batch = 8, .seq = 256, .accum = 1, .steps = 1000, .clip = 1.0f, .eval_batches = 8, .seed = 1,
                         .n_threads = 0};
    o.lr = (seer_lr_sched){.kind = SEER_LR_COSINE, .lr_max = 1e-3f, .lr_min = 1e-4f, .warmup_steps = 100, .total_steps = 1000};
    o.adamw = seer_adamw_default();
    o.adamw.beta2 = 0.95;
    o.adamw.weight_decay = 0.1;
    return o;
}

struct seer_trainer {
    seer_tmodel *tm;
    seer_train_data d;
    seer_train_opts o;
    seer_tctx *tc;
    seer_pool *pool; /* for the optimizer (the context's own pool is private to it) */
    int64_t step;
    int64_t tokens;
    seer_batcher batcher;  /* corpus: random windows */
    uint64_t sft_counter;  /* records: how many drawn so far (epoch = counter / n) */
    size_t *perm;          /* records: this epoch's order */
    uint64_t perm_epoch;
    float *m, *v;          /* AdamW moments, n floats like the parameters */
    seer_optim_span *spans;
    size_t n_spans;
    int32_t *win, *tok, *tgt; /* corpus windows [B, T+1]; tokens / targets [B, T] */
    uint8_t *mask, *lmask;    /* records: completion mask and the loss mask (shifted) */
    int32_t len;              /* max tokens per row */
};

static seer_status build_spans(seer_trainer *t, seer_err *err) {
    size_t n;
    float *p = seer_tmodel_params(t->tm, &n), *g = seer_tmodel_grads(t->tm, &n);
    int64_t ns = seer_tmodel_n_spans(t->tm);
    free(t->spans);
    t->spans = calloc((size_t)ns + 1, sizeof(*t->spans));
    if (!t->spans) return seer_err_set(err, SEER_ERR_NOMEM, "train: out of memory");
    t->n_spans = 0;
    for (int64_t i = 0; i < ns; i++) {
        const seer_tspan *s = seer_tmodel_span(t->tm, i);
        if (!s->trainable) continue;
        t->spans[t->n_spans++] = (seer_optim_span){.name = s->name, .param = p + s->offset, .grad = g + s->offset,
                                                    .m = t->m + s->offset, .v = t->v + s->offset, .n = s->count,
                                                    .decay = s->decay};
    }
    if (!t->n_spans) return seer_err_set(err, SEER_ERR_INVALID, "train: the model has no trainable tensor");
    return SEER_OK;
}

seer_status seer_trainer_init(seer_tmodel *tm, const seer_train_data *d, const seer_train_opts *o, seer_trainer **out,
                              seer_err *err) {
    *out = NULL;
    const seer_model_config *c = seer_tmodel_config(tm);
    if ((!d->corpus) == (!d->sft)) return seer_err_set(err, SEER_ERR_INVALID, "train: give a corpus or records, not both");
    if (o->batch < 1 || o->batch > 4096) return seer_err_set(err, SEER_ERR_RANGE, "train: batch %d outside [1, 4096]", o->batch);
    if (o->seq < 2 || o->seq > (1 << 20)) return seer_err_set(err, SEER_ERR_RANGE, "train: sequence length %d outside [2, 2^20]", o->seq);
    if (c->arch == SEER_ARCH_GPT2 && o->seq > c->n_ctx)
        return seer_err_set(err, SEER_ERR_RANGE, "train: sequence length %d exceeds the model's %d learned positions", o->seq, c->n_ctx);
    if (o->accum < 1 || o->accum > 1 << 16) return seer_err_set(err, SEER_ERR_RANGE, "train: accumulation %d outside [1, 65536]", o->accum);
    if (o->steps < 1) return seer_err_set(err, SEER_ERR_RANGE, "train: steps must be >= 1 (got %" PRId64 ")", o->steps);
    if (!(o->clip >= 0) || !isfinite(o->clip)) return seer_err_set(err, SEER_ERR_RANGE, "train: clip must be >= 0");
    seer_status st;
    if (seer_lr_check(&o->lr, err) || seer_adamw_check(&o->adamw, err)) return seer_err_wrap(err, "train: ");
    if (d->sft && d->sft->n == 0) return seer_err_set(err, SEER_ERR_INVALID, "train: no training records");

    seer_trainer *t = calloc(1, sizeof(*t));
    if (!t) return seer_err_set(err, SEER_ERR_NOMEM, "train: out of memory");
    t->tm = tm;
    t->d = *d;
    t->o = *o;
    int32_t T = o->seq;
    if (d->sft) {
        int32_t longest = d->sft->max_len;
        if (d->sft_val && d->sft_val->max_len > longest) longest = d->sft_val->max_len;
        T = longest < o->seq ? longest : o->seq;
        if (T < 2) T = 2;
    }
    t->len = T;
    size_t n;
    seer_tmodel_params(tm, &n);
    size_t B = (size_t)o->batch, rows = B * (size_t)(d->sft ? (d->sft->max_len > T ? d->sft->max_len : T) : T + 1);
    if (d->sft_val && (size_t)d->sft_val->max_len * B > rows) rows = (size_t)d->sft_val->max_len * B;
    t->m = seer_alloc_aligned(n ? n : 1, sizeof(float));
    t->v = seer_alloc_aligned(n ? n : 1, sizeof(float));
    t->win = malloc(rows * sizeof(int32_t));
    t->tok = malloc(B * (size_t)T * sizeof(int32_t));
    t->tgt = malloc(B * (size_t)T * sizeof(int32_t));
    t->mask = calloc(rows, 1);
    t->lmask = calloc(B * (size_t)T, 1);
    if (!t->m || !t->v || !t->win || !t->tok || !t->tgt || !t->mask || !t->lmask) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "train: out of memory");
        goto fail;
    }
    memset(t->m, 0, n * sizeof(float));
    memset(t->v, 0, n * sizeof(float));
    if (d->corpus) {
        if ((st = seer_batcher_init(&t->batcher, d->corpus, SEER_SPLIT_TRAIN, o->batch, T, o->seed, err))) goto fail;
    } else {
        t->perm = malloc(d->sft->n * sizeof(size_t));
        if (!t->perm) {
            st = seer_err_set(err, SEER_ERR_NOMEM, "train: out of memory");
            goto fail;
        }
        t->perm_epoch = 0;
        seer_sft_shuffle(d->sft->n, o->seed, 0, t->perm);
    }
    if ((st = build_spans(t, err))) goto fail;
    if ((st = seer_pool_init(o->n_threads, &t->pool, err))) goto fail;
    if ((st = seer_tctx_init(tm, o->batch, T, o->n_threads, &t->tc, err))) goto fail;
    *out = t;
    return SEER_OK;
fail:
    seer_trainer_free(t);
    return st;
}

void seer_trainer_free(seer_trainer *t) {
    if (!t) return;
    seer_tctx_free(t->tc);
    seer_pool_free(t->pool);
    free(t->m), free(t->v), free(t->spans), free(t->perm);
    free(t->win), free(t->tok), free(t->tgt), free(t->mask), free(t->lmask);
    free(t);
}

int64_t seer_trainer_step_index(const seer_trainer *t) { return t->step; }
int64_t seer_trainer_tokens(const seer_trainer *t) { return t->tokens; }

/* Next records micro-batch into tok/lmask: position i predicts token i + 1, so the loss mask at
 * i is the completion mask at i + 1; rows are cut to t->len. */
static seer_status records_batch(seer_trainer *t, const seer_sft_set *set, const size_t *idx, seer_tbatch *b, seer_err *err) {
    int32_t B = t->o.batch, L = 0;
    seer_status st = seer_sft_batch(set, idx, B, 0, t->win, t->mask, &L, err);
    if (st) return st;
    int32_t T = L < t->len ? L : t->len;
    if (T < 2) T = 2;
    for (int32_t r = 0; r < B; r++)
        for (int32_t i = 0; i < T; i++) {
            int in = i < L;
            t->tok[(size_t)r * T + i] = in ? t->win[(size_t)r * L + i] : 0;
            t->lmask[(size_t)r * T + i] = (uint8_t)(i + 1 < L && t->mask[(size_t)r * L + i + 1]);
        }
    *b = (seer_tbatch){.B = B, .T = T, .tokens = t->tok, .loss_mask = t->lmask};
    return SEER_OK;
}

static seer_status next_batch(seer_trainer *t, seer_tbatch *b, seer_err *err) {
    int32_t B = t->o.batch, T = t->len;
    if (t->d.corpus) {
        seer_batcher_next(&t->batcher, t->win);
        for (int32_t r = 0; r < B; r++) {
            memcpy(t->tok + (size_t)r * T, t->win + (size_t)r * (T + 1), (size_t)T * sizeof(int32_t));
            memcpy(t->tgt + (size_t)r * T, t->win + (size_t)r * (T + 1) + 1, (size_t)T * sizeof(int32_t));
        }
        *b = (seer_tbatch){.B = B, .T = T, .tokens = t->tok, .targets = t->tgt};
        return SEER_OK;
    }
    const seer_sft_set *s = t->d.sft;
    size_t idx[4096];
    for (int32_t r = 0; r < B; r++, t->sft_counter++) {
        uint64_t epoch = t->sft_counter / s->n;
        if (epoch != t->perm_epoch) {
            seer_sft_shuffle(s->n, t->o.seed, epoch, t->perm);
            t->perm_epoch = epoch;
        }
        idx[r] = t->perm[t->sft_counter % s->n];
    }
    return records_batch(t, s, idx, b, err);
}

seer_status seer_trainer_step(seer_trainer *t, seer_train_report *r, seer_err *err) {
    seer_status st;
    seer_tmodel_zero_grads(t->tm);
    double loss = 0;
    for (int32_t a = 0; a < t->o.accum; a++) {
        seer_tbatch b;
        float l;
        if ((st = next_batch(t, &b, err)) || (st = seer_tctx_step(t->tc, &b, &l, err))) return st;
        loss += l;
        t->tokens += (int64_t)b.B * b.T;
    }
    if (t->o.accum > 1) seer_optim_scale_grads(t->pool, t->spans, t->n_spans, 1.0f / (float)t->o.accum);
    float norm = 0;
    if (seer_optim_clip_grad_norm(t->pool, t->spans, t->n_spans, t->o.clip, &norm, err))
        return seer_err_wrap(err, "train: step %" PRId64 ": ", t->step + 1);
    float lr = seer_optim_lr_at(&t->o.lr, t->step);
    if ((st = seer_optim_adamw_step(t->pool, &t->o.adamw, lr, t->step + 1, t->spans, t->n_spans, err))) return st;
    t->step++;
    if (r) *r = (seer_train_report){.step = t->step, .tokens = t->tokens, .loss = (float)(loss / t->o.accum), .lr = lr, .grad_norm = norm};
    return SEER_OK;
}

seer_status seer_trainer_eval(seer_trainer *t, float *loss, seer_err *err) {
    int32_t B = t->o.batch, T = t->len;
    double sum = 0;
    int64_t k = 0;
    seer_status st;
    if (t->d.corpus) {
        size_t nw = seer_corpus_n_windows(t->d.corpus, SEER_SPLIT_VAL, T);
        if (nw < (size_t)B) return seer_err_set(err, SEER_ERR_INVALID, "train: the validation split holds %zu windows of %d tokens, fewer than one batch of %d",
                                                 nw, T + 1, B);
        for (int32_t e = 0; e < t->o.eval_batches && (size_t)(e + 1) * (size_t)B <= nw; e++) {
            for (int32_t r = 0; r < B; r++)
                if ((st = seer_corpus_window(t->d.corpus, SEER_SPLIT_VAL, T, (size_t)e * (size_t)B + (size_t)r,
                                             t->win + (size_t)r * (T + 1), err)))
                    return st;
            for (int32_t r = 0; r < B; r++) {
                memcpy(t->tok + (size_t)r * T, t->win + (size_t)r * (T + 1), (size_t)T * sizeof(int32_t));
                memcpy(t->tgt + (size_t)r * T, t->win + (size_t)r * (T + 1) + 1, (size_t)T * sizeof(int32_t));
            }
            seer_tbatch b = {.B = B, .T = T, .tokens = t->tok, .targets = t->tgt};
            float l;
            if ((st = seer_tctx_forward(t->tc, &b, &l, NULL, err))) return st;
            sum += l, k++;
        }
    } else {
        const seer_sft_set *s = t->d.sft_val;
        if (!s || !s->n) return seer_err_set(err, SEER_ERR_INVALID, "train: no validation records");
        size_t idx[4096];
        for (int32_t e = 0; e < t->o.eval_batches && (size_t)e * (size_t)B < s->n; e++) {
            for (int32_t r = 0; r < B; r++) idx[r] = ((size_t)e * (size_t)B + (size_t)r) % s->n;
            seer_tbatch b;
            float l;
            if ((st = records_batch(t, s, idx, &b, err)) || (st = seer_tctx_forward(t->tc, &b, &l, NULL, err))) return st;
            sum += l, k++;
        }
    }
    *loss = k ? (float)(sum / (double)k) : NAN;
    return SEER_OK;
}

/* ---- checkpoints ---- */

/* Tensor list for a checkpoint: "param.X" for every span, "adam_m.X" and "adam_v.X" for the
 * trainable ones. Names point into buf. */
static seer_status ckpt_tensors(const seer_trainer *t, seer_ckpt_tensor **out, size_t *n_out, char **names, seer_err *err) {
    int64_t ns = seer_tmodel_n_spans(t->tm);
    size_t n;
    float *p = seer_tmodel_params(t->tm, &n);
    seer_ckpt_tensor *ts = calloc((size_t)ns * 3 + 1, sizeof(*ts));
    char *buf = malloc((size_t)ns * 3 * 160 + 1);
    if (!ts || !buf) {
        free(ts), free(buf);
        return seer_err_set(err, SEER_ERR_NOMEM, "train: out of memory");
    }
    size_t k = 0, off = 0;
    static const char *const kinds[] = {"param", "adam_m", "adam_v"};
    for (int kind = 0; kind < 3; kind++)
        for (int64_t i = 0; i < ns; i++) {
            const seer_tspan *s = seer_tmodel_span(t->tm, i);
            if (kind > 0 && !s->trainable) continue;
            char *name = buf + off;
            off += (size_t)snprintf(name, 160, "%s.%s", kinds[kind], s->name) + 1;
            float *base = kind == 0 ? p : kind == 1 ? t->m : t->v;
            ts[k].name = name;
            ts[k].n_dims = s->n_dims;
            for (int dd = 0; dd < s->n_dims; dd++) ts[k].shape[dd] = s->shape[dd];
            ts[k].data = base + s->offset;
            k++;
        }
    *out = ts;
    *n_out = k;
    *names = buf;
    return SEER_OK;
}

static void shape_key(const seer_trainer *t, char *buf, size_t cap) {
    const seer_model_config *c = seer_tmodel_config(t->tm);
    snprintf(buf, cap, "%s d_model=%d layers=%d heads=%d kv_heads=%d d_mlp=%d vocab=%d lora_rank=%d", seer_arch_name(c->arch),
             c->d_model, c->n_layers, c->n_heads, c->n_kv_heads, c->d_mlp, c->n_vocab, seer_tmodel_lora_rank(t->tm));
}

seer_status seer_trainer_save(const seer_trainer *t, const char *path, seer_err *err) {
    seer_ckpt_tensor *ts;
    size_t nt;
    char *names;
    seer_status st = ckpt_tensors(t, &ts, &nt, &names, err);
    if (st) return st;
    char step[32], tokens[32], data[64], seed[32], shape[256];
    snprintf(step, sizeof(step), "%" PRId64, t->step);
    snprintf(tokens, sizeof(tokens), "%" PRId64, t->tokens);
    if (t->d.corpus) seer_batcher_state_format(&t->batcher.state, data, sizeof(data));
    else snprintf(data, sizeof(data), "%" PRIu64, t->sft_counter);
    snprintf(seed, sizeof(seed), "%" PRIu64, t->o.seed);
    shape_key(t, shape, sizeof(shape));
    seer_ckpt_kv meta[] = {{"seer.train.step", step}, {"seer.train.tokens", tokens}, {"seer.train.data", data},
                           {"seer.train.seed", seed}, {"seer.train.shape", shape}};
    st = seer_ckpt_save(path, ts, nt, meta, sizeof(meta) / sizeof(meta[0]), err);
    free(ts), free(names);
    return st;
}

seer_status seer_trainer_resume(seer_trainer *t, const char *path, seer_err *err) {
    seer_ckpt *ck = NULL;
    seer_ckpt_tensor *ts = NULL;
    char *names = NULL;
    size_t nt;
    seer_status st = seer_ckpt_open(path, &ck, err);
    if (st) return st;
    char shape[256];
    shape_key(t, shape, sizeof(shape));
    const char *have = seer_ckpt_meta(ck, "seer.train.shape"), *data = seer_ckpt_meta(ck, "seer.train.data");
    int64_t step = 0, tokens = 0;
    uint64_t seed = 0;
    if (!have || !data) {
        st = seer_err_set(err, SEER_ERR_FORMAT, "checkpoint %s: not a training checkpoint (no seer.train.* metadata)", path);
        goto out;
    }
    if (strcmp(have, shape) != 0) {
        st = seer_err_set(err, SEER_ERR_INVALID, "checkpoint %s: made for a model of shape '%s', this one is '%s'", path, have, shape);
        goto out;
    }
    if ((st = seer_ckpt_meta_i64(ck, "seer.train.step", &step, err)) || (st = seer_ckpt_meta_i64(ck, "seer.train.tokens", &tokens, err)) ||
        (st = seer_ckpt_meta_u64(ck, "seer.train.seed", &seed, err)))
        goto out;
    if (seed != t->o.seed) {
        st = seer_err_set(err, SEER_ERR_INVALID, "checkpoint %s: written with --seed %" PRIu64 ", this run has %" PRIu64
                          " (the data order would differ)", path, seed, t->o.seed);
        goto out;
    }
    if (t->d.corpus) {
        seer_batcher_state bs;
        if ((st = seer_batcher_state_parse(data, &bs, err))) goto out;
        t->batcher.state = bs;
    } else {
        char *end = NULL;
        unsigned long long v = strtoull(data, &end, 10);
        if (!end || *end) {
            st = seer_err_set(err, SEER_ERR_FORMAT, "checkpoint %s: bad data position '%s'", path, data);
            goto out;
        }
        t->sft_counter = v;
        t->perm_epoch = v / t->d.sft->n;
        seer_sft_shuffle(t->d.sft->n, t->o.seed, t->perm_epoch, t->perm);
    }
    if ((st = ckpt_tensors(t, &ts, &nt, &names, err))) goto out;
    if ((st = seer_ckpt_load(ck, ts, nt, err))) {
        seer_err_wrap(err, "checkpoint %s: ", path);
        goto out;
    }
    t->step = step;
    t->tokens = tokens;
out:
    free(ts), free(names);
    seer_ckpt_close(ck);
    return st;
}

seer_status seer_tmodel_save(const seer_tmodel *tm, const seer_tok *tok, seer_format fmt, const char *path, seer_err *err) {
    if (seer_tmodel_lora_rank(tm))
        return seer_err_set(err, SEER_ERR_INVALID, "save: merge the LoRA adapters into the model first");
    seer_model *m = NULL;
    seer_status st = seer_tmodel_to_model(tm, &m, err);
    if (st) return st;
    m->tok = (seer_tok *)tok; /* borrowed for the save only */
    st = seer_model_save(m, fmt, path, SEER_DTYPE_F32, err);
    m->tok = NULL;
    seer_model_free(m);
    return st;
}
