/* The SAE codec for intervention graphs: opens an SAE folder for a hook, checks that it reads
 * and writes that hook, encodes with the SAE's own activation and decodes sparsely (only the
 * decoder rows of latents that are non-zero). */
#include "seer/sae.h"
#include "seer/sae_hook.h"

#include <string.h>

static seer_status codec_open(const char *path, const seer_model *m, const char *hook, int64_t width, void **state,
                              int64_t *n_latents, seer_err *err) {
    (void)m;
    seer_sae *s = NULL;
    seer_status st = seer_sae_load(path, &s, NULL, err);
    if (st) return st;
    const seer_sae_config *c = &s->cfg;
    if (c->skip || c->d_out != c->d_in || (c->hook_out[0] && strcmp(c->hook_out, c->hook_in) != 0))
        st = seer_err_set(err, SEER_ERR_INVALID, "sae %s is a transcoder (%s -> %s); the sae operation needs an SAE that "
                          "reconstructs the hook it reads", path, c->hook_in, c->hook_out[0] ? c->hook_out : "?");
    else if (c->hook_in[0] && strcmp(c->hook_in, hook) != 0)
        st = seer_err_set(err, SEER_ERR_INVALID, "sae %s was trained on %s, not %s", path, c->hook_in, hook);
    else if (c->d_in != width)
        st = seer_err_set(err, SEER_ERR_INVALID, "sae %s reads %lld values per row but %s rows hold %lld", path,
                          (long long)c->d_in, hook, (long long)width);
    if (st) {
        seer_sae_free(s);
        return st;
    }
    *state = s;
    *n_latents = c->d_sae;
    return SEER_OK;
}

static void codec_close(void *state) { seer_sae_free(state); }

static seer_status codec_encode(void *state, const float *x, int64_t n, float *z, seer_err *err) {
    return seer_sae_encode(state, x, n, z, err);
}

/* y = z · W_dec + b_dec, visiting only the latents that fired (TopK leaves k of thousands). */
static void codec_decode(void *state, const float *z, int64_t n, float *y) {
    const seer_sae *s = state;
    int64_t L = s->cfg.d_sae, D = s->cfg.d_out;
    for (int64_t i = 0; i < n; i++) {
        float *yi = y + i * D;
        memcpy(yi, s->b_dec, (size_t)D * sizeof(float));
        const float *zi = z + i * L;
        for (int64_t j = 0; j < L; j++) {
            if (zi[j] == 0.0f) continue;
            const float *w = s->W_dec + j * D;
            float a = zi[j];
            for (int64_t t = 0; t < D; t++) yi[t] += a * w[t];
        }
    }
}

static const seer_hook_codec sae_codec = {
    .open = codec_open,
    .close = codec_close,
    .encode = codec_encode,
    .decode = codec_decode,
};

const seer_hook_codec *seer_sae_hook_codec(void) { return &sae_codec; }
