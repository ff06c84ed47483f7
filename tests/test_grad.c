/* Gradient engine: training logits equal the inference engine's, finite-difference checks of
 * every parameter tensor (Llama with GQA, untied; GPT-2, tied), loss masks and padding, hook
 * gradients, LoRA (finite differences, rank-r recovery, merge, save/load), memorizing a batch,
 * and clear errors for bad input. */
#include "seer/grad.h"
#include "seer/hooks.h"
#include "model/grad_internal.h"
#include "test.h"

static seer_model_config cfg_llama(void) {
    seer_model_config c = {.arch = SEER_ARCH_LLAMA, .n_vocab = 29, .d_model = 16, .n_layers = 2, .n_heads = 4,
                           .n_kv_heads = 2, .d_head = 4, .d_mlp = 24, .n_ctx = 32, .norm_eps = 1e-5f,
                           .rope_theta = 10000.0f, .tied_embeddings = 0};
    return c;
}

static seer_model_config cfg_gpt2(void) {
    seer_model_config c = {.arch = SEER_ARCH_GPT2, .n_vocab = 29, .d_model = 16, .n_layers = 2, .n_heads = 2,
                           .n_kv_heads = 2, .d_head = 8, .d_mlp = 32, .n_ctx = 32, .norm_eps = 1e-5f,
                           .rope_theta = 10000.0f, .tied_embeddings = 1};
    return c;
}

/* Random weights of a larger scale than seer's init (std 0.3, gains 1 ± 0.3, biases ± 0.1) so
 * every path carries a gradient well above float rounding. */
static seer_tmodel *make_model(seer_model_config c, uint64_t seed) {
    seer_err err;
    seer_tmodel *tm = NULL;
    CHECK_OK(seer_tmodel_random(&c, seed, &tm, &err), &err);
    if (!tm) return NULL;
    seer_rng r;
    seer_rng_seed(&r, seed * 7 + 1);
    float *p = seer_tmodel_params(tm, NULL);
    for (int64_t i = 0; i < seer_tmodel_n_spans(tm); i++) {
        const seer_tspan *s = seer_tmodel_span(tm, i);
        int gain = s->n_dims == 1 && strstr(s->name, "norm.weight");
        for (size_t k = 0; k < s->count; k++) {
            float g = seer_rng_normal(&r);
            p[s->offset + k] = gain ? 1.0f + 0.3f * g : s->n_dims == 1 ? 0.1f * g : 0.3f * g;
        }
    }
    return tm;
}

static void fill_tokens(int32_t *tok, int64_t n, int32_t V, uint64_t seed) {
    seer_rng r;
    seer_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) tok[i] = (int32_t)(seer_rng_u64(&r) % (uint64_t)V);
}

/* ---- training logits == inference logits ---- */

static void test_logits_match(seer_model_config c) {
    seer_err err;
    seer_tmodel *tm = make_model(c, 11);
    seer_model *m = NULL;
    seer_tctx *tc = NULL;
    seer_ctx *ctx = NULL;
    enum { B = 3, T = 12 };
    int32_t tok[B * T];
    fill_tokens(tok, B * T, c.n_vocab, 5);
    float *lt = malloc(sizeof(float) * B * T * (size_t)c.n_vocab), *li = malloc(sizeof(float) * T * (size_t)c.n_vocab);
    CHECK_OK(seer_tmodel_to_model(tm, &m, &err), &err);
    CHECK_OK(seer_tctx_init(tm, B, T, 2, &tc, &err), &err);
    seer_ctx_params cp = seer_ctx_default_params();
    cp.n_threads = 2;
    CHECK_OK(seer_ctx_init(m, &cp, &ctx, &err), &err);
    seer_tbatch b = {.B = B, .T = T, .tokens = tok};
    float loss = 0;
    CHECK_OK(seer_tctx_forward(tc, &b, &loss, lt, &err), &err);
    CHECK(loss > 0 && isfinite(loss));
    for (int s = 0; s < B; s++) {
        int32_t pos[T];
        uint8_t want[T];
        for (int t = 0; t < T; t++) pos[t] = t, want[t] = 1;
        seer_ctx_clear_seq(ctx, 0);
        seer_batch ib = {.n = T, .tokens = tok + s * T, .pos = pos, .want_logits = want};
        CHECK_OK(seer_ctx_decode(ctx, &ib, li, &err), &err);
        char what[64];
        snprintf(what, sizeof(what), "%s logits, sequence %d", seer_arch_name(c.arch), s);
        check_close(lt + (size_t)s * T * c.n_vocab, li, (size_t)T * c.n_vocab, 1e-4f, what);
    }
    /* the loss is the mean next-token cross-entropy of those logits */
    double ce = 0;
    int cnt = 0;
    for (int s = 0; s < B; s++)
        for (int t = 0; t + 1 < T; t++) {
            const float *z = lt + ((size_t)s * T + t) * c.n_vocab;
            double mx = z[0], sum = 0;
            for (int v = 1; v < c.n_vocab; v++) mx = z[v] > mx ? z[v] : mx;
            for (int v = 0; v < c.n_vocab; v++) sum += exp(z[v] - mx);
            ce += log(sum) + mx - z[tok[s * T + t + 1]];
            cnt++;
        }
    CHECK_MSG(fabs(ce / cnt - loss) < 1e-4, "loss %g vs %g", (double)loss, ce / cnt);
    free(lt);
    free(li);
    seer_ctx_free(ctx);
    seer_tctx_free(tc);
    seer_model_free(m);
    seer_tmodel_free(tm);
}

/* ---- finite differences ---- */

static double batch_loss(seer_tctx *tc, const seer_tbatch *b) {
    seer_err err;
    float loss = NAN;
    CHECK_OK(seer_tctx_forward(tc, b, &loss, NULL, &err), &err);
    return loss;
}

/* Central differences (eps 1e-2, f32 forward) against the analytic gradient, on 6 entries of
 * every trainable tensor (the largest gradient and 5 random ones), plus a whole-tensor
 * directional derivative. Tolerance per entry: |fd - g| <= 2e-2 * max|g of tensor| + 3e-4;
 * directional (step 5e-4 along ±1 per entry): 2e-2 relative + 5e-4. Returns the number of tensors checked. */
