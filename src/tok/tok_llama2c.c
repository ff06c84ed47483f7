/* llama2.c's tokenizer.bin: int32 max_token_length, then per token f32 score, int32 length and
 * the piece bytes. The file does not record its token count, so the caller passes the model's
 * vocab size or -1 to read entries until the end. Ids 0/1/2 are <unk>/<s>/</s>; <0xAB> pieces
 * are byte fallbacks. */
#include "tok/tok_impl.h"

#include <stdlib.h>
#include <string.h>

static int32_t rd_i32(const uint8_t *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    int32_t r;
    memcpy(&r, &v, sizeof(r));
    return r;
}

static float rd_f32(const uint8_t *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &v, sizeof(f));
    return f;
}

/* Checks the entry at *pos and advances past it. */
static seer_status check_entry(const uint8_t *d, size_t size, size_t *pos, int32_t id, seer_err *err) {
    size_t p = *pos;
    if (size - p < 8)
        return seer_err_set(err, SEER_ERR_FORMAT,
                            "llama2c tokenizer: token %d: entry at byte %zu truncated (file ends at %zu bytes)",
                            (int)id, p, size);
    int32_t len = rd_i32(d + p + 4);
    if (len < 0)
        return seer_err_set(err, SEER_ERR_FORMAT, "llama2c tokenizer: token %d: negative piece length %d at byte %zu",
                            (int)id, (int)len, p + 4);
    if ((size_t)len > size - p - 8)
        return seer_err_set(err, SEER_ERR_FORMAT,
                            "llama2c tokenizer: token %d: piece length %d at byte %zu runs past the end of the file "
                            "(%zu bytes left)",
                            (int)id, (int)len, p + 4, size - p - 8);
    if (len > TOK_MAX_PIECE)
        return seer_err_set(err, SEER_ERR_FORMAT,
                            "llama2c tokenizer: token %d: piece length %d exceeds the limit of %d bytes", (int)id,
                            (int)len, TOK_MAX_PIECE);
    *pos = p + 8 + (size_t)len;
    return SEER_OK;
}

seer_status seer_tok_load_llama2c_buffer(const void *data, size_t size, int32_t n_vocab, seer_tok **out,
                                         seer_err *err) {
    *out = NULL;
    const uint8_t *d = data;
    if (n_vocab == 0 || n_vocab < -1)
        return seer_err_set(err, SEER_ERR_INVALID,
                            "llama2c tokenizer: vocab size %d is invalid (pass the model's vocab size, or -1)",
                            (int)n_vocab);
    if (size < 4)
        return seer_err_set(err, SEER_ERR_FORMAT, "llama2c tokenizer: %zu bytes is too short for the header (4 bytes)",
                            size);
    int32_t max_len = rd_i32(d);
    if (max_len < 0)
        return seer_err_set(err, SEER_ERR_FORMAT, "llama2c tokenizer: max_token_length %d is negative", (int)max_len);
    seer_status st;
    size_t pos = 4;
    int64_t n = 0;
    /* First pass: validate every entry and count them. */
    while (n_vocab < 0 ? pos < size : n < n_vocab) {
        if (n >= TOK_MAX_VOCAB)
            return seer_err_set(err, SEER_ERR_FORMAT, "llama2c tokenizer: more than %d tokens", TOK_MAX_VOCAB);
        st = check_entry(d, size, &pos, (int32_t)n, err);
        if (st != SEER_OK) return st;
        n++;
    }
    if (pos < size)
        return seer_err_set(err, SEER_ERR_FORMAT,
                            "llama2c tokenizer: %zu bytes left after %d tokens: the file holds more tokens than the "
                            "model's vocabulary",
                            size - pos, (int)n_vocab);
    seer_tok *t = NULL;
    st = tok_alloc(SEER_TOK_SPM, n, "llama2c tokenizer", &t, err);
    if (st != SEER_OK) return st;
    pos = 4;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        size_t len = (size_t)rd_i32(d + pos + 4);
        const char *piece = (const char *)d + pos + 8;
        t->scores[id] = rd_f32(d + pos);
        st = tok_set_piece(t, id, piece, len, err);
        if (st != SEER_OK) goto out_free;
        if (tok_parse_byte_piece(piece, len) >= 0) t->types[id] = SEER_TOK_TYPE_BYTE;
        pos += 8 + len;
    }
    /* llama2.c fixes these ids rather than recording them. */
    t->types[0] = SEER_TOK_TYPE_UNKNOWN;
    t->unk = 0;
    if (t->n_vocab > 2) {
        t->types[1] = t->types[2] = SEER_TOK_TYPE_CONTROL;
        t->bos = 1;
        t->eos = 2;
    }
    t->add_bos = 1;
    t->add_space_prefix = 1;
    st = tok_spm_finish(t, err);
    if (st != SEER_OK) goto out_free;
    *out = t;
    return SEER_OK;
out_free:
    seer_tok_free(t);
    return st;
}

seer_status tok_load_llama2c_file(const char *path, seer_tok **out, seer_err *err) {
    seer_map m;
    seer_status st = seer_map_open(path, &m, err);
    if (st != SEER_OK) return st;
    st = seer_tok_load_llama2c_buffer(m.data, m.size, -1, out, err);
    seer_map_close(&m);
    if (st != SEER_OK) seer_err_wrap(err, "%s: ", path);
    return st;
}
