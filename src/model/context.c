/* Inference context: the KV cache, scratch sized once for a batch, batch validation, embedding,
 * and the pieces every architecture's forward shares (matmul on weights, RoPE, causal attention
 * over the cache). Nothing is allocated per token. */
#include "model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

seer_ctx_params seer_ctx_default_params(void) {
    seer_ctx_params p = {.n_ctx = 0, .n_seq = 1, .n_batch = 512, .n_ubatch = 0, .n_threads = 0};
    return p;
}

/* Positions a context gets when the caller does not ask for a number (see seer_ctx_init). */
#define SEER_CTX_DEFAULT_MAX 4096

static int64_t kv_dim(const seer_model_config *c) { return (int64_t)c->n_kv_heads * c->d_head; }

seer_status seer_ctx_init(const seer_model *m, const seer_ctx_params *p, seer_ctx **out, seer_err *err) {
    *out = NULL;
    const seer_model_config *cfg = &m->cfg;
    seer_ctx *c = calloc(1, sizeof(*c));
    if (!c) return seer_err_set(err, SEER_ERR_NOMEM, "context: out of memory");
    c->m = m;
    /* A file's n_ctx is only a claim (2^22 would size gigabytes of cache): without an explicit
     * request, take at most SEER_CTX_DEFAULT_MAX positions. */
    c->n_ctx = p->n_ctx > 0 ? p->n_ctx : cfg->n_ctx < SEER_CTX_DEFAULT_MAX ? cfg->n_ctx : SEER_CTX_DEFAULT_MAX;
    c->n_seq = p->n_seq > 0 ? p->n_seq : 1;
    c->n_batch = p->n_batch > 0 ? p->n_batch : 512;
    seer_status st = SEER_OK;
    /* RoPE models run past their trained length (quality degrades, as in llama.cpp); learned
     * position embeddings end where the table ends. */
    if (c->n_ctx > cfg->n_ctx && cfg->arch == SEER_ARCH_GPT2) {
        st = seer_err_set(err, SEER_ERR_RANGE, "context: %d positions requested but the model has %d learned positions",
                          c->n_ctx, cfg->n_ctx);
        goto out_free;
    }
    if (c->n_ctx > (1 << 22)) {
        st = seer_err_set(err, SEER_ERR_RANGE, "context: %d positions is more than seer supports (%d)", c->n_ctx, 1 << 22);
        goto out_free;
    }
    if ((st = seer_pool_init(p->n_threads, &c->pool, err))) goto out_free;
    int nth = seer_pool_size(c->pool);

    /* KV cache: L * n_seq * n_ctx * kv_dim floats, twice */
    size_t kv_elems, tmp;
    if (seer_mul_size((size_t)cfg->n_layers, (size_t)c->n_seq, &tmp) || seer_mul_size(tmp, (size_t)c->n_ctx, &tmp) ||
        seer_mul_size(tmp, (size_t)kv_dim(cfg), &kv_elems)) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "context: KV cache size overflows");
        goto out_free;
    }
    /* Both caches and the RoPE tables, checked before anything that size is asked for. */
    size_t need, rope;
    char what[128];
    snprintf(what, sizeof(what), "context: KV cache for %d positions x %d sequences", c->n_ctx, c->n_seq);
    if (seer_mul_size(kv_elems, 2 * sizeof(float), &need) ||
        seer_mul_size((size_t)c->n_ctx, (size_t)cfg->d_head * sizeof(float), &rope) || seer_add_size(need, rope, &need))
        need = SIZE_MAX;
    if ((st = seer_mem_check(need, what, err))) goto out_free;
    c->k_cache = seer_alloc_aligned(kv_elems, sizeof(float));
    c->v_cache = seer_alloc_aligned(kv_elems, sizeof(float));
    c->seq_len = calloc((size_t)c->n_seq, sizeof(int32_t));
    int64_t half = cfg->d_head / 2;
    c->rope_cos = seer_alloc_aligned((size_t)c->n_ctx * (size_t)half, sizeof(float));
    c->rope_sin = seer_alloc_aligned((size_t)c->n_ctx * (size_t)half, sizeof(float));
    if (!c->k_cache || !c->v_cache || !c->seq_len || !c->rope_cos || !c->rope_sin) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "context: cannot allocate a KV cache of %zu MiB",
                          kv_elems * 8 >> 20);
        goto out_free;
    }
    /* Angles in double so long contexts keep precision; the table is computed once. */
    seer_rope_table(c->rope_cos, c->rope_sin, c->n_ctx, cfg->d_head, (double)cfg->rope_theta);

    /* scratch */
    size_t nb = (size_t)c->n_batch, d = (size_t)cfg->d_model, h = (size_t)cfg->d_mlp;
    size_t qw = cfg->arch == SEER_ARCH_GPT2 ? 3 * d : d;
    c->work_size = 0;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const seer_tensor *t = &m->tensors[i];
        if (t->n_dims != 2) continue;
        size_t w = seer_matmul_work_size(t->type, c->n_batch, t->shape[1]);
        if (w > c->work_size) c->work_size = w;
    }
    for (int l = 0; l < cfg->n_layers; l++) {
        const seer_layer *L = &m->layers[l];
        if (!ctx_swiglu_fusable(L)) continue;
        size_t w = seer_matmul_swiglu_work_size(L->w_gate->type, c->n_batch, L->w_gate->shape[1], nth);
        if (w > c->work_size) c->work_size = w;
    }
    /* The attention half of a block (q, k, v) and the MLP half (hb, hb2) are never live at once,
     * so they share one region, and attention writes its output over xb (dead once q, k and v are
     * computed): a token's scratch is x, xb and the larger half, not the sum of all. */
    size_t kvw = (size_t)kv_dim(cfg), attn_w = qw + 2 * kvw, mlp_w = 2 * h;
    size_t shared_w = attn_w > mlp_w ? attn_w : mlp_w;
    size_t floats = nb * (d * 3 + shared_w) + (size_t)nth * (size_t)c->n_ctx;
    /* + up to 64 bytes of alignment padding for each piece carved below */
    size_t bytes = floats * sizeof(float) + c->work_size + nb * sizeof(int32_t) + 8 * (size_t)64;
    if ((st = seer_mem_check(bytes, "context: scratch for a batch", err))) goto out_free;
    if ((st = seer_arena_init(&c->arena, bytes, err))) goto out_free;
    seer_arena *a = &c->arena;
    /* Not zeroed: every row is written before it is read, and untouched pages cost no memory. */
    c->x = seer_arena_alloc(a, nb * d * sizeof(float));
    c->xb = seer_arena_alloc(a, nb * d * sizeof(float));
    c->att_out = c->xb;
    c->shared = seer_arena_alloc(a, nb * shared_w * sizeof(float));
    ctx_carve_shared(c, c->n_batch);
    c->att_scores = seer_arena_alloc(a, (size_t)nth * (size_t)c->n_ctx * sizeof(float));
    c->work = c->work_size ? seer_arena_alloc(a, c->work_size) : NULL;
    c->tmp = seer_arena_alloc(a, nb * d * sizeof(float));
    c->out_rows = seer_arena_alloc(a, nb * sizeof(int32_t));
    SEER_ASSERT(c->out_rows != NULL);

    /* Slices: the scratch a slice touches (x, xb, the shared half, packed inputs) within ~3 %
     * of weights + KV, but not below the size where prefill slows down too much: measured on
     * the 15M shape, quantized weights run 48-token slices at ~87 % of whole-batch speed (64 at
     * ~98 %, 32 at ~80 %), and 48 is what keeps the smallest model in the bench (15M, q8_0,
     * vocab 512: 9 KiB of scratch per token) within weights + KV + 10 %; f32 needs
     * ~128 (64 ran at 77-88 %). Long prompts in big batches still touch only a slice's worth;
     * taps see whole batches and are never sliced. Untapped Llama MLPs fuse gate and up, so
     * their half touches d_mlp floats, not 2 d_mlp. */
    size_t touched_w = m->layers[0].w_gate && ctx_swiglu_fusable(&m->layers[0]) ? h : mlp_w;
    touched_w = attn_w > touched_w ? attn_w : touched_w;
    size_t per_token = (2 * d + touched_w) * sizeof(float) + c->work_size / nb;
    size_t budget = (seer_model_weight_bytes(m) + kv_elems * 2 * sizeof(float)) / 33;
    const seer_tensor *w0 = m->layers[0].wq ? m->layers[0].wq : m->layers[0].wqkv;
    seer_dtype wt = w0 ? w0->type : SEER_DTYPE_F32;
    size_t floor_u = wt == SEER_DTYPE_F32 || wt == SEER_DTYPE_F16 || wt == SEER_DTYPE_BF16 ? 128 : 48;
    size_t u = budget / (per_token ? per_token : 1);
    u = u < floor_u ? floor_u : u & ~(size_t)15;
    if (p->n_ubatch > 0) u = (size_t)p->n_ubatch;
    c->n_ubatch = u >= nb ? c->n_batch : (int32_t)u;
    c->no_logits = calloc((size_t)c->n_ubatch, 1);
    if (!c->no_logits) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "context: out of memory");
        goto out_free;
    }
    c->tap_mask = calloc((size_t)cfg->n_layers + 1, sizeof(uint32_t));
    if (!c->tap_mask) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "context: out of memory");
        goto out_free;
    }
    *out = c;
    return SEER_OK;
