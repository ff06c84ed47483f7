/* The geometric median of a sample of activations, where training starts b_dec: Weiszfeld's
 * iterations (a re-weighted mean, each row weighted by 1 / its distance), accumulated in double
 * so the result is the same on every machine. */
#include "sae_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Sum of distances from y to the rows; dist [n] receives each one. */
static double distances(const float *x, int64_t n, int64_t d, const double *y, double *dist) {
    double obj = 0;
    for (int64_t b = 0; b < n; b++) {
        const float *r = x + b * d;
        double s = 0;
        for (int64_t i = 0; i < d; i++) {
            double e = (double)r[i] - y[i];
            s += e * e;
        }
        dist[b] = sqrt(s);
        obj += dist[b];
    }
    return obj;
}

seer_status seer_sae_geometric_median(const float *x, int64_t n, int64_t d, int max_iter, double tol, float *out,
                                      seer_err *err) {
    if (n < 1 || d < 1)
        return seer_err_set(err, SEER_ERR_INVALID, "sae: geometric median of %lld rows of %lld", (long long)n, (long long)d);
    double *y = calloc((size_t)d, sizeof(*y)), *num = calloc((size_t)d, sizeof(*num));
    double *dist = malloc((size_t)n * sizeof(*dist));
    if (!y || !num || !dist) {
        free(y), free(num), free(dist);
        return seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory for the geometric median of %lld rows", (long long)n);
    }
    for (int64_t b = 0; b < n; b++)
        for (int64_t i = 0; i < d; i++) y[i] += x[b * d + i];
    for (int64_t i = 0; i < d; i++) y[i] /= (double)n;
    double obj = distances(x, n, d, y, dist), scale = obj / (double)n;
    for (int it = 0; it < max_iter && scale > 0; it++) {
        /* A row sitting on the estimate would get an infinite weight: floor the distance at a
         * tiny fraction of the typical one. */
        double floor_d = 1e-10 * scale, den = 0;
        memset(num, 0, (size_t)d * sizeof(*num));
        for (int64_t b = 0; b < n; b++) {
            double wgt = 1.0 / (dist[b] > floor_d ? dist[b] : floor_d);
            den += wgt;
            for (int64_t i = 0; i < d; i++) num[i] += wgt * x[b * d + i];
        }
        for (int64_t i = 0; i < d; i++) num[i] /= den;
        double next = distances(x, n, d, num, dist);
        if (next > obj) break; /* rounding: keep the better point */
        memcpy(y, num, (size_t)d * sizeof(*y));
        int done = obj - next <= tol * next;
        obj = next;
        if (done) break;
    }
    for (int64_t i = 0; i < d; i++) out[i] = (float)y[i];
    free(y), free(num), free(dist);
    return SEER_OK;
}
