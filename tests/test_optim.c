/* AdamW against steps worked out by hand and against a double-precision reference, clipping,
 * the warmup + cosine schedule, accumulation helpers, thread-count independence and bad
 * arguments. */
#include "seer/optim.h"
#include "test.h"

/* Two steps of torch.optim.AdamW on one weight, worked by hand with lr 0.1, wd 0.01,
 * betas (0.9, 0.999), eps 1e-8:
 *   t=1, g=0.5:  p = 1 * (1 - 0.001) = 0.999; m = 0.05; v = 0.00025;
 *                m_hat = 0.05 / 0.1 = 0.5; sqrt(v_hat) = sqrt(0.00025 / 0.001) = 0.5;
 *                p = 0.999 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.89900000002
 *   t=2, g=-0.25: p = 0.899 * 0.999 = 0.898101; m = 0.045 - 0.025 = 0.02;
 *                v = 0.00024975 + 0.0000625 = 0.00031225; bc1 = 0.19, bc2 = 0.001999;
 *                m_hat = 0.105263158; sqrt(v_hat) = sqrt(0.156203102) = 0.395225380;
 *                p = 0.898101 - 0.1 * 0.105263158 / 0.395225380 = 0.871467299
 * Without decay the same steps give 0.9 and then 0.9 - 0.0266337 = 0.873366299
 * (0.1 * 0.105263158 / 0.395225380 = 0.026633701). */
static void test_hand_steps(void) {
    seer_err err = {0};
    float p[2] = {1, 1}, g[2], m[2] = {0}, v[2] = {0};
    seer_optim_span sp[2] = {
        {"decayed", &p[0], &g[0], &m[0], &v[0], 1, 1},
        {"plain", &p[1], &g[1], &m[1], &v[1], 1, 0},
    };
    seer_adamw_cfg cfg = seer_adamw_default();
    CHECK(cfg.beta1 == 0.9 && cfg.beta2 == 0.999 && cfg.eps == 1e-8 && cfg.weight_decay == 0.01);
    g[0] = g[1] = 0.5f;
    CHECK_OK(seer_optim_adamw_step(NULL, &cfg, 0.1f, 1, sp, 2, &err), &err);
    CHECK_MSG(fabs(p[0] - 0.89900000002) < 2e-7, "p %.9f", (double)p[0]);
    CHECK_MSG(fabs(p[1] - 0.9) < 2e-7, "p %.9f", (double)p[1]);
    CHECK(fabs(m[0] - 0.05) < 1e-8 && fabs(v[0] - 0.00025) < 5e-11);
    g[0] = g[1] = -0.25f;
    CHECK_OK(seer_optim_adamw_step(NULL, &cfg, 0.1f, 2, sp, 2, &err), &err);
    CHECK_MSG(fabs(p[0] - 0.871467299) < 3e-7, "p %.9f", (double)p[0]);
    CHECK_MSG(fabs(p[1] - 0.873366299) < 3e-7, "p %.9f", (double)p[1]);
    CHECK(fabs(m[0] - 0.02) < 1e-8 && fabs(v[0] - 0.00031225) < 5e-11);
}

/* The update in double, written out separately from the library's. */
static void ref_adamw(double *p, const double *g, double *m, double *v, size_t n, int decay, double lr, int t,
                      double b1, double b2, double eps, double wd) {
    double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
    for (size_t i = 0; i < n; i++) {
        if (decay) p[i] -= lr * wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        p[i] -= lr * (m[i] / bc1) / (sqrt(v[i] / bc2) + eps);
    }
}