out_free:
    seer_ctx_free(c);
    return st;
}

void seer_ctx_free(seer_ctx *c) {
    if (!c) return;
    seer_pool_free(c->pool);
    free(c->k_cache);
    free(c->v_cache);
    free(c->seq_len);
    free(c->rope_cos);
    free(c->rope_sin);
    free(c->tap_mask);
    free(c->att_buf);
    free(c->no_logits);
    seer_arena_free(&c->arena);
    free(c);
}

size_t seer_ctx_kv_bytes(const seer_ctx *c) {
    const seer_model_config *cfg = &c->m->cfg;
    return (size_t)cfg->n_layers * (size_t)c->n_seq * (size_t)c->n_ctx * (size_t)kv_dim(cfg) * 2 * sizeof(float);
}

void seer_ctx_clear_seq(seer_ctx *c, int32_t s) {
    if (s >= 0 && s < c->n_seq) c->seq_len[s] = 0;
}
int32_t seer_ctx_seq_len(const seer_ctx *c, int32_t s) { return s >= 0 && s < c->n_seq ? c->seq_len[s] : -1; }
int32_t seer_ctx_n_ctx(const seer_ctx *c) { return c->n_ctx; }
int32_t seer_ctx_n_ubatch(const seer_ctx *c) { return c->n_ubatch; }
int32_t seer_ctx_n_seq(const seer_ctx *c) { return c->n_seq; }
int32_t seer_ctx_n_batch(const seer_ctx *c) { return c->n_batch; }
seer_pool *seer_ctx_pool(seer_ctx *c) { return c->pool; }

