/* SAE layer: finite-difference checks of every architecture's loss gradient against a
 * double-precision reference, inference against training forward, format round trips (SAELens
 * v6 and older flat configs, sparsify), and the errors a user can cause. */
#include <cblas.h>

#include "sae/sae_internal.h"
#include "seer/hooks.h"
#include "seer/safetensors.h"
#include "test.h"

/* ---- double-precision reference of the training loss ---- */
typedef struct ref_sae {
    seer_sae_config c;
    double *W_enc, *b_enc, *W_dec, *b_dec, *log_th, *W_skip;
} ref_sae;

static double *dup_d(const float *f, int64_t n) {
    double *d = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++) d[i] = f ? f[i] : 0;
    return d;
}

/* kept[b*dl+j] = 1 when latent j fires for row b (given pre). */
static void ref_select(const ref_sae *r, const double *pre, int64_t n, uint8_t *kept) {
    int64_t dl = r->c.d_sae;
    memset(kept, 0, (size_t)(n * dl));
    if (r->c.arch == SEER_SAE_TOPK) {
        for (int64_t b = 0; b < n; b++)
            for (int q = 0; q < r->c.k; q++) {
                int64_t best = -1;
                for (int64_t j = 0; j < dl; j++)
                    if (!kept[b * dl + j] && pre[b * dl + j] > 0 && (best < 0 || pre[b * dl + j] > pre[b * dl + best])) best = j;
                if (best >= 0) kept[b * dl + best] = 1;
            }
    } else if (r->c.arch == SEER_SAE_BATCHTOPK) {
        for (int64_t q = 0; q < r->c.k * n; q++) {
            int64_t best = -1;
            for (int64_t i = 0; i < n * dl; i++)
                if (!kept[i] && pre[i] > 0 && (best < 0 || pre[i] > pre[best])) best = i;
            if (best >= 0) kept[best] = 1;
        }
    } else
        for (int64_t b = 0; b < n; b++)
            for (int64_t j = 0; j < dl; j++) {
                double th = r->c.arch == SEER_SAE_JUMPRELU ? exp(r->log_th[j]) : 0;
                kept[b * dl + j] = pre[b * dl + j] > 0 && pre[b * dl + j] > th;
            }
}

/* Loss; e_fixed [n, d_out] is AuxK's residual target (NULL: compute it and store in e_out). */
static double ref_loss(const ref_sae *r, const float *x, const float *y, int64_t n, const sae_loss_params *lp,
                       const double *e_fixed, double *e_out) {
    int64_t di = r->c.d_in, dl = r->c.d_sae, dout = r->c.d_out;
    double *pre = calloc((size_t)(n * dl), sizeof(double)), *yh = calloc((size_t)(n * dout), sizeof(double));
    uint8_t *kept = malloc((size_t)(n * dl));
    for (int64_t b = 0; b < n; b++)
        for (int64_t j = 0; j < dl; j++) {
            double s = r->b_enc[j];
            for (int64_t i = 0; i < di; i++) s += (x[b * di + i] - (r->c.apply_b_dec_to_input ? r->b_dec[i] : 0)) * r->W_enc[i * dl + j];
            pre[b * dl + j] = s;
        }
    ref_select(r, pre, n, kept);
    double L = 0, l0 = 0;
    for (int64_t b = 0; b < n; b++) {
        for (int64_t o = 0; o < dout; o++) {
            double s = r->b_dec[o];
            for (int64_t j = 0; j < dl; j++)
                if (kept[b * dl + j]) s += pre[b * dl + j] * r->W_dec[j * dout + o];
            if (r->W_skip)
                for (int64_t i = 0; i < di; i++) s += r->W_skip[o * di + i] * x[b * di + i];
            yh[b * dout + o] = s;
            L += (s - y[b * dout + o]) * (s - y[b * dout + o]) / (double)n;
        }
        for (int64_t j = 0; j < dl; j++) {
            if (!kept[b * dl + j]) continue;
            l0 += 1;
            if (r->c.arch == SEER_SAE_RELU) {
                double nm = 0;
                for (int64_t o = 0; o < dout; o++) nm += r->W_dec[j * dout + o] * r->W_dec[j * dout + o];
                L += lp->l1_coeff / (double)n * pre[b * dl + j] * sqrt(nm);
            }
        }
    }
    if (r->c.arch == SEER_SAE_JUMPRELU) L += lp->l0_coeff * l0 / (double)n;
    if ((r->c.arch == SEER_SAE_TOPK || r->c.arch == SEER_SAE_BATCHTOPK) && lp->dead) {
        for (int64_t b = 0; b < n; b++) {
            uint8_t *aux = calloc((size_t)dl, 1);
            for (int q = 0; q < lp->auxk; q++) {
                int64_t best = -1;
                for (int64_t j = 0; j < dl; j++)
                    if (lp->dead[j] && !aux[j] && pre[b * dl + j] > 0 && (best < 0 || pre[b * dl + j] > pre[b * dl + best])) best = j;
                if (best >= 0) aux[best] = 1;
            }
            for (int64_t o = 0; o < dout; o++) {
                double e = e_fixed ? e_fixed[b * dout + o] : y[b * dout + o] - yh[b * dout + o];
                if (e_out) e_out[b * dout + o] = e;
                double s = 0;
                for (int64_t j = 0; j < dl; j++)
                    if (aux[j]) s += pre[b * dl + j] * r->W_dec[j * dout + o];
                L += lp->auxk_coeff * (s - e) * (s - e) / (double)n;
            }
            free(aux);
        }
    }
    free(pre), free(yh), free(kept);
    return L;
}

