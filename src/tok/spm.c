/* SentencePiece-style BPE as llama2.c's run.c encodes: a dummy " " before the text, each
 * UTF-8 character looked up as a piece (else its bytes as <0xAB> tokens), then the adjacent
 * pair whose concatenation is the highest-scoring piece is merged, leftmost on ties, until no
 * pair is a piece. A heap of candidate pairs keeps this O(n log n) instead of llama2.c's
 * rescan per merge, and the text is merged in stretches between places no piece can span.
 * Pieces stored with "▁" (GGUF) are looked up with plain spaces. */
#include "tok/tok_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* "▁" (U+2581), SentencePiece's visible space. */
static const char k_spm_space[] = "\xE2\x96\x81";

seer_status tok_spm_finish(seer_tok *t, seer_err *err) {
    seer_status st;
    char *tmp = malloc(TOK_MAX_PIECE + 1);
    uint8_t *mergeable = calloc((size_t)t->n_vocab, 1);
    if (!tmp || !mergeable) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "tokenizer: out of memory");
        goto out_free;
    }
    for (int32_t id = 0; id < t->n_vocab; id++) {
        size_t n;
        const char *raw = tok_raw(t, id, &n);
        switch (t->types[id]) {
        case SEER_TOK_TYPE_BYTE: {
            int b = tok_parse_byte_piece(raw, n);
            if (b < 0) {
                st = seer_err_set(err, SEER_ERR_FORMAT, "token %d: byte token's piece '%.*s' is not of the form <0xAB>",
                                  (int)id, (int)(n < 40 ? n : 40), raw);
                goto out_free;
            }
            char c = (char)b;
            if (t->byte_id[b] < 0) t->byte_id[b] = id;
            st = tok_set_dec(t, id, &c, 1, err);
            break;
        }
        case SEER_TOK_TYPE_NORMAL:
        case SEER_TOK_TYPE_UNDEFINED: {
            size_t k = 0;
            for (size_t i = 0; i < n;) {
                if (n - i >= 3 && memcmp(raw + i, k_spm_space, 3) == 0) {
                    tmp[k++] = ' ';
                    i += 3;
                } else {
                    tmp[k++] = raw[i++];
                }
            }
            mergeable[id] = k > 0;
            st = tok_set_dec(t, id, tmp, k, err);
            break;
        }
        case SEER_TOK_TYPE_USER_DEFINED: /* decoded as written, matched like a piece */
            mergeable[id] = n > 0;
            st = tok_set_dec(t, id, raw, n, err);
            break;
        default: /* control, unknown, unused: no text */
            st = tok_set_dec(t, id, "", 0, err);
            break;
        }
        if (st != SEER_OK) goto out_free;
    }
    memset(t->spm_joins, 0, sizeof(t->spm_joins));
    for (int32_t id = 0; id < t->n_vocab; id++) {
        size_t n;
        const uint8_t *d = (const uint8_t *)tok_dec(t, id, &n);
        for (size_t j = 0; mergeable[id] && j + 1 < n; j++) {
            unsigned bit = (unsigned)d[j] << 8 | d[j + 1];
            t->spm_joins[bit >> 3] |= (uint8_t)(1u << (bit & 7));
        }
    }
    st = tok_map_build(t, &t->raw_map, 0, NULL, err);
    if (st == SEER_OK) st = tok_map_build(t, &t->spm_map, 1, mergeable, err);
out_free:
    free(tmp);
    free(mergeable);
    return st;
}

typedef struct spm_work {
    const seer_tok *t;
    const char *w; /* the text with its dummy space */
    tok_sym *sym;  /* the current stretch */
    int32_t n, cap;
    tok_heap heap;
} spm_work;

/* Queues the pair (l, r) if their concatenation is a piece; -1 on out of memory. */
static int spm_try_pair(spm_work *k, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return 0;
    const tok_sym *a = &k->sym[l], *b = &k->sym[r];
    uint32_t len = a->len + b->len;
    int32_t id = tok_map_find(k->t, &k->t->spm_map, k->w + a->start, len);
    if (id < 0) return 0;
    double key = -(double)k->t->scores[id];
    if (key != key) key = HUGE_VAL; /* a NaN score merges last rather than scrambling the heap */
    tok_cand c = {key, l, r, len, id};
    return tok_heap_push(&k->heap, &c);
}

