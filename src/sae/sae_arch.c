/* The activation of each architecture, behind one table: from pre-activations to the codes
 * of a batch, a slice of rows at a time. TopK and BatchTopK select; ReLU and JumpReLU
 * threshold. Ties are broken by the lower index so that runs are reproducible. */
#include "sae_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Min-heap of (value, index) ordered so the root is the weakest kept entry: smaller value, or
 * equal value and larger index. */
static int weaker(float va, int32_t ia, float vb, int32_t ib) { return va < vb || (va == vb && ia > ib); }

static void sift_down(float *hv, int32_t *hi, int64_t n, int64_t i) {
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && weaker(hv[l], hi[l], hv[m], hi[m])) m = l;
        if (r < n && weaker(hv[r], hi[r], hv[m], hi[m])) m = r;
        if (m == i) return;
        float tv = hv[i];
        int32_t ti = hi[i];
        hv[i] = hv[m], hi[i] = hi[m], hv[m] = tv, hi[m] = ti;
        i = m;
    }
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int64_t sae_topk_row(const float *row, int64_t n, int64_t k, int32_t *idx, float *val) {
    int64_t m = 0, j = 0;
    for (; j < n && m < k; j++) {
        float v = row[j];
        if (!(v > 0)) continue;
        int64_t i = m++; /* sift up */
        val[i] = v, idx[i] = (int32_t)j;
        while (i > 0) {
            int64_t p = (i - 1) / 2;
            if (!weaker(val[i], idx[i], val[p], idx[p])) break;
            float tv = val[i];
            int32_t ti = idx[i];
            val[i] = val[p], idx[i] = idx[p], val[p] = tv, idx[p] = ti;
            i = p;
        }
    }
    /* Heap full: a later index ties lose, so only values above the root get in. Nearly every
     * element fails that test, so blocks of 16 are tested at once (a loop the compiler
     * vectorizes) and only a block with a candidate is walked. */
    float root = m ? val[0] : 0;
    for (; j < n; j++) {
        if (m == k && (j & 15) == 0)
            while (j + 16 <= n) {
                int any = 0;
                for (int q = 0; q < 16; q++) any |= row[j + q] > root;
                if (any) break;
                j += 16;
            }
        if (j >= n) break;
        if (!(row[j] > root)) continue;
        val[0] = row[j], idx[0] = (int32_t)j;
        sift_down(val, idx, m, 0);
        root = val[0];
    }
    /* Sort by index (values follow) so decoding order is fixed: insertion sort for the short
     * lists TopK keeps, qsort for long AuxK ones. */
    if (m <= 64)
        for (int64_t i = 1; i < m; i++) {
            int32_t v = idx[i];
            int64_t q = i;
            for (; q > 0 && idx[q - 1] > v; q--) idx[q] = idx[q - 1];
            idx[q] = v;
        }
    else qsort(idx, (size_t)m, sizeof(*idx), cmp_i32);
    for (int64_t i = 0; i < m; i++) val[i] = row[idx[i]];
    return m;
}

static float act_topk(const seer_sae *s, sae_work *w, int64_t b0, int64_t b1, int train) {
    (void)train;
    int64_t dl = s->cfg.d_sae, k = s->cfg.k, st = w->codes.stride;
    for (int64_t b = b0; b < b1; b++)
        w->codes.n[b] = (int32_t)sae_topk_row(w->pre + b * dl, dl, k, w->codes.idx + b * st, w->codes.val + b * st);
    return 0;
}

/* Keeps pre > max(0, thr[j]) (thr NULL: ReLU). */
static void act_threshold(const seer_sae *s, sae_work *w, int64_t b0, int64_t b1, const float *thr) {
    int64_t dl = s->cfg.d_sae, st = w->codes.stride;
    for (int64_t b = b0; b < b1; b++) {
        const float *row = w->pre + b * dl;
        int32_t *idx = w->codes.idx + b * st;
        float *val = w->codes.val + b * st;
        int32_t m = 0;
        for (int64_t j = 0; j < dl; j++) {
            float v = row[j];
            if (v > 0 && (!thr || v > thr[j])) idx[m] = (int32_t)j, val[m++] = v;
        }
        w->codes.n[b] = m;
    }
}

static float act_relu(const seer_sae *s, sae_work *w, int64_t b0, int64_t b1, int train) {
    (void)train;
    act_threshold(s, w, b0, b1, NULL);
    return 0;
}

static float act_jumprelu(const seer_sae *s, sae_work *w, int64_t b0, int64_t b1, int train) {
    (void)train;
    act_threshold(s, w, b0, b1, s->threshold);
    return 0;
}

/* The k-th largest of a[0..n) (k >= 1), reordering a: Hoare quickselect with a middle pivot. */
static float kth_largest(float *a, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        float piv = a[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] > piv) i++;
            while (a[j] < piv) j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j], a[j] = t;
                i++, j--;
            }
        }
        if (want <= j) hi = j;
        else if (want >= i) lo = i;
        else return a[want];
    }
    return a[want];
}

/* Training: the k·n largest positive pre-activations over the whole batch, ties to the lower
 * flat index; returns the smallest kept value (the inference threshold is estimated from it). */
static float act_batchtopk(const seer_sae *s, sae_work *w, int64_t b0, int64_t b1, int train) {
    if (!train) {
        act_threshold(s, w, b0, b1, s->threshold);
        return 0;
    }
    int64_t n = b1 - b0, dl = s->cfg.d_sae, st = w->codes.stride, m = 0, K = (int64_t)s->cfg.k * n;
    const float *pre = w->pre + b0 * dl;
    int64_t total = n * dl;
    for (int64_t i = 0; i < total; i++)
        if (pre[i] > 0) w->sel[m++] = pre[i];
    float t = 0;
    int64_t n_eq = 0; /* entries equal to t to keep */
    if (m > K) {
        t = kth_largest(w->sel, m, K);
        int64_t gt = 0;
        for (int64_t i = 0; i < total; i++) gt += pre[i] > t;
        n_eq = K - gt;
    }
    float bmin = 0;
    int have = 0;
    for (int64_t b = b0; b < b1; b++) {
        const float *row = w->pre + b * dl;
        int32_t *idx = w->codes.idx + b * st;
        float *val = w->codes.val + b * st;
        int32_t e = 0;
        for (int64_t j = 0; j < dl; j++) {
            float v = row[j];
            int keep = v > 0 && (m <= K ? 1 : v > t || (v == t && n_eq > 0 && n_eq--));
            if (!keep) continue;
            idx[e] = (int32_t)j, val[e++] = v;
            if (!have || v < bmin) bmin = v, have = 1;
        }
        w->codes.n[b] = e;
    }
    return bmin;
}

static const sae_arch_ops arch_table[] = {
    {"topk", act_topk, 0},
    {"batchtopk", act_batchtopk, 1},
    {"relu", act_relu, 0},
    {"jumprelu", act_jumprelu, 0},
};
static_assert(sizeof(arch_table) / sizeof(arch_table[0]) == SEER_SAE_ARCH_COUNT, "arch table");

const sae_arch_ops *sae_arch_get(seer_sae_arch a) {
    SEER_ASSERT((unsigned)a < SEER_SAE_ARCH_COUNT);
    return &arch_table[a];
}