static void grad_check(seer_sae_arch arch, int transcoder) {
    seer_err err = {0};
    seer_sae_config c = {.arch = arch, .d_in = 5, .d_sae = 9, .d_out = transcoder ? 4 : 5, .k = 3, .skip = transcoder,
                         .apply_b_dec_to_input = !transcoder};
    const int64_t n = 6;
    seer_sae *s;
    CHECK_OK(seer_sae_init(&c, &s, &err), &err);
    seer_rng rng;
    seer_rng_seed(&rng, 100 + arch * 2 + transcoder);
    int64_t di = c.d_in, dl = c.d_sae, dout = c.d_out;
    for (int64_t i = 0; i < di * dl; i++) s->W_enc[i] = seer_rng_normal(&rng) * 0.7f;
    for (int64_t i = 0; i < dl * dout; i++) s->W_dec[i] = seer_rng_normal(&rng) * 0.6f; /* not unit norm */
    for (int64_t i = 0; i < dl; i++) s->b_enc[i] = seer_rng_normal(&rng) * 0.2f;
    for (int64_t i = 0; i < dout; i++) s->b_dec[i] = seer_rng_normal(&rng) * 0.3f;
    if (s->W_skip)
        for (int64_t i = 0; i < dout * di; i++) s->W_skip[i] = seer_rng_normal(&rng) * 0.3f;
    float log_th[9];
    for (int64_t j = 0; j < dl; j++) {
        log_th[j] = logf(0.3f + 0.1f * (float)(j % 4));
        if (s->threshold) s->threshold[j] = expf(log_th[j]);
    }
    float x[6 * 5], y[6 * 5];
    for (int64_t i = 0; i < n * di; i++) x[i] = seer_rng_normal(&rng);
    for (int64_t i = 0; i < n * dout; i++) y[i] = seer_rng_normal(&rng);
    uint8_t dead[9];
    for (int64_t j = 0; j < dl; j++) dead[j] = j % 2;
    sae_loss_params lp = {.l1_coeff = 0.7, .l0_coeff = 0.3, .bandwidth = 0.4, .auxk_coeff = 0.5, .auxk = 2, .dead = dead};
    sae_work w;
    CHECK_OK(sae_work_init(&w, &c, n, lp.auxk, NULL, &err), &err);
    sae_grads g = {0};
    float gW_enc[45], gb_enc[9], gW_dec[45], gb_dec[5], glt[9], gW_skip[20], gencT[45];
    g.W_enc = gW_enc, g.b_enc = gb_enc, g.W_dec = gW_dec, g.b_dec = gb_dec, g.W_encT = gencT;
    g.log_threshold = arch == SEER_SAE_JUMPRELU ? glt : NULL;
    g.W_skip = transcoder ? gW_skip : NULL;
    sae_loss L;
    CHECK_OK(sae_loss_backward(s, &w, x, y, n, &lp, &g, &L, &err), &err);

    /* The same backward split over three threads gives the same bits. */
    {
        seer_pool *pool = NULL;
        sae_work w3;
        CHECK_OK(seer_pool_init(3, &pool, &err), &err);
        CHECK_OK(sae_work_init(&w3, &c, n, lp.auxk, pool, &err), &err);
        float hW_enc[45], hb_enc[9], hW_dec[45], hb_dec[5], hlt[9], hW_skip[20], hencT[45];
        sae_grads h = {.W_enc = hW_enc, .b_enc = hb_enc, .W_dec = hW_dec, .b_dec = hb_dec, .W_encT = hencT,
                       .log_threshold = g.log_threshold ? hlt : NULL, .W_skip = g.W_skip ? hW_skip : NULL};
        sae_loss L3;
        CHECK_OK(sae_loss_backward(s, &w3, x, y, n, &lp, &h, &L3, &err), &err);
        CHECK(!memcmp(hW_enc, gW_enc, sizeof(hW_enc)) && !memcmp(hb_enc, gb_enc, sizeof(hb_enc)));
        CHECK(!memcmp(hW_dec, gW_dec, (size_t)(dl * dout) * sizeof(float)) && !memcmp(hb_dec, gb_dec, (size_t)dout * sizeof(float)));
        CHECK(L3.loss == L.loss && L3.aux == L.aux);
        if (g.log_threshold) CHECK(!memcmp(hlt, glt, sizeof(hlt)));
        sae_work_free(&w3);
        seer_pool_free(pool);
    }

    ref_sae r = {.c = c};
    r.W_enc = dup_d(s->W_enc, di * dl), r.b_enc = dup_d(s->b_enc, dl), r.W_dec = dup_d(s->W_dec, dl * dout);
    r.b_dec = dup_d(s->b_dec, dout), r.log_th = dup_d(log_th, dl);
    r.W_skip = transcoder ? dup_d(s->W_skip, dout * di) : NULL;
    double e_fixed[6 * 5];
    double L0 = ref_loss(&r, x, y, n, &lp, NULL, e_fixed);
    CHECK_MSG(fabs(L0 - L.loss) < 1e-4 * (1 + fabs(L0)), "%s: loss %g vs reference %g", seer_sae_arch_name(arch), L.loss, L0);

    struct {
        const char *name;
        double *p;
        const float *g;
        int64_t n;
    } ps[] = {{"W_enc", r.W_enc, gW_enc, di * dl}, {"b_enc", r.b_enc, gb_enc, dl}, {"W_dec", r.W_dec, gW_dec, dl * dout},
              {"b_dec", r.b_dec, gb_dec, dout},     {"W_skip", r.W_skip, gW_skip, transcoder ? dout * di : 0}};
    double worst = 0;
    const char *worst_at = "";
    int64_t worst_i = 0, nonzero = 0;
    for (size_t q = 0; q < sizeof(ps) / sizeof(ps[0]); q++)
        for (int64_t i = 0; i < ps[q].n; i++) {
            double h = 1e-5, keep = ps[q].p[i];
            ps[q].p[i] = keep + h;
            double lp_ = ref_loss(&r, x, y, n, &lp, e_fixed, NULL);
            ps[q].p[i] = keep - h;
            double lm = ref_loss(&r, x, y, n, &lp, e_fixed, NULL);
            ps[q].p[i] = keep;
            double fd = (lp_ - lm) / (2 * h), d = fabs(fd - ps[q].g[i]) / (1 + fabs(fd));
            nonzero += fabs(fd) > 1e-6;
            if (d > worst) worst = d, worst_at = ps[q].name, worst_i = i;
        }
    CHECK_MSG(worst < 2e-4, "%s%s: worst gradient error %.3g at %s[%lld]", seer_sae_arch_name(arch),
              transcoder ? " (skip transcoder)" : "", worst, worst_at, (long long)worst_i);
    CHECK(nonzero > 10);
    if (arch == SEER_SAE_TOPK || arch == SEER_SAE_BATCHTOPK) CHECK_MSG(L.aux > 0, "%s: AuxK loss is zero", seer_sae_arch_name(arch));

    /* JumpReLU threshold: the straight-through pseudo-gradient (not a true derivative: the loss
     * is flat in θ away from the jumps), computed here independently in double. */
    if (arch == SEER_SAE_JUMPRELU) {
        double dth_worst = 0;
        int in_window = 0;
        for (int64_t j = 0; j < dl; j++) {
            double th = exp(r.log_th[j]), acc = 0;
            for (int64_t b = 0; b < n; b++) {
                double z = r.b_enc[j];
                for (int64_t i = 0; i < di; i++) z += (x[b * di + i] - (c.apply_b_dec_to_input ? r.b_dec[i] : 0)) * r.W_enc[i * dl + j];
                if (!(fabs(z - th) < lp.bandwidth / 2)) continue;
                in_window++;
                double dv = 0;
                for (int64_t o = 0; o < dout; o++) dv += 2.0 / (double)n * ((double)w.recon[b * dout + o] - y[b * dout + o]) * r.W_dec[j * dout + o];
                acc += -(th / lp.bandwidth) * dv - lp.l0_coeff / (double)n / lp.bandwidth;
            }
            double want = acc * th, d = fabs(want - glt[j]) / (1 + fabs(want));
            if (d > dth_worst) dth_worst = d;
        }
        CHECK_MSG(dth_worst < 1e-4, "jumprelu: threshold pseudo-gradient error %.3g", dth_worst);
        CHECK_MSG(in_window > 2, "jumprelu: only %d pre-activations in the STE window", in_window);
    }

    /* Inference forward agrees with the training forward (TopK, ReLU, JumpReLU). */
    if (arch != SEER_SAE_BATCHTOPK) {
        float out[6 * 5];
        CHECK_OK(seer_sae_forward(s, x, n, out, &err), &err);
        check_close(out, w.recon, (size_t)(n * dout), 1e-5f, "inference vs training forward");
    }
    free(r.W_enc), free(r.b_enc), free(r.W_dec), free(r.b_dec), free(r.log_th), free(r.W_skip);
    sae_work_free(&w);
    seer_sae_free(s);
}

