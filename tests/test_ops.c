/* Compute kernels: the thread pool (every thread runs once per call, 10^5 back-to-back calls,
 * calls after the workers fell asleep), every vector kernel, the attention head and every
 * matmul weight type at every SIMD level this CPU has, against double-precision references,
 * over awkward shapes and 1, 2 and 3 threads. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "seer/ops.h"
#include "test.h"

/* ---- pool --------------------------------------------------------------------------------- */

typedef struct count_ctx {
    atomic_int hits[8];
    atomic_int bad_nth;
    int expect_nth;
} count_ctx;

static void count_task(void *ctx, int ith, int nth) {
    count_ctx *c = ctx;
    if (nth != c->expect_nth || ith < 0 || ith >= nth) atomic_fetch_add(&c->bad_nth, 1);
    else atomic_fetch_add(&c->hits[ith], 1);
}

/* Records which OS threads ran each index. The caller's own index 0 (it always claims index 0
 * first) waits, up to a generous deadline, until a worker has run an index of the same call:
 * that makes "the workers take part" a property of the pool rather than of how busy the
 * machine is (a worker descheduled for the whole 20 us of a fixed-length task once made this
 * fail under ASan on a loaded CI machine). */
typedef struct who_ctx {
    atomic_int hits[4];
    atomic_int other_thread;  /* indices run by a thread other than the caller */
    atomic_int other_in_call; /* the same, for the current call; the caller resets it */
    atomic_int timed_out;     /* calls in which no worker ran an index within the deadline */
    pthread_t caller;
} who_ctx;

static void who_task(void *ctx, int ith, int nth) {
    who_ctx *c = ctx;
    (void)nth;
    atomic_fetch_add(&c->hits[ith], 1);
    if (!pthread_equal(pthread_self(), c->caller)) {
        atomic_fetch_add(&c->other_thread, 1);
        atomic_fetch_add(&c->other_in_call, 1);
        return;
    }
    if (ith != 0) return;
    double t0 = seer_time_sec();
    while (atomic_load(&c->other_in_call) == 0) {
        if (seer_time_sec() - t0 > 10.0) {
            atomic_fetch_add(&c->timed_out, 1);
            return;
        }
        sched_yield();
    }
}

static void sleep_ms(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_pool(void) {
    seer_err err = {0};
    seer_pool *p = NULL;
    count_ctx c;

    /* NULL pool: inline, as thread 0 of 1 */
    memset(&c, 0, sizeof(c));
    c.expect_nth = 1;
    seer_pool_run(NULL, count_task, &c);
    CHECK(atomic_load(&c.hits[0]) == 1 && atomic_load(&c.bad_nth) == 0);
    CHECK(seer_pool_size(NULL) == 1);

    CHECK_OK(seer_pool_init(0, &p, &err), &err);
    CHECK(p && seer_pool_size(p) == seer_n_cores());
    seer_pool_free(p);
    seer_pool_free(NULL);
    CHECK_FAILS(seer_pool_init(100000, &p, &err), &err, "100000 threads");
    CHECK(p == NULL);

    for (int nt = 1; nt <= 3; nt++) {
        CHECK_OK(seer_pool_init(nt, &p, &err), &err);
        if (!p) continue;
        CHECK(seer_pool_size(p) == nt);
        memset(&c, 0, sizeof(c));
        c.expect_nth = nt;
        /* back to back, as a decode step calls it; 10^5 for two threads, fewer for three on two
         * cores, where a spinning worker can steal the slot of the one that has work */
        int runs = nt == 3 ? 20000 : 100000;
        double t0 = seer_time_sec();
        for (int i = 0; i < runs; i++) seer_pool_run(p, count_task, &c);
        double dt = seer_time_sec() - t0;
        int ok = atomic_load(&c.bad_nth) == 0;
        for (int i = 0; i < nt; i++) ok &= atomic_load(&c.hits[i]) == runs;
        CHECK_MSG(ok, "%d threads: a thread missed or repeated a run", nt);
        printf("pool: %d threads, %d runs, %.2f us per run\n", nt, runs, dt / runs * 1e6);
        /* after the workers have gone to sleep */
        for (int i = 0; i < 5; i++) {
            sleep_ms(2);
            seer_pool_run(p, count_task, &c);
        }
        ok = 1;
        for (int i = 0; i < nt; i++) ok &= atomic_load(&c.hits[i]) == runs + 5;
        CHECK_MSG(ok, "%d threads: a run after sleeping was missed", nt);
        /* the workers take part: indices run on threads other than the caller */
        if (nt >= 2) {
            who_ctx w;
            memset(&w, 0, sizeof(w));
            w.caller = pthread_self();
            int calls = 0;
            for (; calls < 200 && atomic_load(&w.timed_out) == 0; calls++) {
                atomic_store(&w.other_in_call, 0);
                seer_pool_run(p, who_task, &w);
            }
            ok = 1;
            for (int i = 0; i < nt; i++) ok &= atomic_load(&w.hits[i]) == calls;
            CHECK_MSG(ok, "%d threads: an index missed or repeated while the caller waited", nt);
            CHECK_MSG(atomic_load(&w.timed_out) == 0, "%d threads: no worker ran an index within 10 s", nt);
            printf("pool: %d threads, caller waiting for workers: %d of %d indices ran on workers\n", nt,
                   atomic_load(&w.other_thread), calls * nt);
        }
        seer_pool_free(p);
    }
}

/* ---- helpers ------------------------------------------------------------------------------ */

static seer_rng rng;

static void fill_normal(float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) x[i] = seer_rng_normal(&rng) * scale;
}