static void test_vs_double(void) {
    enum { N0 = 1000, N1 = 37, N2 = 513, N = N0 + N1 + N2, STEPS = 30 };
    static float p[N], g[N], m[N], v[N];
    static double pd[N], gd[N], md[N], vd[N];
    seer_rng r;
    seer_rng_seed(&r, 7);
    for (size_t i = 0; i < N; i++) pd[i] = p[i] = seer_rng_normal(&r);
    seer_optim_span sp[3] = {
        {"w0", p, g, m, v, N0, 1},
        {"norm", p + N0, g + N0, m + N0, v + N0, N1, 0},
        {"w2", p + N0 + N1, g + N0 + N1, m + N0 + N1, v + N0 + N1, N2, 1},
    };
    seer_adamw_cfg cfg = {0.9, 0.95, 1e-8, 0.1};
    seer_lr_sched sch = {SEER_LR_COSINE, 3e-3f, 3e-4f, 5, STEPS};
    seer_err err = {0};
    for (int s = 0; s < STEPS; s++) {
        for (size_t i = 0; i < N; i++) gd[i] = g[i] = seer_rng_normal(&r) * (i % 7 == 0 ? 1e-3f : 1.0f);
        float lr = seer_optim_lr_at(&sch, s);
        CHECK_OK(seer_optim_adamw_step(NULL, &cfg, lr, s + 1, sp, 3, &err), &err);
        size_t off = 0;
        for (int k = 0; k < 3; k++) {
            ref_adamw(pd + off, gd + off, md + off, vd + off, sp[k].n, sp[k].decay, lr, s + 1, 0.9, 0.95, 1e-8, 0.1);
            off += sp[k].n;
        }
    }
    static float pf[N];
    for (size_t i = 0; i < N; i++) pf[i] = (float)pd[i];
    check_close(p, pf, N, 2e-5f, "adamw vs double after 30 steps");
    /* The decay flag matters: a decayed weight with zero gradient shrinks, a plain one stays. */
    float q[2] = {2, 2}, z[2] = {0, 0}, mm[2] = {0}, vv[2] = {0};
    seer_optim_span zs[2] = {{"d", q, z, mm, vv, 1, 1}, {"n", q + 1, z + 1, mm + 1, vv + 1, 1, 0}};
    CHECK_OK(seer_optim_adamw_step(NULL, &cfg, 0.5f, 1, zs, 2, &err), &err);
    CHECK_MSG(fabsf(q[0] - 2 * (1 - 0.5f * 0.1f)) < 1e-6f && q[1] == 2.0f, "q %g %g", (double)q[0], (double)q[1]);
}

/* Results must not depend on the thread count (exact resume relies on it). */
static void test_threads(void) {
    enum { N = 300001 };
    float *p1 = malloc(N * sizeof(float)), *p2 = malloc(N * sizeof(float));
    float *g1 = malloc(N * sizeof(float)), *g2 = malloc(N * sizeof(float));
    float *m1 = calloc(N, sizeof(float)), *m2 = calloc(N, sizeof(float));
    float *v1 = calloc(N, sizeof(float)), *v2 = calloc(N, sizeof(float));
    seer_err err = {0};
    seer_pool *pool = NULL;
    CHECK_OK(seer_pool_init(3, &pool, &err), &err);
    seer_rng r;
    seer_rng_seed(&r, 11);
    for (size_t i = 0; i < N; i++) {
        p1[i] = p2[i] = seer_rng_normal(&r);
        g1[i] = g2[i] = seer_rng_normal(&r);
    }
    size_t cut = 123457;
    seer_optim_span a[2] = {{"a", p1, g1, m1, v1, cut, 1}, {"b", p1 + cut, g1 + cut, m1 + cut, v1 + cut, N - cut, 0}};
    seer_optim_span b[2] = {{"a", p2, g2, m2, v2, cut, 1}, {"b", p2 + cut, g2 + cut, m2 + cut, v2 + cut, N - cut, 0}};
    seer_adamw_cfg cfg = seer_adamw_default();
    float n1 = 0, n2 = 0;
    for (int s = 1; s <= 3; s++) {
        CHECK_OK(seer_optim_clip_grad_norm(NULL, a, 2, 100.0f, &n1, &err), &err);
        CHECK_OK(seer_optim_clip_grad_norm(pool, b, 2, 100.0f, &n2, &err), &err);
        CHECK(memcmp(&n1, &n2, sizeof(n1)) == 0);
        CHECK_OK(seer_optim_adamw_step(NULL, &cfg, 1e-3f, s, a, 2, &err), &err);
        CHECK_OK(seer_optim_adamw_step(pool, &cfg, 1e-3f, s, b, 2, &err), &err);
    }
    /* The norm of N standard normals is about sqrt(N) and it was clipped to 100 on step 1. */
    CHECK_MSG(fabsf(n1 - 100.0f) < 0.01f, "norm after clipping %g", (double)n1);
    CHECK(memcmp(p1, p2, N * sizeof(float)) == 0);
    CHECK(memcmp(m1, m2, N * sizeof(float)) == 0);
    CHECK(memcmp(v1, v2, N * sizeof(float)) == 0);
    seer_pool_free(pool);
    free(p1), free(p2), free(g1), free(g2), free(m1), free(m2), free(v1), free(v2);
}