/* ---- shared forward pieces ---- */

/* Points q, k, v and hb, hb2 into the shared region for a batch of n tokens: packed by n rather
 * than n_batch, so a slice touches n * (the larger half) floats and no more. */
void ctx_carve_shared(seer_ctx *c, int64_t n) {
    const seer_model_config *cfg = &c->m->cfg;
    int64_t d = cfg->d_model, qw = cfg->arch == SEER_ARCH_GPT2 ? 3 * d : d;
    c->q = c->shared;
    c->k = c->shared + n * qw;
    c->v = c->k + n * kv_dim(cfg);
    c->hb = c->shared;
    c->hb2 = c->shared + n * cfg->d_mlp;
}

void ctx_matmul(seer_ctx *c, float *y, const float *x, int64_t n, const seer_tensor *w) {
    seer_matmul(c->pool, y, x, n, w->data, w->type, w->shape[0], w->shape[1], c->work);
}

int ctx_swiglu_fusable(const seer_layer *L) {
    return L->w_gate && L->w_up && L->w_gate->type == L->w_up->type && L->w_gate->shape[0] == L->w_up->shape[0] &&
           L->w_gate->shape[1] == L->w_up->shape[1];
}

void ctx_matmul_swiglu(seer_ctx *c, float *y, const float *x, int64_t n, const seer_layer *L) {
    seer_matmul_swiglu(c->pool, y, x, n, L->w_gate->data, L->w_up->data, L->w_gate->type, L->w_gate->shape[0],
                       L->w_gate->shape[1], c->work);
}