/* Checks |got - want| <= tol[i] for every i (tol per element), printing the worst. */
static void check_tol(const float *got, const double *want, const double *tol, int64_t n, const char *what) {
    double worst = 0;
    int64_t at = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        double ratio = d / tol[i];
        if (!(ratio <= worst)) { /* catches NaN too */
            worst = ratio;
            at = i;
            if (ratio != ratio) break;
        }
    }
    CHECK_MSG(worst <= 1.0, "%s: worst error at %lld: got %.9g want %.9g (%.3g x tol %.3g)", what, (long long)at,
              (double)got[at], want[at], worst, tol[at]);
}

/* Bitwise equality of two float arrays (-0 vs 0 and NaN payloads count as different). */
static int same_bits(const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t x, y;
        memcpy(&x, a + i, 4);
        memcpy(&y, b + i, 4);
        if (x != y) return 0;
    }
    return 1;
}

static int levels[SEER_SIMD_COUNT];
static int n_levels;

static void find_levels(void) {
    seer_simd d = seer_simd_detected();
    printf("SIMD detected: %s, in effect: %s\n", seer_simd_name(d), seer_simd_name(seer_simd_level()));
    for (int s = d; s >= 0; s--) {
        CHECK(seer_simd_set((seer_simd)s) == (seer_simd)s);
        CHECK(seer_simd_level() == (seer_simd)s);
        levels[n_levels++] = s;
    }
    /* asking for more than the CPU has gives what it has */
    if (d < SEER_SIMD_AVX512) CHECK(seer_simd_set(SEER_SIMD_AVX512) == d);
}

/* ---- vector kernels ----------------------------------------------------------------------- */

static const int64_t vec_lens[] = {1, 3, 8, 15, 16, 17, 31, 33, 48, 64, 100, 288, 768, 2048, 2049};
#define N_VEC_LENS ((int)(sizeof(vec_lens) / sizeof(vec_lens[0])))

