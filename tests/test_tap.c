/* Taps: enabling every point with a callback that only copies changes no logit; the saved
 * values satisfy the residual-stream identities (resid_mid = resid_pre + attn_out, ...); the
 * pattern is a softmax of the scores over each token's own keys; zero-ablating a layer's
 * attention output equals a model whose output projection is zero; edits at a tap change what
 * follows. */
#include "seer/tap.h"
#include "test.h"

#define MAXP (SEER_HP_COUNT)
#define MAXL 4

typedef struct saved {
    float *v[MAXP][MAXL + 1];
    int64_t width[MAXP];
    int zero_attn_out_layer; /* -2: no edit */
} saved;

static void on_tap(void *ud, const seer_tap_event *ev) {
    saved *s = ud;
    int li = ev->layer + 1;
    if (ev->point == SEER_HP_ATTN_OUT && ev->layer == s->zero_attn_out_layer) {
        for (int64_t r = 0; r < ev->n_rows; r++) memset(ev->data + r * ev->row_stride, 0, (size_t)ev->width * 4);
    }
    free(s->v[ev->point][li]);
    s->v[ev->point][li] = malloc((size_t)(ev->n_rows * ev->width) * 4);
    s->width[ev->point] = ev->width;
    for (int64_t r = 0; r < ev->n_rows; r++)
        memcpy(s->v[ev->point][li] + r * ev->width, ev->data + r * ev->row_stride, (size_t)ev->width * 4);
}

static void run(const seer_model *m, saved *s, int tap_all, int T, const int32_t *toks, float *logits) {
    seer_err err;
    seer_ctx *c;
    seer_ctx_params p = seer_ctx_default_params();
    p.n_batch = T;
    p.n_ctx = T;
    CHECK_OK(seer_ctx_init(m, &p, &c, &err), &err);
    if (s) {
        seer_ctx_set_tap(c, on_tap, s);
        for (int pt = 0; pt < SEER_HP_COUNT; pt++) {
            if (!seer_hook_point_exists(seer_model_get_config(m)->arch, (seer_hook_point)pt)) {
                CHECK_FAILS(seer_ctx_tap_enable(c, (seer_hook_point)pt, -1, 1, &err), &err, "models have no");
                continue;
            }
            if (tap_all || pt == SEER_HP_ATTN_OUT) CHECK_OK(seer_ctx_tap_enable(c, (seer_hook_point)pt, -1, 1, &err), &err);
        }
        CHECK_FAILS(seer_ctx_tap_enable(c, SEER_HP_RESID_PRE, 99, 1, &err), &err, "out of range");
    }
    int32_t pos[64];
    uint8_t want[64];
    for (int i = 0; i < T; i++) pos[i] = i, want[i] = 1;
    seer_batch b = {.n = T, .tokens = toks, .pos = pos, .want_logits = want};
    CHECK_OK(seer_ctx_decode(c, &b, logits, &err), &err);
    seer_ctx_free(c);
}