static int fd_check_params(seer_tmodel *tm, seer_tctx *tc, const seer_tbatch *b, const char *what) {
    seer_err err;
    size_t np;
    float *p = seer_tmodel_params(tm, &np), *g = seer_tmodel_grads(tm, NULL);
    seer_tmodel_zero_grads(tm);
    float loss = 0;
    CHECK_OK(seer_tctx_step(tc, b, &loss, &err), &err);
    float *g0 = malloc(np * sizeof(float));
    memcpy(g0, g, np * sizeof(float));
    seer_rng r;
    seer_rng_seed(&r, 99);
    const double eps = 1e-2;
    int checked = 0;
    double worst = 0, worst_dir = 0;
    const char *worst_name = "";
    for (int64_t si = 0; si < seer_tmodel_n_spans(tm); si++) {
        const seer_tspan *s = seer_tmodel_span(tm, si);
        if (!s->trainable) {
            for (size_t k = 0; k < s->count; k++)
                if (g0[s->offset + k] != 0) {
                    CHECK_MSG(0, "%s: frozen tensor %s has a gradient", what, s->name);
                    break;
                }
            continue;
        }
        float *ps = p + s->offset, *gs = g0 + s->offset;
        size_t amax = 0;
        float gmax = 0;
        for (size_t k = 0; k < s->count; k++)
            if (fabsf(gs[k]) > gmax) gmax = fabsf(gs[k]), amax = k;
        CHECK_MSG(gmax > 0, "%s: tensor %s has an all-zero gradient", what, s->name);
        for (int e = 0; e < 6; e++) {
            size_t k = e == 0 ? amax : (size_t)(seer_rng_u64(&r) % s->count);
            float keep = ps[k];
            ps[k] = keep + (float)eps;
            double lp = batch_loss(tc, b);
            ps[k] = keep - (float)eps;
            double lm = batch_loss(tc, b);
            ps[k] = keep;
            double fd = (lp - lm) / (2 * eps), diff = fabs(fd - gs[k]);
            double tol = 2e-2 * gmax + 3e-4;
            if (diff / tol > worst) worst = diff / tol, worst_name = s->name;
            CHECK_MSG(diff <= tol, "%s: %s[%zu]: analytic %.6g, finite difference %.6g (tol %.3g)", what, s->name, k,
                      (double)gs[k], fd, tol);
        }
        /* directional derivative along the gradient's sign pattern of the whole tensor */
        double gd = 0;
        float *dir = malloc(s->count * sizeof(float));
        for (size_t k = 0; k < s->count; k++) {
            dir[k] = (seer_rng_u64(&r) & 1) ? 1.0f : -1.0f;
            gd += (double)dir[k] * gs[k];
        }
        double e2 = 5e-4; /* larger steps show the third-order term on whole-tensor moves */
        for (size_t k = 0; k < s->count; k++) ps[k] += (float)e2 * dir[k];
        double lp = batch_loss(tc, b);
        for (size_t k = 0; k < s->count; k++) ps[k] -= 2 * (float)e2 * dir[k];
        double lm = batch_loss(tc, b);
        for (size_t k = 0; k < s->count; k++) ps[k] += (float)e2 * dir[k];
        double fd = (lp - lm) / (2 * e2);
        CHECK_MSG(fabs(fd - gd) <= 2e-2 * fabs(gd) + 5e-4, "%s: %s directional: analytic %.6g, finite difference %.6g",
                  what, s->name, gd, fd);
        if (fabs(gd) > 1e-2 && fabs(fd - gd) / fabs(gd) > worst_dir) worst_dir = fabs(fd - gd) / fabs(gd);
        free(dir);
        checked++;
    }
    printf("%s: %d tensors checked, worst entry at %.2f of tolerance (%s), worst directional relative error %.2g\n",
           what, checked, worst, worst_name, worst_dir);
    free(g0);
    return checked;
}

static void test_fd_params(seer_model_config c, const char *what) {
    seer_err err;
    seer_tmodel *tm = make_model(c, 3);
    seer_tctx *tc = NULL;
    enum { B = 2, T = 7 };
    int32_t tok[B * T];
    float w[B * T];
    fill_tokens(tok, B * T, c.n_vocab, 17);
    for (int i = 0; i < B * T; i++) w[i] = (float)(i % 3) * 0.5f + 0.25f; /* uneven weights */
    CHECK_OK(seer_tctx_init(tm, B, T, 2, &tc, &err), &err);
    seer_tbatch b = {.B = B, .T = T, .tokens = tok, .loss_weight = w};
    int n = fd_check_params(tm, tc, &b, what);
    CHECK(n == (int)seer_tmodel_n_spans(tm));
    /* only the top trains (the last MLP and the head, then the head alone): the backward stops
     * early but still reaches the final norm */
    for (int k = 0; k < 2; k++) {
        for (int64_t i = 0; i < seer_tmodel_n_spans(tm); i++) {
            const char *nm = seer_tmodel_span(tm, i)->name;
            int top = !strncmp(nm, "output", 6) || (k == 0 && !strncmp(nm, "blk.1.ffn", 9));
            CHECK_OK(seer_tmodel_set_trainable(tm, nm, top, &err), &err);
        }
        char w2[64];
        snprintf(w2, sizeof(w2), "%s, %s only", what, k ? "head" : "top");
        int want = c.arch == SEER_ARCH_GPT2 ? (k ? 2 : 8) : (k ? 2 : 6);
        CHECK(fd_check_params(tm, tc, &b, w2) == want);
    }
    seer_tctx_free(tc);
    seer_tmodel_free(tm);
}

/* ---- loss masks and padding ---- */

static void grads_of(seer_tmodel *tm, seer_tctx *tc, const seer_tbatch *b, float *out, float *loss) {
    seer_err err;
    size_t np;
    seer_tmodel_zero_grads(tm);
    CHECK_OK(seer_tctx_step(tc, b, loss, &err), &err);
    const float *g = seer_tmodel_grads(tm, &np);
    memcpy(out, g, np * sizeof(float));
}

static void test_loss_mask(seer_model_config c) {
    seer_err err;
    seer_tmodel *tm = make_model(c, 21);
    seer_tctx *tc = NULL;
    enum { B = 2, T = 9 };
    int32_t tok[B * T], tg[B * T], tg2[B * T];
    uint8_t mask[B * T];
    float wts[B * T];
    fill_tokens(tok, B * T, c.n_vocab, 8);
    fill_tokens(tg, B * T, c.n_vocab, 9);
    for (int i = 0; i < B * T; i++) {
        mask[i] = (i % 4) != 1;
        wts[i] = mask[i];
        tg2[i] = mask[i] ? tg[i] : (tg[i] + 5) % c.n_vocab; /* masked targets changed */
    }
    CHECK_OK(seer_tctx_init(tm, B, T, 2, &tc, &err), &err);
    size_t np;
    seer_tmodel_params(tm, &np);
    float *g1 = malloc(np * sizeof(float)), *g2 = malloc(np * sizeof(float)), *g3 = malloc(np * sizeof(float));
    float l1, l2, l3;
    seer_tbatch b = {.B = B, .T = T, .tokens = tok, .targets = tg, .loss_mask = mask};
    grads_of(tm, tc, &b, g1, &l1);
    b.targets = tg2;
    grads_of(tm, tc, &b, g2, &l2);
    b.loss_mask = NULL;
    b.loss_weight = wts;
    grads_of(tm, tc, &b, g3, &l3);
    CHECK(l1 == l2 && l1 == l3);
    CHECK(!memcmp(g1, g2, np * sizeof(float))); /* masked targets contribute nothing */
    CHECK(!memcmp(g1, g3, np * sizeof(float))); /* uint8 mask == 0/1 float weights */
    /* the loss is the mean CE over the counted positions */
    float *lg = malloc(sizeof(float) * B * T * (size_t)c.n_vocab);
    float lf;
    CHECK_OK(seer_tctx_forward(tc, &b, &lf, lg, &err), &err);
    double ce = 0;
    int cnt = 0;
    for (int i = 0; i < B * T; i++) {
        if (!mask[i]) continue;
        const float *z = lg + (size_t)i * c.n_vocab;
        double mx = z[0], sum = 0;
        for (int v = 1; v < c.n_vocab; v++) mx = z[v] > mx ? z[v] : mx;
        for (int v = 0; v < c.n_vocab; v++) sum += exp(z[v] - mx);
        ce += log(sum) + mx - z[tg[i]];
        cnt++;
    }
    CHECK_MSG(fabs(ce / cnt - l1) < 1e-5 && lf == l1, "masked loss %g vs %g", (double)l1, ce / cnt);
    free(lg);
    free(g1);
    free(g2);
    free(g3);
    seer_tctx_free(tc);
    seer_tmodel_free(tm);
}