static void test_vec_level(seer_simd lv) {
    char what[128];
    enum { MAXN = 2049 };
    static float a[MAXN], b[MAXN], y[MAXN], w[MAXN], bias[MAXN];
    static double want[MAXN], tol[MAXN];
    const char *ln = seer_simd_name(lv);
    for (int li = 0; li < N_VEC_LENS; li++) {
        int64_t n = vec_lens[li];
        fill_normal(a, n, 1.0f);
        fill_normal(b, n, 1.0f);
        fill_normal(w, n, 1.0f);
        fill_normal(bias, n, 1.0f);

        /* dot: f32 accumulation differs from double by ~eps per term of Σ|a b| */
        double s = 0, sa = 0;
        for (int64_t i = 0; i < n; i++) {
            s += (double)a[i] * b[i];
            sa += fabs((double)a[i] * b[i]);
        }
        float got = seer_vec_dot_f32(a, b, n);
        double t1 = 1e-6 * sa + 1e-30;
        snprintf(what, sizeof(what), "%s dot n=%lld", ln, (long long)n);
        check_tol(&got, &s, &t1, 1, what);

        /* axpy, scale */
        memcpy(y, b, sizeof(float) * (size_t)n);
        seer_vec_axpy_f32(y, 0.75f, a, n);
        for (int64_t i = 0; i < n; i++) {
            want[i] = b[i] + 0.75 * a[i];
            tol[i] = 1e-6 * (fabs(b[i]) + fabs(0.75 * a[i])) + 1e-30;
        }
        snprintf(what, sizeof(what), "%s axpy n=%lld", ln, (long long)n);
        check_tol(y, want, tol, n, what);
        memcpy(y, a, sizeof(float) * (size_t)n);
        seer_vec_scale_f32(y, -1.5f, n);
        for (int64_t i = 0; i < n; i++) want[i] = -1.5 * a[i], tol[i] = 1e-7 * fabs(want[i]) + 1e-30;
        snprintf(what, sizeof(what), "%s scale n=%lld", ln, (long long)n);
        check_tol(y, want, tol, n, what);

        /* max, then the softmax numerator; the max is planted at every position in turn for
         * short rows, so the tail lanes are covered */
        float mx = -INFINITY;
        for (int64_t i = 0; i < n; i++) mx = a[i] > mx ? a[i] : mx;
        CHECK_MSG(seer_vec_max_f32(a, n) == mx, "%s max n=%lld", ln, (long long)n);
        if (n <= 33) {
            for (int64_t at = 0; at < n; at++) {
                memcpy(y, a, sizeof(float) * (size_t)n);
                y[at] = 100.0f;
                CHECK_MSG(seer_vec_max_f32(y, n) == 100.0f, "%s max n=%lld at %lld", ln, (long long)n, (long long)at);
            }
        }
        for (int64_t i = 0; i < n; i++) y[i] = a[i] * 10.0f; /* logits spread over e^-60 .. 1 */
        float ymax = seer_vec_max_f32(y, n);
        double es = 0;
        for (int64_t i = 0; i < n; i++) {
            /* y - max is rounded to f32 first: that alone moves e^(y-max) by up to
             * |y - max| ulp(1) / 2 relative */
            want[i] = exp((double)y[i] - ymax);
            tol[i] = (2e-6 + 6e-8 * fabs((double)y[i] - ymax)) * want[i] + 1e-37;
            es += want[i];
        }
        float gs = seer_vec_exp_sum_f32(y, ymax, n);
        snprintf(what, sizeof(what), "%s exp_sum values n=%lld", ln, (long long)n);
        check_tol(y, want, tol, n, what);
        double ts = 2e-6 * es;
        snprintf(what, sizeof(what), "%s exp_sum sum n=%lld", ln, (long long)n);
        check_tol(&gs, &es, &ts, 1, what);

        /* rmsnorm (with and without gain, in place), layernorm */
        double ss = 0;
        for (int64_t i = 0; i < n; i++) ss += (double)a[i] * a[i];
        double r = 1.0 / sqrt(ss / (double)n + 1e-5);
        for (int64_t i = 0; i < n; i++) want[i] = a[i] * r * w[i], tol[i] = 2e-6 * fabs(want[i]) + 1e-7;
        seer_rmsnorm_f32(y, a, w, n, 1e-5f);
        snprintf(what, sizeof(what), "%s rmsnorm n=%lld", ln, (long long)n);
        check_tol(y, want, tol, n, what);
        memcpy(y, a, sizeof(float) * (size_t)n);
        seer_rmsnorm_f32(y, y, NULL, n, 1e-5f);
        for (int64_t i = 0; i < n; i++) want[i] = a[i] * r, tol[i] = 2e-6 * fabs(want[i]) + 1e-7;
        snprintf(what, sizeof(what), "%s rmsnorm in place n=%lld", ln, (long long)n);
        check_tol(y, want, tol, n, what);

        double mean = 0, var = 0;
        for (int64_t i = 0; i < n; i++) mean += a[i];
        mean /= (double)n;
        for (int64_t i = 0; i < n; i++) var += (a[i] - mean) * (a[i] - mean);
        r = 1.0 / sqrt(var / (double)n + 1e-5);
        for (int64_t i = 0; i < n; i++)
            want[i] = (a[i] - mean) * r * w[i] + bias[i], tol[i] = 1e-5 * (fabs(want[i]) + fabs(bias[i])) + 1e-6;
        seer_layernorm_f32(y, a, w, bias, n, 1e-5f);
        snprintf(what, sizeof(what), "%s layernorm n=%lld", ln, (long long)n);
        check_tol(y, want, tol, n, what);
        for (int64_t i = 0; i < n; i++) want[i] = (a[i] - mean) * r, tol[i] = 1e-5 * fabs(want[i]) + 1e-6;
        seer_layernorm_f32(y, a, NULL, NULL, n, 1e-5f);
        snprintf(what, sizeof(what), "%s layernorm no gain n=%lld", ln, (long long)n);
        check_tol(y, want, tol, n, what);

        /* swiglu and gelu over a wide range of inputs */
        for (int64_t i = 0; i < n; i++) {
            double g = a[i] * 6.0f;
            want[i] = g / (1.0 + exp(-g)) * b[i];
            tol[i] = 2e-6 * fabs(want[i]) + 1e-7;
            w[i] = a[i] * 6.0f;
        }
        seer_swiglu_f32(y, w, b, n);
        snprintf(what, sizeof(what), "%s swiglu n=%lld", ln, (long long)n);
        check_tol(y, want, tol, n, what);
        for (int64_t i = 0; i < n; i++) {
            double v = w[i];
            want[i] = 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
            tol[i] = 2e-6 * fabs(want[i]) + 2e-7;
        }
        memcpy(y, w, sizeof(float) * (size_t)n);
        seer_gelu_tanh_f32(y, n);
        snprintf(what, sizeof(what), "%s gelu_tanh n=%lld", ln, (long long)n);
        check_tol(y, want, tol, n, what);
    }

    /* exp at the ends of the range: masked scores (-inf) and underflow give 0, 0 gives 1 */
    float e[20] = {-INFINITY, -1000.0f, -104.0f, -88.0f, -87.0f, -50.0f, -1.0f, 0.0f, -0.5f, -20.0f,
                   -INFINITY, -3.0f,    -7.0f,   -9.0f,  -11.0f, -13.0f, -15.f, -17.f, -19.f, -21.f};
    double ew[20], et[20], esum = 0;
    for (int i = 0; i < 20; i++) {
        ew[i] = exp((double)e[i]);
        et[i] = 2e-6 * ew[i] + 1e-37;
        esum += ew[i];
    }
    float gsum = seer_vec_exp_sum_f32(e, 0.0f, 20);
    snprintf(what, sizeof(what), "%s exp_sum range ends", ln);
    check_tol(e, ew, et, 20, what);
    double tsum = 2e-6 * esum;
    check_tol(&gsum, &esum, &tsum, 1, what);
    float nanv[3] = {0.0f, NAN, -1.0f};
    seer_vec_exp_sum_f32(nanv, 0.0f, 3);
    CHECK_MSG(isnan(nanv[1]) && nanv[0] == 1.0f, "%s exp of NaN stays NaN", ln);

    /* gelu saturates cleanly */
    float gx[4] = {-30.0f, 30.0f, 0.0f, -1e-4f};
    seer_gelu_tanh_f32(gx, 4);
    CHECK_MSG(fabsf(gx[0]) < 1e-6f && gx[1] == 30.0f && gx[2] == 0.0f && fabsf(gx[3] + 0.5e-4f) < 1e-7f,
              "%s gelu ends: %g %g %g %g", ln, (double)gx[0], (double)gx[1], (double)gx[2], (double)gx[3]);
}

