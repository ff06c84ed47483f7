/* The training context: activations and scratch sized once for (max_batch, max_seq) in one
 * arena, batch validation (tokens, targets, loss weights, padding -> positions), the GEMM and
 * linear-layer helpers, and the public forward / step / hook-gradient entry points. */
#include "grad_internal.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- GEMM split over the pool ---- */

/* OpenBLAS's own threads would fight the pool's: every pool thread calls it single-threaded. */
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) { openblas_set_num_threads(1); }

typedef struct gemm_job {
    int ta, tb;
    int64_t M, N, K;
    float alpha;
    const float *A, *B;
    int64_t lda, ldb;
    float beta;
    float *C;
    int64_t ldc;
} gemm_job;

static void gemm_task(void *p, int ith, int nth) {
    const gemm_job *j = p;
    /* columns in blocks of 16 so each thread's slice stays SIMD-friendly */
    int64_t blocks = (j->N + 15) / 16, per = (blocks + nth - 1) / nth;
    int64_t n0 = per * ith * 16, n1 = n0 + per * 16 < j->N ? n0 + per * 16 : j->N;
    if (n0 >= n1) return;
    const float *B = j->tb ? j->B + n0 * j->ldb : j->B + n0;
    cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans, (int)j->M,
                (int)(n1 - n0), (int)j->K, j->alpha, j->A, (int)j->lda, B, (int)j->ldb, j->beta, j->C + n0, (int)j->ldc);
}

static void gemm(seer_tctx *c, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int64_t i = 0; i < M; i++)
            for (int64_t k = 0; k < N; k++) C[i * ldc + k] *= beta;
        return;
    }
    gemm_job j = {ta, tb, M, N, K, alpha, A, B, lda, ldb, beta, C, ldc};
    if (M * N * K < 32768) gemm_task(&j, 0, 1); /* not worth waking the pool */
    else seer_pool_run(c->pool, gemm_task, &j);
}

