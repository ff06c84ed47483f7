/* Matmul: y = x · wᵀ for every weight type. Owns the workspace layout, the split of weight
 * rows over the pool's threads, the portable kernels (the scalar level and the fallback), and
 * the double-precision reference the tests hold every level to. */
#include "kernels.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

/* ---- reference ---------------------------------------------------------------------------- */

/* Weight rows and the workspace are byte-addressed; element pointers into them go through
 * void * (the bytes are laid out, and aligned, for that element type). */
static double weight_at(const void *w, seer_dtype t, size_t wrow, int64_t r, int64_t c) {
    const uint8_t *row = (const uint8_t *)w + (size_t)r * wrow;
    switch (t) {
    case SEER_DTYPE_F32: return ((const float *)(const void *)row)[c];
    case SEER_DTYPE_F16: return seer_fp16_to_fp32(((const uint16_t *)row)[c]);
    case SEER_DTYPE_BF16: return seer_bf16_to_fp32(((const uint16_t *)row)[c]);
    case SEER_DTYPE_Q8_0: {
        const seer_block_q8_0 *b = (const seer_block_q8_0 *)row + c / SEER_QK;
        return (double)seer_fp16_to_fp32(b->d) * b->qs[c % SEER_QK];
    }
    case SEER_DTYPE_Q4_0: {
        const seer_block_q4_0 *b = (const seer_block_q4_0 *)row + c / SEER_QK;
        int j = (int)(c % SEER_QK);
        int q = j < SEER_QK / 2 ? (b->qs[j] & 0x0f) : (b->qs[j - SEER_QK / 2] >> 4);
        return (double)seer_fp16_to_fp32(b->d) * (q - 8);
    }
    default: SEER_ASSERT(!"matmul: unsupported weight type"); return 0;
    }
}

static size_t row_bytes(seer_dtype t, int64_t cols) {
    size_t b;
    SEER_ASSERT(seer_dtype_row_bytes(t, cols, &b, NULL) == SEER_OK);
    return b;
}

void seer_matmul_ref(float *y, const float *x, int64_t n, const void *w, seer_dtype wtype, int64_t rows,
                     int64_t cols) {
    SEER_ASSERT((unsigned)wtype < SEER_MM_NTYPES);
    size_t wrow = row_bytes(wtype, cols);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t r = 0; r < rows; r++) {
            double s = 0;
            for (int64_t c = 0; c < cols; c++) s += (double)x[i * cols + c] * weight_at(w, wtype, wrow, r, c);
            y[i * rows + r] = (float)s;
        }
    }
}

/* ---- portable kernels --------------------------------------------------------------------- */

void seer_to_f32_f32_scalar(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }

void seer_to_f32_f16_scalar(const void *src, float *dst, int64_t n) {
    const uint16_t *s = src;
    for (int64_t i = 0; i < n; i++) dst[i] = seer_fp16_to_fp32(s[i]);
}

void seer_to_f32_bf16_scalar(const void *src, float *dst, int64_t n) {
    const uint16_t *s = src;
    for (int64_t i = 0; i < n; i++) dst[i] = seer_bf16_to_fp32(s[i]);
}

void seer_to_f32_q8_0_scalar(const void *src, float *dst, int64_t n) {
    const seer_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / SEER_QK; i++) {
        float d = seer_fp16_to_fp32(b[i].d);
        for (int j = 0; j < SEER_QK; j++) dst[i * SEER_QK + j] = d * (float)b[i].qs[j];
    }
}

void seer_to_f32_q4_0_scalar(const void *src, float *dst, int64_t n) {
    const seer_block_q4_0 *b = src;
    for (int64_t i = 0; i < n / SEER_QK; i++) {
        float d = seer_fp16_to_fp32(b[i].d);
        for (int j = 0; j < SEER_QK / 2; j++) {
            dst[i * SEER_QK + j] = d * (float)((b[i].qs[j] & 0x0f) - 8);
            dst[i * SEER_QK + j + SEER_QK / 2] = d * (float)((b[i].qs[j] >> 4) - 8);
        }
    }
}