/* A sequence padded on the left or the right inside a batch gives the gradient of running it
 * alone: with next-token targets, g(batch) * 11 = g(full seq) * 7 + g(short seq) * 4. */
static void test_padding(seer_model_config c, int left) {
    seer_err err;
    seer_tmodel *tm = make_model(c, 31);
    seer_tctx *tc = NULL;
    enum { T = 8, S = 5 };
    int32_t full[T], shrt[S], batch[2 * T];
    uint8_t am[2 * T];
    fill_tokens(full, T, c.n_vocab, 41);
    fill_tokens(shrt, S, c.n_vocab, 42);
    for (int t = 0; t < T; t++) {
        batch[t] = full[t];
        am[t] = 1;
        int k = left ? t - (T - S) : t;
        am[T + t] = k >= 0 && k < S;
        batch[T + t] = am[T + t] ? shrt[k] : (t % 2 ? -1 : 3); /* padding may hold anything */
    }
    CHECK_OK(seer_tctx_init(tm, 2, T, 2, &tc, &err), &err);
    size_t np;
    seer_tmodel_params(tm, &np);
    float *gb = malloc(np * sizeof(float)), *gf = malloc(np * sizeof(float)), *gs = malloc(np * sizeof(float));
    float lb, lf, ls;
    seer_tbatch b = {.B = 2, .T = T, .tokens = batch, .attn_mask = am};
    grads_of(tm, tc, &b, gb, &lb);
    seer_tbatch bf = {.B = 1, .T = T, .tokens = full};
    grads_of(tm, tc, &bf, gf, &lf);
    seer_tbatch bs = {.B = 1, .T = S, .tokens = shrt};
    grads_of(tm, tc, &bs, gs, &ls);
    CHECK_MSG(fabs(lb * 11.0 - (lf * 7.0 + ls * 4.0)) < 1e-4, "padded loss %g vs %g", lb * 11.0, lf * 7.0 + ls * 4.0);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < np; i++) {
        double want = (gf[i] * 7.0 + gs[i] * 4.0) / 11.0;
        worst = fmax(worst, fabs(gb[i] - want));
        scale = fmax(scale, fabs(want));
    }
    CHECK_MSG(worst <= 1e-5 * scale + 1e-7, "%s padding (%s): worst gradient difference %g (scale %g)",
              seer_arch_name(c.arch), left ? "left" : "right", worst, scale);
    /* logits of the real positions match too */
    float *lgb = malloc(sizeof(float) * 2 * T * (size_t)c.n_vocab), *lgs = malloc(sizeof(float) * S * (size_t)c.n_vocab);
    CHECK_OK(seer_tctx_forward(tc, &b, NULL, lgb, &err), &err);
    CHECK_OK(seer_tctx_forward(tc, &bs, NULL, lgs, &err), &err);
    check_close(lgb + (size_t)(T + (left ? T - S : 0)) * c.n_vocab, lgs, (size_t)S * c.n_vocab, 1e-5f, "padded logits");
    free(lgb);
    free(lgs);
    free(gb);
    free(gf);
    free(gs);
    seer_tctx_free(tc);
    seer_tmodel_free(tm);
}

/* ---- hook gradients ---- */

/* A hook and the parameters that reach the metric only through it: moving them by ±eps·u
 * changes the metric by grad · Δactivation to second order, which checks the hook gradient
 * by finite differences (and the hook value with it). rows [r0, r1) of the tensor (r1 0: all). */
typedef struct hook_case {
    const char *hook, *param;
    int64_t r0, r1;
} hook_case;

static void test_fd_hooks(seer_model_config c, const hook_case *cases, int n_cases) {
    seer_err err;
    seer_tmodel *tm = make_model(c, 51);
    seer_tctx *tc = NULL;
    enum { B = 2, T = 6 };
    int32_t tok[B * T];
    uint8_t am[B * T];
    fill_tokens(tok, B * T, c.n_vocab, 61);
    for (int i = 0; i < B * T; i++) am[i] = !(i == T || i == T + 1); /* left padding in sequence 1 */
    CHECK_OK(seer_tctx_init(tm, B, T, 2, &tc, &err), &err);
    seer_tbatch b = {.B = B, .T = T, .tokens = tok, .attn_mask = am};
    float *p = seer_tmodel_params(tm, NULL);
    double worst = 0;
    for (int k = 0; k < n_cases; k++) {
        const hook_case *hc = &cases[k];
        seer_metric m = {.kind = (seer_metric_kind)(k % 3), .b = 1, .t = T - 1 - k % 2, .token = 3, .token2 = 7};
        size_t sz = seer_tctx_hook_size(tc, hc->hook, B, T, &err);
        CHECK_MSG(sz > 0, "%s: %s", hc->hook, err.msg);
        if (!sz) continue;
        float *g = calloc(sz, sizeof(float)), *vp = calloc(sz, sizeof(float)), *vm = calloc(sz, sizeof(float));
        const seer_tspan *s = seer_tmodel_find(tm, hc->param);
        CHECK_MSG(s != NULL, "no tensor %s", hc->param);
        if (!s) continue;
        int64_t cols = s->n_dims == 2 ? s->shape[1] : 1;
        size_t e0 = (size_t)(hc->r0 * cols), e1 = hc->r1 ? (size_t)(hc->r1 * cols) : s->count;
        float *u = malloc(s->count * sizeof(float));
        seer_rng r;
        seer_rng_seed(&r, 70 + (uint64_t)k);
        for (size_t e = 0; e < s->count; e++) u[e] = e >= e0 && e < e1 ? seer_rng_normal(&r) : 0.0f;
        seer_hook_grad h = {hc->hook, NULL, g};
        float m0;
        CHECK_OK(seer_tctx_hook_grads(tc, &b, &m, &h, 1, &m0, &err), &err);
        const double eps = 1e-3;
        float mp, mm;
        for (size_t e = 0; e < s->count; e++) p[s->offset + e] += (float)eps * u[e];
        h = (seer_hook_grad){hc->hook, vp, NULL};
        CHECK_OK(seer_tctx_hook_grads(tc, &b, &m, &h, 1, &mp, &err), &err);
        for (size_t e = 0; e < s->count; e++) p[s->offset + e] -= 2 * (float)eps * u[e];
        h = (seer_hook_grad){hc->hook, vm, NULL};
        CHECK_OK(seer_tctx_hook_grads(tc, &b, &m, &h, 1, &mm, &err), &err);
        for (size_t e = 0; e < s->count; e++) p[s->offset + e] += (float)eps * u[e];
        double dm = ((double)mp - mm) / (2 * eps), lin = 0, gn = 0;
        for (size_t i = 0; i < sz; i++) {
            lin += (double)g[i] * ((double)vp[i] - vm[i]) / (2 * eps);
            gn += fabs(g[i]);
        }
        double rel = fabs(dm - lin) / (fabs(dm) + 1e-3);
        worst = fmax(worst, rel);
        CHECK_MSG(gn > 0, "%s: all-zero gradient", hc->hook);
        CHECK_MSG(fabs(dm) > 1e-3, "%s via %s: metric does not move (%g)", hc->hook, hc->param, dm);
        CHECK_MSG(fabs(dm - lin) <= 1e-2 * fabs(dm) + 2e-4, "%s (%s metric) via %s: dmetric %.6g, grad . dact %.6g",
                  hc->hook, seer_metric_kind_name(m.kind), hc->param, dm, lin);
        free(u);
        free(g);
        free(vp);
        free(vm);
    }
    printf("hook grads %s: %d hooks, worst relative error %.2g\n", seer_arch_name(c.arch), n_cases, worst);
    seer_tctx_free(tc);
    seer_tmodel_free(tm);
}

