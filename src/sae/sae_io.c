/* SAE files: SAELens (cfg.json + sae_weights.safetensors; v6 configs keep the hook under
 * "metadata", older ones are flat and may say "standard" + activation_fn "topk") and sparsify
 * (cfg.json + sae.safetensors with encoder.weight [d_sae, d_in]). Weights are copied as they
 * are, so a save and a load give back the same bits. */
#include "sae_internal.h"

#include <assert.h>
#include <cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "seer/safetensors.h"

static const char *const format_names[] = {"saelens", "sparsify", "gemmascope"};
static_assert(sizeof(format_names) / sizeof(format_names[0]) == SEER_SAE_FORMAT_COUNT, "format name table");

const char *seer_sae_format_name(seer_sae_format f) { return (unsigned)f < SEER_SAE_FORMAT_COUNT ? format_names[f] : "?"; }

int seer_sae_format_from_name(const char *name, seer_sae_format *out) {
    for (int i = 0; i < SEER_SAE_FORMAT_COUNT; i++)
        if (!strcmp(name, format_names[i])) {
            *out = (seer_sae_format)i;
            return 0;
        }
    return -1;
}

static const char *weights_file(seer_sae_format f) {
    return f == SEER_SAE_FORMAT_SAELENS ? "sae_weights.safetensors" : f == SEER_SAE_FORMAT_SPARSIFY ? "sae.safetensors" : "params.npz";
}

/* ---- writing ---- */