void ctx_matmul_acc(seer_ctx *c, float *y, const float *x, int64_t n, const seer_tensor *w) {
    seer_matmul_acc(c->pool, y, x, n, w->data, w->type, w->shape[0], w->shape[1], c->work);
}

void ctx_add_bias(float *y, const seer_tensor *b, int64_t n, int64_t width) {
    if (!b) return;
    const float *bv = b->data;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < width; j++) y[i * width + j] += bv[j];
}

typedef struct rows_job {
    seer_ctx *c;
    int64_t n;
    void (*fn)(seer_ctx *c, int64_t row, void *ud);
    void *ud;
} rows_job;

static void rows_task(void *p, int ith, int nth) {
    rows_job *j = p;
    int64_t per = (j->n + nth - 1) / nth, lo = per * ith, hi = lo + per < j->n ? lo + per : j->n;
    for (int64_t r = lo; r < hi; r++) j->fn(j->c, r, j->ud);
}

void ctx_parallel_rows(seer_ctx *c, int64_t n, void (*fn)(seer_ctx *c, int64_t row, void *ud), void *ud) {
    rows_job j = {c, n, fn, ud};
    if (n <= 1) {
        if (n == 1) fn(c, 0, ud);
        return;
    }
    seer_pool_run(c->pool, rows_task, &j);
}

static inline int32_t batch_seq(const seer_batch *b, int64_t i) { return b->seq ? b->seq[i] : 0; }

/* Rotates interleaved pairs (2j, 2j+1) of every head of row i by pos * theta^(-2j/d_head). */
void ctx_rope(seer_ctx *c, const seer_batch *b, float *x, int64_t stride, int n_heads) {
    int64_t dh = c->m->cfg.d_head, half = dh / 2;
    for (int64_t i = 0; i < b->n; i++) {
        const float *cs = c->rope_cos + (int64_t)b->pos[i] * half, *sn = c->rope_sin + (int64_t)b->pos[i] * half;
        float *row = x + i * stride;
        for (int h = 0; h < n_heads; h++) {
            float *v = row + h * dh;
            for (int64_t j = 0; j < half; j++) {
                float v0 = v[2 * j], v1 = v[2 * j + 1];
                v[2 * j] = v0 * cs[j] - v1 * sn[j];
                v[2 * j + 1] = v0 * sn[j] + v1 * cs[j];
            }
        }
    }
}

typedef struct attn_job {
    seer_ctx *c;
    const seer_batch *b;
    int l;
    const float *q;
    int64_t q_stride;
    float *out;
    int phase;      /* 0: fused; 1: scores into att_buf; 2: softmax in att_buf; 3: weighted sum */
    int32_t n_keys; /* att_buf row width per head (phases 1-3) */
} attn_job;

