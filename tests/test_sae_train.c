/* SAE training: a TopK SAE recovers known sparse atoms; a run stopped halfway and resumed from
 * its state file ends with the same bits as an uninterrupted run (every architecture, memory
 * and model-streamed data); training on stories260K's residual stream reduces FVU. */
#include "sae/sae_internal.h"
#include "seer/hooks.h"
#include "test.h"

/* Vectors that are sums of 3 of 64 unit atoms in 32 dimensions with weights in [0.5, 1.5). */
static void test_recovery(void) {
    enum { D = 32, ATOMS = 64, N = 1 << 16, ACTIVE = 3 };
    seer_err err = {0};
    seer_rng r;
    seer_rng_seed(&r, 42);
    float *atoms = malloc(sizeof(float) * D * ATOMS), *rows = calloc((size_t)N * D, sizeof(float));
    for (int a = 0; a < ATOMS; a++) {
        double n = 0;
        for (int i = 0; i < D; i++) atoms[a * D + i] = seer_rng_normal(&r), n += atoms[a * D + i] * atoms[a * D + i];
        for (int i = 0; i < D; i++) atoms[a * D + i] /= (float)sqrt(n);
    }
    for (int v = 0; v < N; v++)
        for (int q = 0; q < ACTIVE; q++) {
            int a = (int)(seer_rng_u64(&r) % ATOMS);
            float c = 0.5f + seer_rng_uniform(&r);
            for (int i = 0; i < D; i++) rows[(size_t)v * D + i] += c * atoms[a * D + i];
        }
    seer_sae_data *d;
    CHECK_OK(seer_sae_data_open_memory(rows, N, D, &d, &err), &err);
    seer_sae_config c = {.arch = SEER_SAE_TOPK, .d_in = D, .d_sae = 128, .d_out = D, .k = ACTIVE, .apply_b_dec_to_input = 1};
    seer_sae_train_params p = seer_sae_train_default_params();
    p.batch = 1024, p.tokens = 1 << 21, p.seed = 3;
    seer_sae_trainer *t = NULL;
    CHECK_OK(seer_sae_trainer_init(&c, &p, d, &t, &err), &err);
    seer_sae_stats s = {0};
    double t0 = seer_time_sec();
    while (t && seer_sae_trainer_step_index(t) < seer_sae_trainer_steps_total(t))
        if (seer_sae_trainer_step(t, &s, &err)) break;
    seer_sae *sae = NULL;
    CHECK_OK(seer_sae_trainer_export(t, &sae, &err), &err);
    double mean_cos = 0;
    for (int a = 0; sae && a < ATOMS; a++) {
        double best = -1;
        for (int j = 0; j < c.d_sae; j++) {
            const float *w = sae->W_dec + j * D;
            double dot = 0, n = 0;
            for (int i = 0; i < D; i++) dot += w[i] * atoms[a * D + i], n += w[i] * w[i];
            if (n > 0 && dot / sqrt(n) > best) best = dot / sqrt(n);
        }
        mean_cos += best / ATOMS;
    }
    printf("recovery: mean max cosine %.4f, FVU %.4f, L0 %.2f, dead %.3f, %.1f s\n", mean_cos, s.fvu, s.l0, s.dead_frac,
           seer_time_sec() - t0);
    CHECK_MSG(mean_cos >= 0.9, "mean max cosine %.4f", mean_cos);
    CHECK_MSG(s.fvu < 0.1, "final FVU %.4f", s.fvu);
    seer_sae_free(sae);
    seer_sae_trainer_free(t);
    seer_sae_data_free(d);
    free(atoms), free(rows);
}

/* Train `steps` straight and `half` + resume + the rest; compare the state files' bytes. */
typedef seer_status (*open_fn)(void *ud, seer_sae_data **out, seer_err *err);

