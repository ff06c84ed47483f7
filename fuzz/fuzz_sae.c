/* Fuzzes SAE loading from memory. The first byte picks the reader: 0 (mod 3) SAELens and 1
 * sparsify, each taking cfg.json, a NUL byte, then the safetensors image; 2 Gemma Scope's
 * params.npz (a zip of .npy arrays) as the rest of the input. A loaded SAE has weights of the
 * sizes its config says (every array touched at both ends), encodes and decodes a few rows
 * (codes non-negative, TopK keeping at most k, the graph codec's decoder agreeing with the
 * forward pass) and survives a save and a reload bit for bit in every format that takes it. */
#include "fuzz.h"

#include <math.h>

#include "seer/sae.h"
#include "seer/sae_hook.h"

static char fuzz_sae_dir[64];

static void fuzz_sae_cleanup(void) {
    if (fuzz_sae_dir[0]) fuzz_rm_tree(fuzz_sae_dir);
    fuzz_sae_dir[0] = 0;
}

static void fuzz_sae_check_weights(const seer_sae *s) {
    const seer_sae_config *c = &s->cfg;
    seer_err err;
    FUZZ_CHECK(seer_sae_config_check(c, &err) == SEER_OK);
    FUZZ_CHECK(c->arch != SEER_SAE_BATCHTOPK); /* read as JumpReLU with its threshold */
    FUZZ_CHECK(s->W_enc && s->b_enc && s->W_dec && s->b_dec);
    FUZZ_CHECK((s->threshold != NULL) == (c->arch == SEER_SAE_JUMPRELU));
    FUZZ_CHECK((s->W_skip != NULL) == (c->skip != 0));
    FUZZ_CHECK(strlen(c->hook_in) < sizeof(c->hook_in) && strlen(c->hook_out) < sizeof(c->hook_out));
    FUZZ_CHECK(strlen(c->model_name) < sizeof(c->model_name));
    size_t f = sizeof(float);
    fuzz_touch(s->W_enc, (size_t)(c->d_in * c->d_sae) * f);
    fuzz_touch(s->b_enc, (size_t)c->d_sae * f);
    fuzz_touch(s->W_dec, (size_t)(c->d_sae * c->d_out) * f);
    fuzz_touch(s->b_dec, (size_t)c->d_out * f);
    if (s->threshold) fuzz_touch(s->threshold, (size_t)c->d_sae * f);
    if (s->W_skip) fuzz_touch(s->W_skip, (size_t)(c->d_out * c->d_in) * f);
}

/* Encodes and runs N rows; the weights are bounded by the input's size, so this is cheap. */
static void fuzz_sae_run(seer_sae *s) {
    enum { N = 3 };
    const seer_sae_config *c = &s->cfg;
    float *x = malloc((size_t)(N * c->d_in) * sizeof(float));
    float *z = malloc((size_t)(N * c->d_sae) * sizeof(float));
    float *out = malloc((size_t)(N * c->d_out) * sizeof(float));
    float *y = malloc((size_t)(N * c->d_out) * sizeof(float));
    if (!x || !z || !out || !y) abort();
    for (int64_t i = 0; i < N * c->d_in; i++) x[i] = (float)((i * 7919) % 17 - 8) * 0.25f;
    seer_err err;
    FUZZ_CHECK(seer_sae_encode(s, x, N, z, &err) == SEER_OK);
    for (int64_t r = 0; r < N; r++) {
        int64_t nz = 0;
        for (int64_t j = 0; j < c->d_sae; j++) {
            float v = z[r * c->d_sae + j];
            FUZZ_CHECK(v >= 0); /* kept only when positive (so never NaN) */
            nz += v != 0;
        }
        FUZZ_CHECK(c->arch != SEER_SAE_TOPK || nz <= c->k);
    }
    FUZZ_CHECK(seer_sae_forward(s, x, N, out, &err) == SEER_OK);
    fuzz_touch(out, (size_t)(N * c->d_out) * sizeof(float));
    /* The graph's sae operation decodes through the codec: without a skip connection it is the
     * forward pass's decoder (summed in another order, so within rounding). */
    const seer_hook_codec *codec = seer_sae_hook_codec();
    FUZZ_CHECK(codec->encode(s, x, N, z, &err) == SEER_OK);
    codec->decode(s, z, N, y);
    if (!c->skip) {
        for (int64_t r = 0; r < N; r++)
            for (int64_t t = 0; t < c->d_out; t++) {
                double a = y[r * c->d_out + t], b = out[r * c->d_out + t], mag = fabs((double)s->b_dec[t]);
                for (int64_t j = 0; j < c->d_sae; j++) mag += fabs((double)z[r * c->d_sae + j] * s->W_dec[j * c->d_out + t]);
                if (!isfinite(mag) || mag > 1e30) continue; /* non-finite weights, or sums that overflow */
                if (fabs(a - b) > 1e-5 * mag + 1e-30)
                    fprintf(stderr, "codec decode %g vs forward %g (row %lld, column %lld)\n", a, b, (long long)r, (long long)t);
                FUZZ_CHECK(fabs(a - b) <= 1e-5 * mag + 1e-30);
            }
    }
    free(x), free(z), free(out), free(y);
}