static void attn_task(void *p, int ith, int nth) {
    attn_job *j = p;
    seer_ctx *c = j->c;
    const seer_model_config *cfg = &c->m->cfg;
    int64_t dh = cfg->d_head, kvd = kv_dim(cfg), group = cfg->n_heads / cfg->n_kv_heads;
    int64_t units = (int64_t)j->b->n * cfg->n_heads;
    int64_t per = (units + nth - 1) / nth, lo = per * ith, hi = lo + per < units ? lo + per : units;
    float scale = 1.0f / sqrtf((float)dh);
    for (int64_t u = lo; u < hi; u++) {
        int64_t i = u / cfg->n_heads, h = u % cfg->n_heads, kvh = h / group;
        int32_t s = batch_seq(j->b, i), pos = j->b->pos[i];
        size_t base = (((size_t)j->l * (size_t)c->n_seq + (size_t)s) * (size_t)c->n_ctx) * (size_t)kvd;
        const float *kc = c->k_cache + base + kvh * dh, *vc = c->v_cache + base + kvh * dh;
        const float *qh = j->q + i * j->q_stride + h * dh;
        /* phases 1-3 keep (token, head) rows of n_keys in att_buf; the fused path a scratch row */
        float *sc = j->phase ? c->att_buf + u * j->n_keys : c->att_scores + (int64_t)ith * c->n_ctx;
        float *o = j->out + i * cfg->d_model + h * dh;
        switch (j->phase) {
        case 0: seer_attn_head_f32(o, sc, qh, kc, vc, pos + 1, dh, kvd, scale); break;
        case 1:
            seer_attn_scores_f32(sc, qh, kc, pos + 1, dh, kvd, scale);
            for (int32_t t = pos + 1; t < j->n_keys; t++) sc[t] = -INFINITY;
            break;
        case 2: {
            float mx = seer_vec_max_f32(sc, pos + 1);
            float sum = seer_vec_exp_sum_f32(sc, mx, pos + 1);
            seer_vec_scale_f32(sc, 1.0f / sum, pos + 1);
            for (int32_t t = pos + 1; t < j->n_keys; t++) sc[t] = 0.0f;
            break;
        }
        default: seer_attn_values_f32(o, sc, vc, pos + 1, dh, kvd); break;
        }
    }
}

void ctx_attention(seer_ctx *c, const seer_batch *b, int l, const float *q, int64_t q_stride, const float *k,
                   const float *v, int64_t kv_stride, float *att_out) {
    const seer_model_config *cfg = &c->m->cfg;
    int64_t kvd = kv_dim(cfg);
    for (int64_t i = 0; i < b->n; i++) {
        int32_t s = batch_seq(b, i);
        size_t off = ((((size_t)l * (size_t)c->n_seq + (size_t)s) * (size_t)c->n_ctx) + (size_t)b->pos[i]) * (size_t)kvd;
        memcpy(c->k_cache + off, k + i * kv_stride, (size_t)kvd * sizeof(float));
        memcpy(c->v_cache + off, v + i * kv_stride, (size_t)kvd * sizeof(float));
    }
    attn_job j = {c, b, l, q, q_stride, att_out, 0, 0};
    int scores = ctx_tapped(c, SEER_HP_ATTN_SCORES, l), pattern = ctx_tapped(c, SEER_HP_PATTERN, l);
    if (!(scores || pattern) || !c->att_buf) {
        seer_pool_run(c->pool, attn_task, &j);
        return;
    }
    for (int64_t i = 0; i < b->n; i++) j.n_keys = b->pos[i] + 1 > j.n_keys ? b->pos[i] + 1 : j.n_keys;
    int64_t width = (int64_t)cfg->n_heads * j.n_keys;
    j.phase = 1;
    seer_pool_run(c->pool, attn_task, &j);
    ctx_tap(c, SEER_HP_ATTN_SCORES, l, c->att_buf, b->n, width, width, cfg->n_heads);
    j.phase = 2;
    seer_pool_run(c->pool, attn_task, &j);
    ctx_tap(c, SEER_HP_PATTERN, l, c->att_buf, b->n, width, width, cfg->n_heads);
    j.phase = 3;
    seer_pool_run(c->pool, attn_task, &j);
}

void ctx_project_add(seer_ctx *c, float *x, const float *in, int64_t n, const seer_tensor *w, const seer_tensor *b,
                     seer_hook_point p, int layer) {
    int64_t d = c->m->cfg.d_model;
    if (!ctx_tapped(c, p, layer)) {
        ctx_add_bias(x, b, n, d);
        ctx_matmul_acc(c, x, in, n, w);
        return;
    }
    ctx_matmul(c, c->tmp, in, n, w);
    ctx_add_bias(c->tmp, b, n, d);
    ctx_tap(c, p, layer, c->tmp, n, d, d, 1);
    for (int64_t i = 0; i < n * d; i++) x[i] += c->tmp[i];
}