static const hook_case llama_hooks[] = {
    {"hook_embed", "token_embd.weight", 0, 0},
    {"blocks.0.hook_resid_pre", "token_embd.weight", 0, 0},
    {"blocks.0.ln1.hook_normalized", "blk.0.attn_norm.weight", 0, 0},
    {"blocks.0.attn.hook_q", "blk.0.attn_q.weight", 0, 0},
    {"blocks.0.attn.hook_k", "blk.0.attn_k.weight", 0, 0},
    {"blocks.0.attn.hook_v", "blk.0.attn_v.weight", 0, 0},
    {"blocks.1.attn.hook_rot_q", "blk.1.attn_q.weight", 0, 0},
    {"blocks.1.attn.hook_rot_k", "blk.1.attn_k.weight", 0, 0},
    {"blocks.1.attn.hook_attn_scores", "blk.1.attn_k.weight", 0, 0},
    {"blocks.1.attn.hook_pattern", "blk.1.attn_q.weight", 0, 0},
    {"blocks.0.attn.hook_z", "blk.0.attn_v.weight", 0, 0},
    {"blocks.0.hook_attn_out", "blk.0.attn_output.weight", 0, 0},
    {"blocks.0.hook_resid_mid", "blk.0.attn_q.weight", 0, 0},
    {"blocks.0.ln2.hook_normalized", "blk.0.ffn_norm.weight", 0, 0},
    {"blocks.0.mlp.hook_pre", "blk.0.ffn_gate.weight", 0, 0},
    {"blocks.0.mlp.hook_pre_linear", "blk.0.ffn_up.weight", 0, 0},
    {"blocks.1.mlp.hook_post", "blk.1.ffn_up.weight", 0, 0},
    {"blocks.0.hook_mlp_out", "blk.0.ffn_down.weight", 0, 0},
    {"blocks.0.hook_resid_post", "blk.0.ffn_gate.weight", 0, 0},
    {"blocks.1.hook_resid_pre", "blk.0.attn_v.weight", 0, 0},
    {"blocks.1.hook_resid_post", "blk.1.attn_output.weight", 0, 0},
    {"ln_final.hook_normalized", "output_norm.weight", 0, 0},
    {"logits", "output.weight", 0, 0},
};

static const hook_case gpt2_hooks[] = {
    {"hook_embed", "token_embd.weight", 0, 0},
    {"hook_pos_embed", "position_embd.weight", 0, 0},
    {"blocks.0.hook_resid_pre", "position_embd.weight", 0, 0},
    {"blocks.0.ln1.hook_normalized", "blk.0.attn_norm.bias", 0, 0},
    {"blocks.0.attn.hook_q", "blk.0.attn_qkv.weight", 0, 16},
    {"blocks.0.attn.hook_k", "blk.0.attn_qkv.weight", 16, 32},
    {"blocks.1.attn.hook_v", "blk.1.attn_qkv.bias", 32, 48},
    {"blocks.1.attn.hook_attn_scores", "blk.1.attn_qkv.weight", 0, 16},
    {"blocks.0.attn.hook_pattern", "blk.0.attn_qkv.weight", 16, 32},
    {"blocks.1.attn.hook_z", "blk.1.attn_qkv.weight", 32, 48},
    {"blocks.0.hook_attn_out", "blk.0.attn_output.bias", 0, 0},
    {"blocks.1.hook_resid_mid", "blk.1.attn_output.weight", 0, 0},
    {"blocks.0.ln2.hook_normalized", "blk.0.ffn_norm.weight", 0, 0},
    {"blocks.0.mlp.hook_pre", "blk.0.ffn_up.weight", 0, 0},
    {"blocks.1.mlp.hook_post", "blk.1.ffn_up.bias", 0, 0},
    {"blocks.1.hook_mlp_out", "blk.1.ffn_down.weight", 0, 0},
    {"blocks.0.hook_resid_post", "blk.0.ffn_down.bias", 0, 0},
    {"ln_final.hook_normalized", "output_norm.bias", 0, 0},
    {"logits", "output.weight", 0, 0},
};

/* Several hooks in one call give the same as one at a time; the loss metric's logits gradient
 * sums to zero per row; hook values match the inference engine's taps for resid_post. */
static void test_hook_multi(seer_model_config c) {
    seer_err err;
    seer_tmodel *tm = make_model(c, 81);
    seer_tctx *tc = NULL;
    enum { B = 2, T = 5 };
    int32_t tok[B * T];
    fill_tokens(tok, B * T, c.n_vocab, 82);
    CHECK_OK(seer_tctx_init(tm, B, T, 2, &tc, &err), &err);
    seer_tbatch b = {.B = B, .T = T, .tokens = tok};
    size_t nr = seer_tctx_hook_size(tc, "blocks.1.hook_resid_post", B, T, &err);
    size_t nl = seer_tctx_hook_size(tc, "logits", B, T, &err);
    float *g1 = calloc(nr, 4), *g2 = calloc(nr, 4), *gl = calloc(nl, 4), *vl = calloc(nl, 4), *lg = calloc(nl, 4);
    seer_metric m = {.kind = SEER_METRIC_LOSS};
    seer_hook_grad hs[2] = {{"logits", vl, gl}, {"blocks.1.hook_resid_post", NULL, g1}};
    float m1, m2, loss;
    CHECK_OK(seer_tctx_hook_grads(tc, &b, &m, hs, 2, &m1, &err), &err);
    seer_hook_grad h1 = {"blocks.1.hook_resid_post", NULL, g2};
    CHECK_OK(seer_tctx_hook_grads(tc, &b, &m, &h1, 1, &m2, &err), &err);
    CHECK(m1 == m2 && !memcmp(g1, g2, nr * 4));
    CHECK_OK(seer_tctx_forward(tc, &b, &loss, lg, &err), &err);
    CHECK(loss == m1);
    CHECK(!memcmp(vl, lg, nl * 4));
    double worst = 0;
    for (int i = 0; i < B * T; i++) {
        double s = 0;
        for (int v = 0; v < c.n_vocab; v++) s += gl[(size_t)i * c.n_vocab + v];
        worst = fmax(worst, fabs(s));
    }
    CHECK_MSG(worst < 1e-6, "loss gradient of a logits row sums to %g", worst);
    /* parameter gradients are untouched by hook gradients */
    size_t np;
    float *gp = seer_tmodel_grads(tm, &np);
    int zero = 1;
    for (size_t i = 0; i < np; i++) zero &= gp[i] == 0.0f;
    CHECK(zero);
    free(g1);
    free(g2);
    free(gl);
    free(vl);
    free(lg);
    seer_tctx_free(tc);
    seer_tmodel_free(tm);
}

/* ---- training ---- */

/* A minimal Adam over the trainable spans (the real optimizer lives in seer/optim.h). */
typedef struct adam {
    float *m, *v;
    int64_t t;
} adam;

