/* NumPy .npy arrays from memory (the members of a Gemma Scope params.npz): the magic and
 * version, the header's Python dict literal ('descr', 'fortran_order', 'shape'), and the data,
 * with every length checked before it is used. Little-endian float types only. */
#include "sae_internal.h"

#include <stdlib.h>
#include <string.h>

#define NPY_MAX_HEADER 65536 /* numpy itself refuses longer headers by default */

typedef struct npy_lex {
    const char *p, *end, *name;
    seer_err *err;
} npy_lex;

static void skip_ws(npy_lex *x) {
    while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r')) x->p++;
}

static int expect(npy_lex *x, char c) {
    skip_ws(x);
    if (x->p < x->end && *x->p == c) {
        x->p++;
        return 0;
    }
    return -1;
}

/* A quoted string (either quote) into out; no escapes (numpy writes none in these keys). */
static int read_str(npy_lex *x, char *out, size_t cap) {
    skip_ws(x);
    if (x->p >= x->end || (*x->p != '\'' && *x->p != '"')) return -1;
    char q = *x->p++;
    size_t n = 0;
    while (x->p < x->end && *x->p != q) {
        if (*x->p == '\\' || n + 1 >= cap) return -1;
        out[n++] = *x->p++;
    }
    if (x->p >= x->end) return -1;
    x->p++;
    out[n] = 0;
    return 0;
}

seer_status sae_npy_parse(const void *buf, size_t len, const char *name, sae_npy *out, seer_err *err) {
    memset(out, 0, sizeof(*out));
    const uint8_t *b = buf;
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return seer_err_set(err, SEER_ERR_FORMAT, "npy: %s: not a .npy array (bad magic)", name);
    uint8_t major = b[6];
    size_t hlen, pre;
    if (major == 1) hlen = (size_t)b[8] | (size_t)b[9] << 8, pre = 10;
    else if (major == 2 || major == 3) {
        if (len < 12)
            return seer_err_set(err, SEER_ERR_FORMAT, "npy: %s: %zu bytes: truncated before the header length", name, len);
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24, pre = 12;
    } else
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "npy: %s: format version %u.%u is not supported (1, 2 or 3)", name,
                            major, b[7]);
    if (hlen > NPY_MAX_HEADER)
        return seer_err_set(err, SEER_ERR_FORMAT, "npy: %s: header length %zu over the limit of %d", name, hlen, NPY_MAX_HEADER);
    if (hlen > len - pre)
        return seer_err_set(err, SEER_ERR_FORMAT, "npy: %s: header of %zu bytes runs past the end (%zu bytes)", name, hlen, len);
    npy_lex x = {(const char *)b + pre, (const char *)b + pre + hlen, name, err};
    const char *start = x.p;
    char key[32], descr[16] = "";
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0;
#define BAD(what) return seer_err_set(err, SEER_ERR_FORMAT, "npy: %s: header: %s at offset %td", name, what, x.p - start)
    if (expect(&x, '{')) BAD("expected '{'");
    for (;;) {
        skip_ws(&x);
        if (x.p < x.end && *x.p == '}') {
            x.p++;
            break;
        }
        if (read_str(&x, key, sizeof(key))) BAD("expected a quoted key");
        if (expect(&x, ':')) BAD("expected ':'");
        if (!strcmp(key, "descr")) {
            if (have_descr++) BAD("duplicate key 'descr'");
            if (read_str(&x, descr, sizeof(descr))) BAD("'descr' is not a short string");
        } else if (!strcmp(key, "fortran_order")) {
            if (have_fortran++) BAD("duplicate key 'fortran_order'");
            skip_ws(&x);
            if (x.end - x.p >= 4 && !memcmp(x.p, "True", 4)) fortran = 1, x.p += 4;
            else if (x.end - x.p >= 5 && !memcmp(x.p, "False", 5)) x.p += 5;
            else BAD("'fortran_order' is neither True nor False");
        } else if (!strcmp(key, "shape")) {
            if (have_shape++) BAD("duplicate key 'shape'");
            if (expect(&x, '(')) BAD("'shape' is not a tuple");
            for (;;) {
                skip_ws(&x);
                if (x.p < x.end && *x.p == ')') {
                    x.p++;
                    break;
                }
                if (out->n_dims >= SAE_NPY_MAX_DIMS) BAD("more than 8 dimensions");
                if (x.p >= x.end || *x.p < '0' || *x.p > '9') BAD("a dimension is not a non-negative integer");
                int64_t v = 0;
                while (x.p < x.end && *x.p >= '0' && *x.p <= '9') {
                    if (v > ((int64_t)1 << 40)) BAD("a dimension is too large");
                    v = v * 10 + (*x.p++ - '0');
                }
                out->shape[out->n_dims++] = v;
                skip_ws(&x);
                if (x.p < x.end && *x.p == ',') x.p++;
                else if (x.p < x.end && *x.p == ')') continue;
                else BAD("expected ',' or ')' in 'shape'");
            }
        } else {
            char msg[64];
            snprintf(msg, sizeof(msg), "unknown key '%s'", key);
            BAD(msg);
        }
        skip_ws(&x);
        if (x.p < x.end && *x.p == ',') x.p++;
        else if (!(x.p < x.end && *x.p == '}')) BAD("expected ',' or '}'");
    }
    skip_ws(&x);
    if (x.p != x.end) BAD("bytes after the dict");
#undef BAD
    if (!have_descr || !have_fortran || !have_shape)
        return seer_err_set(err, SEER_ERR_FORMAT, "npy: %s: header lacks '%s'", name,
                            !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    size_t item;
    if (!strcmp(descr, "<f4")) out->type = SEER_DTYPE_F32, item = 4;
    else if (!strcmp(descr, "<f2")) out->type = SEER_DTYPE_F16, item = 2;
    else if (!strcmp(descr, "<f8")) out->type = SEER_DTYPE_F64, item = 8;
    else
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "npy: %s: dtype '%s' is not supported (little-endian <f4, <f2, <f8)",
                            name, descr);
    if (fortran)
        return seer_err_set(err, SEER_ERR_UNSUPPORTED, "npy: %s: fortran_order True (column-major) arrays are not supported",
                            name);
    size_t n = 1;
    for (int i = 0; i < out->n_dims; i++)
        if (seer_mul_size(n, (size_t)out->shape[i], &n))
            return seer_err_set(err, SEER_ERR_FORMAT, "npy: %s: element count overflows", name);
    size_t nbytes;
    if (seer_mul_size(n, item, &nbytes)) return seer_err_set(err, SEER_ERR_FORMAT, "npy: %s: byte count overflows", name);
    size_t have = len - pre - hlen;
    if (have != nbytes)
        return seer_err_set(err, SEER_ERR_FORMAT, "npy: %s: shape needs %zu bytes of data but %zu follow the header", name,
                            nbytes, have);
    out->data = b + pre + hlen;
    out->nbytes = nbytes;
    out->n_elem = (int64_t)n;
    return SEER_OK;
}