/* ---- taps ---- */

void ctx_tap_visit(seer_ctx *c, seer_hook_point p, int layer, float *data, int64_t rows, int64_t width, int64_t stride,
                   int32_t heads) {
    seer_tap_event ev = {.point = p, .layer = layer, .data = data, .n_rows = rows, .width = width,
                         .row_stride = stride, .n_heads = heads, .head_width = (int32_t)(width / heads),
                         .batch = c->batch, .row_token = NULL};
    c->tap_fn(c->tap_ud, &ev);
}

void seer_ctx_set_tap(seer_ctx *c, seer_tap_fn fn, void *ud) {
    c->tap_fn = fn;
    c->tap_ud = ud;
}

void seer_ctx_tap_clear(seer_ctx *c) {
    memset(c->tap_mask, 0, ((size_t)c->m->cfg.n_layers + 1) * sizeof(uint32_t));
}

seer_status seer_ctx_tap_enable(seer_ctx *c, seer_hook_point p, int layer, int on, seer_err *err) {
    const seer_model_config *cfg = &c->m->cfg;
    if ((unsigned)p >= SEER_HP_COUNT) return seer_err_set(err, SEER_ERR_INVALID, "tap: unknown hook point %d", (int)p);
    if (!seer_hook_point_exists(cfg->arch, p))
        return seer_err_set(err, SEER_ERR_INVALID, "tap: %s models have no %s", seer_arch_name(cfg->arch), seer_hook_point_name(p));
    int global = seer_hook_point_is_global(p);
    if (global ? layer != -1 : (layer < -1 || layer >= cfg->n_layers))
        return seer_err_set(err, SEER_ERR_RANGE, "tap: layer %d out of range for %s (model has %d layers)", layer,
                            seer_hook_point_name(p), cfg->n_layers);
    if (on && (p == SEER_HP_ATTN_SCORES || p == SEER_HP_PATTERN) && !c->att_buf) {
        size_t n;
        if (seer_mul_size((size_t)c->n_batch * (size_t)cfg->n_heads, (size_t)c->n_ctx, &n) ||
            !(c->att_buf = seer_alloc_aligned(n, sizeof(float))))
            return seer_err_set(err, SEER_ERR_NOMEM, "tap: cannot allocate attention scores for %d tokens x %d heads x %d keys",
                                c->n_batch, cfg->n_heads, c->n_ctx);
    }
    int lo = global ? -1 : (layer < 0 ? 0 : layer), hi = global ? -1 : (layer < 0 ? cfg->n_layers - 1 : layer);
    for (int l = lo; l <= hi; l++) {
        if (on) c->tap_mask[l + 1] |= 1u << p;
        else c->tap_mask[l + 1] &= ~(1u << p);
    }
    return SEER_OK;
}

/* ---- the batch driver ---- */

static seer_status check_batch(seer_ctx *c, const seer_batch *b, int32_t *n_out, seer_err *err) {
    const seer_model_config *cfg = &c->m->cfg;
    if (b->n <= 0) return seer_err_set(err, SEER_ERR_INVALID, "decode: empty batch");
    if (b->n > c->n_batch)
        return seer_err_set(err, SEER_ERR_RANGE, "decode: batch of %d tokens exceeds n_batch %d", b->n, c->n_batch);
    /* Positions must continue each sequence; simulate the lengths in out_rows' spare copy. */
    int32_t *len = c->seq_len;
    int32_t nout = 0;
    for (int32_t i = 0; i < b->n; i++) {
        int32_t s = batch_seq(b, i);
        if (b->tokens[i] < 0 || b->tokens[i] >= cfg->n_vocab)
            return seer_err_set(err, SEER_ERR_RANGE, "decode: token %d at batch index %d outside vocabulary [0, %d)",
                                b->tokens[i], i, cfg->n_vocab);
        if (s < 0 || s >= c->n_seq)
            return seer_err_set(err, SEER_ERR_RANGE, "decode: sequence %d at batch index %d outside [0, %d)", s, i, c->n_seq);
        if (b->pos[i] < 0 || b->pos[i] >= c->n_ctx)
            return seer_err_set(err, SEER_ERR_RANGE, "decode: position %d exceeds the context length %d", b->pos[i],
                                c->n_ctx);
        if (!b->want_logits ? i == b->n - 1 : b->want_logits[i] != 0) c->out_rows[nout++] = i;
    }
    /* gaps: each token's pos must be its sequence's length so far, counting earlier tokens of the
     * batch (pos 0 restarts the sequence) */
    for (int32_t i = 0; i < b->n; i++) {
        int32_t s = batch_seq(b, i), expect = len[s];
        for (int32_t k = 0; k < i; k++)
            if (batch_seq(b, k) == s) expect = b->pos[k] + 1;
        if (b->pos[i] != expect && b->pos[i] != 0)
            return seer_err_set(err, SEER_ERR_RANGE,
                                "decode: sequence %d: position %d given but the sequence has %d positions (no gaps allowed)",
                                s, b->pos[i], expect);
    }
    *n_out = nout;
    return SEER_OK;
}

