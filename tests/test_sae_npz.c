/* Gemma Scope params.npz: arrays written here as .npy members of a zip (libzip, stored, as
 * numpy.savez does) load bit-exactly as a JumpReLU SAE whose forward pass matches a double
 * reference; f16 members convert; and one corrupt input per check the .npy parser and the npz
 * reader make, each with its own message. */
#include <zip.h>

#include "sae/sae_internal.h"
#include "test.h"

/* A .npy image, version 1: magic, header dict padded with spaces to a multiple of 64, data. */
static size_t npy_image(char *out, size_t cap, const char *descr, const char *shape, const void *data, size_t nbytes) {
    char dict[256];
    int n = snprintf(dict, sizeof(dict), "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    size_t hlen = (size_t)n + 1, total = 10 + hlen;
    total = (total + 63) / 64 * 64;
    hlen = total - 10;
    if (total + nbytes > cap) return 0;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (char)(hlen & 0xff), out[9] = (char)(hlen >> 8);
    memset(out + 10, ' ', hlen);
    memcpy(out + 10, dict, (size_t)n);
    out[10 + hlen - 1] = '\n';
    memcpy(out + total, data, nbytes);
    return total + nbytes;
}

typedef struct member {
    const char *name;
    char *img;
    size_t len;
} member;

/* Writes the members to path as a stored zip; returns 0 on success. */
static int write_zip(const char *path, const member *m, int n) {
    int zerr = 0;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (!za) return -1;
    for (int i = 0; i < n; i++) {
        zip_source_t *src = zip_source_buffer(za, m[i].img, m[i].len, 0);
        zip_int64_t idx = src ? zip_file_add(za, m[i].name, src, ZIP_FL_OVERWRITE) : -1;
        if (idx < 0) {
            zip_source_free(src);
            zip_discard(za);
            return -1;
        }
        zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
    }
    return zip_close(za);
}

enum { DI = 6, DL = 10, DO = 6 };

typedef struct arrays {
    float W_enc[DI * DL], W_dec[DL * DO], b_enc[DL], b_dec[DO], threshold[DL];
} arrays;

static void fill(arrays *a, uint64_t seed) {
    seer_rng r;
    seer_rng_seed(&r, seed);
    /* Multiples of 1/64 in [-2, 2]: exact in f16 too. */
    float *all[5] = {a->W_enc, a->W_dec, a->b_enc, a->b_dec, a->threshold};
    int sizes[5] = {DI * DL, DL * DO, DL, DO, DL};
    for (int q = 0; q < 5; q++)
        for (int i = 0; i < sizes[q]; i++) all[q][i] = (float)((int)(seer_rng_u64(&r) % 257) - 128) / 64.0f;
    for (int j = 0; j < DL; j++) a->threshold[j] = fabsf(a->threshold[j]) * 0.25f;
}

/* Member images for the arrays, f32 or f16; shape strings may be overridden (NULL: right). */
static int make_members(const arrays *a, int f16, member *m, const char *const *shapes) {
    const char *names[5] = {"W_enc.npy", "W_dec.npy", "b_enc.npy", "b_dec.npy", "threshold.npy"};
    const char *dflt[5] = {"(6, 10)", "(10, 6)", "(10,)", "(6,)", "(10,)"};
    const float *src[5] = {a->W_enc, a->W_dec, a->b_enc, a->b_dec, a->threshold};
    int sizes[5] = {DI * DL, DL * DO, DL, DO, DL};
    for (int q = 0; q < 5; q++) {
        uint16_t h[DI * DL];
        for (int i = 0; i < sizes[q]; i++) h[i] = seer_fp32_to_fp16(src[q][i]);
        m[q].name = names[q];
        m[q].img = malloc(1024);
        m[q].len = npy_image(m[q].img, 1024, f16 ? "<f2" : "<f4", shapes && shapes[q] ? shapes[q] : dflt[q],
                             f16 ? (const void *)h : (const void *)src[q], (size_t)sizes[q] * (f16 ? 2 : 4));
        if (!m[q].len) return -1;
    }
    return 0;
}

static void free_members(member *m, int n) {
    for (int i = 0; i < n; i++) free(m[i].img);
}

static void test_roundtrip(void) {
    seer_err err = {0};
    arrays a;
    fill(&a, 5);
    for (int f16 = 0; f16 < 2; f16++) {
        member m[5];
        CHECK(make_members(&a, f16, m, NULL) == 0);
        char dir[512];
        snprintf(dir, sizeof(dir), "%s", test_tmp(f16 ? "npz_f16" : "npz_f32"));
        mkdir(dir, 0755);
        char *path = seer_path_join(dir, "params.npz");
        CHECK(write_zip(path, m, 5) == 0);
        seer_sae *s = NULL, *s2 = NULL;
        seer_sae_format fmt = SEER_SAE_FORMAT_COUNT;
        CHECK_OK(seer_sae_load(dir, &s, &fmt, &err), &err);
        CHECK(fmt == SEER_SAE_FORMAT_GEMMASCOPE);
        CHECK_OK(seer_sae_load(path, &s2, NULL, &err), &err);
        if (s && s2) {
            CHECK(s->cfg.arch == SEER_SAE_JUMPRELU && s->cfg.d_in == DI && s->cfg.d_sae == DL && s->cfg.d_out == DO);
            CHECK(!s->cfg.apply_b_dec_to_input && !s->cfg.skip);
            /* Bit-exact: the values are representable in both types. */
            CHECK(!memcmp(s->W_enc, a.W_enc, sizeof(a.W_enc)) && !memcmp(s->W_dec, a.W_dec, sizeof(a.W_dec)));
            CHECK(!memcmp(s->b_enc, a.b_enc, sizeof(a.b_enc)) && !memcmp(s->b_dec, a.b_dec, sizeof(a.b_dec)));
            CHECK(!memcmp(s->threshold, a.threshold, sizeof(a.threshold)));
            CHECK(!memcmp(s2->W_dec, s->W_dec, sizeof(a.W_dec)));
            /* Forward: JumpReLU on x·W_enc + b_enc (no b_dec at the input), in double. */
            enum { N = 5 };
            float x[N * DI], out[N * DO], want[N * DO];
            seer_rng r;
            seer_rng_seed(&r, 11);
            for (int i = 0; i < N * DI; i++) x[i] = seer_rng_normal(&r);
            int fired = 0;
            for (int b = 0; b < N; b++)
                for (int o = 0; o < DO; o++) {
                    double y = a.b_dec[o];
                    for (int j = 0; j < DL; j++) {
                        double pre = a.b_enc[j];
                        for (int i = 0; i < DI; i++) pre += (double)x[b * DI + i] * a.W_enc[i * DL + j];
                        if (pre > a.threshold[j] && pre > 0) y += pre * a.W_dec[j * DO + o], fired += o == 0;
                    }
                    want[b * DO + o] = (float)y;
                }
            CHECK_OK(seer_sae_forward(s, x, N, out, &err), &err);
            check_close(out, want, N * DO, 1e-4f, "npz forward vs double reference");
            CHECK_MSG(fired > 3, "only %d latents fired: the forward check is too weak", fired);
        }
        seer_sae_free(s), seer_sae_free(s2);
        free(path);
        free_members(m, 5);
    }
}

/* ---- the .npy parser, one case per check ---- */

static void test_npy_corrupt(void) {
    seer_err err = {0};
    sae_npy a;
    char img[512];
    float data[6] = {1, 2, 3, 4, 5, 6};
    size_t n = npy_image(img, sizeof(img), "<f4", "(2, 3)", data, sizeof(data));
    CHECK_OK(sae_npy_parse(img, n, "x.npy", &a, &err), &err);
    CHECK(a.type == SEER_DTYPE_F32 && a.n_dims == 2 && a.shape[0] == 2 && a.shape[1] == 3 && a.n_elem == 6);
    CHECK(a.nbytes == sizeof(data) && !memcmp(a.data, data, sizeof(data)));
    /* Scalars and trailing commas. */
    n = npy_image(img, sizeof(img), "<f8", "()", data, 8);
    CHECK_OK(sae_npy_parse(img, n, "x.npy", &a, &err), &err);
    CHECK(a.n_dims == 0 && a.n_elem == 1 && a.type == SEER_DTYPE_F64);

    struct {
        const char *descr, *shape, *needle;
        size_t data_bytes;
    } hdr[] = {
        {">f4", "(2, 3)", "dtype '>f4' is not supported", 24},
        {"<i4", "(2, 3)", "dtype '<i4' is not supported", 24},
        {"<f4", "(2, 3)", "needs 24 bytes of data but 20 follow", 20},
        {"<f4", "(2, 3)", "needs 24 bytes of data but 28 follow", 28},
        {"<f4", "(2, x)", "not a non-negative integer", 24},
        {"<f4", "(2, -3)", "not a non-negative integer", 24},
        {"<f4", "(2 3)", "expected ',' or ')'", 24},
        {"<f4", "[2, 3]", "'shape' is not a tuple", 24},
        {"<f4", "(99999999999999, 3)", "too large", 24},
        {"<f4", "(1099511627775, 1099511627775, 1099511627775)", "overflows", 24},
        {"<f4", "(1, 1, 1, 1, 1, 1, 1, 1, 1)", "more than 8 dimensions", 24},
    };
    float big[8] = {0};
    for (size_t i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++) {
        n = npy_image(img, sizeof(img), hdr[i].descr, hdr[i].shape, big, hdr[i].data_bytes);
        CHECK_FAILS(sae_npy_parse(img, n, "x.npy", &a, &err), &err, hdr[i].needle);
    }
    /* Header-level damage, on a good image. */
    n = npy_image(img, sizeof(img), "<f4", "(2, 3)", data, sizeof(data));
    char bad[512];
    memcpy(bad, img, n);
    bad[1] = 'X';
    CHECK_FAILS(sae_npy_parse(bad, n, "x.npy", &a, &err), &err, "bad magic");
    CHECK_FAILS(sae_npy_parse(img, 7, "x.npy", &a, &err), &err, "bad magic");
    memcpy(bad, img, n);
    bad[6] = 4;
    CHECK_FAILS(sae_npy_parse(bad, n, "x.npy", &a, &err), &err, "version 4.0 is not supported");
    memcpy(bad, img, n);
    bad[8] = (char)0xff, bad[9] = (char)0x7f; /* 32767 bytes of header */
    CHECK_FAILS(sae_npy_parse(bad, n, "x.npy", &a, &err), &err, "runs past the end");
    memcpy(bad, img, n);
    bad[6] = 2, bad[8] = 0, bad[9] = 0, bad[10] = 0, bad[11] = 1; /* 16 MB: over the cap */
    CHECK_FAILS(sae_npy_parse(bad, n, "x.npy", &a, &err), &err, "over the limit");
    CHECK_FAILS(sae_npy_parse(img, 11, "x.npy", &a, &err), &err, "runs past the end");
    /* Dict damage: edit the text in place (the header is padded, so lengths stay valid). */
    const struct {
        const char *from, *to, *needle;
    } edits[] = {
        {"{'descr'", " 'descr'", "expected '{'"},
        {"'fortran_order': False", "'fortran_order': Maybe", "neither True nor False"},
        {"'fortran_order': False", "'fortran_order': True ", "fortran_order True"},
        {"'fortran_order': False", "'descr'        : False", "duplicate key 'descr'"},
        {"'fortran_order': False", "'extra_key____': False", "unknown key 'extra_key____'"},
        {"'descr': '<f4', ", "'descr': '<f4'; ", "expected ',' or '}'"},
        {"'descr': '<f4'", "'descr'= '<f4'", "expected ':'"},
        {"'descr': '<f4'", "descr  : '<f4'", "expected a quoted key"},
        {"}", " ", "expected a quoted key"},
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        memcpy(bad, img, n);
        char *at = memmem(bad, n, edits[i].from, strlen(edits[i].from));
        CHECK(at && strlen(edits[i].from) == strlen(edits[i].to));
        if (!at) continue;
        memcpy(at, edits[i].to, strlen(edits[i].to));
        CHECK_FAILS(sae_npy_parse(bad, n, "x.npy", &a, &err), &err, edits[i].needle);
    }
    /* A dict without 'shape': rebuild one by hand. */
    char hand[128] = "\x93NUMPY\x01\x00";
    const char *dict = "{'descr': '<f4', 'fortran_order': False}";
    size_t hl = strlen(dict);
    hand[8] = (char)hl, hand[9] = 0;
    memcpy(hand + 10, dict, hl);
    CHECK_FAILS(sae_npy_parse(hand, 10 + hl, "x.npy", &a, &err), &err, "header lacks 'shape'");
    memcpy(hand + 10 + hl, "  x", 3);
    hand[8] = (char)(hl + 3);
    CHECK_FAILS(sae_npy_parse(hand, 10 + hl + 3, "x.npy", &a, &err), &err, "bytes after the dict");
}

/* ---- the npz reader ---- */

static char *zip_bytes(const member *m, int n, const char *name, size_t *len) {
    char *path = strdup(test_tmp(name)), *buf = NULL;
    seer_err err = {0};
    if (write_zip(path, m, n) || seer_read_file(path, &buf, len, &err)) buf = NULL;
    free(path);
    return buf;
}

static void test_npz_corrupt(void) {
    seer_err err = {0};
    seer_sae *s = NULL;
    arrays a;
    fill(&a, 8);
    member m[5];
    CHECK(make_members(&a, 0, m, NULL) == 0);
    size_t len = 0;
    char *z = zip_bytes(m, 5, "npz_good.npz", &len);
    CHECK(z != NULL);
    if (z) {
        CHECK_OK(seer_sae_load_npz_buffer(z, len, &s, &err), &err);
        seer_sae_free(s);
        /* A flipped byte inside W_dec's data: the CRC catches it. */
        char *magic = z;
        for (int k = 0; k < 2 && magic; k++)
            magic = memmem(magic + 1, len - (size_t)(magic + 1 - z), "\x93NUMPY", 6);
        CHECK(magic != NULL);
        if (magic) {
            magic[64 + 5] ^= 0x40;
            CHECK_FAILS(seer_sae_load_npz_buffer(z, len, &s, &err), &err, "member 'W_dec.npy': CRC error");
        }
        CHECK_FAILS(seer_sae_load_npz_buffer(z, 100, &s, &err), &err, "not a readable zip archive");
        free(z);
    }
    CHECK_FAILS(seer_sae_load_npz_buffer("PK\x03\x04 not really", 15, &s, &err), &err, "not a readable zip archive");
    /* No threshold member. */
    z = zip_bytes(m, 4, "npz_nothr.npz", &len);
    if (z) CHECK_FAILS(seer_sae_load_npz_buffer(z, len, &s, &err), &err, "member 'threshold.npy' missing");
    free(z);
    free_members(m, 5);
    /* Shapes that do not fit together, each named. */
    const struct {
        int which;
        const char *shape, *needle;
    } sh[] = {
        {0, "(60,)", "W_enc has shape [60], expected [d_in, d_sae]"},
        {1, "(6, 10)", "W_dec has shape [6, 10], expected [d_sae, d_out]"},
        {2, "(5, 2)", "b_enc has shape [5, 2], expected [d_sae]"},
        {3, "(3, 2)", "b_dec has shape [3, 2], expected [d_out]"},
        {4, "(2, 5)", "threshold has shape [2, 5], expected [d_sae]"},
    };
    for (size_t i = 0; i < sizeof(sh) / sizeof(sh[0]); i++) {
        const char *shapes[5] = {0};
        shapes[sh[i].which] = sh[i].shape;
        CHECK(make_members(&a, 0, m, shapes) == 0);
        z = zip_bytes(m, 5, "npz_shape.npz", &len);
        CHECK(z != NULL);
        if (z) CHECK_FAILS(seer_sae_load_npz_buffer(z, len, &s, &err), &err, sh[i].needle);
        free(z);
        free_members(m, 5);
    }
    /* A member that is not a .npy. */
    CHECK(make_members(&a, 0, m, NULL) == 0);
    m[2].img[0] = 'x';
    z = zip_bytes(m, 5, "npz_notnpy.npz", &len);
    if (z) CHECK_FAILS(seer_sae_load_npz_buffer(z, len, &s, &err), &err, "npy: b_enc.npy: not a .npy array");
    free(z);
    free_members(m, 5);
    CHECK_FAILS(seer_sae_load_npz(test_tmp("npz_absent.npz"), &s, &err), &err, "npz_absent.npz");
    /* A deflated member of 8 MB of zeros: far past any real compression ratio. */
    {
        size_t big = (size_t)8 << 20;
        char *zeros = calloc(1, big);
        int zerr = 0;
        char *path = strdup(test_tmp("npz_bomb.npz"));
        zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
        zip_source_t *src = za ? zip_source_buffer(za, zeros, big, 0) : NULL;
        zip_int64_t idx = src ? zip_file_add(za, "W_enc.npy", src, ZIP_FL_OVERWRITE) : -1;
        if (idx >= 0) zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 9);
        CHECK(za && idx >= 0 && zip_close(za) == 0);
        CHECK_FAILS(seer_sae_load_npz(path, &s, &err), &err, "member 'W_enc.npy' claims 8388608 bytes from");
        free(path), free(zeros);
    }
    /* Saving in this format is refused with a pointer to one that works. */
    seer_sae_config c = {.arch = SEER_SAE_JUMPRELU, .d_in = 2, .d_sae = 3, .d_out = 2};
    CHECK_OK(seer_sae_init(&c, &s, &err), &err);
    if (s) CHECK_FAILS(seer_sae_save(s, SEER_SAE_FORMAT_GEMMASCOPE, test_tmp("npz_save"), &err), &err, "read only");
    seer_sae_free(s);
}

int main(void) {
    test_roundtrip();
    test_npy_corrupt();
    test_npz_corrupt();
    return test_done("test_sae_npz");
}