/* ---- formats ---- */

static seer_sae *random_sae(seer_sae_arch arch, int64_t di, int64_t dl, int32_t k, uint64_t seed) {
    seer_err err = {0};
    seer_sae_config c = {.arch = arch, .d_in = di, .d_sae = dl, .d_out = di, .k = k, .apply_b_dec_to_input = 1};
    strcpy(c.hook_in, "blocks.2.hook_resid_post");
    strcpy(c.hook_out, c.hook_in);
    strcpy(c.model_name, "stories260K");
    seer_sae *s = NULL;
    if (seer_sae_init(&c, &s, &err)) return NULL;
    seer_rng r;
    seer_rng_seed(&r, seed);
    for (int64_t i = 0; i < di * dl; i++) s->W_enc[i] = seer_rng_normal(&r), s->W_dec[i] = seer_rng_normal(&r);
    for (int64_t i = 0; i < dl; i++) s->b_enc[i] = seer_rng_normal(&r);
    for (int64_t i = 0; i < di; i++) s->b_dec[i] = seer_rng_normal(&r);
    if (s->threshold)
        for (int64_t i = 0; i < dl; i++) s->threshold[i] = seer_rng_uniform(&r);
    return s;
}

static int same_sae(const seer_sae *a, const seer_sae *b) {
    const seer_sae_config *x = &a->cfg, *y = &b->cfg;
    if (x->arch != y->arch || x->d_in != y->d_in || x->d_sae != y->d_sae || x->d_out != y->d_out ||
        x->apply_b_dec_to_input != y->apply_b_dec_to_input || strcmp(x->hook_in, y->hook_in) ||
        strcmp(x->hook_out, y->hook_out) || strcmp(x->model_name, y->model_name))
        return 0;
    if (x->arch == SEER_SAE_TOPK && x->k != y->k) return 0;
    size_t de = (size_t)(x->d_in * x->d_sae) * 4, dd = (size_t)(x->d_sae * x->d_out) * 4;
    return !memcmp(a->W_enc, b->W_enc, de) && !memcmp(a->W_dec, b->W_dec, dd) &&
           !memcmp(a->b_enc, b->b_enc, (size_t)x->d_sae * 4) && !memcmp(a->b_dec, b->b_dec, (size_t)x->d_out * 4) &&
           (!a->threshold || !memcmp(a->threshold, b->threshold, (size_t)x->d_sae * 4));
}