static void resume_case(const char *what, const seer_sae_config *c, const seer_sae_train_params *p, open_fn open, void *ud,
                        int64_t half) {
    seer_err err = {0};
    seer_sae_data *d1 = NULL, *d2 = NULL, *d3 = NULL;
    seer_sae_trainer *a = NULL, *b = NULL, *b2 = NULL;
    char n1[96], n2[96], n3[96];
    snprintf(n1, sizeof(n1), "sae_resume_%s_straight.safetensors", what);
    snprintf(n2, sizeof(n2), "sae_resume_%s_half.safetensors", what);
    snprintf(n3, sizeof(n3), "sae_resume_%s_resumed.safetensors", what);
    char p1[512], p2[512], p3[512];
    snprintf(p1, sizeof(p1), "%s", test_tmp(n1));
    snprintf(p2, sizeof(p2), "%s", test_tmp(n2));
    snprintf(p3, sizeof(p3), "%s", test_tmp(n3));
    CHECK_OK(open(ud, &d1, &err), &err);
    CHECK_OK(open(ud, &d2, &err), &err);
    CHECK_OK(open(ud, &d3, &err), &err);
    if (!d1 || !d2 || !d3) goto out;
    /* Three thread counts: the straight run on one, the interrupted one on two, its resumption
     * on three; the bits must not depend on them. */
    seer_sae_train_params p1t = *p, p2t = *p;
    p1t.n_threads = 1, p2t.n_threads = 2;
    CHECK_OK(seer_sae_trainer_init(c, &p1t, d1, &a, &err), &err);
    CHECK_OK(seer_sae_trainer_init(c, &p2t, d2, &b, &err), &err);
    if (!a || !b) goto out;
    int64_t n = seer_sae_trainer_steps_total(a);
    seer_sae_stats sa = {0}, sb = {0};
    for (int64_t i = 0; i < n; i++) CHECK_OK(seer_sae_trainer_step(a, &sa, &err), &err);
    for (int64_t i = 0; i < half; i++) CHECK_OK(seer_sae_trainer_step(b, NULL, &err), &err);
    CHECK_OK(seer_sae_trainer_save_state(b, p2, &err), &err);
    CHECK_OK(seer_sae_trainer_resume(p2, d3, 3, &b2, &err), &err);
    if (!b2) goto out;
    for (int64_t i = half; i < n; i++) CHECK_OK(seer_sae_trainer_step(b2, &sb, &err), &err);
    CHECK_OK(seer_sae_trainer_save_state(a, p1, &err), &err);
    CHECK_OK(seer_sae_trainer_save_state(b2, p3, &err), &err);
    char *x = NULL, *y = NULL;
    size_t lx = 0, ly = 0;
    CHECK_OK(seer_read_file(p1, &x, &lx, &err), &err);
    CHECK_OK(seer_read_file(p3, &y, &ly, &err), &err);
    CHECK_MSG(x && y && lx == ly && !memcmp(x, y, lx), "%s: resumed state differs from the straight run (%zu vs %zu bytes)",
              what, lx, ly);
    CHECK_MSG(sa.loss == sb.loss && sa.dead_frac == sb.dead_frac, "%s: last losses %.9g vs %.9g", what, sa.loss, sb.loss);
    free(x), free(y);
out:
    seer_sae_trainer_free(a), seer_sae_trainer_free(b), seer_sae_trainer_free(b2);
    seer_sae_data_free(d1), seer_sae_data_free(d2), seer_sae_data_free(d3);
}

typedef struct mem_src {
    const float *rows;
    int64_t n, d;
} mem_src;

static seer_status open_mem(void *ud, seer_sae_data **out, seer_err *err) {
    mem_src *m = ud;
    return seer_sae_data_open_memory(m->rows, m->n, m->d, out, err);
}

typedef struct model_src {
    const seer_model *m;
    const char *hook, *hook_out, *text;
    size_t len;
} model_src;

static seer_status open_model(void *ud, seer_sae_data **out, seer_err *err) {
    model_src *s = ud;
    return seer_sae_data_open_model(s->m, s->hook, s->hook_out, s->text, s->len, 64, 1500, 1, out, err);
}