void tc_gemm(seer_tctx *c, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
             const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    gemm(c, trans_a, trans_b, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

void tc_gemm_serial(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                    const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    gemm_job j = {trans_a, trans_b, M, N, K, alpha, A, B, lda, ldb, beta, C, ldc};
    if (M > 0 && N > 0 && K > 0) gemm_task(&j, 0, 1);
}

typedef struct for_job {
    seer_tctx *c;
    int64_t n;
    void (*fn)(seer_tctx *c, int64_t i0, int64_t i1, int ith, void *ud);
    void *ud;
} for_job;

static void for_task(void *p, int ith, int nth) {
    for_job *j = p;
    int64_t per = (j->n + nth - 1) / nth, lo = per * ith, hi = lo + per < j->n ? lo + per : j->n;
    if (lo < hi) j->fn(j->c, lo, hi, ith, j->ud);
}

void tc_for(seer_tctx *c, int64_t n, void (*fn)(seer_tctx *c, int64_t i0, int64_t i1, int ith, void *ud), void *ud) {
    for_job j = {c, n, fn, ud};
    if (n <= 0) return;
    if (n == 1) {
        fn(c, 0, 1, 0, ud);
        return;
    }
    seer_pool_run(c->pool, for_task, &j);
}

/* ---- linear layers ---- */

static int64_t span_rows(const seer_tmodel *tm, int32_t s) { return tm->spans[s].shape[0]; }
static int64_t span_cols(const seer_tmodel *tm, int32_t s) { return tm->spans[s].shape[1]; }

typedef struct bias_args {
    float *y;
    const float *b;
    int64_t n, width;
} bias_args;

static void bias_rows(seer_tctx *c, int64_t i0, int64_t i1, int ith, void *ud) {
    (void)c, (void)ith;
    const bias_args *a = ud;
    for (int64_t i = i0; i < i1; i++)
        for (int64_t k = 0; k < a->width; k++) a->y[i * a->width + k] += a->b[k];
}

/* db [width] += Σ rows of y, split over columns so no two threads write one sum. */
static void bias_grad_cols(seer_tctx *c, int64_t k0, int64_t k1, int ith, void *ud) {
    (void)c, (void)ith;
    const bias_args *a = ud;
    float *db = (float *)a->b;
    for (int64_t i = 0; i < a->n; i++) {
        const float *row = a->y + i * a->width;
        for (int64_t k = k0; k < k1; k++) db[k] += row[k];
    }
}

typedef struct transpose_args {
    float *dst;       /* [cols, rows] */
    const float *src; /* [rows, cols] */
    int64_t rows, cols;
} transpose_args;

/* In 16 x 16 tiles so both sides stay in cache; split over blocks of source rows. */
static void transpose_blocks(seer_tctx *c, int64_t b0, int64_t b1, int ith, void *ud) {
    (void)c, (void)ith;
    const transpose_args *a = ud;
    float *restrict dst = a->dst;
    const float *restrict src = a->src;
    SEER_ASSERT(dst != NULL && src != NULL);
    const int64_t rows = a->rows, cols = a->cols;
    for (int64_t r0 = b0 * 16; r0 < b1 * 16 && r0 < rows; r0 += 16) {
        int64_t r1 = r0 + 16 < rows ? r0 + 16 : rows;
        for (int64_t c0 = 0; c0 < cols; c0 += 16) {
            int64_t c1 = c0 + 16 < cols ? c0 + 16 : cols;
            for (int64_t k = c0; k < c1; k++) {
                float *restrict d = dst + k * rows;
                for (int64_t r = r0; r < r1; r++) d[r] = src[r * cols + k];
            }
        }
    }
}

void tc_transpose(seer_tctx *c, float *dst, const float *src, int64_t rows, int64_t cols) {
    transpose_args a = {dst, src, rows, cols};
    tc_for(c, (rows + 15) / 16, transpose_blocks, &a);
}

void tc_lin_fwd(seer_tctx *c, float *y, const float *x, int64_t n, tlin L) {
    const seer_tmodel *tm = c->tm;
    int64_t out = span_rows(tm, L.w), in = span_cols(tm, L.w);
    if (c->gemm_blas) gemm(c, 0, 1, n, out, in, 1.0f, x, in, tm_p(tm, L.w), in, 0.0f, y, out);
    else seer_matmul(c->pool, y, x, n, tm_p(tm, L.w), SEER_DTYPE_F32, out, in, c->mm_work);
    if (L.b >= 0) {
        bias_args a = {y, tm_p(tm, L.b), n, out};
        tc_for(c, n, bias_rows, &a);
    }
    int32_t A = tm->lora_a[L.w], B = tm->lora_b[L.w];
    if (A >= 0) {
        int64_t r = tm->lora_rank;
        float s = tm->lora_alpha / (float)r;
        gemm(c, 0, 1, n, r, in, 1.0f, x, in, tm_p(tm, A), in, 0.0f, c->lora_t, r);  /* t = x·Aᵀ (n, r) */
        gemm(c, 0, 1, n, out, r, s, c->lora_t, r, tm_p(tm, B), r, 1.0f, y, out);    /* y += s·t·Bᵀ */
    }
}

void tc_lin_bwd(seer_tctx *c, float *dx, int dx_acc, const float *dy, const float *x, int64_t n, tlin L) {
    const seer_tmodel *tm = c->tm;
    int64_t out = span_rows(tm, L.w), in = span_cols(tm, L.w);
    int want_dw = c->pgrad && tm_trains(tm, L.w);
    if (c->gemm_blas) {
        if (dx) gemm(c, 0, 0, n, in, out, 1.0f, dy, out, tm_p(tm, L.w), in, dx_acc ? 1.0f : 0.0f, dx, in);
        if (want_dw) gemm(c, 1, 0, out, in, n, 1.0f, dy, out, x, in, 1.0f, tm_g(tm, L.w), in);
    } else {
        /* dx [n, in] = dy · W = dy · (Wᵀ)ᵀ;  dW [out, in] += dyᵀ · (xᵀ)ᵀ */
        if (dx) {
            tc_transpose(c, c->wt, tm_p(tm, L.w), out, in);
            (dx_acc ? seer_matmul_acc : seer_matmul)(c->pool, dx, dy, n, c->wt, SEER_DTYPE_F32, in, out, c->mm_work);
        }
        if (want_dw) {
            tc_transpose(c, c->dyt, dy, n, out);
            tc_transpose(c, c->xt, x, n, in);
            seer_matmul_acc(c->pool, tm_g(tm, L.w), c->dyt, out, c->xt, SEER_DTYPE_F32, in, n, c->mm_work);
        }
    }
    if (c->pgrad && tm_trains(tm, L.b)) {
        bias_args a = {(float *)dy, tm_g(tm, L.b), n, out};
        tc_for(c, out, bias_grad_cols, &a);
    }
    int32_t A = tm->lora_a[L.w], B = tm->lora_b[L.w];
    if (A < 0) return;
    int64_t r = tm->lora_rank;
    float s = tm->lora_alpha / (float)r;
    gemm(c, 0, 0, n, r, out, 1.0f, dy, out, tm_p(tm, B), r, 0.0f, c->lora_u, r); /* u = dy·B (n, r) */
    if (c->pgrad && tm_trains(tm, B)) {
        gemm(c, 0, 1, n, r, in, 1.0f, x, in, tm_p(tm, A), in, 0.0f, c->lora_t, r); /* t = x·Aᵀ, recomputed */
        gemm(c, 1, 0, out, r, n, s, dy, out, c->lora_t, r, 1.0f, tm_g(tm, B), r);  /* dB += s·dyᵀ·t */
    }
    if (c->pgrad && tm_trains(tm, A)) gemm(c, 1, 0, r, in, n, s, c->lora_u, r, x, in, 1.0f, tm_g(tm, A), in);
    if (dx) gemm(c, 0, 0, n, in, r, s, c->lora_u, r, tm_p(tm, A), in, 1.0f, dx, in); /* dx += s·u·A */
}

void tc_copy_rows(float *dst, const float *src, int64_t n, int64_t width, int64_t stride) {
    for (int64_t i = 0; i < n; i++) memcpy(dst + i * width, src + i * stride, (size_t)width * sizeof(float));
}

/* ---- context ---- */

/* The arena layout, walked twice: once to add up the bytes, once to hand out pointers. */
typedef struct planner {
    seer_arena *a; /* NULL on the sizing pass */
    size_t total;
    int overflow;
} planner;

static void *plan(planner *p, size_t n, size_t elem) {
    size_t bytes;
    if (seer_mul_size(n, elem, &bytes) || seer_add_size(bytes, 64, &bytes) || seer_add_size(p->total, bytes, &p->total)) {
        p->overflow = 1;
        return NULL;
    }
    return p->a ? seer_arena_alloc(p->a, bytes - 64) : NULL;
}

static size_t mul3(size_t a, size_t b, size_t c, int *overflow) {
    size_t r;
    if (seer_mul_size(a, b, &r) || seer_mul_size(r, c, &r)) {
        *overflow = 1;
        return 0;
    }
    return r;
}

static void tctx_plan(seer_tctx *c, planner *p) {
    const seer_model_config *cfg = &c->tm->cfg;
    int gpt2 = cfg->arch == SEER_ARCH_GPT2;
    size_t L = (size_t)cfg->n_layers, n = c->max_n, d = (size_t)cfg->d_model, h = (size_t)cfg->d_mlp;
    size_t kvd = (size_t)cfg->n_kv_heads * (size_t)cfg->d_head, qw = gpt2 ? 3 * d : d, V = (size_t)cfg->n_vocab;
    size_t T = (size_t)c->max_t, H = (size_t)cfg->n_heads, f = sizeof(float);
    int *o = &p->overflow;
    c->x = plan(p, mul3(L + 1, n, d, o), f);
    c->xmid = plan(p, mul3(L, n, d, o), f);
    c->mean1 = plan(p, mul3(L, n, 1, o), f);
    c->rstd1 = plan(p, mul3(L, n, 1, o), f);
    c->mean2 = plan(p, mul3(L, n, 1, o), f);
    c->rstd2 = plan(p, mul3(L, n, 1, o), f);
    c->meanf = plan(p, n, f);
    c->rstdf = plan(p, n, f);
    c->q = plan(p, mul3(L, n, qw, o), f);
    c->k = gpt2 ? NULL : plan(p, mul3(L, n, kvd, o), f);
    c->v = gpt2 ? NULL : plan(p, mul3(L, n, kvd, o), f);
    c->att = plan(p, mul3(mul3(L, (size_t)c->max_b, H, o), T, T, o), f);
    c->z = plan(p, mul3(L, n, d, o), f);
    c->hpre = plan(p, mul3(L, n, h, o), f);
    c->hup = gpt2 ? NULL : plan(p, mul3(L, n, h, o), f);
    c->lnb = plan(p, mul3(n, d, 1, o), f);
    c->tmpd = plan(p, mul3(n, d, 1, o), f);
    c->hb = plan(p, mul3(n, h, 1, o), f);
    c->dres = plan(p, mul3(n, d, 1, o), f);
    c->dln = plan(p, mul3(n, d, 1, o), f);
    c->dq = plan(p, mul3(n, qw, 1, o), f);
    c->dk = gpt2 ? NULL : plan(p, mul3(n, kvd, 1, o), f);
    c->dv = gpt2 ? NULL : plan(p, mul3(n, kvd, 1, o), f);
    c->dh = plan(p, mul3(n, h, 1, o), f);
    c->dh2 = plan(p, mul3(n, h, 1, o), f);
    size_t r = c->tm->lora_rank > 0 ? (size_t)c->tm->lora_rank : 1;
    c->lora_t = plan(p, mul3(n, r, 1, o), f);
    c->lora_u = plan(p, mul3(n, r, 1, o), f);
    c->logits = plan(p, mul3((size_t)c->chunk, V, 1, o), f);
    c->part = plan(p, mul3((size_t)c->nth, 2 * d, 1, o), f);
    c->attd = plan(p, mul3((size_t)c->nth, T, T, o), f);
    c->row_loss = plan(p, n, f);
    c->rope_cos = plan(p, mul3(T, (size_t)cfg->d_head / 2 + 1, 1, o), f);
    c->rope_sin = plan(p, mul3(T, (size_t)cfg->d_head / 2 + 1, 1, o), f);
    c->pos = plan(p, n, sizeof(int32_t));
    c->tgt = plan(p, n, sizeof(int32_t));
    c->lw = plan(p, n, f);
    c->real = plan(p, n, 1);
    /* seer_matmul path: the largest block matrix, and dy / x of any linear layer transposed */
    size_t mx_out = gpt2 ? 3 * d : (h > d ? h : d), mx_in = h > d ? h : d;
    c->wt = plan(p, mul3(mx_out, mx_in, 1, o), f);
    c->dyt = plan(p, mul3(mx_out, n, 1, o), f);
    c->xt = plan(p, mul3(mx_in, n, 1, o), f);
    /* seer_matmul calls: (n rows, in cols) forward, (n, out) for dx, (out, n) for dW, and the
     * classifier's (chunk, d) forward; the size is monotone in each */
    size_t mx = mx_out > mx_in ? mx_out : mx_in, ws = 0;
    size_t shapes[3][2] = {{n, mx}, {mx_out, n}, {(size_t)c->chunk, d}};
    for (int i = 0; i < 3; i++) {
        size_t w = seer_matmul_work_size(SEER_DTYPE_F32, (int64_t)shapes[i][0], (int64_t)shapes[i][1]);
        if (w == SIZE_MAX) *o = 1;
        else if (w > ws) ws = w;
    }
    c->mm_work = ws ? plan(p, ws, 1) : NULL;
}

seer_status seer_tctx_init(seer_tmodel *tm, int32_t max_batch, int32_t max_seq, int n_threads, seer_tctx **out,
                           seer_err *err) {
    *out = NULL;
    const seer_model_config *cfg = &tm->cfg;
    if (max_batch < 1 || max_seq < 1)
        return seer_err_set(err, SEER_ERR_INVALID, "tctx: batch %d x %d tokens: both must be at least 1", max_batch,
                            max_seq);
    if ((int64_t)max_batch * max_seq > (1 << 24))
        return seer_err_set(err, SEER_ERR_RANGE, "tctx: batch %d x %d tokens is more than seer supports (%d)",
                            max_batch, max_seq, 1 << 24);
    if (cfg->arch == SEER_ARCH_GPT2 && max_seq > cfg->n_ctx)
        return seer_err_set(err, SEER_ERR_RANGE, "tctx: %d tokens per sequence but the model has %d learned positions",
                            max_seq, cfg->n_ctx);
    seer_tctx *c = calloc(1, sizeof(*c));
    if (!c) return seer_err_set(err, SEER_ERR_NOMEM, "tctx: out of memory");
    c->tm = tm;
    c->max_b = max_batch;
    c->max_t = max_seq;
    c->max_n = (size_t)max_batch * (size_t)max_seq;
    c->lora_rank = tm->lora_rank;
    const char *ge = getenv("SEER_GRAD_GEMM");
    c->gemm_blas = (ge && !strcmp(ge, "blas")) || seer_simd_level() == SEER_SIMD_SCALAR;
    seer_status st = seer_pool_init(n_threads, &c->pool, err);
    if (st) goto out_free;
    c->nth = seer_pool_size(c->pool);
    /* Classifier rows per pass: about 4M logits at a time, so a 32k vocabulary does not need a
     * [B*T, V] buffer. */
    c->chunk = (int64_t)((4u << 20) / (unsigned)cfg->n_vocab);
    if (c->chunk < 16) c->chunk = 16;
    if (c->chunk > (int64_t)c->max_n) c->chunk = (int64_t)c->max_n;
    c->hooks = calloc((size_t)(cfg->n_layers + 1) * SEER_HP_COUNT, sizeof(*c->hooks));
    if (!c->hooks) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "tctx: out of memory");
        goto out_free;
    }
    planner p = {0};
    tctx_plan(c, &p);
    if (p.overflow) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "tctx: activations for %d x %d tokens overflow", max_batch, max_seq);
        goto out_free;
    }
    if ((st = seer_arena_init(&c->arena, p.total, err))) {
        seer_err_wrap(err, "tctx: activations for %d x %d tokens (%zu MiB): ", max_batch, max_seq, p.total >> 20);
        goto out_free;
    }
    c->bytes = p.total;
    p.a = &c->arena;
    p.total = 0;
    tctx_plan(c, &p);
    SEER_ASSERT(!p.overflow && c->real != NULL);
    /* RoPE angles as the inference context computes them, so both agree. */
    seer_rope_table(c->rope_cos, c->rope_sin, max_seq, cfg->d_head, (double)cfg->rope_theta);
    pthread_once(&blas_once, blas_single_thread);
    *out = c;
    return SEER_OK;