static char *config_json(const seer_sae *s, seer_sae_format fmt, seer_err *err) {
    const seer_sae_config *c = &s->cfg;
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    int transcoder = c->d_in != c->d_out || strcmp(c->hook_in, c->hook_out) != 0 || c->skip;
    if (fmt == SEER_SAE_FORMAT_SAELENS) {
        const char *arch = c->arch == SEER_SAE_RELU ? "standard"
                           : c->arch == SEER_SAE_TOPK ? "topk"
                                                      : "jumprelu"; /* BatchTopK infers as JumpReLU */
        cJSON_AddStringToObject(j, "architecture", arch);
        cJSON_AddNumberToObject(j, "d_in", (double)c->d_in);
        cJSON_AddNumberToObject(j, "d_sae", (double)c->d_sae);
        if (transcoder) cJSON_AddNumberToObject(j, "d_out", (double)c->d_out);
        cJSON_AddStringToObject(j, "dtype", "float32");
        cJSON_AddStringToObject(j, "device", "cpu");
        cJSON_AddBoolToObject(j, "apply_b_dec_to_input", c->apply_b_dec_to_input);
        cJSON_AddStringToObject(j, "normalize_activations", "none");
        cJSON_AddStringToObject(j, "reshape_activations", "none");
        if (c->arch == SEER_SAE_TOPK) cJSON_AddNumberToObject(j, "k", c->k);
        if (c->skip) cJSON_AddBoolToObject(j, "skip_connection", 1);
        cJSON *md = cJSON_AddObjectToObject(j, "metadata");
        if (md) {
            cJSON_AddStringToObject(md, "model_name", c->model_name);
            cJSON_AddStringToObject(md, "hook_name", c->hook_in);
            if (transcoder) cJSON_AddStringToObject(md, "hook_name_out", c->hook_out);
            cJSON_AddBoolToObject(md, "prepend_bos", 1);
            if (c->arch == SEER_SAE_BATCHTOPK) cJSON_AddStringToObject(md, "trained_architecture", "batchtopk");
        }
    } else {
        int64_t expansion = c->d_sae / c->d_in; /* SAELens stores an integer */
        cJSON_AddNumberToObject(j, "expansion_factor", (double)expansion);
        cJSON_AddBoolToObject(j, "normalize_decoder", 1);
        cJSON_AddNumberToObject(j, "num_latents", (double)c->d_sae);
        cJSON_AddNumberToObject(j, "k", c->k);
        cJSON_AddBoolToObject(j, "multi_topk", 0);
        cJSON_AddBoolToObject(j, "skip_connection", c->skip);
        cJSON_AddBoolToObject(j, "transcode", transcoder);
        cJSON_AddNumberToObject(j, "d_in", (double)c->d_in);
        cJSON_AddStringToObject(j, "hook_name", c->hook_in);
        if (transcoder) cJSON_AddStringToObject(j, "hook_name_out", c->hook_out);
        cJSON_AddStringToObject(j, "model_name", c->model_name);
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory writing cfg.json");
    return text;
}

seer_status seer_sae_save(const seer_sae *s, seer_sae_format fmt, const char *dir, seer_err *err) {
    const seer_sae_config *c = &s->cfg;
    if ((unsigned)fmt >= SEER_SAE_FORMAT_COUNT) return seer_err_set(err, SEER_ERR_INVALID, "sae: format %d unknown", (int)fmt);
    if (fmt == SEER_SAE_FORMAT_GEMMASCOPE)
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "sae: Gemma Scope params.npz is read only (save as saelens)");
    if (fmt == SEER_SAE_FORMAT_SPARSIFY && (c->arch != SEER_SAE_TOPK || c->d_in != c->d_out))
        return seer_err_set(err, SEER_ERR_UNSUPPORTED,
                            "sae: sparsify files hold TopK SAEs with d_in == d_out; this one is %s with d_in %lld, d_out %lld "
                            "(save it as saelens)",
                            seer_sae_arch_name(c->arch), (long long)c->d_in, (long long)c->d_out);
    /* sparsify records no apply_b_dec_to_input: its SAEs subtract b_dec, its transcoders do not */
    int transcoder = c->d_in != c->d_out || strcmp(c->hook_in, c->hook_out) != 0 || c->skip;
    if (fmt == SEER_SAE_FORMAT_SPARSIFY && (c->apply_b_dec_to_input != 0) == transcoder)
        return seer_err_set(err, SEER_ERR_UNSUPPORTED,
                            "sae: sparsify files subtract b_dec from the input exactly when they are not transcoders; this %s "
                            "%s it (save it as saelens)",
                            transcoder ? "transcoder" : "SAE", c->apply_b_dec_to_input ? "does" : "does not");
    if (mkdir(dir, 0755) && errno != EEXIST)
        return seer_err_set(err, SEER_ERR_IO, "sae: cannot create folder %s: %s", dir, strerror(errno));
    seer_status st = SEER_OK;
    char *cfg_path = seer_path_join(dir, "cfg.json"), *w_path = seer_path_join(dir, weights_file(fmt));
    char *text = config_json(s, fmt, err);
    float *encT = NULL;
    seer_st_writer *w = seer_st_writer_init();
    if (!cfg_path || !w_path || !text || !w) {
        st = text ? seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory") : SEER_ERR_NOMEM;
        goto out;
    }
    int64_t di = c->d_in, dl = c->d_sae, dout = c->d_out;
    int64_t sh_enc[2] = {di, dl}, sh_dec[2] = {dl, dout}, sh_l[1] = {dl}, sh_o[1] = {dout}, sh_skip[2] = {dout, di};
    if (fmt == SEER_SAE_FORMAT_SAELENS) {
        seer_st_writer_add(w, "W_enc", SEER_DTYPE_F32, 2, sh_enc, s->W_enc);
        seer_st_writer_add(w, "W_dec", SEER_DTYPE_F32, 2, sh_dec, s->W_dec);
        seer_st_writer_add(w, "b_enc", SEER_DTYPE_F32, 1, sh_l, s->b_enc);
        seer_st_writer_add(w, "b_dec", SEER_DTYPE_F32, 1, sh_o, s->b_dec);
        if (s->threshold) seer_st_writer_add(w, "threshold", SEER_DTYPE_F32, 1, sh_l, s->threshold);
    } else {
        if (!(encT = malloc((size_t)(di * dl) * sizeof(float)))) {
            st = seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory");
            goto out;
        }
        for (int64_t i = 0; i < di; i++)
            for (int64_t j = 0; j < dl; j++) encT[j * di + i] = s->W_enc[i * dl + j];
        int64_t sh_encT[2] = {dl, di};
        seer_st_writer_add(w, "encoder.weight", SEER_DTYPE_F32, 2, sh_encT, encT);
        seer_st_writer_add(w, "encoder.bias", SEER_DTYPE_F32, 1, sh_l, s->b_enc);
        seer_st_writer_add(w, "W_dec", SEER_DTYPE_F32, 2, sh_dec, s->W_dec);
        seer_st_writer_add(w, "b_dec", SEER_DTYPE_F32, 1, sh_o, s->b_dec);
    }
    if (s->W_skip) seer_st_writer_add(w, "W_skip", SEER_DTYPE_F32, 2, sh_skip, s->W_skip);
    if ((st = seer_st_writer_write(w, w_path, err))) goto out;
    st = seer_write_file_atomic(cfg_path, text, strlen(text), err);
out:
    seer_st_writer_free(w);
    free(encT), free(text), free(cfg_path), free(w_path);
    return st;
}