static void test_resume(void) {
    enum { N = 3000, D = 12 };
    seer_rng r;
    seer_rng_seed(&r, 9);
    float *rows = malloc(sizeof(float) * N * D);
    for (int i = 0; i < N * D; i++) rows[i] = seer_rng_normal(&r) + (i % D == 0 ? 2.0f : 0.0f);
    mem_src ms = {rows, N, D};
    for (int a = 0; a < SEER_SAE_ARCH_COUNT; a++) {
        seer_sae_config c = {.arch = (seer_sae_arch)a, .d_in = D, .d_sae = 40, .d_out = D, .k = 4, .apply_b_dec_to_input = 1};
        seer_sae_train_params p = seer_sae_train_default_params();
        p.batch = 256, p.tokens = 256 * 30, p.seed = 77, p.dead_tokens = 512; /* 30 steps crossing epochs, AuxK active */
        resume_case(seer_sae_arch_name(c.arch), &c, &p, open_mem, &ms, 13);
    }
    free(rows);
}

static char *read_text(const char *path, size_t cap, size_t *len) {
    char *text = NULL;
    seer_err err = {0};
    if (seer_read_file(path, &text, len, &err)) return NULL;
    if (*len > cap) *len = cap;
    return text;
}

static void test_model_source(void) {
    seer_err err = {0};
    seer_model *m = NULL;
    size_t len = 0;
    char *text = read_text(test_data("data/tinyshakespeare.txt"), 40000, &len);
    if (!text || seer_model_load(test_data("models/stories260K/stories260K.bin"), NULL, &m, &err)) {
        printf("test_sae_train: stories260K or tinyshakespeare missing: model tests skipped\n");
        free(text);
        return;
    }
    /* Resume with activations streamed through taps (SAE) and a skip transcoder (two hooks). */
    model_src src = {m, "blocks.2.hook_resid_post", NULL, text, len};
    seer_sae_config c = {.arch = SEER_SAE_TOPK, .d_in = 64, .d_sae = 128, .d_out = 64, .k = 8, .apply_b_dec_to_input = 1};
    strcpy(c.hook_in, src.hook);
    strcpy(c.hook_out, src.hook);
    seer_sae_train_params p = seer_sae_train_default_params();
    p.batch = 512, p.tokens = 512 * 8, p.seed = 5;
    resume_case("model", &c, &p, open_model, &src, 3);
    model_src tsrc = {m, "blocks.1.ln2.hook_normalized", "blocks.1.hook_mlp_out", text, len};
    seer_sae_config tc = {.arch = SEER_SAE_TOPK, .d_in = 64, .d_sae = 128, .d_out = 64, .k = 8, .skip = 1};
    strcpy(tc.hook_in, tsrc.hook);
    strcpy(tc.hook_out, tsrc.hook_out);
    resume_case("transcoder", &tc, &p, open_model, &tsrc, 5);

    /* A short run on the residual stream: FVU falls well below 1, exported SAE fits the model. */
    seer_sae_data *d = NULL;
    CHECK_OK(open_model(&src, &d, &err), &err);
    seer_sae_trainer *t = NULL;
    p.tokens = 512 * 150;
    CHECK_OK(seer_sae_trainer_init(&c, &p, d, &t, &err), &err);
    seer_sae_stats s = {0};
    while (t && seer_sae_trainer_step_index(t) < seer_sae_trainer_steps_total(t))
        if (seer_sae_trainer_step(t, &s, &err)) break;
    printf("stories260K short run: FVU %.4f, L0 %.2f, dead %.3f\n", s.fvu, s.l0, s.dead_frac);
    CHECK_MSG(s.fvu < 0.5, "FVU %.4f after %lld tokens", s.fvu, (long long)s.tokens);
    seer_sae *sae = NULL;
    CHECK_OK(seer_sae_trainer_export(t, &sae, &err), &err);
    if (sae) {
        CHECK_OK(seer_sae_check_model(sae, m, &err), &err);
        /* Evaluated on text sampled from the model: on Shakespeare, far off its distribution,
         * splicing can even lower the loss, so the ordering below would mean nothing. */
        seer_sae_eval_result ev;
        char *sampled = NULL;
        size_t slen = 0;
        CHECK_OK(seer_sae_sample_text(m, 3000, 7, 1.0, 1, &sampled, &slen, &err), &err);
        /* Seeded: the same seed (on another thread count) gives the same text, another seed
         * other text; every line is a story the tokenizer reads back. */
        char *again = NULL, *other = NULL;
        size_t alen = 0, olen = 0;
        CHECK_OK(seer_sae_sample_text(m, 3000, 7, 1.0, 2, &again, &alen, &err), &err);
        CHECK_OK(seer_sae_sample_text(m, 3000, 8, 1.0, 1, &other, &olen, &err), &err);
        CHECK(sampled && again && alen == slen && !memcmp(sampled, again, slen));
        CHECK(other && (olen != slen || memcmp(sampled, other, slen)));
        int32_t *ids = NULL;
        size_t n_ids = 0;
        CHECK_OK(seer_tok_encode(seer_model_tok(m), sampled ? sampled : "", slen, 0, &ids, &n_ids, &err), &err);
        CHECK_MSG(n_ids > 2500 && n_ids < 3600, "3000 sampled tokens re-encode to %zu", n_ids);
        free(ids), free(again), free(other);
        CHECK_OK(seer_sae_evaluate(sae, m, sampled ? sampled : "", slen, 64, 2000, 1, &ev, &err), &err);
        free(sampled);
        printf("eval: FVU %.4f L0 %.2f CE clean %.4f spliced %.4f zero %.4f recovered %.3f\n", ev.fvu, ev.l0, ev.ce_clean,
               ev.ce_spliced, ev.ce_zero, ev.frac_recovered);
        CHECK(ev.tokens > 1000 && ev.ce_clean < ev.ce_spliced && ev.ce_spliced < ev.ce_zero);
        CHECK(fabs(ev.l0 - 8) < 1e-9);
    }
    seer_sae_free(sae);
    seer_sae_trainer_free(t);
    seer_sae_data_free(d);
    seer_model_free(m);
    free(text);
}