/* One attention head against a double-precision softmax(q K^T s) V, cache rows wider than the
 * head (stride > d), with a dominant position so the softmax is far from uniform. */
static void test_attn_level(seer_simd lv) {
    enum { MAXN = 300, MAXD = 96, STRIDE = 100 };
    static float q[MAXD], k[MAXN * STRIDE], v[MAXN * STRIDE], out[MAXD], probs[MAXN];
    static double want[MAXD], tol[MAXD], wp[MAXN], tp[MAXN];
    const int64_t ns[] = {1, 2, 17, 300}, ds[] = {8, 20, 48, 64, 96};
    char what[128];
    for (int ni = 0; ni < 4; ni++) {
        for (int di = 0; di < 5; di++) {
            int64_t n = ns[ni], d = ds[di];
            float scale = 1.0f / sqrtf((float)d);
            fill_normal(q, d, 1.0f);
            fill_normal(k, n * STRIDE, 1.0f);
            fill_normal(v, n * STRIDE, 1.0f);
            for (int64_t i = 0; i < d; i++) k[(n / 2) * STRIDE + i] = q[i]; /* position n/2 stands out */
            double mx = -INFINITY, sum = 0;
            for (int64_t t = 0; t < n; t++) {
                double s = 0;
                for (int64_t i = 0; i < d; i++) s += (double)q[i] * k[t * STRIDE + i];
                wp[t] = s * scale;
                mx = fmax(mx, wp[t]);
            }
            for (int64_t t = 0; t < n; t++) sum += wp[t] = exp(wp[t] - mx);
            for (int64_t t = 0; t < n; t++) wp[t] /= sum, tp[t] = 1e-5 * wp[t] + 1e-8;
            for (int64_t i = 0; i < d; i++) {
                double o = 0, oa = 0;
                for (int64_t t = 0; t < n; t++) {
                    o += wp[t] * v[t * STRIDE + i];
                    oa += fabs(wp[t] * v[t * STRIDE + i]);
                }
                want[i] = o;
                tol[i] = 1e-5 * oa + 1e-7;
            }
            /* the scores alone: q k_t s, within ~eps of Σ|q k_t| s */
            seer_attn_scores_f32(probs, q, k, n, d, STRIDE, scale);
            double ws[MAXN], ts[MAXN];
            for (int64_t t = 0; t < n; t++) {
                double s = 0, sa = 0;
                for (int64_t i = 0; i < d; i++) {
                    s += (double)q[i] * k[t * STRIDE + i];
                    sa += fabs((double)q[i] * k[t * STRIDE + i]);
                }
                ws[t] = s * scale;
                ts[t] = 1e-6 * sa * scale + 1e-12;
            }
            snprintf(what, sizeof(what), "%s attn_scores n=%lld d=%lld", seer_simd_name(lv), (long long)n,
                     (long long)d);
            check_tol(probs, ws, ts, n, what);
            seer_attn_head_f32(out, probs, q, k, v, n, d, STRIDE, scale);
            snprintf(what, sizeof(what), "%s attn_head n=%lld d=%lld probs", seer_simd_name(lv), (long long)n,
                     (long long)d);
            check_tol(probs, wp, tp, n, what);
            snprintf(what, sizeof(what), "%s attn_head n=%lld d=%lld out", seer_simd_name(lv), (long long)n,
                     (long long)d);
            check_tol(out, want, tol, d, what);
        }
    }
}

/* ---- weight conversion -------------------------------------------------------------------- */

static const seer_dtype wtypes[] = {SEER_DTYPE_F32, SEER_DTYPE_F16, SEER_DTYPE_BF16, SEER_DTYPE_Q8_0, SEER_DTYPE_Q4_0};
#define N_WTYPES 5

static int is_quant(seer_dtype t) { return t == SEER_DTYPE_Q8_0 || t == SEER_DTYPE_Q4_0; }