/* As ggml's q8_0, but the scale stays f32 (no fp16 rounding) and values round to nearest
 * even, as the SIMD versions do. */
void seer_quantize_q8_scalar(const float *x, int64_t n, int8_t *qs, float *d, int32_t *sum) {
    for (int64_t b = 0; b < n / SEER_QK; b++) {
        const float *xb = x + b * SEER_QK;
        float amax = 0.0f;
        for (int j = 0; j < SEER_QK; j++) amax = fmaxf(amax, fabsf(xb[j]));
        float db = amax / 127.0f;
        float id = amax > 0.0f ? 127.0f / amax : 0.0f;
        int32_t s = 0;
        for (int j = 0; j < SEER_QK; j++) {
            int q = (int)nearbyintf(xb[j] * id);
            qs[b * SEER_QK + j] = (int8_t)q;
            s += q;
        }
        d[b] = db;
        sum[b] = s;
    }
}

static void store_y(const seer_mm *m, int64_t r, float v) {
    if (m->acc) m->y[r] += v;
    else m->y[r] = v;
}

void seer_gemv_f32_scalar(const seer_mm *m, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++)
        store_y(m, r, seer_dot_scalar((const float *)(const void *)((const uint8_t *)m->w + (size_t)r * m->wrow), m->x, m->cols));
}

void seer_gemv_f16_scalar(const seer_mm *m, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
        const uint16_t *w = (const uint16_t *)((const uint8_t *)m->w + (size_t)r * m->wrow);
        float s = 0.0f;
        for (int64_t c = 0; c < m->cols; c++) s += seer_fp16_to_fp32(w[c]) * m->x[c];
        store_y(m, r, s);
    }
}

void seer_gemv_bf16_scalar(const seer_mm *m, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
        const uint16_t *w = (const uint16_t *)((const uint8_t *)m->w + (size_t)r * m->wrow);
        float s = 0.0f;
        for (int64_t c = 0; c < m->cols; c++) s += seer_bf16_to_fp32(w[c]) * m->x[c];
        store_y(m, r, s);
    }
}

void seer_gemv_q8_0_scalar(const seer_mm *m, int64_t r0, int64_t r1) {
    int64_t nb = m->cols / SEER_QK;
    for (int64_t r = r0; r < r1; r++) {
        const seer_block_q8_0 *w = (const seer_block_q8_0 *)((const uint8_t *)m->w + (size_t)r * m->wrow);
        float s = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            const int8_t *xq = m->xqs + b * SEER_QK;
            int32_t t = 0;
            for (int j = 0; j < SEER_QK; j++) t += w[b].qs[j] * xq[j];
            s += seer_fp16_to_fp32(w[b].d) * m->xd[b] * (float)t;
        }
        store_y(m, r, s);
    }
}

void seer_gemv_q4_0_scalar(const seer_mm *m, int64_t r0, int64_t r1) {
    int64_t nb = m->cols / SEER_QK;
    for (int64_t r = r0; r < r1; r++) {
        const seer_block_q4_0 *w = (const seer_block_q4_0 *)((const uint8_t *)m->w + (size_t)r * m->wrow);
        float s = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            const int8_t *xq = m->xqs + b * SEER_QK;
            int32_t t = 0;
            for (int j = 0; j < SEER_QK / 2; j++)
                t += ((w[b].qs[j] & 0x0f) - 8) * xq[j] + ((w[b].qs[j] >> 4) - 8) * xq[j + SEER_QK / 2];
            s += seer_fp16_to_fp32(w[b].d) * m->xd[b] * (float)t;
        }
        store_y(m, r, s);
    }
}

/* OpenBLAS's threads would fight the pool's: each pool thread calls it single-threaded. */
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) { openblas_set_num_threads(1); }

/* Prefill without SIMD kernels: OpenBLAS for f32 (it picks its own instruction set at run
 * time), plain loops over converted chunks of each weight row otherwise. */