static void test_round_trips(void) {
    seer_err err = {0};
    seer_sae_arch archs[] = {SEER_SAE_TOPK, SEER_SAE_RELU, SEER_SAE_JUMPRELU};
    for (int f = 0; f < SEER_SAE_FORMAT_COUNT; f++)
        for (int a = 0; a < 3; a++) {
            if (f == SEER_SAE_FORMAT_SPARSIFY && archs[a] != SEER_SAE_TOPK) continue;
            if (f == SEER_SAE_FORMAT_GEMMASCOPE) continue; /* read only: tests/test_sae_npz.c */
            seer_sae *s = random_sae(archs[a], 16, 48, 5, 7 + (uint64_t)a), *t = NULL;
            char dir[64];
            snprintf(dir, sizeof(dir), "sae_rt_%d_%d", f, a);
            const char *path = test_tmp(dir);
            CHECK_OK(seer_sae_save(s, (seer_sae_format)f, path, &err), &err);
            seer_sae_format got;
            CHECK_OK(seer_sae_load(path, &t, &got, &err), &err);
            CHECK(got == (seer_sae_format)f);
            CHECK_MSG(t && same_sae(s, t), "%s %s round trip differs", seer_sae_format_name((seer_sae_format)f),
                      seer_sae_arch_name(archs[a]));
            seer_sae_free(t);
            seer_sae_free(s);
        }
    /* Sparsify holds TopK only. */
    seer_sae *r = random_sae(SEER_SAE_RELU, 8, 16, 0, 3);
    CHECK_FAILS(seer_sae_save(r, SEER_SAE_FORMAT_SPARSIFY, test_tmp("sae_bad_sp"), &err), &err, "sparsify files hold TopK");

    /* An older flat SAELens config (hook at top level, topk through activation_fn_kwargs), and a
     * v6 one, against the same weights. */
    seer_sae *s = random_sae(SEER_SAE_TOPK, 8, 16, 4, 11);
    seer_st_writer *w = seer_st_writer_init();
    int64_t se[2] = {8, 16}, sd[2] = {16, 8}, sl[1] = {16}, so[1] = {8};
    seer_st_writer_add(w, "W_enc", SEER_DTYPE_F32, 2, se, s->W_enc);
    seer_st_writer_add(w, "W_dec", SEER_DTYPE_F32, 2, sd, s->W_dec);
    seer_st_writer_add(w, "b_enc", SEER_DTYPE_F32, 1, sl, s->b_enc);
    seer_st_writer_add(w, "b_dec", SEER_DTYPE_F32, 1, so, s->b_dec);
    void *buf = NULL;
    size_t len = 0;
    CHECK_OK(seer_st_writer_write_buffer(w, &buf, &len, &err), &err);
    const char *old_cfg = "{\"architecture\": \"standard\", \"d_in\": 8, \"d_sae\": 16, \"hook_name\": "
                          "\"blocks.2.hook_resid_post\", \"hook_layer\": 2, \"model_name\": \"stories260K\", "
                          "\"activation_fn_str\": \"topk\", \"activation_fn_kwargs\": {\"k\": 4}, "
                          "\"apply_b_dec_to_input\": true, \"normalize_activations\": \"none\"}";
    const char *v6_cfg = "{\"architecture\": \"topk\", \"d_in\": 8, \"d_sae\": 16, \"k\": 4, \"dtype\": \"float32\", "
                         "\"apply_b_dec_to_input\": true, \"normalize_activations\": \"none\", \"metadata\": "
                         "{\"model_name\": \"stories260K\", \"hook_name\": \"blocks.2.hook_resid_post\"}}";
    seer_sae *t = NULL;
    CHECK_OK(seer_sae_load_buffers(SEER_SAE_FORMAT_SAELENS, old_cfg, strlen(old_cfg), buf, len, &t, &err), &err);
    CHECK_MSG(t && same_sae(s, t), "older flat SAELens config");
    seer_sae_free(t);
    t = NULL;
    CHECK_OK(seer_sae_load_buffers(SEER_SAE_FORMAT_SAELENS, v6_cfg, strlen(v6_cfg), buf, len, &t, &err), &err);
    CHECK_MSG(t && same_sae(s, t), "v6 SAELens config");
    seer_sae_free(t);

    /* Errors: mismatched shapes, k > latents, corrupt weights, bad JSON, unsupported options. */
    const char *bad_din = "{\"architecture\": \"topk\", \"d_in\": 9, \"d_sae\": 16, \"k\": 4}";
    CHECK_FAILS(seer_sae_load_buffers(SEER_SAE_FORMAT_SAELENS, bad_din, strlen(bad_din), buf, len, &t, &err), &err,
                "tensor 'W_enc' has shape [8, 16], expected [9, 16]");
    const char *bad_k = "{\"architecture\": \"topk\", \"d_in\": 8, \"d_sae\": 16, \"k\": 17}";
    CHECK_FAILS(seer_sae_load_buffers(SEER_SAE_FORMAT_SAELENS, bad_k, strlen(bad_k), buf, len, &t, &err), &err,
                "k 17 must be in [1, 16]");
    const char *no_k = "{\"architecture\": \"topk\", \"d_in\": 8, \"d_sae\": 16}";
    CHECK_FAILS(seer_sae_load_buffers(SEER_SAE_FORMAT_SAELENS, no_k, strlen(no_k), buf, len, &t, &err), &err, "needs 'k'");
    const char *jr = "{\"architecture\": \"jumprelu\", \"d_in\": 8, \"d_sae\": 16}";
    CHECK_FAILS(seer_sae_load_buffers(SEER_SAE_FORMAT_SAELENS, jr, strlen(jr), buf, len, &t, &err), &err,
                "tensor 'threshold' missing");
    const char *gated = "{\"architecture\": \"gated\", \"d_in\": 8, \"d_sae\": 16}";
    CHECK_FAILS(seer_sae_load_buffers(SEER_SAE_FORMAT_SAELENS, gated, strlen(gated), buf, len, &t, &err), &err,
                "architecture 'gated' is not supported");
    const char *norm = "{\"architecture\": \"standard\", \"d_in\": 8, \"d_sae\": 16, \"normalize_activations\": \"expected_average_only_in\"}";
    CHECK_FAILS(seer_sae_load_buffers(SEER_SAE_FORMAT_SAELENS, norm, strlen(norm), buf, len, &t, &err), &err,
                "normalize_activations 'expected_average_only_in'");
    CHECK_FAILS(seer_sae_load_buffers(SEER_SAE_FORMAT_SAELENS, "{\"d_in\": ", 9, buf, len, &t, &err), &err, "not a JSON object");
    const char *neg = "{\"architecture\": \"standard\", \"d_in\": -3, \"d_sae\": 16}";
    CHECK_FAILS(seer_sae_load_buffers(SEER_SAE_FORMAT_SAELENS, neg, strlen(neg), buf, len, &t, &err), &err,
                "'d_in' is not a non-negative integer");
    CHECK_FAILS(seer_sae_load_buffers(SEER_SAE_FORMAT_SAELENS, v6_cfg, strlen(v6_cfg), buf, len / 2, &t, &err), &err,
                "sae: weights: ");
    CHECK(t == NULL);
    CHECK_FAILS(seer_sae_load(test_tmp("no_such_sae_dir"), &t, NULL, &err), &err, "none of sae_weights.safetensors");
    free(buf);
    seer_st_writer_free(w);
    seer_sae_free(s);
    seer_sae_free(r);
}