static void test_to_f32_level(seer_simd lv) {
    seer_err err = {0};
    enum { N = 2048 + 64 };
    static float src[N], got[N], want[N];
    static uint8_t raw[N * 4];
    for (int ti = 0; ti < N_WTYPES; ti++) {
        seer_dtype t = wtypes[ti];
        for (int64_t n = 32; n <= N; n += is_quant(t) ? 32 * 13 : 37) {
            fill_normal(src, n, 3.0f);
            CHECK_OK(seer_convert_from_f32(t, src, raw, n, &err), &err);
            CHECK_OK(seer_convert_to_f32(t, raw, want, n, &err), &err);
            seer_vec_to_f32(t, raw, got, n);
            CHECK_MSG(same_bits(got, want, (size_t)n), "%s to_f32 %s n=%lld differs",
                      seer_simd_name(lv), seer_dtype_name(t), (long long)n);
        }
    }
}

/* ---- matmul ------------------------------------------------------------------------------- */

/* x quantized the way the kernels do it for quantized weights (scale amax/127 kept in f32,
 * round to nearest even), then expanded back: the reference for the integer path. */
static void q8_roundtrip(const float *x, float *out, int64_t n) {
    for (int64_t b = 0; b < n / 32; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[b * 32 + j]));
        float d = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
        for (int j = 0; j < 32; j++) out[b * 32 + j] = nearbyintf(x[b * 32 + j] * id) * d;
    }
}

static const int64_t mm_rows[] = {1, 7, 50, 130};
static const int64_t mm_cols[] = {32, 64, 172, 288, 768, 2048};
static const int64_t mm_ns[] = {1, 2, 7, 64};

typedef struct mm_case {
    seer_dtype t;
    int64_t rows, cols, n;
    void *w;
    float *x, *xq;  /* x, and x through q8_0 */
    double *want;   /* y from the reference */
    double *tol;
    double *want_q; /* y from the reference with x through q8_0 */
} mm_case;

/* Runs one case at the current level with nt threads (pool NULL for nt == 0), acc or not;
 * y must hold n * rows + 16 floats. Returns 0 if the canaries were touched. */
static int mm_run(const mm_case *c, seer_pool *pool, int acc, float *y, const float *y0) {
    size_t ws = seer_matmul_work_size(c->t, c->n, c->cols);
    uint8_t *work = ws ? seer_alloc_aligned(ws + 64, 1) : NULL;
    if (ws) memset(work + ws, 0xa5, 64);
    size_t ny = (size_t)(c->n * c->rows);
    memcpy(y, y0, sizeof(float) * (ny + 16));
    if (acc) seer_matmul_acc(pool, y, c->x, c->n, c->w, c->t, c->rows, c->cols, work);
    else seer_matmul(pool, y, c->x, c->n, c->w, c->t, c->rows, c->cols, work);
    int ok = same_bits(y + ny, y0 + ny, 16);
    for (size_t i = 0; ws && i < 64; i++) ok &= work[ws + i] == 0xa5;
    free(work);
    return ok;
}