static void embed_row(seer_ctx *c, int64_t i, void *ud) {
    const seer_batch *b = ud;
    const seer_model *m = c->m;
    int64_t d = m->cfg.d_model;
    const seer_tensor *e = m->tok_embd;
    size_t row;
    seer_dtype_row_bytes(e->type, d, &row, NULL);
    seer_convert_to_f32(e->type, (const uint8_t *)e->data + row * (size_t)b->tokens[i], c->x + i * d, d, NULL);
    if (m->pos_embd) {
        const float *pe = (const float *)m->pos_embd->data + (int64_t)b->pos[i] * d;
        for (int64_t j = 0; j < d; j++) c->x[i * d + j] += pe[j];
    }
}

/* Embedding with the token and position parts visited apart (GPT-2), then summed. */
static void embed_tapped(seer_ctx *c, const seer_batch *b) {
    const seer_model *m = c->m;
    int64_t d = m->cfg.d_model;
    const seer_tensor *e = m->tok_embd;
    size_t row;
    seer_dtype_row_bytes(e->type, d, &row, NULL);
    for (int32_t i = 0; i < b->n; i++)
        seer_convert_to_f32(e->type, (const uint8_t *)e->data + row * (size_t)b->tokens[i], c->x + i * d, d, NULL);
    ctx_tap(c, SEER_HP_EMBED, -1, c->x, b->n, d, d, 1);
    if (m->pos_embd) {
        for (int32_t i = 0; i < b->n; i++)
            memcpy(c->tmp + i * d, (const float *)m->pos_embd->data + (int64_t)b->pos[i] * d, (size_t)d * sizeof(float));
        ctx_tap(c, SEER_HP_POS_EMBED, -1, c->tmp, b->n, d, d, 1);
        for (int64_t k = 0; k < b->n * d; k++) c->x[k] += c->tmp[k];
    }
}

static void final_norm_row(seer_ctx *c, int64_t j, void *ud) {
    (void)ud;
    int64_t d = c->m->cfg.d_model;
    seer_arch_get(c->m->cfg.arch)->final_norm(c->m, c->xb + j * d, c->x + (int64_t)c->out_rows[j] * d);
}

static int ctx_any_tap(const seer_ctx *c) {
    if (!c->tap_fn) return 0;
    for (int l = 0; l <= c->m->cfg.n_layers; l++)
        if (c->tap_mask[l]) return 1;
    return 0;
}

static seer_status decode_batch(seer_ctx *c, const seer_batch *b, float *logits, seer_err *err);