out_free:
    seer_tctx_free(c);
    return st;
}

void seer_tctx_free(seer_tctx *tc) {
    if (!tc) return;
    seer_pool_free(tc->pool);
    seer_arena_free(&tc->arena);
    free(tc->hooks);
    free(tc);
}

size_t seer_tctx_bytes(const seer_tctx *tc) { return tc->bytes; }

/* ---- batches ---- */

static seer_status tctx_prepare(seer_tctx *c, const seer_tbatch *b, int need_weights, seer_err *err) {
    const seer_model_config *cfg = &c->tm->cfg;
    if (!b || !b->tokens) return seer_err_set(err, SEER_ERR_INVALID, "train batch: no tokens");
    if (b->B < 1 || b->T < 1)
        return seer_err_set(err, SEER_ERR_INVALID, "train batch: %d x %d tokens: both must be at least 1", b->B, b->T);
    if (b->B > c->max_b || b->T > c->max_t)
        return seer_err_set(err, SEER_ERR_RANGE,
                            "train batch: %d sequences x %d tokens exceeds the context's limit of %d x %d", b->B, b->T,
                            c->max_b, c->max_t);
    if (c->tm->lora_rank != c->lora_rank)
        return seer_err_set(err, SEER_ERR_INVALID,
                            "train batch: the context was made for LoRA rank %d but the model now has rank %d "
                            "(make a new context)",
                            c->lora_rank, c->tm->lora_rank);
    int64_t n = (int64_t)b->B * b->T;
    c->B = b->B;
    c->T = b->T;
    c->n = n;
    c->tokens = b->tokens;
    for (int32_t s = 0; s < b->B; s++) {
        int32_t p = 0;
        for (int32_t t = 0; t < b->T; t++) {
            int64_t i = (int64_t)s * b->T + t;
            c->real[i] = !b->attn_mask || b->attn_mask[i];
            c->pos[i] = c->real[i] ? p++ : 0;
            if (c->real[i] && (b->tokens[i] < 0 || b->tokens[i] >= cfg->n_vocab))
                return seer_err_set(err, SEER_ERR_RANGE, "train batch: token %d at (%d, %d) outside vocabulary [0, %d)",
                                    b->tokens[i], s, t, cfg->n_vocab);
        }
    }
    double wsum = 0;
    for (int32_t s = 0; s < b->B; s++) {
        for (int32_t t = 0; t < b->T; t++) {
            int64_t i = (int64_t)s * b->T + t;
            float w = b->loss_weight ? b->loss_weight[i] : 1.0f;
            if (!(w >= 0.0f) || !isfinite(w))
                return seer_err_set(err, SEER_ERR_INVALID, "train batch: loss weight %g at (%d, %d) must be finite and >= 0",
                                    (double)w, s, t);
            if (b->loss_mask && !b->loss_mask[i]) w = 0;
            if (!c->real[i]) w = 0;
            int32_t tg = -1;
            if (b->targets) tg = b->targets[i];
            else if (t + 1 < b->T && c->real[i + 1]) tg = b->tokens[i + 1];
            else w = 0;
            if (w > 0 && (tg < 0 || tg >= cfg->n_vocab))
                return seer_err_set(err, SEER_ERR_RANGE, "train batch: target %d at (%d, %d) outside vocabulary [0, %d)",
                                    tg, s, t, cfg->n_vocab);
            c->tgt[i] = w > 0 ? tg : 0;
            c->lw[i] = w;
            wsum += w;
        }
    }
    if (need_weights && !(wsum > 0))
        return seer_err_set(err, SEER_ERR_INVALID,
                            "train batch: no position counts in the loss (all weights, masks or targets exclude them)");
    c->wsum = wsum;
    for (int64_t i = 0; i < n; i++) c->lw[i] = wsum > 0 ? (float)(c->lw[i] / wsum) : 0.0f;
    return SEER_OK;
}