static double sum_dist(const float *x, int64_t n, int64_t d, const double *y) {
    double s = 0;
    for (int64_t b = 0; b < n; b++) {
        double q = 0;
        for (int64_t i = 0; i < d; i++) q += (x[b * d + i] - y[i]) * (x[b * d + i] - y[i]);
        s += sqrt(q);
    }
    return s;
}

/* The geometric median: exact on small cases, a minimum of the summed distances (no step along
 * any axis improves it) with outliers the mean follows; and each --b-dec-init choice lands
 * in b_dec. */
static void test_b_dec_init(void) {
    seer_err err = {0};
    float out[3];
    float line[] = {0, 0, 1, 0, 10, 0}; /* three collinear points: the middle one */
    CHECK_OK(seer_sae_geometric_median(line, 3, 2, 1000, 1e-12, out, &err), &err);
    CHECK_MSG(fabs(out[0] - 1) < 1e-3 && fabs(out[1]) < 1e-6, "collinear median (%g, %g)", out[0], out[1]);
    float sym[] = {1, 0, -1, 0, 0, 1, 0, -1}; /* symmetric: the centre */
    CHECK_OK(seer_sae_geometric_median(sym, 4, 2, 100, 1e-9, out, &err), &err);
    CHECK(fabs(out[0]) < 1e-6 && fabs(out[1]) < 1e-6);
    enum { N = 500, D = 3 };
    float *x = malloc(sizeof(float) * N * D);
    seer_rng r;
    seer_rng_seed(&r, 21);
    for (int b = 0; b < N; b++)
        for (int i = 0; i < D; i++) x[b * D + i] = (b < 40 ? 200.0f : 1.0f + (float)i) + seer_rng_normal(&r);
    CHECK_OK(seer_sae_geometric_median(x, N, D, 200, 1e-12, out, &err), &err);
    double y[D], mean[D] = {0};
    for (int i = 0; i < D; i++) y[i] = out[i];
    for (int b = 0; b < N; b++)
        for (int i = 0; i < D; i++) mean[i] += x[b * D + i] / N;
    double f = sum_dist(x, N, D, y), worst = 0;
    for (int i = 0; i < D; i++)
        for (int sgn = -1; sgn <= 1; sgn += 2) {
            double z[D];
            memcpy(z, y, sizeof(z));
            z[i] += sgn * 1e-3;
            double g = f - sum_dist(x, N, D, z);
            if (g > worst) worst = g;
        }
    CHECK_MSG(worst < 1e-6 * f, "a step along an axis lowers the summed distance by %g", worst);
    CHECK_MSG(fabs(out[0] - 1) < 0.3 && mean[0] > 10, "median %g (mean %g): outliers should not move it", out[0], mean[0]);
    CHECK_FAILS(seer_sae_geometric_median(x, 0, D, 10, 1e-6, out, &err), &err, "0 rows");

    /* In the trainer (no input normalisation, so b_dec is in the data's units). */
    seer_sae_config c = {.arch = SEER_SAE_TOPK, .d_in = D, .d_sae = 8, .d_out = D, .k = 2, .apply_b_dec_to_input = 1};
    seer_sae_train_params p = seer_sae_train_default_params();
    p.batch = 100, p.tokens = 1000, p.normalize_input = 0;
    seer_sae_bdec_init how[3] = {SEER_SAE_BDEC_MEDIAN, SEER_SAE_BDEC_MEAN, SEER_SAE_BDEC_ZERO};
    for (int h = 0; h < 3; h++) {
        seer_sae_data *d = NULL;
        seer_sae_trainer *t = NULL;
        seer_sae *s = NULL;
        p.b_dec_init = how[h];
        CHECK_OK(seer_sae_data_open_memory(x, N, D, &d, &err), &err);
        CHECK_OK(seer_sae_trainer_init(&c, &p, d, &t, &err), &err);
        CHECK_OK(seer_sae_trainer_export(t, &s, &err), &err);
        if (s) {
            /* The trainer samples its first 100 rows of a shuffled pass: compute the same. */
            float want[D] = {0}, rows[100 * D], ybuf[100 * D];
            seer_sae_data *d2 = NULL;
            CHECK_OK(seer_sae_data_open_memory(x, N, D, &d2, &err), &err);
            sae_data_set_seed(d2, p.seed);
            CHECK_OK(sae_data_next(d2, rows, ybuf, 100, &err), &err);
            if (how[h] == SEER_SAE_BDEC_MEDIAN) CHECK_OK(seer_sae_geometric_median(rows, 100, D, 100, 1e-5, want, &err), &err);
            if (how[h] == SEER_SAE_BDEC_MEAN) {
                /* Four samples of 100: the 400 first rows. */
                double m[D] = {0};
                float more[300 * D], ymore[300 * D];
                CHECK_OK(sae_data_next(d2, more, ymore, 300, &err), &err);
                for (int b = 0; b < 100; b++)
                    for (int i = 0; i < D; i++) m[i] += rows[b * D + i];
                for (int b = 0; b < 300; b++)
                    for (int i = 0; i < D; i++) m[i] += more[b * D + i];
                for (int i = 0; i < D; i++) want[i] = (float)(m[i] / 400);
            }
            check_close(s->b_dec, want, D, 1e-5f, seer_sae_bdec_init_name(how[h]));
            seer_sae_data_free(d2);
        }
        seer_sae_free(s);
        seer_sae_trainer_free(t);
        seer_sae_data_free(d);
    }
    seer_sae_bdec_init b;
    CHECK(seer_sae_bdec_init_from_name("median", &b) == 0 && b == SEER_SAE_BDEC_MEDIAN);
    CHECK(seer_sae_bdec_init_from_name("geometric", &b) == -1);
    free(x);
}

int main(void) {
    test_b_dec_init();
    test_recovery();
    test_resume();
    test_model_source();
    return test_done("test_sae_train");
}