/* Hook checks against the real model: a width that does not fit and a hook that does not exist. */
static void test_model_checks(void) {
    seer_err err = {0};
    seer_model *m = NULL;
    if (seer_model_load(test_data("models/stories260K/stories260K.bin"), NULL, &m, &err)) {
        printf("test_sae: stories260K not found (%s): model checks skipped\n", err.msg);
        return;
    }
    seer_sae *s = random_sae(SEER_SAE_TOPK, 64, 128, 8, 5);
    CHECK_OK(seer_sae_check_model(s, m, &err), &err);
    strcpy(s->cfg.hook_in, "blocks.2.mlp.hook_post");
    strcpy(s->cfg.hook_out, s->cfg.hook_in);
    CHECK_FAILS(seer_sae_check_model(s, m, &err), &err, "d_in is 64 but the model's hook 'blocks.2.mlp.hook_post' has width 172");
    strcpy(s->cfg.hook_in, "blocks.9.hook_resid_post");
    CHECK_FAILS(seer_sae_check_model(s, m, &err), &err, "hook 'blocks.9.hook_resid_post'");
    strcpy(s->cfg.hook_in, "blocks.2.hook_nothing");
    CHECK_FAILS(seer_sae_check_model(s, m, &err), &err, "hook 'blocks.2.hook_nothing'");
    seer_sae_data *d = NULL;
    const char *text = "Once upon a time there was a little cat. It liked to play in the sun with its friends.";
    CHECK_FAILS(seer_sae_data_open_model(m, "blocks.2.hook_nope", NULL, text, strlen(text), 16, 64, 1, &d, &err), &err,
                "hook_nope");
    seer_sae_free(s);
    seer_model_free(m);
}