seer_status seer_tctx_forward(seer_tctx *tc, const seer_tbatch *b, float *loss, float *logits, seer_err *err) {
    seer_status st = tctx_prepare(tc, b, 0, err);
    if (st) return st;
    tc->mode = TMODE_EVAL;
    tc->pgrad = 0;
    tc->metric.kind = SEER_METRIC_LOSS;
    double m = 0;
    tc_forward(tc, logits, &m);
    if (loss) *loss = (float)m;
    return SEER_OK;
}

seer_status seer_tctx_step(seer_tctx *tc, const seer_tbatch *b, float *loss, seer_err *err) {
    seer_status st = tctx_prepare(tc, b, 1, err);
    if (st) return st;
    tc->mode = TMODE_STEP;
    tc->pgrad = 1;
    tc->metric.kind = SEER_METRIC_LOSS;
    double m = 0;
    tc_forward(tc, NULL, &m);
    tc_backward(tc);
    if (loss) *loss = (float)m;
    return SEER_OK;
}

static const char *const metric_names[] = {"loss", "logit", "logit_diff"};
_Static_assert(SEER_METRIC_COUNT == sizeof(metric_names) / sizeof(metric_names[0]), "metric_names covers seer_metric_kind");

const char *seer_metric_kind_name(seer_metric_kind k) {
    return (unsigned)k < SEER_METRIC_COUNT ? metric_names[k] : "unknown";
}