static void test_matmul(seer_pool *pools[4]) {
    seer_err err = {0};
    char what[200];
    for (int ti = 0; ti < N_WTYPES; ti++) {
        for (int ri = 0; ri < 4; ri++) {
            for (int ci = 0; ci < 6; ci++) {
                for (int ni = 0; ni < 4; ni++) {
                    mm_case c = {.t = wtypes[ti], .rows = mm_rows[ri], .cols = mm_cols[ci], .n = mm_ns[ni]};
                    if (is_quant(c.t) && c.cols % 32) continue;
                    size_t rb;
                    CHECK_OK(seer_dtype_row_bytes(c.t, c.cols, &rb, &err), &err);
                    int64_t ny = c.n * c.rows;
                    float *wf = malloc(sizeof(float) * (size_t)(c.rows * c.cols));
                    float *wd = malloc(sizeof(float) * (size_t)(c.rows * c.cols));
                    c.w = malloc(rb * (size_t)c.rows);
                    c.x = malloc(sizeof(float) * (size_t)(c.n * c.cols));
                    c.xq = malloc(sizeof(float) * (size_t)(c.n * c.cols));
                    c.want = malloc(sizeof(double) * (size_t)ny);
                    c.tol = malloc(sizeof(double) * (size_t)ny);
                    c.want_q = malloc(sizeof(double) * (size_t)ny);
                    float *yref = malloc(sizeof(float) * (size_t)ny);
                    float *y0 = malloc(sizeof(float) * (size_t)(ny + 16));
                    float *y = malloc(sizeof(float) * (size_t)(ny + 16));
                    float *yfirst = malloc(sizeof(float) * (size_t)(ny + 16));
                    double *wacc = malloc(sizeof(double) * (size_t)ny);

                    fill_normal(wf, c.rows * c.cols, 0.05f);
                    fill_normal(c.x, c.n * c.cols, 1.0f);
                    fill_normal(y0, ny + 16, 1.0f);
                    CHECK_OK(seer_convert_from_f32(c.t, wf, c.w, c.rows * c.cols, &err), &err);
                    CHECK_OK(seer_convert_to_f32(c.t, c.w, wd, c.rows * c.cols, &err), &err);
                    /* the reference, and a tolerance per output: f32 accumulation in any order
                     * stays within ~K eps of Σ|w x|; 1e-6 of it is generous for K <= 2048 */
                    seer_matmul_ref(yref, c.x, c.n, c.w, c.t, c.rows, c.cols);
                    for (int64_t i = 0; i < c.n; i++) {
                        for (int64_t r = 0; r < c.rows; r++) {
                            double s = 0, sa = 0;
                            for (int64_t k = 0; k < c.cols; k++) {
                                s += (double)c.x[i * c.cols + k] * wd[r * c.cols + k];
                                sa += fabs((double)c.x[i * c.cols + k] * wd[r * c.cols + k]);
                            }
                            c.want[i * c.rows + r] = s;
                            c.tol[i * c.rows + r] = 1e-6 * sa + 1e-12;
                            CHECK_MSG(fabs(yref[i * c.rows + r] - s) <= 1e-6 * sa + 1e-12, "seer_matmul_ref");
                        }
                    }
                    if (is_quant(c.t)) {
                        for (int64_t i = 0; i < c.n; i++) q8_roundtrip(c.x + i * c.cols, c.xq + i * c.cols, c.cols);
                        seer_matmul_ref(yref, c.xq, c.n, c.w, c.t, c.rows, c.cols);
                        for (int64_t i = 0; i < ny; i++) c.want_q[i] = yref[i];
                    }
                    /* quantized weights take x through q8_0 on the decode path (integer dot
                     * products); prefill converts weights to f32 and keeps x */
                    const double *want = is_quant(c.t) && c.n == 1 ? c.want_q : c.want;

                    for (int li = 0; li < n_levels; li++) {
                        seer_simd lv = seer_simd_set((seer_simd)levels[li]);
                        for (int pi = 0; pi < 4; pi++) {
                            for (int acc = 0; acc <= 1; acc++) {
                                if (acc && pi != 2) continue;
                                snprintf(what, sizeof(what), "%s matmul%s %s rows=%lld cols=%lld n=%lld threads=%d",
                                         seer_simd_name(lv), acc ? "_acc" : "", seer_dtype_name(c.t),
                                         (long long)c.rows, (long long)c.cols, (long long)c.n, pi);
                                CHECK_MSG(mm_run(&c, pools[pi], acc, y, y0), "%s: wrote past y or work", what);
                                if (acc) {
                                    for (int64_t i = 0; i < ny; i++) wacc[i] = want[i] + y0[i];
                                    check_tol(y, wacc, c.tol, ny, what);
                                } else {
                                    check_tol(y, want, c.tol, ny, what);
                                    /* every row is computed by the same code whichever thread
                                     * takes it: results do not depend on the thread count
                                     * (except OpenBLAS's, whose blocking follows the split) */
                                    int blas = lv == SEER_SIMD_SCALAR && c.t == SEER_DTYPE_F32 && c.n > 1;
                                    if (pi == 0) memcpy(yfirst, y, sizeof(float) * (size_t)ny);
                                    else if (!blas)
                                        CHECK_MSG(same_bits(yfirst, y, (size_t)ny),
                                                  "%s: differs from the single-thread result", what);
                                }
                            }
                        }
                    }
                    /* q8_0 moves each x by at most half a step, amax/254 of its block: the
                     * quantized reference stays within Σ |w| amax/254 of the exact one */
                    if (is_quant(c.t) && c.n == 1) {
                        int bad = 0;
                        for (int64_t r = 0; r < c.rows; r++) {
                            double bound = 0;
                            for (int64_t b = 0; b < c.cols / 32; b++) {
                                double amax = 0, sw = 0;
                                for (int j = 0; j < 32; j++) {
                                    amax = fmax(amax, fabs(c.x[b * 32 + j]));
                                    sw += fabs(wd[r * c.cols + b * 32 + j]);
                                }
                                bound += sw * amax / 254.0;
                            }
                            bad += !(fabs(c.want_q[r] - c.want[r]) <= bound * 1.001 + 1e-6);
                        }
                        CHECK_MSG(bad == 0, "%s: %d rows beyond the q8_0 error bound", seer_dtype_name(c.t), bad);
                    }
                    free(wf), free(wd), free(c.w), free(c.x), free(c.xq), free(c.want), free(c.tol);
                    free(c.want_q), free(yref), free(y0), free(y), free(yfirst), free(wacc);
                }
            }
        }
    }
}

/* Work sizes: none for f32 decode (work may be NULL), room for everything otherwise, and
 * overflow reported as SIZE_MAX. */