static int fuzz_sae_same(const seer_sae *a, const seer_sae *b) {
    const seer_sae_config *x = &a->cfg, *y = &b->cfg;
    if (x->arch != y->arch || x->d_in != y->d_in || x->d_sae != y->d_sae || x->d_out != y->d_out ||
        x->skip != y->skip || x->apply_b_dec_to_input != y->apply_b_dec_to_input || strcmp(x->hook_in, y->hook_in) ||
        strcmp(x->hook_out, y->hook_out) || strcmp(x->model_name, y->model_name) ||
        (x->arch == SEER_SAE_TOPK && x->k != y->k))
        return 0;
    size_t f = sizeof(float), de = (size_t)(x->d_in * x->d_sae) * f, dd = (size_t)(x->d_sae * x->d_out) * f;
    return !memcmp(a->W_enc, b->W_enc, de) && !memcmp(a->W_dec, b->W_dec, dd) &&
           !memcmp(a->b_enc, b->b_enc, (size_t)x->d_sae * f) && !memcmp(a->b_dec, b->b_dec, (size_t)x->d_out * f) &&
           (!a->threshold || !memcmp(a->threshold, b->threshold, (size_t)x->d_sae * f)) &&
           (!a->W_skip || !memcmp(a->W_skip, b->W_skip, (size_t)(x->d_out * x->d_in) * f));
}

/* Saves in each writable format and reads it back: the same SAE, or a refusal with a message. */
static void fuzz_sae_roundtrip(const seer_sae *s) {
    if (!fuzz_sae_dir[0]) {
        fuzz_private_dir(fuzz_sae_dir, sizeof(fuzz_sae_dir), "sae");
        atexit(fuzz_sae_cleanup);
    }
    static const seer_sae_format fmts[] = {SEER_SAE_FORMAT_SAELENS, SEER_SAE_FORMAT_SPARSIFY};
    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        char dir[128];
        snprintf(dir, sizeof(dir), "%s/%s", fuzz_sae_dir, seer_sae_format_name(fmts[i]));
        seer_err err;
        seer_status st = seer_sae_save(s, fmts[i], dir, &err);
        if (st != SEER_OK) {
            FUZZ_CHECK_ERR(st, err);
            FUZZ_CHECK(fmts[i] != SEER_SAE_FORMAT_SAELENS); /* SAELens holds every SAE seer reads */
            continue;
        }
        seer_sae *t = NULL;
        seer_sae_format got = SEER_SAE_FORMAT_COUNT;
        st = seer_sae_load(dir, &t, &got, &err);
        if (st != SEER_OK) fprintf(stderr, "saved %s does not load: %s\n", seer_sae_format_name(fmts[i]), err.msg);
        FUZZ_CHECK(st == SEER_OK && got == fmts[i]);
        if (!fuzz_sae_same(s, t)) fprintf(stderr, "%s round trip differs\n", seer_sae_format_name(fmts[i]));
        FUZZ_CHECK(fuzz_sae_same(s, t));
        seer_sae_free(t);
        fuzz_rm_tree(dir);
    }
}

static void fuzz_sae_one(const uint8_t *data, size_t size) {
    if (size == 0) return;
    int mode = data[0] % 3;
    data++, size--;
    seer_sae *s = NULL;
    seer_err err;
    seer_status st;
    if (mode == 2) {
        st = seer_sae_load_npz_buffer(data, size, &s, &err);
    } else {
        const uint8_t *nul = memchr(data, 0, size);
        size_t clen = nul ? (size_t)(nul - data) : size;
        const uint8_t *w = nul ? nul + 1 : data + size;
        seer_sae_format fmt = mode == 0 ? SEER_SAE_FORMAT_SAELENS : SEER_SAE_FORMAT_SPARSIFY;
        st = seer_sae_load_buffers(fmt, (const char *)data, clen, w, (size_t)(data + size - w), &s, &err);
    }
    if (st != SEER_OK) {
        FUZZ_CHECK_ERR(st, err);
        FUZZ_CHECK(s == NULL);
        return;
    }
    FUZZ_CHECK(s != NULL);
    fuzz_sae_check_weights(s);
    fuzz_sae_run(s);
    fuzz_sae_roundtrip(s);
    seer_sae_free(s);
}

FUZZ_ENTRY(fuzz_sae_one)