static void adam_step(seer_tmodel *tm, adam *a, float lr) {
    size_t n;
    float *p = seer_tmodel_params(tm, &n), *g = seer_tmodel_grads(tm, NULL);
    if (!a->m) {
        a->m = calloc(n, sizeof(float));
        a->v = calloc(n, sizeof(float));
    }
    a->t++;
    float c1 = 1.0f - powf(0.9f, (float)a->t), c2 = 1.0f - powf(0.999f, (float)a->t);
    for (int64_t si = 0; si < seer_tmodel_n_spans(tm); si++) {
        const seer_tspan *s = seer_tmodel_span(tm, si);
        if (!s->trainable) continue;
        for (size_t k = s->offset; k < s->offset + s->count; k++) {
            a->m[k] = 0.9f * a->m[k] + 0.1f * g[k];
            a->v[k] = 0.999f * a->v[k] + 0.001f * g[k] * g[k];
            p[k] -= lr * (a->m[k] / c1) / (sqrtf(a->v[k] / c2) + 1e-8f);
        }
    }
}

static void adam_free(adam *a) {
    free(a->m);
    free(a->v);
}

static void test_memorize(void) {
    seer_err err;
    seer_model_config c = cfg_llama();
    c.d_model = 32, c.n_heads = 4, c.n_kv_heads = 2, c.d_head = 8, c.d_mlp = 64;
    seer_tmodel *tm = NULL;
    seer_tctx *tc = NULL;
    CHECK_OK(seer_tmodel_random(&c, 1, &tm, &err), &err);
    enum { B = 2, T = 16 };
    int32_t tok[B * T];
    fill_tokens(tok, B * T, c.n_vocab, 2);
    CHECK_OK(seer_tctx_init(tm, B, T, 2, &tc, &err), &err);
    seer_tbatch b = {.B = B, .T = T, .tokens = tok};
    adam a = {0};
    float loss = 0, first = 0;
    for (int it = 0; it < 300; it++) {
        seer_tmodel_zero_grads(tm);
        CHECK_OK(seer_tctx_step(tc, &b, &loss, &err), &err);
        if (it == 0) first = loss;
        adam_step(tm, &a, 1e-2f);
    }
    CHECK_OK(seer_tctx_forward(tc, &b, &loss, NULL, &err), &err);
    printf("memorize: loss %.4f -> %.5f in 300 Adam steps\n", (double)first, (double)loss);
    CHECK_MSG(first > 3.0f && loss < 0.02f, "memorize: loss %g -> %g", (double)first, (double)loss);
    adam_free(&a);
    seer_tctx_free(tc);
    seer_tmodel_free(tm);
}

/* ---- LoRA ---- */

static void randomize_lora_b(seer_tmodel *tm, uint64_t seed) {
    seer_rng r;
    seer_rng_seed(&r, seed);
    float *p = seer_tmodel_params(tm, NULL);
    for (int64_t i = 0; i < seer_tmodel_n_spans(tm); i++) {
        const seer_tspan *s = seer_tmodel_span(tm, i);
        if (strstr(s->name, ".lora_b"))
            for (size_t k = 0; k < s->count; k++) p[s->offset + k] = 0.3f * seer_rng_normal(&r);
    }
}

static void test_lora_fd(seer_model_config c, uint32_t mats, uint64_t layers, const char *what) {
    seer_err err;
    seer_tmodel *tm = make_model(c, 91);
    seer_tctx *tc = NULL;
    int64_t base_spans = seer_tmodel_n_spans(tm);
    CHECK_OK(seer_tmodel_lora_add(tm, 2, 4.0f, mats, layers, 5, &err), &err);
    CHECK(seer_tmodel_lora_rank(tm) == 2);
    randomize_lora_b(tm, 6);
    enum { B = 2, T = 6 };
    int32_t tok[B * T];
    fill_tokens(tok, B * T, c.n_vocab, 92);
    CHECK_OK(seer_tctx_init(tm, B, T, 2, &tc, &err), &err);
    seer_tbatch b = {.B = B, .T = T, .tokens = tok};
    int n = fd_check_params(tm, tc, &b, what);
    CHECK(n == (int)(seer_tmodel_n_spans(tm) - base_spans));
    /* merging keeps the function; the merged model trains everything again */
    float before, after;
    CHECK_OK(seer_tctx_forward(tc, &b, &before, NULL, &err), &err);
    /* save, then load into a fresh copy of the base */
    const char *path = test_tmp("grad_lora.safetensors");
    CHECK_OK(seer_tmodel_lora_save(tm, path, &err), &err);
    seer_tmodel *tm2 = make_model(c, 91);
    seer_tctx *tc2 = NULL;
    CHECK_OK(seer_tmodel_lora_load(tm2, path, &err), &err);
    CHECK(seer_tmodel_lora_rank(tm2) == 2 && seer_tmodel_n_spans(tm2) == seer_tmodel_n_spans(tm));
    CHECK_OK(seer_tctx_init(tm2, B, T, 2, &tc2, &err), &err);
    float loaded = -1;
    if (tc2) CHECK_OK(seer_tctx_forward(tc2, &b, &loaded, NULL, &err), &err);
    CHECK_MSG(loaded == before, "LoRA reloaded loss %g vs %g", (double)loaded, (double)before);
    seer_tctx_free(tc2);
    seer_tmodel_free(tm2);
    CHECK_OK(seer_tmodel_lora_merge(tm, &err), &err);
    CHECK(seer_tmodel_lora_rank(tm) == 0 && seer_tmodel_n_spans(tm) == base_spans);
    CHECK_FAILS(seer_tctx_forward(tc, &b, &after, NULL, &err), &err, "make a new context");
    seer_tctx_free(tc);
    CHECK_OK(seer_tctx_init(tm, B, T, 2, &tc, &err), &err);
    CHECK_OK(seer_tctx_forward(tc, &b, &after, NULL, &err), &err);
    CHECK_MSG(fabsf(after - before) < 1e-5f, "%s: merged loss %g vs %g", what, (double)after, (double)before);
    for (int64_t i = 0; i < seer_tmodel_n_spans(tm); i++) CHECK(seer_tmodel_span(tm, i)->trainable);
    seer_tctx_free(tc);
    seer_tmodel_free(tm);
}

/* The teacher is the base plus a rank-2 update of two matrices; soft targets (each position
 * repeated once per vocabulary entry, weighted by the teacher's probability) make the loss
 * H(teacher, student), whose excess over the teacher's entropy is the KL divergence. A rank-2
 * LoRA on those matrices must drive the KL to ~0. */