static void test_work_size(void) {
    CHECK(seer_matmul_work_size(SEER_DTYPE_F32, 1, 4096) == 0);
    CHECK(seer_matmul_work_size(SEER_DTYPE_Q8_0, 1, 4096) >= (size_t)4096 + (size_t)128 * 8);
    CHECK(seer_matmul_work_size(SEER_DTYPE_F16, 7, 100) >= (size_t)16 * 100 * 4);
    CHECK(seer_matmul_work_size(SEER_DTYPE_Q4_0, 300, 64) >= (size_t)304 * 64 * 4);
    CHECK(seer_matmul_work_size(SEER_DTYPE_Q4_0, INT64_MAX / 2, INT64_MAX / 64) == SIZE_MAX);
    CHECK(seer_matmul_work_size(SEER_DTYPE_F32, 0, 64) == 0);
    /* one buffer sized for the largest call serves every smaller one */
    int grows = 1;
    for (int t = 0; t < N_WTYPES; t++) {
        for (int64_t cols = 32; cols <= 4096; cols += 32) {
            for (int64_t n = 1; n <= 300; n++) {
                size_t s = seer_matmul_work_size(wtypes[t], n, cols);
                grows &= s >= seer_matmul_work_size(wtypes[t], n - 1, cols);
                grows &= s >= seer_matmul_work_size(wtypes[t], n, cols - 32);
            }
        }
    }
    CHECK_MSG(grows, "seer_matmul_work_size decreases somewhere as n or cols grow");
    /* zero columns: y = 0, or unchanged when accumulating */
    float y[6] = {1, 2, 3, 4, 5, 6};
    seer_matmul(NULL, y, NULL, 2, NULL, SEER_DTYPE_F32, 3, 0, NULL);
    CHECK(y[0] == 0 && y[5] == 0);
    y[2] = 7;
    seer_matmul_acc(NULL, y, NULL, 2, NULL, SEER_DTYPE_F32, 3, 0, NULL);
    CHECK(y[2] == 7);
}

/* The fused SwiGLU matmul equals its pieces: silu(x · gateᵀ) * (x · upᵀ) from two plain
 * matmuls, bit for bit at every level, thread count and size (rows past and not a multiple of
 * its 48-row steps), except where OpenBLAS's blocking follows the split (scalar f32 prefill);
 * nothing is written past y or the work buffer. */
static void test_matmul_swiglu(seer_pool *pools[4]) {
    static const int64_t rows_[] = {7, 50, 100, 130}, cols_[] = {64, 288}, ns[] = {1, 2, 7, 64};
    seer_err err = {0};
    char what[200];
    for (int ti = 0; ti < N_WTYPES; ti++) {
        for (int ri = 0; ri < 4; ri++) {
            for (int ci = 0; ci < 2; ci++) {
                for (int ni = 0; ni < 4; ni++) {
                    seer_dtype t = wtypes[ti];
                    int64_t rows = rows_[ri], cols = cols_[ci], n = ns[ni], ny = n * rows;
                    size_t rb;
                    CHECK_OK(seer_dtype_row_bytes(t, cols, &rb, &err), &err);
                    float *wf = malloc(sizeof(float) * (size_t)(rows * cols)), *x = malloc(sizeof(float) * (size_t)(n * cols));
                    void *wg = malloc(rb * (size_t)rows), *wu = malloc(rb * (size_t)rows);
                    float *g = malloc(sizeof(float) * (size_t)ny), *u = malloc(sizeof(float) * (size_t)ny);
                    float *want = malloc(sizeof(float) * (size_t)ny), *y = malloc(sizeof(float) * (size_t)(ny + 16));
                    fill_normal(wf, rows * cols, 0.1f);
                    CHECK_OK(seer_convert_from_f32(t, wf, wg, rows * cols, &err), &err);
                    fill_normal(wf, rows * cols, 0.1f);
                    CHECK_OK(seer_convert_from_f32(t, wf, wu, rows * cols, &err), &err);
                    fill_normal(x, n * cols, 1.0f);
                    for (int li = 0; li < n_levels; li++) {
                        seer_simd lv = seer_simd_set((seer_simd)levels[li]);
                        for (int pi = 0; pi < 4; pi++) {
                            int nth = pi == 0 ? 1 : pi;
                            size_t ws = seer_matmul_work_size(t, n, cols);
                            size_t wsf = seer_matmul_swiglu_work_size(t, n, cols, nth);
                            CHECK(wsf >= ws && wsf != SIZE_MAX);
                            uint8_t *work = seer_alloc_aligned(wsf + 64, 1);
                            memset(work + wsf, 0xa5, 64);
                            seer_matmul(pools[pi], g, x, n, wg, t, rows, cols, work);
                            seer_matmul(pools[pi], u, x, n, wu, t, rows, cols, work);
                            seer_swiglu_f32(want, g, u, ny);
                            for (int k = 0; k < 16; k++) y[ny + k] = -7.0f;
                            seer_matmul_swiglu(pools[pi], y, x, n, wg, wu, t, rows, cols, work);
                            snprintf(what, sizeof(what), "%s matmul_swiglu %s rows=%lld cols=%lld n=%lld threads=%d",
                                     seer_simd_name(lv), seer_dtype_name(t), (long long)rows, (long long)cols,
                                     (long long)n, pi);
                            int ok = 1;
                            for (int k = 0; k < 16; k++) ok &= y[ny + k] == -7.0f;
                            for (int k = 0; k < 64; k++) ok &= work[wsf + (size_t)k] == 0xa5;
                            CHECK_MSG(ok, "%s: wrote past y or work", what);
                            if (lv == SEER_SIMD_SCALAR && t == SEER_DTYPE_F32 && n > 1) check_close(y, want, (size_t)ny, 1e-5f, what);
                            else CHECK_MSG(same_bits(y, want, (size_t)ny), "%s: differs from the unfused result", what);
                            free(work);
                        }
                    }
                    free(wf), free(x), free(wg), free(wu), free(g), free(u), free(want), free(y);
                }
            }
        }
    }
    CHECK(seer_matmul_swiglu_work_size(SEER_DTYPE_Q8_0, INT64_MAX / 2, 64, 2) == SIZE_MAX);
    CHECK(seer_matmul_swiglu_work_size(SEER_DTYPE_F32, 4, 64, 0) == SIZE_MAX);
}