/* ---- reading ---- */

static seer_status json_int(const cJSON *o, const char *key, int required, int64_t *out, seer_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (required) return seer_err_set(err, SEER_ERR_FORMAT, "sae: cfg.json: '%s' missing", key);
        return SEER_OK;
    }
    /* range first: converting a double outside int64's range is undefined */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1e12) ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
        return seer_err_set(err, SEER_ERR_FORMAT, "sae: cfg.json: '%s' is not a non-negative integer", key);
    *out = (int64_t)v->valuedouble;
    return SEER_OK;
}

static int json_bool(const cJSON *o, const char *key, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static const char *json_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static seer_status copy_name(char *dst, size_t cap, const char *src, const char *what, seer_err *err) {
    if (!src) return SEER_OK;
    if (strlen(src) >= cap) return seer_err_set(err, SEER_ERR_FORMAT, "sae: cfg.json: %s longer than %zu bytes", what, cap - 1);
    memcpy(dst, src, strlen(src) + 1); /* fits: checked above */
    return SEER_OK;
}

static seer_status parse_saelens(const cJSON *j, seer_sae_config *c, seer_err *err) {
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(j, "metadata");
    const cJSON *src = cJSON_IsObject(md) ? md : j; /* v6 nests hook and model names */
    const char *arch = json_str(j, "architecture");
    const char *act = json_str(j, "activation_fn_str");
    if (!act) act = json_str(j, "activation_fn");
    const cJSON *kw = cJSON_GetObjectItemCaseSensitive(j, "activation_fn_kwargs");
    seer_status st;
    int64_t k = 0;
    if (!arch || !strcmp(arch, "standard")) c->arch = act && !strcmp(act, "topk") ? SEER_SAE_TOPK : SEER_SAE_RELU;
    else if (!strcmp(arch, "topk")) c->arch = SEER_SAE_TOPK;
    else if (!strcmp(arch, "jumprelu")) c->arch = SEER_SAE_JUMPRELU;
    else if (!strcmp(arch, "batchtopk")) c->arch = SEER_SAE_BATCHTOPK;
    else return seer_err_set(err, SEER_ERR_UNSUPPORTED, "sae: cfg.json: architecture '%s' is not supported (topk, standard, jumprelu)", arch);
    if (c->arch == SEER_SAE_TOPK || c->arch == SEER_SAE_BATCHTOPK) {
        if ((st = json_int(j, "k", 0, &k, err))) return st;
        if (!k && cJSON_IsObject(kw) && (st = json_int(kw, "k", 0, &k, err))) return st;
        if (!k) return seer_err_set(err, SEER_ERR_FORMAT, "sae: cfg.json: a %s SAE needs 'k'", seer_sae_arch_name(c->arch));
        if (k > INT32_MAX) return seer_err_set(err, SEER_ERR_FORMAT, "sae: cfg.json: k %lld too large", (long long)k);
        c->k = (int32_t)k;
    }
    if ((st = json_int(j, "d_in", 1, &c->d_in, err)) || (st = json_int(j, "d_sae", 1, &c->d_sae, err))) return st;
    c->d_out = c->d_in;
    if ((st = json_int(j, "d_out", 0, &c->d_out, err))) return st;
    c->apply_b_dec_to_input = json_bool(j, "apply_b_dec_to_input", 1);
    c->skip = json_bool(j, "skip_connection", 0);
    const char *norm = json_str(j, "normalize_activations");
    if (norm && strcmp(norm, "none") != 0)
        return seer_err_set(err, SEER_ERR_UNSUPPORTED,
                            "sae: cfg.json: normalize_activations '%s' needs a scale the file does not hold (fold it into the weights)",
                            norm);
    if ((st = copy_name(c->hook_in, sizeof(c->hook_in), json_str(src, "hook_name"), "hook_name", err))) return st;
    const char *out = json_str(src, "hook_name_out");
    if ((st = copy_name(c->hook_out, sizeof(c->hook_out), out ? out : c->hook_in, "hook_name_out", err))) return st;
    return copy_name(c->model_name, sizeof(c->model_name), json_str(src, "model_name"), "model_name", err);
}

static seer_status parse_sparsify(const cJSON *j, const seer_st *w, seer_sae_config *c, seer_err *err) {
    seer_status st;
    int64_t k = 0, nl = 0, ef = 0;
    c->arch = SEER_SAE_TOPK;
    if ((st = json_int(j, "k", 1, &k, err)) || (st = json_int(j, "num_latents", 0, &nl, err)) ||
        (st = json_int(j, "expansion_factor", 0, &ef, err)) || (st = json_int(j, "d_in", 0, &c->d_in, err)))
        return st;
    if (json_bool(j, "multi_topk", 0))
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "sae: cfg.json: multi_topk is not supported");
    /* Older sparsify configs leave d_in to the caller: take it from the encoder. */
    const seer_tensor *enc = seer_st_find(w, "encoder.weight");
    if (!c->d_in && enc && enc->n_dims == 2) c->d_in = enc->shape[1];
    if (!c->d_in) return seer_err_set(err, SEER_ERR_FORMAT, "sae: cfg.json: 'd_in' missing and no encoder.weight to read it from");
    if (!nl && ef && c->d_in > INT64_MAX / ef)
        return seer_err_set(err, SEER_ERR_FORMAT, "sae: cfg.json: expansion_factor %lld x d_in %lld overflows", (long long)ef,
                            (long long)c->d_in);
    c->d_sae = nl ? nl : ef * c->d_in;
    if (k > INT32_MAX) return seer_err_set(err, SEER_ERR_FORMAT, "sae: cfg.json: k %lld too large", (long long)k);
    c->k = (int32_t)k;
    c->d_out = c->d_in;
    c->skip = json_bool(j, "skip_connection", 0);
    c->apply_b_dec_to_input = !json_bool(j, "transcode", 0);
    if ((st = copy_name(c->hook_in, sizeof(c->hook_in), json_str(j, "hook_name"), "hook_name", err))) return st;
    const char *out = json_str(j, "hook_name_out");
    if ((st = copy_name(c->hook_out, sizeof(c->hook_out), out ? out : c->hook_in, "hook_name_out", err))) return st;
    return copy_name(c->model_name, sizeof(c->model_name), json_str(j, "model_name"), "model_name", err);
}