static void test_lora_recovery(void) {
    seer_err err;
    seer_model_config c = cfg_llama();
    enum { B0 = 2, T = 8, R = 2 };
    int V = c.n_vocab;
    seer_tmodel *base = make_model(c, 101), *teacher = make_model(c, 101);
    seer_rng r;
    seer_rng_seed(&r, 102);
    const char *names[2] = {"blk.0.attn_q.weight", "blk.1.ffn_down.weight"};
    float *tp = seer_tmodel_params(teacher, NULL);
    for (int k = 0; k < 2; k++) {
        const seer_tspan *s = seer_tmodel_find(teacher, names[k]);
        int64_t out = s->shape[0], in = s->shape[1];
        float U[64 * R], W[64 * R];
        for (int64_t i = 0; i < out * R; i++) U[i] = 0.5f * seer_rng_normal(&r);
        for (int64_t i = 0; i < in * R; i++) W[i] = 0.5f * seer_rng_normal(&r) / sqrtf((float)in);
        for (int64_t i = 0; i < out; i++)
            for (int64_t j = 0; j < in; j++)
                for (int q = 0; q < R; q++) tp[s->offset + i * in + j] += U[i * R + q] * W[q * in + j];
    }
    int32_t tok0[B0 * T];
    fill_tokens(tok0, B0 * T, V, 103);
    seer_tctx *tt = NULL;
    CHECK_OK(seer_tctx_init(teacher, B0, T, 2, &tt, &err), &err);
    float *lg = malloc(sizeof(float) * B0 * T * (size_t)V);
    seer_tbatch b0 = {.B = B0, .T = T, .tokens = tok0};
    CHECK_OK(seer_tctx_forward(tt, &b0, NULL, lg, &err), &err);
    /* soft targets by replication: sequence (b, v) predicts v everywhere with weight p_teacher */
    int NB = B0 * V;
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)NB * T), *tg = malloc(sizeof(int32_t) * (size_t)NB * T);
    float *w = malloc(sizeof(float) * (size_t)NB * T);
    double H = 0;
    for (int bb = 0; bb < B0; bb++)
        for (int t = 0; t < T; t++) {
            const float *z = lg + ((size_t)bb * T + t) * V;
            double mx = z[0], sum = 0;
            for (int v = 1; v < V; v++) mx = fmax(mx, z[v]);
            for (int v = 0; v < V; v++) sum += exp(z[v] - mx);
            for (int v = 0; v < V; v++) {
                size_t i = ((size_t)(bb * V + v)) * T + t;
                double pv = exp(z[v] - mx) / sum;
                tok[i] = tok0[bb * T + t];
                tg[i] = v;
                w[i] = (float)pv;
                H -= pv * log(pv);
            }
        }
    H /= B0 * T;
    CHECK_OK(seer_tmodel_lora_add(base, R, 2.0f * R, SEER_LORA_Q | SEER_LORA_DOWN, ~(uint64_t)0, 104, &err), &err);
    seer_tctx *tc = NULL;
    CHECK_OK(seer_tctx_init(base, NB, T, 2, &tc, &err), &err);
    seer_tbatch b = {.B = NB, .T = T, .tokens = tok, .targets = tg, .loss_weight = w};
    adam a = {0};
    float loss = 0, kl0 = 0;
    for (int it = 0; it < 600; it++) {
        seer_tmodel_zero_grads(base);
        CHECK_OK(seer_tctx_step(tc, &b, &loss, &err), &err);
        if (it == 0) kl0 = loss - (float)H;
        adam_step(base, &a, it < 400 ? 1e-2f : 2e-3f);
    }
    CHECK_OK(seer_tctx_forward(tc, &b, &loss, NULL, &err), &err);
    double kl = loss - H;
    printf("LoRA rank %d recovery: KL(teacher || student) %.4f -> %.2g\n", R, (double)kl0, kl);
    CHECK_MSG(kl0 > 0.05 && kl < 1e-3, "LoRA recovery: KL %g -> %g", (double)kl0, kl);
    adam_free(&a);
    free(tok);
    free(tg);
    free(w);
    free(lg);
    seer_tctx_free(tt);
    seer_tctx_free(tc);
    seer_tmodel_free(base);
    seer_tmodel_free(teacher);
}

/* ---- conversion and errors ---- */

static void test_roundtrip(seer_model_config c) {
    seer_err err;
    seer_tmodel *tm = make_model(c, 111), *tm2 = NULL;
    seer_model *m = NULL, *m2 = NULL;
    const char *path = test_tmp("grad_roundtrip.gguf");
    CHECK_OK(seer_tmodel_to_model(tm, &m, &err), &err);
    if (m) CHECK_OK(seer_model_save(m, SEER_FORMAT_GGUF, path, SEER_DTYPE_F32, &err), &err);
    CHECK_OK(seer_model_load(path, NULL, &m2, &err), &err);
    if (m2) CHECK_OK(seer_tmodel_from_model(m2, &tm2, &err), &err);
    size_t n1, n2;
    if (tm2) {
        float *p1 = seer_tmodel_params(tm, &n1), *p2 = seer_tmodel_params(tm2, &n2);
        CHECK(n1 == n2 && !memcmp(p1, p2, n1 * sizeof(float)));
        CHECK(seer_tmodel_n_spans(tm2) == seer_tmodel_n_spans(tm));
    }
    /* decay flags: matrices yes, 1-d no by default; configurable */
    const seer_tspan *norm = seer_tmodel_find(tm, "output_norm.weight"), *emb = seer_tmodel_find(tm, "token_embd.weight");
    CHECK(norm && !norm->decay && emb && emb->decay);
    seer_tmodel_set_decay(tm, 1, 0);
    CHECK(norm->decay && !emb->decay);
    seer_model_free(m);
    seer_model_free(m2);
    seer_tmodel_free(tm);
    seer_tmodel_free(tm2);
}

static void test_errors(void) {
    seer_err err;
    seer_model_config c = cfg_llama(), g = cfg_gpt2();
    seer_tmodel *tm = make_model(c, 121), *tg = make_model(g, 122);
    seer_tctx *tc = NULL, *bad = NULL;
    enum { B = 2, T = 4 };
    int32_t tok[B * T], tgt[B * T];
    fill_tokens(tok, B * T, c.n_vocab, 123);
    fill_tokens(tgt, B * T, c.n_vocab, 124);
    CHECK_OK(seer_tctx_init(tm, B, T, 1, &tc, &err), &err);
    seer_tbatch b = {.B = B, .T = T, .tokens = tok};
    float loss;
    tok[5] = c.n_vocab;
    CHECK_FAILS(seer_tctx_step(tc, &b, &loss, &err), &err, "token 29 at (1, 1) outside vocabulary");
    tok[5] = 1;
    b.targets = tgt;
    tgt[2] = -4;
    CHECK_FAILS(seer_tctx_step(tc, &b, &loss, &err), &err, "target -4 at (0, 2)");
    tgt[2] = 0;
    float w[B * T] = {0};
    b.loss_weight = w;
    CHECK_FAILS(seer_tctx_step(tc, &b, &loss, &err), &err, "no position counts");
    w[3] = -1;
    CHECK_FAILS(seer_tctx_step(tc, &b, &loss, &err), &err, "loss weight -1 at (0, 3)");
    b.loss_weight = NULL;
    b.B = 3;
    CHECK_FAILS(seer_tctx_step(tc, &b, &loss, &err), &err, "3 sequences x 4 tokens exceeds the context's limit of 2 x 4");
    b.B = B;
    CHECK_FAILS(seer_tctx_init(tm, 1 << 13, 1 << 12, 1, &bad, &err), &err, "more than seer supports");
    CHECK_FAILS(seer_tctx_init(tg, 1, g.n_ctx + 1, 1, &bad, &err), &err, "learned positions");
    float gbuf[B * T * 64];
    seer_metric m = {.kind = SEER_METRIC_LOGIT, .b = 0, .t = 1, .token = 2};
    seer_hook_grad h = {"blocks.0.hook_nope", NULL, gbuf};
    CHECK_FAILS(seer_tctx_hook_grads(tc, &b, &m, &h, 1, NULL, &err), &err, "unknown hook 'blocks.0.hook_nope'");
    h.name = "blocks.7.hook_resid_pre";
    CHECK_FAILS(seer_tctx_hook_grads(tc, &b, &m, &h, 1, NULL, &err), &err, "layer 7 out of range");
    h.name = "hook_pos_embed";
    CHECK_FAILS(seer_tctx_hook_grads(tc, &b, &m, &h, 1, NULL, &err), &err, "llama models have no such hook point");
    h.name = "blocks.0.hook_resid_pre";
    m.t = 9;
    CHECK_FAILS(seer_tctx_hook_grads(tc, &b, &m, &h, 1, NULL, &err), &err, "metric position (0, 9) outside");
    m.t = 1;
    m.token = 400;
    CHECK_FAILS(seer_tctx_hook_grads(tc, &b, &m, &h, 1, NULL, &err), &err, "metric token 400");
    m.token = 2;
    seer_hook_grad two[2] = {h, h};
    CHECK_FAILS(seer_tctx_hook_grads(tc, &b, &m, two, 2, NULL, &err), &err, "requested twice");
    CHECK(seer_tctx_hook_size(tc, "blocks.0.attn.hook_k", B, T, &err) == (size_t)(B * T * 8));
    CHECK(seer_tctx_hook_size(tc, "blocks.0.attn.hook_pattern", B, T, &err) == (size_t)(B * 4 * T * T));
    CHECK(seer_tctx_hook_size(tc, "nope", B, T, &err) == 0);
    CHECK_FAILS(seer_tmodel_lora_add(tg, 2, 4, SEER_LORA_GATE, ~(uint64_t)0, 1, &err), &err, "gpt2 models have no 'gate'");
    CHECK_FAILS(seer_tmodel_lora_add(tm, 17, 4, SEER_LORA_Q, ~(uint64_t)0, 1, &err), &err, "rank 17 exceeds");
    CHECK_FAILS(seer_tmodel_lora_add(tm, 2, 4, 0, ~(uint64_t)0, 1, &err), &err, "no matrix chosen");
    CHECK_FAILS(seer_tmodel_lora_merge(tm, &err), &err, "no adapters");
    CHECK_OK(seer_tmodel_lora_add(tm, 2, 4, SEER_LORA_O, 1, 1, &err), &err);
    CHECK(seer_tmodel_find(tm, "blk.0.attn_output.weight.lora_a") && !seer_tmodel_find(tm, "blk.1.attn_output.weight.lora_a"));
    CHECK_FAILS(seer_tmodel_lora_add(tm, 2, 4, SEER_LORA_Q, ~(uint64_t)0, 1, &err), &err, "adapters already");
    CHECK_FAILS(seer_tmodel_set_trainable(tm, "nope.weight", 0, &err), &err, "no tensor 'nope.weight'");
    seer_tctx_free(tc);
    seer_tmodel_free(tm);
    seer_tmodel_free(tg);
}

