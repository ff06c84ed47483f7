/* Gemma Scope's params.npz: a zip (read with libzip) of .npy arrays W_enc [d_in, d_sae],
 * W_dec [d_sae, d_out], b_enc [d_sae], b_dec [d_out] and threshold [d_sae], making a JumpReLU
 * SAE that does not subtract b_dec before encoding (Gemma Scope encodes x·W_enc + b_enc).
 * The file holds no hook or model name: the caller fills those in. */
#include "sae_internal.h"

#include <stdlib.h>
#include <string.h>
#include <zip.h>

/* Largest member read into memory: Gemma Scope's widest SAEs (1M latents x 4608) are 18 GB as
 * f32 in total, but one member above this is more likely a zip bomb than a real array. */
#define NPZ_MAX_MEMBER ((zip_uint64_t)1 << 36)

enum { A_W_ENC = 0, A_W_DEC, A_B_ENC, A_B_DEC, A_THRESHOLD, A_COUNT };
static const char *const array_names[A_COUNT] = {"W_enc", "W_dec", "b_enc", "b_dec", "threshold"};

/* Reads member `name`.npy whole into a malloc'd buffer; archive_len bounds what the member's
 * header may claim. */
static seer_status read_member(zip_t *za, size_t archive_len, const char *name, void **out, size_t *len, seer_err *err) {
    char file[32];
    snprintf(file, sizeof(file), "%s.npy", name);
    *out = NULL, *len = 0;
    zip_int64_t idx = zip_name_locate(za, file, 0);
    if (idx < 0) return seer_err_set(err, SEER_ERR_FORMAT, "npz: member '%s' missing", file);
    zip_stat_t zs;
    zip_stat_init(&zs);
    if (zip_stat_index(za, (zip_uint64_t)idx, 0, &zs) || !(zs.valid & ZIP_STAT_SIZE))
        return seer_err_set(err, SEER_ERR_FORMAT, "npz: member '%s': %s", file, zip_strerror(za));
    if (zs.size > NPZ_MAX_MEMBER || zs.size > SIZE_MAX)
        return seer_err_set(err, SEER_ERR_FORMAT, "npz: member '%s' claims %llu bytes, over the limit of %llu", file,
                            (unsigned long long)zs.size, (unsigned long long)NPZ_MAX_MEMBER);
    /* The sizes are claims of the member's header: its compressed bytes lie inside the archive
     * (so a stored member is no larger than the archive), checked before anything is sized from
     * them. */
    if (!(zs.valid & ZIP_STAT_COMP_SIZE) || zs.comp_size > archive_len)
        return seer_err_set(err, SEER_ERR_FORMAT, "npz: member '%s' claims %llu compressed bytes in a %zu-byte archive", file,
                            (unsigned long long)zs.comp_size, archive_len);
    /* Weights do not deflate 100-fold beyond a megabyte; a member that claims to is a zip bomb. */
    if (zs.size > 100 * zs.comp_size + (1u << 20))
        return seer_err_set(err, SEER_ERR_FORMAT, "npz: member '%s' claims %llu bytes from %llu compressed: refused", file,
                            (unsigned long long)zs.size, (unsigned long long)zs.comp_size);
    void *buf = malloc(zs.size ? (size_t)zs.size : 1);
    if (!buf)
        return seer_err_set(err, SEER_ERR_NOMEM, "npz: out of memory for member '%s' (%llu bytes)", file,
                            (unsigned long long)zs.size);
    zip_file_t *zf = zip_fopen_index(za, (zip_uint64_t)idx, 0);
    if (!zf) {
        free(buf);
        return seer_err_set(err, SEER_ERR_FORMAT, "npz: member '%s': %s", file, zip_strerror(za));
    }
    /* libzip checks the CRC once the whole member has been read. */
    zip_int64_t got = zip_fread(zf, buf, zs.size);
    char one;
    int bad = got < 0 || (zip_uint64_t)got != zs.size || zip_fread(zf, &one, 1) != 0;
    seer_status st = SEER_OK;
    if (bad) {
        zip_error_t *ze = zip_file_get_error(zf);
        st = seer_err_set(err, SEER_ERR_FORMAT, "npz: member '%s': %s (read %lld of %llu bytes)", file,
                          zip_error_code_zip(ze) != ZIP_ER_OK ? zip_error_strerror(ze) : "truncated", (long long)got,
                          (unsigned long long)zs.size);
    }
    zip_fclose(zf);
    if (st) {
        free(buf);
        return st;
    }
    *out = buf, *len = (size_t)zs.size;
    return SEER_OK;
}