seer_status seer_ctx_decode(seer_ctx *c, const seer_batch *b, float *logits, seer_err *err) {
    /* Taps see the whole batch at once, so only untapped batches are sliced. */
    if (b->n <= c->n_ubatch || ctx_any_tap(c)) return decode_batch(c, b, logits, err);
    int32_t n_out = 0;
    seer_status st = check_batch(c, b, &n_out, err); /* all or nothing: validate before the first slice */
    if (st) return st;
    int64_t V = c->m->cfg.n_vocab;
    /* As many slices as n_ubatch requires, of even size (rounded up to the GEMM's 16-row
     * groups): 256 tokens with n_ubatch 192 run as 2 x 128, the same two passes over the
     * weights as 192 + 64 but with less scratch touched. */
    int32_t n_slices = (b->n + c->n_ubatch - 1) / c->n_ubatch, step = (b->n + n_slices - 1) / n_slices;
    step = (step + 15) / 16 * 16;
    if (step > c->n_ubatch) step = c->n_ubatch;
    for (int32_t i0 = 0; i0 < b->n; i0 += step) {
        int32_t len = b->n - i0 < step ? b->n - i0 : step;
        int last = i0 + len == b->n;
        seer_batch s = {.n = len, .tokens = b->tokens + i0, .pos = b->pos + i0, .seq = b->seq ? b->seq + i0 : NULL,
                        .want_logits = b->want_logits ? b->want_logits + i0 : (last ? NULL : c->no_logits)};
        int32_t k = 0;
        for (int32_t i = 0; i < len; i++) k += s.want_logits ? s.want_logits[i] != 0 : i == len - 1;
        if ((st = decode_batch(c, &s, logits, err))) return st;
        if (logits) logits += (int64_t)k * V;
    }
    return SEER_OK;
}

static seer_status decode_batch(seer_ctx *c, const seer_batch *b, float *logits, seer_err *err) {
    int32_t n_out = 0;
    seer_status st = check_batch(c, b, &n_out, err);
    if (st) return st;
    const seer_model *m = c->m;
    if (m->pos_embd) {
        for (int32_t i = 0; i < b->n; i++)
            if (b->pos[i] >= m->cfg.n_ctx)
                return seer_err_set(err, SEER_ERR_RANGE, "decode: position %d past learned positions %d", b->pos[i], m->cfg.n_ctx);
    }
    c->batch = b;
    ctx_carve_shared(c, b->n);
    int64_t d = m->cfg.d_model;
    if (ctx_tapped(c, SEER_HP_EMBED, -1) || ctx_tapped(c, SEER_HP_POS_EMBED, -1)) {
        embed_tapped(c, b);
    } else {
        ctx_parallel_rows(c, b->n, embed_row, (void *)b);
    }
    seer_arch_get(m->cfg.arch)->forward(c, b);
    for (int32_t i = 0; i < b->n; i++) c->seq_len[batch_seq(b, i)] = b->pos[i] + 1;
    if (ctx_tapped(c, SEER_HP_LN_FINAL, -1)) {
        /* every row, so the tap sees the whole batch; then the wanted rows move up */
        for (int32_t i = 0; i < b->n; i++) c->out_rows[i] = i;
        ctx_parallel_rows(c, b->n, final_norm_row, NULL);
        ctx_tap(c, SEER_HP_LN_FINAL, -1, c->xb, b->n, d, d, 1);
        int32_t k = 0;
        for (int32_t i = 0; i < b->n; i++) {
            if (!(!b->want_logits ? i == b->n - 1 : b->want_logits[i] != 0)) continue;
            if (k != i) memmove(c->xb + (int64_t)k * d, c->xb + (int64_t)i * d, (size_t)d * sizeof(float));
            c->out_rows[k++] = i;
        }
    } else if (n_out > 0 && logits) {
        ctx_parallel_rows(c, n_out, final_norm_row, NULL);
    }
    if (n_out > 0 && logits) {
        ctx_matmul(c, logits, c->xb, n_out, m->output);
        if (ctx_tapped(c, SEER_HP_LOGITS, -1)) {
            seer_tap_event ev = {.point = SEER_HP_LOGITS, .layer = -1, .data = logits, .n_rows = n_out,
                                 .width = m->cfg.n_vocab, .row_stride = m->cfg.n_vocab, .n_heads = 1,
                                 .head_width = m->cfg.n_vocab, .batch = b, .row_token = c->out_rows};
            c->tap_fn(c->tap_ud, &ev);
        }
    }
    c->batch = NULL;
    return SEER_OK;
}