void seer_gemm_scalar(const seer_mm *m, int64_t r0, int64_t r1) {
    if (m->wtype == SEER_DTYPE_F32) {
        pthread_once(&blas_once, blas_single_thread);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m->n, (int)(r1 - r0), (int)m->cols, 1.0f, m->x,
                    (int)m->cols, (const float *)(const void *)((const uint8_t *)m->w + (size_t)r0 * m->wrow), (int)m->cols,
                    m->acc ? 1.0f : 0.0f, m->y + r0, (int)m->ldy);
        return;
    }
    float buf[256];
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = (const uint8_t *)m->w + (size_t)r * m->wrow;
        for (int64_t k0 = 0; k0 < m->cols; k0 += 256) {
            int64_t kc = m->cols - k0 < 256 ? m->cols - k0 : 256;
            size_t off = (size_t)(k0 / (int64_t)seer_dtype_block_elems(m->wtype)) * seer_dtype_block_bytes(m->wtype);
            seer_kernels_scalar.to_f32[m->wtype](wr + off, buf, kc);
            for (int64_t i = 0; i < m->n; i++) {
                float s = seer_dot_scalar(buf, m->x + i * m->cols + k0, kc);
                float *yi = m->y + i * m->ldy + r;
                *yi = (k0 > 0 || m->acc) ? *yi + s : s;
            }
        }
    }
}

/* ---- workspace ---------------------------------------------------------------------------- */

typedef struct mm_layout {
    size_t xqs, xd, xsum; /* byte offsets of quantized x (n == 1, quantized weights) */
    size_t xp;            /* byte offset of packed x (n >= 2) */
    size_t total;
} mm_layout;

static int is_quant(seer_dtype t) { return t == SEER_DTYPE_Q8_0 || t == SEER_DTYPE_Q4_0; }

static size_t align64(size_t v) { return (v + 63) & ~(size_t)63; }

/* Decode (n == 1) with quantized weights needs x as q8_0; prefill (n >= 2) needs x packed for
 * the GEMM. Returns 0 on success, -1 on overflow. Every piece starts 64-byte aligned. */
static int mm_layout_of(seer_dtype t, int64_t n, int64_t cols, mm_layout *l) {
    memset(l, 0, sizeof(*l));
    if (n <= 0 || cols <= 0) return 0;
    if (n == 1) {
        if (!is_quant(t)) return 0;
        /* the quantized row, its block scales and its block sums */
        size_t nb = (size_t)cols / SEER_QK;
        if ((uint64_t)cols > SIZE_MAX / 4) return -1;
        l->xd = align64((size_t)cols);
        l->xsum = l->xd + align64(nb * 4);
        l->total = l->xsum + align64(nb * 4);
        return 0;
    }
    /* x packed in groups of NR rows, zero padded */
    size_t groups = ((size_t)n + SEER_GEMM_NR - 1) / SEER_GEMM_NR, a;
    if (seer_mul_size(groups * SEER_GEMM_NR, (size_t)cols, &a) || seer_mul_size(a, sizeof(float), &a) ||
        a > SIZE_MAX - 64)
        return -1;
    l->total = align64(a);
    return 0;
}

size_t seer_matmul_work_size(seer_dtype wtype, int64_t n, int64_t cols) {
    mm_layout l;
    return mm_layout_of(wtype, n, cols, &l) ? SIZE_MAX : l.total;
}

/* ---- threading ---------------------------------------------------------------------------- */

/* Row claiming: thread t owns rows [t * span, (t + 1) * span) and claims them in chunks from its
 * own counter; when its range is done it takes chunks from the others' counters. On a quiet
 * machine every thread reads the same rows of every matrix each call, so its share of the
 * weights stays in its own caches from one token to the next (the two cores here do not share
 * an L3); when a thread is held up, the others finish its rows. */
#define MM_MAX_OWNERS 16

typedef struct mm_owner {
    _Alignas(64) atomic_llong next; /* next unclaimed row of this range */
    int64_t end;
} mm_owner;

/* Weight rows per step of the fused SwiGLU: a multiple of every level's row block (1, 6, 12)
 * and of 16; each thread's up-projection tile is n x this many floats. */