static void test_config_errors(void) {
    seer_err err = {0};
    seer_sae *s = NULL;
    seer_sae_config c = {.arch = SEER_SAE_TOPK, .d_in = 8, .d_sae = 16, .d_out = 8, .k = 32};
    CHECK_FAILS(seer_sae_init(&c, &s, &err), &err, "k 32 must be in [1, 16]");
    c.k = 0;
    CHECK_FAILS(seer_sae_init(&c, &s, &err), &err, "k 0 must be in [1, 16]");
    c.k = 4, c.d_sae = 0;
    CHECK_FAILS(seer_sae_init(&c, &s, &err), &err, "d_sae 0 outside");
    c.d_sae = 16, c.d_out = 4, c.apply_b_dec_to_input = 1;
    CHECK_FAILS(seer_sae_init(&c, &s, &err), &err, "apply_b_dec_to_input needs d_in == d_out");
    seer_sae_arch a;
    CHECK(seer_sae_arch_from_name("jumprelu", &a) == 0 && a == SEER_SAE_JUMPRELU);
    CHECK(seer_sae_arch_from_name("gated", &a) == -1);
    /* A trainer with a batch larger than its tokens. */
    float rows[64] = {0};
    seer_sae_data *d;
    CHECK_OK(seer_sae_data_open_memory(rows, 8, 8, &d, &err), &err);
    seer_sae_train_params p = seer_sae_train_default_params();
    p.batch = 16, p.tokens = 8;
    seer_sae_trainer *t = NULL;
    c.d_out = 8;
    CHECK_FAILS(seer_sae_trainer_init(&c, &p, d, &t, &err), &err, "less than one batch");
    p.tokens = 64;
    CHECK_FAILS(seer_sae_trainer_init(&c, &p, d, &t, &err), &err, "all zero");
    seer_sae_data_free(d);
}