/* Copies an array as f32 (converting, and realigning when the data is not aligned). */
static seer_status take_array(const sae_npy *a, const char *name, float *dst, seer_err *err) {
    size_t item = a->type == SEER_DTYPE_F64 ? 8 : a->type == SEER_DTYPE_F16 ? 2 : 4;
    if (a->type == SEER_DTYPE_F32) {
        memcpy(dst, a->data, a->nbytes);
        return SEER_OK;
    }
    void *tmp = NULL;
    const void *src = a->data;
    if ((uintptr_t)src % item) {
        if (!(tmp = malloc(a->nbytes ? a->nbytes : 1))) return seer_err_set(err, SEER_ERR_NOMEM, "npz: out of memory");
        memcpy(tmp, src, a->nbytes);
        src = tmp;
    }
    seer_status st = seer_convert_to_f32(a->type, src, dst, a->n_elem, err);
    free(tmp);
    return st ? seer_err_wrap(err, "npz: %s: ", name) : SEER_OK;
}

static int shape_is(const sae_npy *a, int nd, int64_t d0, int64_t d1) {
    return a->n_dims == nd && a->shape[0] == d0 && (nd < 2 || a->shape[1] == d1);
}

seer_status seer_sae_load_npz_buffer(const void *buf, size_t len, seer_sae **out, seer_err *err) {
    *out = NULL;
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(buf, len, 0, &ze);
    zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY, &ze) : NULL;
    if (!za) {
        seer_status st = seer_err_set(err, SEER_ERR_FORMAT, "npz: not a readable zip archive: %s", zip_error_strerror(&ze));
        if (src) zip_source_free(src);
        zip_error_fini(&ze);
        return st;
    }
    zip_error_fini(&ze);
    void *raw[A_COUNT] = {0};
    size_t raw_len[A_COUNT] = {0};
    sae_npy a[A_COUNT];
    memset(a, 0, sizeof(a));
    seer_status st = SEER_OK;
    for (int i = 0; i < A_COUNT && !st; i++) {
        char what[32];
        snprintf(what, sizeof(what), "%s.npy", array_names[i]);
        if (!(st = read_member(za, len, array_names[i], &raw[i], &raw_len[i], err)))
            st = sae_npy_parse(raw[i], raw_len[i], what, &a[i], err);
    }
    if (st) goto out;
    char sh[96];
    if (a[A_W_ENC].n_dims != 2) {
        st = seer_err_set(err, SEER_ERR_FORMAT, "npz: W_enc has shape %s, expected [d_in, d_sae]",
                          seer_shape_str(a[A_W_ENC].shape, a[A_W_ENC].n_dims, sh, sizeof(sh)));
        goto out;
    }
    int64_t di = a[A_W_ENC].shape[0], dl = a[A_W_ENC].shape[1];
    int64_t dout = a[A_W_DEC].n_dims == 2 ? a[A_W_DEC].shape[1] : 0;
    const struct {
        int arr, nd;
        int64_t d0, d1;
        const char *want;
    } checks[] = {{A_W_DEC, 2, dl, dout, "[d_sae, d_out] with d_sae from W_enc"},
                  {A_B_ENC, 1, dl, 0, "[d_sae]"},
                  {A_B_DEC, 1, dout, 0, "[d_out]"},
                  {A_THRESHOLD, 1, dl, 0, "[d_sae]"}};
    for (size_t q = 0; q < sizeof(checks) / sizeof(checks[0]); q++) {
        const sae_npy *x = &a[checks[q].arr];
        if (!shape_is(x, checks[q].nd, checks[q].d0, checks[q].d1)) {
            st = seer_err_set(err, SEER_ERR_FORMAT, "npz: %s has shape %s, expected %s (W_enc is [%lld, %lld])",
                              array_names[checks[q].arr], seer_shape_str(x->shape, x->n_dims, sh, sizeof(sh)), checks[q].want,
                              (long long)di, (long long)dl);
            goto out;
        }
    }
    seer_sae_config c = {.arch = SEER_SAE_JUMPRELU, .d_in = di, .d_sae = dl, .d_out = dout, .apply_b_dec_to_input = 0};
    if ((st = seer_sae_config_check(&c, err))) {
        seer_err_wrap(err, "npz: ");
        goto out;
    }
    if ((st = seer_sae_init(&c, out, err))) goto out;
    float *dst[A_COUNT] = {(*out)->W_enc, (*out)->W_dec, (*out)->b_enc, (*out)->b_dec, (*out)->threshold};
    for (int i = 0; i < A_COUNT && !st; i++) st = take_array(&a[i], array_names[i], dst[i], err);
    if (st) {
        seer_sae_free(*out);
        *out = NULL;
    }
out:
    for (int i = 0; i < A_COUNT; i++) free(raw[i]);
    zip_discard(za);
    return st;
}

seer_status seer_sae_load_npz(const char *path, seer_sae **out, seer_err *err) {
    *out = NULL;
    seer_map m = {0};
    seer_status st = seer_map_open(path, &m, err);
    if (st) return st;
    st = seer_sae_load_npz_buffer(m.data, m.size, out, err);
    if (st) seer_err_wrap(err, "%s: ", path);
    seer_map_close(&m);
    return st;
}