/* Tensor `name` is present with shape [a], or [a, b] when b is not 0. */
static seer_status check_shape(const seer_st *w, const char *name, int64_t a, int64_t b, seer_err *err) {
    const seer_tensor *t = seer_st_find(w, name);
    char got[96];
    if (!t) return seer_err_set(err, SEER_ERR_FORMAT, "sae: weights: tensor '%s' missing", name);
    int nd = b ? 2 : 1;
    if (t->n_dims == nd && t->shape[0] == a && (!b || t->shape[1] == b)) return SEER_OK;
    if (b)
        return seer_err_set(err, SEER_ERR_FORMAT, "sae: weights: tensor '%s' has shape %s, expected [%lld, %lld] from cfg.json",
                            name, seer_shape_str(t->shape, t->n_dims, got, sizeof(got)), (long long)a, (long long)b);
    return seer_err_set(err, SEER_ERR_FORMAT, "sae: weights: tensor '%s' has shape %s, expected [%lld] from cfg.json", name,
                        seer_shape_str(t->shape, t->n_dims, got, sizeof(got)), (long long)a);
}

/* Copies tensor `name` (shape already checked: [a] or [a, b]) as f32 into dst; transpose
 * swaps. */
static seer_status take(const seer_st *w, const char *name, int64_t a, int64_t b, int transpose, float *dst, seer_err *err) {
    const seer_tensor *t = seer_st_find(w, name);
    int64_t n = a * (b ? b : 1);
    float *tmp = NULL;
    const float *src;
    if (t->type == SEER_DTYPE_F32) {
        if (!transpose) {
            memcpy(dst, t->data, (size_t)n * sizeof(float));
            return SEER_OK;
        }
        if (!(tmp = malloc((size_t)n * sizeof(float)))) return seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory");
        memcpy(tmp, t->data, (size_t)n * sizeof(float));
    } else {
        if (!(tmp = malloc((size_t)(n > 0 ? n : 1) * sizeof(float)))) return seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory");
        seer_status st = seer_convert_to_f32(t->type, t->data, tmp, n, err); /* reads unaligned views safely */
        if (st) {
            free(tmp);
            return seer_err_wrap(err, "sae: weights: tensor '%s': ", name);
        }
    }
    src = tmp;
    if (transpose)
        for (int64_t i = 0; i < a; i++)
            for (int64_t j = 0; j < b; j++) dst[j * a + i] = src[i * b + j];
    else memcpy(dst, src, (size_t)n * sizeof(float));
    free(tmp);
    return SEER_OK;
}