/* sae_topk_row (heap, block skipping, index sort) against a plain selection: the k largest
 * positive values, ties to the lower index, returned in index order. Rows with many ties. */
static void test_topk_row(void) {
    seer_rng r;
    seer_rng_seed(&r, 31);
    int64_t sizes[] = {1, 5, 16, 17, 33, 100, 1024}, ks[] = {1, 3, 16, 64, 400};
    float row[1024];
    int32_t idx[1024], want_idx[1024];
    float val[1024];
    uint8_t used[1024];
    int bad = 0, cases = 0;
    for (size_t a = 0; a < sizeof(sizes) / sizeof(sizes[0]); a++)
        for (size_t b = 0; b < sizeof(ks) / sizeof(ks[0]); b++)
            for (int rep = 0; rep < 20; rep++) {
                int64_t n = sizes[a], k = ks[b], m = 0;
                for (int64_t j = 0; j < n; j++) row[j] = (float)((int)(seer_rng_u64(&r) % 9) - 4) * 0.5f;
                if (rep % 3 == 0) row[seer_rng_u64(&r) % (uint64_t)n] = 9; /* a lone maximum */
                memset(used, 0, sizeof(used));
                for (int64_t t = 0; t < k; t++) { /* pick the best unused: largest, then lowest index */
                    int64_t best = -1;
                    for (int64_t j = 0; j < n; j++)
                        if (!used[j] && row[j] > 0 && (best < 0 || row[j] > row[best])) best = j;
                    if (best < 0) break;
                    used[best] = 1, m++;
                }
                int64_t q = 0;
                for (int64_t j = 0; j < n; j++)
                    if (used[j]) want_idx[q++] = (int32_t)j;
                int64_t got = sae_topk_row(row, n, k, idx, val);
                cases++;
                int ok = got == m;
                for (int64_t i = 0; ok && i < m; i++) ok = idx[i] == want_idx[i] && val[i] == row[idx[i]];
                if (!ok && bad++ < 3) fprintf(stderr, "topk_row n %lld k %lld: got %lld, want %lld\n", (long long)n, (long long)k, (long long)got, (long long)m);
            }
    CHECK_MSG(bad == 0, "%d of %d top-k selections differ from the plain reference", bad, cases);
}

int main(void) {
    test_topk_row();
    for (int a = 0; a < SEER_SAE_ARCH_COUNT; a++)
        for (int tc = 0; tc < 2; tc++) grad_check((seer_sae_arch)a, tc);
    test_round_trips();
    test_config_errors();
    test_model_checks();
    return test_done("test_sae");
}