static void test_clip(void) {
    seer_err err = {0};
    float g[3] = {3, 0, 4}, dummy[3] = {0};
    seer_optim_span sp[2] = {{"x", dummy, g, NULL, NULL, 2, 0}, {"y", dummy + 2, g + 2, NULL, NULL, 1, 0}};
    float nrm = -1;
    CHECK_OK(seer_optim_clip_grad_norm(NULL, sp, 2, 0.0f, &nrm, &err), &err); /* 0: measure only */
    CHECK(nrm == 5.0f && g[0] == 3 && g[2] == 4);
    CHECK_OK(seer_optim_clip_grad_norm(NULL, sp, 2, 10.0f, &nrm, &err), &err);
    CHECK(nrm == 5.0f && g[0] == 3 && g[2] == 4);
    CHECK_OK(seer_optim_clip_grad_norm(NULL, sp, 2, 1.0f, &nrm, &err), &err);
    CHECK(nrm == 5.0f);
    /* torch: clip_coef = 1 / (5 + 1e-6) */
    CHECK_MSG(fabsf(g[0] - 0.6f) < 1e-6f && fabsf(g[2] - 0.8f) < 1e-6f && g[1] == 0, "%g %g", (double)g[0],
              (double)g[2]);
    CHECK_OK(seer_optim_clip_grad_norm(NULL, sp, 2, 0.0f, &nrm, &err), &err);
    CHECK(fabsf(nrm - 1.0f) < 1e-6f);
    g[2] = NAN;
    CHECK_FAILS(seer_optim_clip_grad_norm(NULL, sp, 2, 1.0f, &nrm, &err), &err, "gradient of 'y' holds nan at element 0");
    CHECK(g[0] != 0 && isnan(g[2])); /* left alone */
    g[2] = INFINITY;
    CHECK_FAILS(seer_optim_clip_grad_norm(NULL, sp, 2, 1.0f, &nrm, &err), &err, "'y' holds inf");
    g[2] = 4;
    CHECK_FAILS(seer_optim_clip_grad_norm(NULL, sp, 2, -1.0f, &nrm, &err), &err, "max norm -1");
    /* Squares overflow float but not the double sum. */
    g[0] = 3e30f, g[1] = 0, g[2] = 4e30f;
    CHECK_OK(seer_optim_clip_grad_norm(NULL, sp, 2, 1.0f, &nrm, &err), &err);
    CHECK_MSG(fabsf(nrm / 5e30f - 1) < 1e-6f, "norm %g", (double)nrm);
}

static void test_accum(void) {
    enum { N = 1000, K = 4 };
    static float grad[N], micro[K][N], dummy[N];
    seer_rng r;
    seer_rng_seed(&r, 3);
    for (int k = 0; k < K; k++)
        for (int i = 0; i < N; i++) micro[k][i] = seer_rng_normal(&r);
    seer_optim_span sp = {"w", dummy, grad, NULL, NULL, N, 1};
    for (int i = 0; i < N; i++) grad[i] = 123; /* stale grads from an earlier step */
    seer_optim_zero_grads(&sp, 1);
    for (int k = 0; k < K; k++)
        for (int i = 0; i < N; i++) grad[i] += micro[k][i];
    seer_optim_scale_grads(NULL, &sp, 1, 1.0f / K);
    static float mean[N];
    for (int i = 0; i < N; i++) mean[i] = (float)(((double)micro[0][i] + micro[1][i] + micro[2][i] + micro[3][i]) / K);
    check_close(grad, mean, N, 1e-6f, "accumulated mean gradient");
}

