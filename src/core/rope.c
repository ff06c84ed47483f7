/* The RoPE angle table: cos and sin of pos · theta^(-2j/d) for every position and pair.
 *
 * Computed in double with a few lines of our own instead of libm's pow, sin and cos: those
 * bring ~200-300 KiB of libm code and tables into memory (the kernel maps file pages in 64 KiB
 * windows around each first touch) for a table that is filled once, which is 3 % of a small
 * quantized model's weights + KV cache and its whole memory margin. The results agree with
 * libm's to ~1e-15 relative (test_ops checks), far below the float the table stores.
 *
 * exp and log are reduced by powers of two, sin and cos by multiples of pi/2 (Cody-Waite, the
 * constant split so k · part is exact for k < 2^20, i.e. angles up to ~1.6e6 radians; larger
 * angles lose accuracy gradually, at the rate at which the double angle itself already has),
 * then evaluated with truncated Taylor series whose first omitted term is below 1e-18. */
#include "seer/ops.h"

#include <string.h>

/* ln 2 and pi/2 split into a head with trailing zero bits and a tail (fdlibm's values). */
static const double LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;
static const double PIO2_1 = 1.57079632673412561417e+00, PIO2_2 = 6.07710050630396597660e-11,
                    PIO2_3 = 2.02226624871116645580e-21;
static const double INV_LN2 = 1.44269504088896338700e+00, TWO_OVER_PI = 6.36619772367581382433e-01;

static double bits_to_double(uint64_t u) {
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

static uint64_t double_to_bits(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

/* Round to nearest, halves away from zero (no libm round). |x| < 2^62. */
static int64_t round_i64(double x) { return (int64_t)(x < 0 ? x - 0.5 : x + 0.5); }

/* Taylor coefficients as reciprocals (constant-folded), so the loops multiply. */
static const double INV_N[17] = {0, 1.0 / 1, 1.0 / 2, 1.0 / 3, 1.0 / 4, 1.0 / 5, 1.0 / 6, 1.0 / 7, 1.0 / 8,
                                 1.0 / 9, 1.0 / 10, 1.0 / 11, 1.0 / 12, 1.0 / 13, 1.0 / 14, 1.0 / 15, 1.0 / 16};
static const double SIN_C[10] = {0, 1.0 / 6, 1.0 / 20, 1.0 / 42, 1.0 / 72, 1.0 / 110, 1.0 / 156, 1.0 / 210, 1.0 / 272,
                                 1.0 / 342}; /* 1 / ((2i)(2i+1)) */
static const double COS_C[10] = {0, 1.0 / 2, 1.0 / 12, 1.0 / 30, 1.0 / 56, 1.0 / 90, 1.0 / 132, 1.0 / 182, 1.0 / 240,
                                 1.0 / 306}; /* 1 / ((2i-1)(2i)) */
static const double ODD_C[13] = {1.0 / 1,  1.0 / 3,  1.0 / 5,  1.0 / 7,  1.0 / 9,  1.0 / 11, 1.0 / 13,
                                 1.0 / 15, 1.0 / 17, 1.0 / 19, 1.0 / 21, 1.0 / 23, 1.0 / 25}; /* 1 / (2i+1) */

/* e^y for |y| < 708 (0 below, as the table's frequencies only shrink). */
static double exp_small(double y) {
    if (!(y > -708.0)) return 0.0;
    if (y > 708.0) y = 708.0;
    int64_t k = round_i64(y * INV_LN2);
    double r = (y - (double)k * LN2_HI) - (double)k * LN2_LO; /* |r| <= ln2 / 2 */
    double t = 1.0;
    for (int i = 16; i >= 1; i--) t = 1.0 + r * t * INV_N[i];
    return t * bits_to_double((uint64_t)(k + 1023) << 52); /* 2^k, k in [-1021, 1021] */
}

/* ln x for finite x > 0. */
static double log_pos(double x) {
    int64_t e = 0;
    if (x < 0x1p-1022) { /* subnormal: scale into the normal range first */
        x *= 0x1p54;
        e = -54;
    }
    uint64_t u = double_to_bits(x);
    e += (int64_t)((u >> 52) & 0x7ff) - 1023;
    double m = bits_to_double((u & 0x000fffffffffffffull) | 0x3ff0000000000000ull); /* [1, 2) */
    if (m > 1.4142135623730951) {
        m *= 0.5;
        e++;
    }
    /* ln m = 2 atanh(s) = 2 (s + s^3/3 + ...), s = (m - 1) / (m + 1), |s| < 0.172 */
    double s = (m - 1.0) / (m + 1.0), s2 = s * s, t = 0.0;
    for (int i = 12; i >= 0; i--) t = ODD_C[i] + s2 * t;
    return (double)e * LN2_HI + ((double)e * LN2_LO + 2.0 * s * t);
}

/* sin and cos of a >= 0. */
static void sincos_pos(double a, double *s, double *c) {
    int64_t q = round_i64(a * TWO_OVER_PI);
    double r = ((a - (double)q * PIO2_1) - (double)q * PIO2_2) - (double)q * PIO2_3; /* |r| <~ pi/4 */
    double r2 = r * r, ts = 1.0, tc = 1.0;
    /* sin r = r (1 - r^2/(2·3) (1 - r^2/(4·5) (...))), cos r = 1 - r^2/(1·2) (1 - r^2/(3·4) (...)) */
    for (int i = 9; i >= 1; i--) {
        ts = 1.0 - r2 * ts * SIN_C[i];
        tc = 1.0 - r2 * tc * COS_C[i];
    }
    double sr = r * ts, cr = tc;
    switch (q & 3) {
    case 0: *s = sr, *c = cr; break;
    case 1: *s = cr, *c = -sr; break;
    case 2: *s = -sr, *c = -cr; break;
    default: *s = -cr, *c = sr; break;
    }
}

void seer_rope_table(float *cos_out, float *sin_out, int64_t n_pos, int64_t d_head, double theta) {
    int64_t half = d_head / 2;
    double lt = log_pos(theta);
    for (int64_t j = 0; j < half; j++) {
        double freq = exp_small(-2.0 * (double)j / (double)d_head * lt);
        for (int64_t pos = 0; pos < n_pos; pos++) {
            double s, c;
            sincos_pos((double)pos * freq, &s, &c);
            cos_out[pos * half + j] = (float)c;
            sin_out[pos * half + j] = (float)s;
        }
    }
}