/* The tensors a config calls for in a format, with their shapes in the file; dst points into
 * s (NULL before the weights exist). Returns the count. */
typedef struct weight_spec {
    const char *name;
    int64_t a, b; /* [a] or [a, b] */
    int transpose;
    float *dst;
} weight_spec;

static int weight_specs(const seer_sae_config *c, seer_sae_format fmt, const seer_sae *s, weight_spec out[6]) {
    int64_t di = c->d_in, dl = c->d_sae, dout = c->d_out;
    int n = 0;
    if (fmt == SEER_SAE_FORMAT_SAELENS) {
        out[n++] = (weight_spec){"W_enc", di, dl, 0, s ? s->W_enc : NULL};
        out[n++] = (weight_spec){"b_enc", dl, 0, 0, s ? s->b_enc : NULL};
    } else {
        out[n++] = (weight_spec){"encoder.weight", dl, di, 1, s ? s->W_enc : NULL};
        out[n++] = (weight_spec){"encoder.bias", dl, 0, 0, s ? s->b_enc : NULL};
    }
    out[n++] = (weight_spec){"W_dec", dl, dout, 0, s ? s->W_dec : NULL};
    out[n++] = (weight_spec){"b_dec", dout, 0, 0, s ? s->b_dec : NULL};
    if (fmt == SEER_SAE_FORMAT_SAELENS && c->arch == SEER_SAE_JUMPRELU)
        out[n++] = (weight_spec){"threshold", dl, 0, 0, s ? s->threshold : NULL};
    if (c->skip) out[n++] = (weight_spec){"W_skip", dout, di, 0, s ? s->W_skip : NULL};
    return n;
}