/* The fast linear layers (seer_matmul on transposed operands) against the plain OpenBLAS path. */
static void test_gemm_paths(seer_model_config c) {
    seer_err err;
    seer_tmodel *tm = make_model(c, 131);
    seer_tctx *tc = NULL;
    enum { B = 3, T = 11 };
    int32_t tok[B * T];
    fill_tokens(tok, B * T, c.n_vocab, 132);
    CHECK_OK(seer_tmodel_lora_add(tm, 2, 2.0f, c.arch == SEER_ARCH_GPT2 ? SEER_LORA_QKV : SEER_LORA_Q | SEER_LORA_DOWN, 1,
                                  3, &err), &err);
    randomize_lora_b(tm, 4);
    CHECK_OK(seer_tctx_init(tm, B, T, 2, &tc, &err), &err);
    seer_tbatch b = {.B = B, .T = T, .tokens = tok};
    size_t np;
    seer_tmodel_params(tm, &np);
    float *g[2];
    float loss[2];
    for (int k = 0; k < 2; k++) {
        /* adapters trained (k 0) then the whole model (k 1, after freeing the base) */
        for (int blas = 0; blas < 2; blas++) {
            tc->gemm_blas = blas;
            g[blas] = malloc(np * sizeof(float));
            grads_of(tm, tc, &b, g[blas], &loss[blas]);
        }
        float gmax = 0;
        for (size_t i = 0; i < np; i++) gmax = fmaxf(gmax, fabsf(g[1][i]));
        CHECK(gmax > 0);
        CHECK_MSG(fabsf(loss[0] - loss[1]) < 1e-5f, "loss %g vs %g", (double)loss[0], (double)loss[1]);
        check_close(g[0], g[1], np, 1e-5f * gmax, "seer_matmul vs OpenBLAS gradients");
        free(g[0]);
        free(g[1]);
        for (int64_t i = 0; i < seer_tmodel_n_spans(tm); i++)
            CHECK_OK(seer_tmodel_set_trainable(tm, seer_tmodel_span(tm, i)->name, 1, &err), &err);
    }
    /* one thread gives the same gradients as two (up to summation order) */
    seer_tctx *t1 = NULL;
    CHECK_OK(seer_tctx_init(tm, B, T, 1, &t1, &err), &err);
    if (t1) {
        float *ga = malloc(np * sizeof(float)), *gb = malloc(np * sizeof(float)), la, lb, gmax = 0;
        grads_of(tm, tc, &b, ga, &la);
        grads_of(tm, t1, &b, gb, &lb);
        for (size_t i = 0; i < np; i++) gmax = fmaxf(gmax, fabsf(ga[i]));
        CHECK(fabsf(la - lb) < 1e-6f);
        check_close(ga, gb, np, 1e-5f * gmax, "1 vs 2 threads");
        free(ga);
        free(gb);
    }
    seer_tctx_free(t1);
    seer_tctx_free(tc);
    seer_tmodel_free(tm);
}

/* The real stories260K model: training logits equal the llama2.c reference logits (1e-4), and
 * a quantized copy converts to f32 within its quantization error. */
static void test_stories260k(void) {
    seer_err err;
    const char *path = test_data("models/stories260K/stories260K.bin");
    const char *gold = test_data("models/stories260K/golden/logits_story.bin");
    if (!seer_path_exists(path) || !seer_path_exists(gold)) {
        printf("stories260K: shared data not found, skipped\n");
        return;
    }
    seer_model *m = NULL;
    seer_tmodel *tm = NULL;
    seer_tctx *tc = NULL;
    char *buf = NULL;
    size_t len = 0;
    CHECK_OK(seer_model_load(path, NULL, &m, &err), &err);
    CHECK_OK(seer_read_file(gold, &buf, &len, &err), &err);
    if (!m || !buf) goto out;
    int32_t hdr[2];
    memcpy(hdr, buf, 8);
    int32_t n = hdr[0], V = hdr[1];
    CHECK(V == 512 && n > 8 && len == 8 + (size_t)n * 4 + (size_t)n * V * 4);
    int32_t *tok = malloc((size_t)n * 4);
    float *want = malloc((size_t)n * V * 4), *got = malloc((size_t)n * V * 4);
    memcpy(tok, buf + 8, (size_t)n * 4);
    memcpy(want, buf + 8 + (size_t)n * 4, (size_t)n * V * 4);
    CHECK_OK(seer_tmodel_from_model(m, &tm, &err), &err);
    if (tm) CHECK_OK(seer_tctx_init(tm, 1, n, 2, &tc, &err), &err);
    if (tc) {
        seer_tbatch b = {.B = 1, .T = n, .tokens = tok};
        float loss = 0;
        CHECK_OK(seer_tctx_forward(tc, &b, &loss, got, &err), &err);
        check_close(got, want, (size_t)n * V, 1e-4f, "stories260K training logits vs llama2.c");
        printf("stories260K: %d tokens, next-token loss %.3f\n", n, (double)loss);
        CHECK(loss > 0.1f && loss < 4.0f);
    }
    /* a Q8_0 copy dequantizes into the flat buffer */
    seer_model *mq = NULL;
    seer_tmodel *tq = NULL;
    const char *qpath = test_tmp("grad_q8.gguf");
    CHECK_OK(seer_model_save(m, SEER_FORMAT_GGUF, qpath, SEER_DTYPE_Q8_0, &err), &err);
    CHECK_OK(seer_model_load(qpath, NULL, &mq, &err), &err);
    if (mq) CHECK_OK(seer_tmodel_from_model(mq, &tq, &err), &err);
    if (tq && tm) {
        size_t np;
        float *a = seer_tmodel_params(tm, &np), *q = seer_tmodel_params(tq, NULL), amax = 0;
        for (size_t i = 0; i < np; i++) amax = fmaxf(amax, fabsf(a[i]));
        check_close(q, a, np, amax / 100, "Q8_0 weights dequantized");
    }
    seer_tmodel_free(tq);
    seer_model_free(mq);
    free(tok);
    free(want);
    free(got);
out:
    free(buf);
    seer_tctx_free(tc);
    seer_tmodel_free(tm);
    seer_model_free(m);
}