/* Many small matmuls back to back on a shared pool, as a decode step runs them. */
static void test_matmul_stress(seer_pool *pool) {
    /* big enough (32K multiply-adds) that seer_matmul hands it to the pool */
    enum { ROWS = 256, COLS = 128, RUNS = 20000 };
    static float w[ROWS * COLS], x[COLS], y[ROWS], want[ROWS];
    fill_normal(w, (int64_t)ROWS * COLS, 0.1f);
    fill_normal(x, COLS, 1.0f);
    seer_matmul(NULL, want, x, 1, w, SEER_DTYPE_F32, ROWS, COLS, NULL);
    int bad = 0;
    for (int i = 0; i < RUNS; i++) {
        memset(y, 0, sizeof(y));
        seer_matmul(pool, y, x, 1, w, SEER_DTYPE_F32, ROWS, COLS, NULL);
        bad += !same_bits(y, want, ROWS);
    }
    CHECK_MSG(bad == 0, "%d of %d pooled matmuls differ", bad, RUNS);
}

/* The RoPE table against libm in double: within a float's half-ulp (plus a hair for the double
 * results' ~1e-15 differences), over thetas below and above 1, head sizes, and angles to 1e6. */
static void test_rope_table(void) {
    static const struct {
        double theta;
        int64_t d_head, n_pos;
    } cases[] = {{10000, 48, 2048}, {500000, 128, 300}, {1e11, 64, 100}, {0.5, 8, 100}, {1e-3, 4, 50}, {10000, 2, 1000000}};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        int64_t half = cases[k].d_head / 2, n = cases[k].n_pos;
        float *c = malloc((size_t)(n * half) * sizeof(float)), *s = malloc((size_t)(n * half) * sizeof(float));
        if (!c || !s) {
            CHECK(0);
            free(c), free(s);
            return;
        }
        seer_rope_table(c, s, n, cases[k].d_head, cases[k].theta);
        double worst = 0;
        int64_t off_round = 0;
        for (int64_t j = 0; j < half; j++) {
            double freq = pow(cases[k].theta, -2.0 * (double)j / (double)cases[k].d_head);
            for (int64_t p = 0; p < n; p++) {
                double a = (double)p * freq, rc = cos(a), rs = sin(a);
                float gc = c[p * half + j], gs = s[p * half + j];
                double e = fmax(fabs(gc - rc), fabs(gs - rs));
                if (!(e <= worst)) worst = e;
                off_round += (gc != (float)rc) + (gs != (float)rs);
            }
        }
        CHECK_MSG(worst <= 0x1p-25 * 1.0001, "rope theta %g d_head %lld: worst error %.3g", cases[k].theta,
                  (long long)cases[k].d_head, worst);
        CHECK_MSG(off_round * 1000 <= 2 * n * half + 2, "rope theta %g: %lld of %lld entries round differently from libm",
                  cases[k].theta, (long long)off_round, (long long)(2 * n * half));
        printf("rope table: theta %g, d_head %lld, %lld positions: worst |error| %.3g, %lld entries off libm's rounding\n",
               cases[k].theta, (long long)cases[k].d_head, (long long)n, worst, (long long)off_round);
        free(c), free(s);
    }
}

int main(void) {
    seer_rng_seed(&rng, 1234);
    test_pool();
    find_levels();
    for (int li = 0; li < n_levels; li++) {
        seer_simd lv = seer_simd_set((seer_simd)levels[li]);
        test_vec_level(lv);
        test_attn_level(lv);
        test_to_f32_level(lv);
    }
    test_work_size();
    test_rope_table();

    seer_err err = {0};
    seer_pool *pools[4] = {NULL, NULL, NULL, NULL}; /* none, 1, 2, 3 threads */
    for (int i = 1; i < 4; i++) CHECK_OK(seer_pool_init(i, &pools[i], &err), &err);
    test_matmul(pools);
    test_matmul_swiglu(pools);
    seer_simd_set(SEER_SIMD_AVX512);
    test_matmul_stress(pools[2]);
    for (int i = 1; i < 4; i++) seer_pool_free(pools[i]);
    return test_done("test_ops");
}