seer_status seer_sae_load_buffers(seer_sae_format fmt, const char *cfg_json, size_t cfg_len, const void *stbuf, size_t st_len,
                                  seer_sae **out, seer_err *err) {
    *out = NULL;
    if (fmt != SEER_SAE_FORMAT_SAELENS && fmt != SEER_SAE_FORMAT_SPARSIFY)
        return seer_err_set(err, SEER_ERR_INVALID, "sae: cfg.json + safetensors is the SAELens or sparsify layout, not %s",
                            seer_sae_format_name(fmt));
    cJSON *j = cJSON_ParseWithLength(cfg_json, cfg_len);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return seer_err_set(err, SEER_ERR_FORMAT, "sae: cfg.json is not a JSON object");
    }
    seer_st *w = NULL;
    seer_sae_config c = {0};
    weight_spec specs[6];
    seer_status st = seer_st_open_buffer(stbuf, st_len, &w, err);
    if (st) {
        seer_err_wrap(err, "sae: weights: ");
        goto out;
    }
    st = fmt == SEER_SAE_FORMAT_SAELENS ? parse_saelens(j, &c, err) : parse_sparsify(j, w, &c, err);
    if (st) goto out;
    if ((st = seer_sae_config_check(&c, err))) {
        seer_err_wrap(err, "cfg.json: ");
        goto out;
    }
    /* A JumpReLU file must carry thresholds; a TopK one may too (ignored). */
    if (c.arch == SEER_SAE_BATCHTOPK) c.arch = SEER_SAE_JUMPRELU;
    if (c.skip == 0 && seer_st_find(w, "W_skip")) c.skip = 1;
    /* Every shape is checked before the weights are allocated: cfg.json's sizes are only a
     * claim, while tensors that match them are bounded by the file. */
    int n = weight_specs(&c, fmt, NULL, specs);
    for (int i = 0; i < n; i++)
        if ((st = check_shape(w, specs[i].name, specs[i].a, specs[i].b, err))) goto out;
    if ((st = seer_sae_init(&c, out, err))) goto out;
    weight_specs(&c, fmt, *out, specs);
    for (int i = 0; i < n; i++)
        if ((st = take(w, specs[i].name, specs[i].a, specs[i].b, specs[i].transpose, specs[i].dst, err))) {
            seer_sae_free(*out);
            *out = NULL;
            goto out;
        }
out:
    seer_st_free(w);
    cJSON_Delete(j);
    return st;
}

seer_status seer_sae_load(const char *dir, seer_sae **out, seer_sae_format *fmt_out, seer_err *err) {
    *out = NULL;
    size_t dl = strlen(dir);
    if (!seer_path_is_dir(dir) && dl > 4 && !strcmp(dir + dl - 4, ".npz")) {
        if (fmt_out) *fmt_out = SEER_SAE_FORMAT_GEMMASCOPE;
        return seer_sae_load_npz(dir, out, err);
    }
    seer_sae_format fmt = SEER_SAE_FORMAT_COUNT;
    char *cfg_path = seer_path_join(dir, "cfg.json"), *w_path = NULL;
    seer_status st = SEER_OK;
    if (!cfg_path) return seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory");
    for (int f = 0; f < SEER_SAE_FORMAT_COUNT && fmt == SEER_SAE_FORMAT_COUNT; f++) {
        free(w_path);
        if (!(w_path = seer_path_join(dir, weights_file((seer_sae_format)f)))) break;
        if (seer_path_exists(w_path)) fmt = (seer_sae_format)f;
    }
    if (fmt == SEER_SAE_FORMAT_COUNT) {
        st = seer_err_set(err, SEER_ERR_IO,
                          "sae: %s holds none of sae_weights.safetensors (SAELens), sae.safetensors (sparsify) and params.npz "
                          "(Gemma Scope)",
                          dir);
        goto out;
    }
    if (fmt == SEER_SAE_FORMAT_GEMMASCOPE) {
        st = seer_sae_load_npz(w_path, out, err);
        if (fmt_out && !st) *fmt_out = fmt;
        goto out;
    }
    char *text = NULL;
    size_t len = 0;
    seer_map m = {0};
    if ((st = seer_read_file(cfg_path, &text, &len, err))) goto out;
    if ((st = seer_map_open(w_path, &m, err))) {
        free(text);
        goto out;
    }
    st = seer_sae_load_buffers(fmt, text, len, m.data, m.size, out, err);
    if (st) seer_err_wrap(err, "%s: ", dir);
    seer_map_close(&m);
    free(text);
    if (fmt_out) *fmt_out = fmt;
out:
    free(cfg_path), free(w_path);
    return st;
}