static int64_t hook_width(const seer_model_config *c, seer_hook_point p, int32_t T) {
    int64_t kvd = (int64_t)c->n_kv_heads * c->d_head;
    switch (p) {
    case SEER_HP_Q:
    case SEER_HP_ROT_Q:
    case SEER_HP_Z: return c->d_model;
    case SEER_HP_K:
    case SEER_HP_V:
    case SEER_HP_ROT_K: return c->arch == SEER_ARCH_GPT2 ? c->d_model : kvd;
    case SEER_HP_ATTN_SCORES:
    case SEER_HP_PATTERN: return (int64_t)c->n_heads * T; /* per query row: heads x keys */
    case SEER_HP_MLP_PRE:
    case SEER_HP_MLP_PRE_LINEAR:
    case SEER_HP_MLP_POST: return c->d_mlp;
    case SEER_HP_LOGITS: return c->n_vocab;
    default: return c->d_model;
    }
}

size_t seer_tctx_hook_size(const seer_tctx *tc, const char *name, int32_t B, int32_t T, seer_err *err) {
    seer_hook_point p;
    int layer;
    if (tmodel_hook_parse(tc->tm, name, &p, &layer, err)) return 0;
    return (size_t)B * (size_t)T * (size_t)hook_width(&tc->tm->cfg, p, T);
}