#define MM_SWIGLU_ROWS 48

typedef struct mm_task {
    seer_mm m;
    const seer_kernels *k;
    const void *up;   /* fused SwiGLU: the up weight (same type and shape as m.w, the gate) */
    float *tiles;     /* fused SwiGLU: per thread, n x MM_SWIGLU_ROWS floats */
    size_t tile_floats;
    int64_t chunk;  /* weight rows per claim; a multiple of 16 and of the GEMM's row block */
    int64_t groups; /* packed x groups */
    int owners;
    mm_owner own[MM_MAX_OWNERS];
} mm_task;

static void task_pack(void *ctx, int ith, int nth) {
    mm_task *t = ctx;
    int64_t per = (t->groups + nth - 1) / nth;
    int64_t g0 = ith * per, g1 = g0 + per < t->groups ? g0 + per : t->groups;
    if (g0 < g1) t->k->pack_x(t->m.x, t->m.n, t->m.cols, g0, g1, (float *)t->m.xp);
}

static void mm_kernel(const mm_task *t, const seer_mm *m, int64_t r0, int64_t r1) {
    if (m->n == 1) t->k->gemv[m->wtype](m, r0, r1);
    else t->k->gemm(m, r0, r1);
}

/* Fused SwiGLU over weight rows [r0, r1): gate rows into y, the same up rows into this thread's
 * tile, then y = silu(gate) * up, so the up projection never needs an (n, rows) buffer. */
static void swiglu_rows(const mm_task *t, int ith, int64_t r0, int64_t r1) {
    float *tile = t->tiles + (size_t)ith * t->tile_floats;
    for (int64_t a = r0; a < r1; a += MM_SWIGLU_ROWS) {
        int64_t b = a + MM_SWIGLU_ROWS < r1 ? a + MM_SWIGLU_ROWS : r1, w = b - a;
        mm_kernel(t, &t->m, a, b);
        seer_mm u = t->m;
        u.y = tile;
        u.ldy = w;
        u.rows = w;
        u.w = (const uint8_t *)t->up + (size_t)a * u.wrow;
        mm_kernel(t, &u, 0, w);
        for (int64_t i = 0; i < t->m.n; i++) {
            float *yi = t->m.y + i * t->m.ldy + a;
            t->k->swiglu(yi, yi, tile + i * w, w);
        }
    }
}

static void task_rows(void *ctx, int ith, int nth) {
    (void)nth;
    mm_task *t = ctx;
    for (int i = 0; i < t->owners; i++) {
        mm_owner *o = &t->own[(ith + i) % t->owners];
        for (;;) {
            int64_t r0 = atomic_fetch_add_explicit(&o->next, t->chunk, memory_order_relaxed);
            if (r0 >= o->end) break;
            int64_t r1 = r0 + t->chunk < o->end ? r0 + t->chunk : o->end;
            if (t->up) swiglu_rows(t, ith, r0, r1);
            else mm_kernel(t, &t->m, r0, r1);
        }
    }
}