static void check_arch(seer_model_config cfg, const char *name) {
    seer_err err;
    seer_model *m;
    CHECK_OK(seer_model_random(&cfg, 11, &m, &err), &err);
    if (!m) return;
    enum { T = 9 };
    int32_t toks[T];
    for (int i = 0; i < T; i++) toks[i] = (i * 7 + 3) % cfg.n_vocab;
    size_t nl = (size_t)T * (size_t)cfg.n_vocab;
    float *plain = malloc(nl * 4), *tapped = malloc(nl * 4), *ablated = malloc(nl * 4), *ref = malloc(nl * 4);
    run(m, NULL, 0, T, toks, plain);
    saved s;
    memset(&s, 0, sizeof(s));
    s.zero_attn_out_layer = -2;
    run(m, &s, 1, T, toks, tapped);
    char what[128];
    snprintf(what, sizeof(what), "%s: all taps on vs off", name);
    check_close(tapped, plain, nl, 1e-5f, what);
    int64_t d = cfg.d_model;
    /* residual identities */
    for (int l = 0; l < cfg.n_layers; l++) {
        float *pre = s.v[SEER_HP_RESID_PRE][l + 1], *mid = s.v[SEER_HP_RESID_MID][l + 1], *post = s.v[SEER_HP_RESID_POST][l + 1];
        float *ao = s.v[SEER_HP_ATTN_OUT][l + 1], *mo = s.v[SEER_HP_MLP_OUT][l + 1];
        float *sum = malloc((size_t)(T * d) * 4);
        for (int64_t i = 0; i < T * d; i++) sum[i] = pre[i] + ao[i];
        snprintf(what, sizeof(what), "%s L%d resid_mid = resid_pre + attn_out", name, l);
        check_close(mid, sum, (size_t)(T * d), 1e-5f, what);
        for (int64_t i = 0; i < T * d; i++) sum[i] = mid[i] + mo[i];
        snprintf(what, sizeof(what), "%s L%d resid_post = resid_mid + mlp_out", name, l);
        check_close(post, sum, (size_t)(T * d), 1e-5f, what);
        if (l + 1 < cfg.n_layers) {
            snprintf(what, sizeof(what), "%s L%d resid_post = next resid_pre", name, l);
            check_close(post, s.v[SEER_HP_RESID_PRE][l + 2], (size_t)(T * d), 0, what);
        }
        free(sum);
        /* pattern: softmax of scores over keys 0..pos, zero beyond; rows of n_heads * T */
        float *sc = s.v[SEER_HP_ATTN_SCORES][l + 1], *pt = s.v[SEER_HP_PATTERN][l + 1];
        CHECK(s.width[SEER_HP_PATTERN] == (int64_t)cfg.n_heads * T);
        int bad = 0;
        for (int i = 0; i < T; i++) {
            for (int h = 0; h < cfg.n_heads; h++) {
                const float *srow = sc + ((int64_t)i * cfg.n_heads + h) * T, *prow = pt + ((int64_t)i * cfg.n_heads + h) * T;
                double mx = -1e30, z = 0, tot = 0;
                for (int k = 0; k <= i; k++) mx = srow[k] > mx ? srow[k] : mx;
                for (int k = 0; k <= i; k++) z += exp(srow[k] - mx);
                for (int k = 0; k < T; k++) {
                    double want = k <= i ? exp(srow[k] - mx) / z : 0;
                    if (fabs(prow[k] - want) > 1e-5 || (k > i && !(isinf(srow[k]) && srow[k] < 0))) bad++;
                    tot += prow[k];
                }
                if (fabs(tot - 1) > 1e-5) bad++;
            }
        }
        CHECK_MSG(bad == 0, "%s L%d: %d pattern entries disagree with softmax(scores)", name, l, bad);
    }
    /* saved values against a hand computation from the weights (layer 1, every token) */
    {
        int l = 1, H = cfg.n_heads, KV = cfg.n_kv_heads, dh = cfg.d_head, hid = cfg.d_mlp, gpt2 = cfg.arch == SEER_ARCH_GPT2;
        int64_t kvd = (int64_t)KV * dh, qkv_w = gpt2 ? 3 * d : d;
        char nm[64];
        snprintf(nm, sizeof(nm), "blk.%d.attn_norm.weight", l);
        const float *g1 = seer_model_find_tensor(m, nm)->data;
        snprintf(nm, sizeof(nm), gpt2 ? "blk.%d.attn_qkv.weight" : "blk.%d.attn_q.weight", l);
        const float *wq = seer_model_find_tensor(m, nm)->data;
        snprintf(nm, sizeof(nm), "blk.%d.attn_qkv.bias", l);
        const seer_tensor *bq = seer_model_find_tensor(m, nm);
        float *pre = s.v[SEER_HP_RESID_PRE][l + 1], *ln1 = s.v[SEER_HP_LN1][l + 1], *q = s.v[SEER_HP_Q][l + 1];
        float *pat = s.v[SEER_HP_PATTERN][l + 1], *v = s.v[SEER_HP_V][l + 1], *z = s.v[SEER_HP_Z][l + 1];
        double worst_ln = 0, worst_q = 0, worst_z = 0, worst_mlp = 0;
        for (int t = 0; t < T; t++) {
            const float *x = pre + (int64_t)t * d;
            double mean = 0, var = 0;
            for (int i = 0; i < d; i++) mean += x[i];
            mean = gpt2 ? mean / d : 0;
            for (int i = 0; i < d; i++) var += (x[i] - mean) * (x[i] - mean);
            double inv = 1 / sqrt(var / d + cfg.norm_eps);
            for (int i = 0; i < d; i++) worst_ln = fmax(worst_ln, fabs((x[i] - mean) * inv * g1[i] - ln1[t * d + i]));
            for (int r = 0; r < d; r++) {
                double acc = bq ? ((const float *)bq->data)[r] : 0;
                for (int i = 0; i < d; i++) acc += (double)wq[(int64_t)r * d + i] * ln1[t * d + i];
                worst_q = fmax(worst_q, fabs(acc - q[t * d + r]));
            }
            /* z = pattern x v, per head (v rows before any edit, from the saved hook_v) */
            for (int h = 0; h < H; h++)
                for (int j = 0; j < dh; j++) {
                    double acc = 0;
                    for (int k = 0; k <= t; k++) acc += (double)pat[((int64_t)t * H + h) * T + k] * v[(int64_t)k * kvd + (h / (H / KV)) * dh + j];
                    worst_z = fmax(worst_z, fabs(acc - z[(int64_t)t * d + h * dh + j]));
                }
            /* MLP: post = silu(pre) * pre_linear (Llama) or gelu(pre) (GPT-2) */
            float *mp = s.v[SEER_HP_MLP_PRE][l + 1], *mpost = s.v[SEER_HP_MLP_POST][l + 1];
            for (int i = 0; i < hid; i++) {
                double a = mp[(int64_t)t * hid + i], want;
                if (gpt2) want = 0.5 * a * (1 + tanh(0.7978845608028654 * (a + 0.044715 * a * a * a)));
                else want = a / (1 + exp(-a)) * s.v[SEER_HP_MLP_PRE_LINEAR][l + 1][(int64_t)t * hid + i];
                worst_mlp = fmax(worst_mlp, fabs(want - mpost[(int64_t)t * hid + i]));
            }
        }
        (void)qkv_w;
        CHECK_MSG(worst_ln < 1e-5 && worst_q < 1e-5 && worst_z < 1e-5 && worst_mlp < 1e-5,
                  "%s hand computation: ln1 %g, q %g, z %g, mlp %g", name, worst_ln, worst_q, worst_z, worst_mlp);
    }
    /* ln_final and logits taps */
    snprintf(what, sizeof(what), "%s: logits tap = returned logits", name);
    check_close(s.v[SEER_HP_LOGITS][0], plain, nl, 1e-5f, what);
    CHECK(s.v[SEER_HP_LN_FINAL][0] != NULL && s.v[SEER_HP_EMBED][0] != NULL);
    if (cfg.arch == SEER_ARCH_GPT2) CHECK(s.v[SEER_HP_POS_EMBED][0] != NULL);

    /* zero-ablating layer 1's attention output == zeroing its output projection (and bias) */
    saved z;
    memset(&z, 0, sizeof(z));
    z.zero_attn_out_layer = 1;
    run(m, &z, 0, T, toks, ablated);
    char wo[64], bo[64];
    snprintf(wo, sizeof(wo), "blk.1.attn_output.weight");
    snprintf(bo, sizeof(bo), "blk.1.attn_output.bias");
    seer_tensor *w = (seer_tensor *)seer_model_find_tensor(m, wo), *bb = (seer_tensor *)seer_model_find_tensor(m, bo);
    memset(w->data, 0, w->nbytes);
    if (bb) memset(bb->data, 0, bb->nbytes);
    run(m, NULL, 0, T, toks, ref);
    snprintf(what, sizeof(what), "%s: zero-ablated attn_out vs zeroed projection", name);
    check_close(ablated, ref, nl, 1e-5f, what);
    float diff = 0;
    for (size_t i = 0; i < nl; i++) diff = fmaxf(diff, fabsf(ablated[i] - plain[i]));
    CHECK_MSG(diff > 1e-4f, "%s: ablation changed nothing (%g)", name, (double)diff);
    for (int p = 0; p < MAXP; p++)
        for (int l = 0; l <= MAXL; l++) free(s.v[p][l]), free(z.v[p][l]);
    free(plain), free(tapped), free(ablated), free(ref);
    seer_model_free(m);
}

int main(void) {
    seer_model_config llama = {.arch = SEER_ARCH_LLAMA, .n_vocab = 300, .d_model = 64, .n_layers = 3, .n_heads = 4,
                               .n_kv_heads = 2, .d_head = 16, .d_mlp = 96, .n_ctx = 64, .norm_eps = 1e-5f,
                               .rope_theta = 10000.0f, .tied_embeddings = 0};
    check_arch(llama, "llama");
    seer_model_config gpt2 = {.arch = SEER_ARCH_GPT2, .n_vocab = 100, .d_model = 64, .n_layers = 3, .n_heads = 4,
                              .n_kv_heads = 4, .d_head = 16, .d_mlp = 256, .n_ctx = 32, .norm_eps = 1e-5f,
                              .rope_theta = 10000.0f, .tied_embeddings = 1};
    check_arch(gpt2, "gpt2");
    return test_done("test_tap");
}