seer_status seer_tctx_hook_grads(seer_tctx *tc, const seer_tbatch *b, const seer_metric *metric, seer_hook_grad *hooks,
                                 int n_hooks, float *metric_out, seer_err *err) {
    const seer_model_config *cfg = &tc->tm->cfg;
    if (!metric) return seer_err_set(err, SEER_ERR_INVALID, "hook grads: no metric");
    if ((unsigned)metric->kind >= SEER_METRIC_COUNT)
        return seer_err_set(err, SEER_ERR_INVALID, "hook grads: unknown metric kind %d", (int)metric->kind);
    if (n_hooks < 0 || (n_hooks > 0 && !hooks))
        return seer_err_set(err, SEER_ERR_INVALID, "hook grads: %d hooks but no list", n_hooks);
    seer_status st = tctx_prepare(tc, b, metric->kind == SEER_METRIC_LOSS, err);
    if (st) return st;
    if (metric->kind != SEER_METRIC_LOSS) {
        if (metric->b < 0 || metric->b >= b->B || metric->t < 0 || metric->t >= b->T)
            return seer_err_set(err, SEER_ERR_RANGE, "hook grads: metric position (%d, %d) outside the %d x %d batch",
                                metric->b, metric->t, b->B, b->T);
        if (!tc->real[(int64_t)metric->b * b->T + metric->t])
            return seer_err_set(err, SEER_ERR_INVALID, "hook grads: metric position (%d, %d) is padding", metric->b,
                                metric->t);
        int two = metric->kind == SEER_METRIC_LOGIT_DIFF;
        if (metric->token < 0 || metric->token >= cfg->n_vocab || (two && (metric->token2 < 0 || metric->token2 >= cfg->n_vocab)))
            return seer_err_set(err, SEER_ERR_RANGE, "hook grads: metric token %d / %d outside vocabulary [0, %d)",
                                metric->token, two ? metric->token2 : 0, cfg->n_vocab);
    }
    memset(tc->hooks, 0, (size_t)(cfg->n_layers + 1) * SEER_HP_COUNT * sizeof(*tc->hooks));
    for (int i = 0; i < n_hooks; i++) {
        seer_hook_point p;
        int layer;
        if ((st = tmodel_hook_parse(tc->tm, hooks[i].name, &p, &layer, err))) return st;
        thook *h = &tc->hooks[(size_t)(layer + 1) * SEER_HP_COUNT + (size_t)p];
        if (h->value || h->grad)
            return seer_err_set(err, SEER_ERR_INVALID, "hook grads: hook '%s' requested twice", hooks[i].name);
        h->value = hooks[i].value;
        h->grad = hooks[i].grad;
        /* masked attention entries and rows of padding read 0 */
        size_t sz = (size_t)tc->n * (size_t)hook_width(cfg, p, b->T);
        if (h->value) memset(h->value, 0, sz * sizeof(float));
        if (h->grad) memset(h->grad, 0, sz * sizeof(float));
    }
    tc->any_hook = n_hooks > 0;
    tc->mode = TMODE_HOOKS;
    tc->pgrad = 0;
    tc->metric = *metric;
    double m = 0;
    tc_forward(tc, NULL, &m);
    tc_backward(tc);
    tc->any_hook = 0;
    memset(tc->hooks, 0, (size_t)(cfg->n_layers + 1) * SEER_HP_COUNT * sizeof(*tc->hooks));
    if (metric_out) *metric_out = (float)m;
    return SEER_OK;
}