static void test_schedule(void) {
    seer_err err = {0};
    seer_lr_sched s = {SEER_LR_COSINE, 1e-3f, 1e-4f, 10, 110};
    CHECK_OK(seer_lr_check(&s, &err), &err);
    CHECK(fabsf(seer_optim_lr_at(&s, 0) - 1e-4f) < 1e-10f);  /* 1/10 of the peak */
    CHECK(fabsf(seer_optim_lr_at(&s, 4) - 5e-4f) < 1e-10f);
    CHECK(fabsf(seer_optim_lr_at(&s, 9) - 1e-3f) < 1e-10f);  /* warmup ends at the peak */
    CHECK(fabsf(seer_optim_lr_at(&s, 10) - 1e-3f) < 1e-10f); /* cosine starts at the peak */
    CHECK(fabsf(seer_optim_lr_at(&s, 60) - 5.5e-4f) < 1e-9f); /* halfway: the mean of max and min */
    /* A quarter of the way: min + (max - min) * (1 + cos(pi/4)) / 2 = 1e-4 + 9e-4 * 0.8535534 */
    CHECK(fabsf(seer_optim_lr_at(&s, 35) - 8.6819805e-4f) < 1e-9f);
    CHECK(fabsf(seer_optim_lr_at(&s, 110) - 1e-4f) < 1e-10f);
    CHECK(fabsf(seer_optim_lr_at(&s, 5000) - 1e-4f) < 1e-10f); /* stays at the floor */
    for (int i = 11; i <= 110; i++) CHECK(seer_optim_lr_at(&s, i) <= seer_optim_lr_at(&s, i - 1));
    seer_lr_sched c = {SEER_LR_CONSTANT, 2e-3f, 0, 4, 0};
    CHECK_OK(seer_lr_check(&c, &err), &err);
    CHECK(fabsf(seer_optim_lr_at(&c, 1) - 1e-3f) < 1e-10f);
    CHECK(seer_optim_lr_at(&c, 3) == 2e-3f && seer_optim_lr_at(&c, 1000) == 2e-3f);
    c.warmup_steps = 0;
    CHECK(seer_optim_lr_at(&c, 0) == 2e-3f);
    seer_lr_kind k;
    CHECK(seer_lr_kind_from_name("cosine", &k) == 0 && k == SEER_LR_COSINE);
    CHECK(seer_lr_kind_from_name("linear", &k) == -1);
    CHECK(!strcmp(seer_lr_kind_name(SEER_LR_CONSTANT), "constant"));
    seer_lr_sched bad = s;
    bad.total_steps = 10;
    CHECK_FAILS(seer_lr_check(&bad, &err), &err, "total steps (10) above the warmup steps (10)");
    bad = s;
    bad.lr_min = 2e-3f;
    CHECK_FAILS(seer_lr_check(&bad, &err), &err, "min learning rate 0.002");
    bad = s;
    bad.warmup_steps = -1;
    CHECK_FAILS(seer_lr_check(&bad, &err), &err, "warmup steps -1");
    bad = s;
    bad.lr_max = NAN;
    CHECK_FAILS(seer_lr_check(&bad, &err), &err, "learning rate nan");
}

static void test_bad_args(void) {
    seer_err err = {0};
    float p = 1, g = 1, m = 0, v = 0;
    seer_optim_span sp = {"w", &p, &g, &m, &v, 1, 1};
    seer_adamw_cfg cfg = seer_adamw_default();
    CHECK_FAILS(seer_optim_adamw_step(NULL, &cfg, 1e-3f, 0, &sp, 1, &err), &err, "step 0 must be >= 1");
    CHECK_FAILS(seer_optim_adamw_step(NULL, &cfg, -1.0f, 1, &sp, 1, &err), &err, "learning rate -1");
    cfg.beta1 = 1.0;
    CHECK_FAILS(seer_optim_adamw_step(NULL, &cfg, 1e-3f, 1, &sp, 1, &err), &err, "beta1 1 is outside [0, 1)");
    cfg = seer_adamw_default();
    cfg.eps = 0;
    CHECK_FAILS(seer_optim_adamw_step(NULL, &cfg, 1e-3f, 1, &sp, 1, &err), &err, "eps 0");
    cfg = seer_adamw_default();
    cfg.weight_decay = -0.1;
    CHECK_FAILS(seer_optim_adamw_step(NULL, &cfg, 1e-3f, 1, &sp, 1, &err), &err, "weight decay -0.1");
    cfg = seer_adamw_default();
    sp.m = NULL;
    CHECK_FAILS(seer_optim_adamw_step(NULL, &cfg, 1e-3f, 1, &sp, 1, &err), &err, "span 0 'w'");
    CHECK(p == 1 && g == 1); /* failed calls change nothing */
}

int main(void) {
    test_hand_steps();
    test_vs_double();
    test_threads();
    test_clip();
    test_accum();
    test_schedule();
    test_bad_args();
    return test_done("test_optim");
}