static int64_t gcd64(int64_t a, int64_t b) {
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static void matmul_run(seer_pool *pool, float *y, const float *x, int64_t n, const void *w, const void *up,
                       seer_dtype wtype, int64_t rows, int64_t cols, void *work, int acc) {
    SEER_ASSERT((unsigned)wtype < SEER_MM_NTYPES);
    SEER_ASSERT(n >= 0 && rows >= 0 && cols >= 0);
    if (n == 0 || rows == 0) return;
    if (cols == 0) {
        if (!acc)
            for (int64_t i = 0; i < n * rows; i++) y[i] = 0.0f;
        return;
    }
    mm_layout l;
    SEER_ASSERT(mm_layout_of(wtype, n, cols, &l) == 0);
    SEER_ASSERT(l.total == 0 || (work && ((uintptr_t)work & 63) == 0));

    mm_task t; /* not zero-initialised as a whole: own[] is large and filled below */
    t.k = seer_kernels_get();
    t.groups = 0;
    t.up = up;
    t.tiles = NULL;
    t.tile_floats = 0;
    t.m = (seer_mm){.y = y, .ldy = rows, .x = x, .n = n, .w = w, .wtype = wtype, .wrow = row_bytes(wtype, cols),
                    .rows = rows, .cols = cols, .acc = acc};
    uint8_t *wk = work;
    int nth = seer_pool_size(pool);
    if (up) {
        t.tile_floats = align64((size_t)n * MM_SWIGLU_ROWS * sizeof(float)) / sizeof(float);
        t.tiles = (float *)(void *)(wk + l.total);
    }

    if (is_quant(wtype) && n == 1) {
        t.m.xqs = (const int8_t *)(wk + l.xqs);
        t.m.xd = (const float *)(void *)(wk + l.xd);
        t.m.xsum = (const int32_t *)(wk + l.xsum);
        t.k->quantize_q8(x, cols, (int8_t *)(wk + l.xqs), (float *)(void *)(wk + l.xd), (int32_t *)(void *)(wk + l.xsum));
    }
    if (n >= 2 && t.k->pack_x) {
        t.m.xp = (const float *)(void *)(wk + l.xp);
        t.groups = (n + SEER_GEMM_NR - 1) / SEER_GEMM_NR;
        seer_pool_run(t.groups > 1 ? pool : NULL, task_pack, &t);
    }

    /* Ranges of whole units (16 rows, so no two threads write one cache line of y, and a
     * multiple of the GEMM's row block), split in about four chunks each. */
    SEER_ASSERT(t.k->gemm_mr >= 1);
    int64_t unit = 16 * (int64_t)t.k->gemm_mr / gcd64(16, t.k->gemm_mr);
    int64_t units = (rows + unit - 1) / unit;
    t.owners = nth < MM_MAX_OWNERS ? nth : MM_MAX_OWNERS;
    if (t.owners > units) t.owners = (int)units;
    SEER_ASSERT(units >= 1 && nth >= 1); /* rows > 0 returned above; a pool has a thread */
    int64_t span = (units + t.owners - 1) / t.owners * unit;
    t.chunk = (span / unit + 3) / 4 * unit;
    for (int i = 0; i < t.owners; i++) {
        int64_t a = i * span < rows ? i * span : rows;
        atomic_init(&t.own[i].next, a);
        t.own[i].end = a + span < rows ? a + span : rows;
    }
    /* below ~16K multiply-adds (a few microseconds) the hand-off would cost more than it saves */
    int small = (double)n * (double)rows * (double)cols < 16384;
    seer_pool_run(t.owners > 1 && !small ? pool : NULL, task_rows, &t);
}

void seer_matmul(seer_pool *pool, float *y, const float *x, int64_t n, const void *w, seer_dtype wtype, int64_t rows,
                 int64_t cols, void *work) {
    matmul_run(pool, y, x, n, w, NULL, wtype, rows, cols, work, 0);
}

void seer_matmul_acc(seer_pool *pool, float *y, const float *x, int64_t n, const void *w, seer_dtype wtype,
                     int64_t rows, int64_t cols, void *work) {
    matmul_run(pool, y, x, n, w, NULL, wtype, rows, cols, work, 1);
}

size_t seer_matmul_swiglu_work_size(seer_dtype wtype, int64_t n, int64_t cols, int n_threads) {
    mm_layout l;
    size_t tile, tiles, total;
    if (mm_layout_of(wtype, n, cols, &l) || n < 0 || n_threads < 1 ||
        seer_mul_size((size_t)n, MM_SWIGLU_ROWS * sizeof(float), &tile) || tile > SIZE_MAX - 64 ||
        seer_mul_size(align64(tile), (size_t)n_threads, &tiles) || seer_add_size(l.total, tiles, &total))
        return SIZE_MAX;
    return total;
}

void seer_matmul_swiglu(seer_pool *pool, float *y, const float *x, int64_t n, const void *w_gate, const void *w_up,
                        seer_dtype wtype, int64_t rows, int64_t cols, void *work) {
    matmul_run(pool, y, x, n, w_gate, w_up, wtype, rows, cols, work, 0);
}