/* Can a merge ever join the symbol at the end of the stretch with s? */
static int spm_may_join(const spm_work *k, const tok_sym *s) {
    const tok_sym *a = &k->sym[k->n - 1];
    if (a->nomerge || s->nomerge) return 0;
    unsigned bit = (unsigned)(uint8_t)k->w[a->start + a->len - 1] << 8 | (uint8_t)k->w[s->start];
    return (k->t->spm_joins[bit >> 3] >> (bit & 7)) & 1;
}

/* Merges the stretch sym[0..n) to the end and appends its ids; -1 on out of memory. */
static int spm_merge_stretch(spm_work *k, tok_ids *out) {
    int32_t n = k->n;
    k->n = 0;
    k->heap.n = 0;
    for (int32_t i = 0; i < n; i++) {
        k->sym[i].prev = i - 1;
        k->sym[i].next = i + 1 < n ? i + 1 : -1;
    }
    for (int32_t i = 0; i + 1 < n; i++)
        if (spm_try_pair(k, i, i + 1) != 0) return -1;
    tok_cand c;
    while (tok_heap_pop(&k->heap, &c)) {
        tok_sym *a = &k->sym[c.left], *b = &k->sym[c.right];
        if (a->len == 0 || b->len == 0 || a->next != c.right || a->len + b->len != c.len) continue; /* stale */
        a->len = c.len;
        a->id = c.id;
        b->len = 0;
        a->next = b->next;
        if (a->next >= 0) k->sym[a->next].prev = c.left;
        if (spm_try_pair(k, a->prev, c.left) != 0 || spm_try_pair(k, c.left, a->next) != 0) return -1;
    }
    for (int32_t i = 0; i >= 0 && n > 0; i = k->sym[i].next)
        if (k->sym[i].id >= 0 && tok_ids_push(out, k->sym[i].id) != 0) return -1;
    return 0;
}

/* Adds one initial symbol, first merging the stretch so far when no merge can cross. */
static int spm_add(spm_work *k, const tok_sym *s, tok_ids *out) {
    if (k->n > 0 && !spm_may_join(k, s) && spm_merge_stretch(k, out) != 0) return -1;
    if (k->n == k->cap) {
        size_t cap = k->cap ? (size_t)k->cap * 2 : 256;
        if (cap > INT32_MAX) cap = INT32_MAX;
        tok_sym *ns = cap > (size_t)k->cap ? realloc(k->sym, cap * sizeof(*ns)) : NULL;
        if (!ns) return -1;
        k->sym = ns;
        k->cap = (int32_t)cap;
    }
    k->sym[k->n++] = *s;
    return 0;
}

seer_status tok_spm_encode(const seer_tok *t, const char *text, size_t len, tok_ids *out, seer_err *err) {
    if (len == 0) return SEER_OK;
    size_t pre = t->add_space_prefix ? 1 : 0;
    size_t wlen = len + pre;
    if (len >= INT32_MAX) return seer_err_set(err, SEER_ERR_RANGE, "tok: text of %zu bytes is too long to encode", len);
    seer_status st = SEER_OK;
    spm_work k = {.t = t};
    char *w = malloc(wlen);
    if (!w) goto out_nomem;
    if (pre) w[0] = ' ';
    memcpy(w + pre, text, len);
    k.w = w;
    /* Characters as llama2.c groups them: a byte and up to 3 continuation bytes after it. */
    for (size_t i = 0; i < wlen;) {
        size_t g = 1;
        while (i + g < wlen && g < 4 && ((uint8_t)w[i + g] & 0xC0) == 0x80) g++;
        int32_t id = tok_map_find(t, &t->spm_map, w + i, g);
        if (id >= 0) {
            tok_sym s = {-1, -1, (uint32_t)i, (uint32_t)g, id, 0};
            if (spm_add(&k, &s, out) != 0) goto out_nomem;
        } else {
            for (size_t j = 0; j < g; j++) {
                int32_t b = t->byte_id[(uint8_t)w[i + j]];
                tok_sym s = {-1, -1, (uint32_t)(i + j), 1, b >= 0 ? b : t->unk, 1};
                if (spm_add(&k, &s, out) != 0) goto out_nomem;
            }
        }
        i += g;
    }
    if (spm_merge_stretch(&k, out) != 0) goto out_nomem;
    goto out_free;
out_nomem:
    st = seer_err_set(err, SEER_ERR_NOMEM, "tok: out of memory encoding %zu bytes", len);
out_free:
    free(w);
    free(k.sym);
    free(k.heap.a);
    return st;
}