/* Hook values equal what the inference engine's taps see, for every point of every layer (the
 * intervention graph is built on those taps). */
typedef struct tapped {
    float *v[SEER_HP_COUNT][8];
    int64_t width[SEER_HP_COUNT];
} tapped;

static void on_tap(void *ud, const seer_tap_event *ev) {
    tapped *s = ud;
    int li = ev->layer + 1;
    free(s->v[ev->point][li]);
    s->v[ev->point][li] = malloc((size_t)(ev->n_rows * ev->width) * sizeof(float));
    s->width[ev->point] = ev->width;
    for (int64_t r = 0; r < ev->n_rows; r++)
        memcpy(s->v[ev->point][li] + r * ev->width, ev->data + r * ev->row_stride, (size_t)ev->width * sizeof(float));
}

static void test_hook_values(seer_model_config c) {
    seer_err err;
    enum { T = 7 };
    seer_tmodel *tm = make_model(c, 141);
    seer_model *m = NULL;
    seer_ctx *ctx = NULL;
    seer_tctx *tc = NULL;
    int32_t tok[T], pos[T];
    uint8_t want[T];
    fill_tokens(tok, T, c.n_vocab, 142);
    for (int i = 0; i < T; i++) pos[i] = i, want[i] = 1;
    tapped s;
    memset(&s, 0, sizeof(s));
    CHECK_OK(seer_tmodel_to_model(tm, &m, &err), &err);
    seer_ctx_params cp = seer_ctx_default_params();
    cp.n_ctx = T, cp.n_batch = T, cp.n_threads = 2;
    CHECK_OK(seer_ctx_init(m, &cp, &ctx, &err), &err);
    CHECK_OK(seer_tctx_init(tm, 1, T, 2, &tc, &err), &err);
    if (!ctx || !tc) goto out;
    seer_ctx_set_tap(ctx, on_tap, &s);
    for (int pt = 0; pt < SEER_HP_COUNT; pt++)
        if (seer_hook_point_exists(c.arch, (seer_hook_point)pt))
            CHECK_OK(seer_ctx_tap_enable(ctx, (seer_hook_point)pt, -1, 1, &err), &err);
    float *logits = malloc(sizeof(float) * T * (size_t)c.n_vocab);
    seer_batch ib = {.n = T, .tokens = tok, .pos = pos, .want_logits = want};
    CHECK_OK(seer_ctx_decode(ctx, &ib, logits, &err), &err);
    free(logits);
    seer_tbatch b = {.B = 1, .T = T, .tokens = tok};
    seer_metric met = {.kind = SEER_METRIC_LOSS};
    int compared = 0;
    for (int pt = 0; pt < SEER_HP_COUNT; pt++) {
        seer_hook_point hp = (seer_hook_point)pt;
        if (!seer_hook_point_exists(c.arch, hp)) continue;
        int global = seer_hook_point_is_global(hp);
        for (int l = global ? -1 : 0; l < (global ? 0 : c.n_layers); l++) {
            char name[96];
            seer_hook_format(hp, l, name, sizeof(name));
            size_t sz = seer_tctx_hook_size(tc, name, 1, T, &err);
            float *v = calloc(sz, sizeof(float));
            seer_hook_grad h = {name, v, NULL};
            CHECK_OK(seer_tctx_hook_grads(tc, &b, &met, &h, 1, NULL, &err), &err);
            const float *ref = s.v[pt][l + 1];
            CHECK_MSG(ref != NULL, "no tap for %s", name);
            if (ref && (hp == SEER_HP_ATTN_SCORES || hp == SEER_HP_PATTERN)) {
                /* taps: [query][head * keys + key], masked scores -inf; here [head][query][key], masked 0 */
                int H = c.n_heads;
                float *r2 = malloc(sz * sizeof(float));
                for (int hh = 0; hh < H; hh++)
                    for (int q = 0; q < T; q++)
                        for (int k = 0; k < T; k++) {
                            float x = ref[(size_t)q * H * T + (size_t)hh * T + k];
                            r2[((size_t)hh * T + q) * T + k] = k > q ? 0.0f : x;
                        }
                check_close(v, r2, sz, 1e-4f, name);
                free(r2);
            } else if (ref) {
                CHECK(s.width[pt] * T == (int64_t)sz);
                check_close(v, ref, sz, 1e-4f, name);
            }
            compared++;
            free(v);
        }
    }
    printf("hook values %s: %d hooks equal the inference taps\n", seer_arch_name(c.arch), compared);
out:
    for (int pt = 0; pt < SEER_HP_COUNT; pt++)
        for (int l = 0; l < 8; l++) free(s.v[pt][l]);
    seer_tctx_free(tc);
    seer_ctx_free(ctx);
    seer_model_free(m);
    seer_tmodel_free(tm);
}

int main(void) {
    seer_model_config ll = cfg_llama(), g2 = cfg_gpt2();
    test_logits_match(ll);
    test_logits_match(g2);
    ll.tied_embeddings = 1;
    test_logits_match(ll);
    ll.tied_embeddings = 0;
    test_fd_params(ll, "fd llama");
    test_fd_params(g2, "fd gpt2");
    test_loss_mask(ll);
    test_loss_mask(g2);
    test_padding(ll, 1);
    test_padding(ll, 0);
    test_padding(g2, 1);
    test_padding(g2, 0);
    test_fd_hooks(ll, llama_hooks, (int)(sizeof(llama_hooks) / sizeof(llama_hooks[0])));
    g2.tied_embeddings = 0; /* so token_embd reaches the metric only through hook_embed */
    test_fd_hooks(g2, gpt2_hooks, (int)(sizeof(gpt2_hooks) / sizeof(gpt2_hooks[0])));
    g2.tied_embeddings = 1;
    test_hook_values(ll);
    test_hook_values(g2);
    test_hook_multi(ll);
    test_hook_multi(g2);
    test_lora_fd(ll, SEER_LORA_Q | SEER_LORA_K | SEER_LORA_V | SEER_LORA_O | SEER_LORA_GATE | SEER_LORA_UP | SEER_LORA_DOWN,
                 ~(uint64_t)0, "fd llama lora");
    test_lora_fd(ll, SEER_LORA_V | SEER_LORA_UP, 2, "fd llama lora, layer 1 only");
    test_lora_fd(g2, SEER_LORA_QKV | SEER_LORA_O | SEER_LORA_UP | SEER_LORA_DOWN, ~(uint64_t)0, "fd gpt2 lora");
    test_gemm_paths(ll);
    test_gemm_paths(g2);
    test_lora_recovery();
    test_memorize();
    test_roundtrip(ll);
    test_roundtrip(g2);
    test_errors();
    test_stories260k();
    return test_done("test_grad");
}
