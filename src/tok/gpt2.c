/* GPT-2 byte-level BPE: text is split by the GPT-2 pre-tokenizer (gpt2_pretok.c), each word's
 * bytes start as single-byte tokens (bytes are spelled in a printable 256-character alphabet,
 * space as "Ġ"), and the adjacent pair with the lowest merge rank is merged until none is in
 * the merge table. Merges are a hash from (left id, right id) to (rank, merged id). */
#include "tok/tok_impl.h"

#include <stdlib.h>
#include <string.h>

/* ---- the byte alphabet ------------------------------------------------------------------- */

/* Printable bytes (! .. ~, ¡ .. ¬, ® .. ÿ) stand for themselves; the other 68 take code points
 * 256.. in byte order: 0..32, then 127..160, then 173. */
uint32_t tok_gpt2_byte_to_cp(uint8_t b) {
    if (b <= 32) return 256u + b;
    if (b >= 127 && b <= 160) return 256u + 33 + (b - 127u);
    if (b == 173) return 256u + 33 + 34;
    return b;
}

int tok_gpt2_cp_to_byte(uint32_t cp) {
    if ((cp >= 33 && cp <= 126) || (cp >= 161 && cp <= 172) || (cp >= 174 && cp <= 255)) return (int)cp;
    if (cp >= 256 && cp <= 288) return (int)(cp - 256);
    if (cp >= 289 && cp <= 322) return (int)(cp - 289 + 127);
    if (cp == 323) return 173;
    return -1;
}

/* ---- building ---------------------------------------------------------------------------- */

void tok_gpt2_default_special(seer_tok *t) {
    static const char eot[] = "<|endoftext|>";
    for (int32_t id = 0; id < t->n_vocab; id++) {
        size_t n;
        const char *p = tok_raw(t, id, &n);
        if (n == sizeof(eot) - 1 && memcmp(p, eot, n) == 0) {
            if (t->bos < 0) t->bos = id;
            if (t->eos < 0) t->eos = id;
            if (t->types[id] == SEER_TOK_TYPE_NORMAL) t->types[id] = SEER_TOK_TYPE_CONTROL;
            return;
        }
    }
}

static seer_status pairs_alloc(seer_tok *t, size_t n_merges, seer_err *err) {
    size_t cap = 16;
    while (cap < 2 * n_merges) {
        if (cap > SIZE_MAX / 4 / sizeof(*t->pairs))
            return seer_err_set(err, SEER_ERR_NOMEM, "tokenizer: %zu merges are too many", n_merges);
        cap *= 2;
    }
    tok_pair *p = malloc(cap * sizeof(*p));
    if (!p) return seer_err_set(err, SEER_ERR_NOMEM, "tokenizer: out of memory for %zu merges", n_merges);
    for (size_t i = 0; i < cap; i++) p[i].key = UINT64_MAX;
    t->pairs = p;
    t->pair_mask = cap - 1;
    return SEER_OK;
}

static size_t pair_slot(uint64_t key, size_t mask) {
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 32)) & mask;
}

static const tok_pair *pair_find(const seer_tok *t, int32_t a, int32_t b) {
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    for (size_t i = pair_slot(key, t->pair_mask);; i = (i + 1) & t->pair_mask) {
        const tok_pair *p = &t->pairs[i];
        if (p->key == key) return p;
        if (p->key == UINT64_MAX) return NULL;
    }
}

/* Inserts unless present (a repeated merge keeps its first, lower rank). */
static void pair_insert(tok_pair *pairs, size_t mask, const tok_pair *np) {
    for (size_t i = pair_slot(np->key, mask);; i = (i + 1) & mask) {
        if (pairs[i].key == np->key) return;
        if (pairs[i].key == UINT64_MAX) {
            pairs[i] = *np;
            return;
        }
    }
}

seer_status tok_gpt2_finish_vocab(seer_tok *t, size_t n_merges, seer_err *err) {
    seer_status st;
    char *tmp = malloc(TOK_MAX_PIECE + 1);
    if (!tmp) return seer_err_set(err, SEER_ERR_NOMEM, "tokenizer: out of memory");
    for (int32_t id = 0; id < t->n_vocab; id++) {
        size_t n;
        const char *raw = tok_raw(t, id, &n);
        uint8_t ty = t->types[id];
        if (ty == SEER_TOK_TYPE_CONTROL || ty == SEER_TOK_TYPE_UNKNOWN || ty == SEER_TOK_TYPE_UNUSED) {
            st = tok_set_dec(t, id, "", 0, err);
        } else if (ty == SEER_TOK_TYPE_USER_DEFINED) {
            st = tok_set_dec(t, id, raw, n, err);
        } else {
            /* Alphabet characters become their byte; anything else stays as written. */
            size_t k = 0;
            for (size_t i = 0; i < n;) {
                uint32_t cp;
                int m = tok_utf8_decode((const uint8_t *)raw + i, n - i, &cp);
                int b = m > 0 ? tok_gpt2_cp_to_byte(cp) : -1;
                if (b >= 0) {
                    tmp[k++] = (char)b;
                    i += (size_t)m;
                } else {
                    size_t c = m > 0 ? (size_t)m : 1;
                    memcpy(tmp + k, raw + i, c);
                    k += c;
                    i += c;
                }
            }
            st = tok_set_dec(t, id, tmp, k, err);
        }
        if (st != SEER_OK) goto out_free;
    }
    st = tok_map_build(t, &t->raw_map, 0, NULL, err);
    if (st != SEER_OK) goto out_free;
    for (int b = 0; b < 256; b++) {
        char u[4];
        int m = tok_utf8_encode(tok_gpt2_byte_to_cp((uint8_t)b), u);
        t->byte_id[b] = tok_map_find(t, &t->raw_map, u, (size_t)m);
        if (t->byte_id[b] < 0) {
            st = seer_err_set(err, SEER_ERR_FORMAT,
                              "gpt2 vocabulary has no token for byte 0x%02X (piece '%.*s'): not a byte-level BPE "
                              "vocabulary",
                              b, m, u);
            goto out_free;
        }
    }
    st = pairs_alloc(t, n_merges, err);
out_free:
    free(tmp);
    return st;
}

static seer_status pairs_grow(seer_tok *t, seer_err *err) {
    size_t old_cap = t->pair_mask + 1;
    tok_pair *old = t->pairs;
    t->pairs = NULL;
    seer_status st = pairs_alloc(t, old_cap, err); /* twice the slots */
    if (st != SEER_OK) {
        t->pairs = old;
        t->pair_mask = old_cap - 1;
        return st;
    }
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key != UINT64_MAX) pair_insert(t->pairs, t->pair_mask, &old[i]);
    free(old);
    return SEER_OK;
}

seer_status tok_gpt2_add_merge(seer_tok *t, const char *a, size_t alen, const char *b, size_t blen, size_t rank,
                               const char *what, seer_err *err) {
    int32_t ia = tok_map_find(t, &t->raw_map, a, alen);
    int32_t ib = tok_map_find(t, &t->raw_map, b, blen);
    if (ia < 0 || ib < 0) {
        int left = ia < 0;
        size_t n = left ? alen : blen;
        return seer_err_set(err, SEER_ERR_FORMAT, "%s: merge names piece '%.*s', which is not in the vocabulary", what,
                            (int)(n < 60 ? n : 60), left ? a : b);
    }
    if (rank >= INT32_MAX) return seer_err_set(err, SEER_ERR_FORMAT, "%s: more than %d merges", what, INT32_MAX - 1);
    char small[512];
    char *ab = alen + blen <= sizeof(small) ? small : malloc(alen + blen);
    if (!ab) return seer_err_set(err, SEER_ERR_NOMEM, "%s: out of memory", what);
    memcpy(ab, a, alen);
    memcpy(ab + alen, b, blen);
    int32_t im = tok_map_find(t, &t->raw_map, ab, alen + blen);
    if (ab != small) free(ab);
    if (im < 0)
        return seer_err_set(err, SEER_ERR_FORMAT,
                            "%s: merge '%.*s' + '%.*s' gives a piece that is not in the vocabulary (vocabulary and "
                            "merges do not belong together?)",
                            what, (int)(alen < 60 ? alen : 60), a, (int)(blen < 60 ? blen : 60), b);
    if (2 * (t->n_merges + 1) > t->pair_mask + 1) {
        seer_status st = pairs_grow(t, err);
        if (st != SEER_OK) return st;
    }
    tok_pair p = {(uint64_t)(uint32_t)ia << 32 | (uint32_t)ib, (int32_t)rank, im};
    pair_insert(t->pairs, t->pair_mask, &p);
    t->n_merges++;
    return SEER_OK;
}

seer_status tok_gpt2_add_merge_line(seer_tok *t, const char *line, size_t len, size_t rank, const char *what,
                                    seer_err *err) {
    const char *sp = memchr(line, ' ', len);
    size_t alen = sp ? (size_t)(sp - line) : 0;
    if (!sp || alen == 0 || alen + 1 == len || memchr(sp + 1, ' ', len - alen - 1))
        return seer_err_set(err, SEER_ERR_FORMAT, "%s: expected two pieces separated by one space, got '%.*s'", what,
                            (int)(len < 60 ? len : 60), line);
    return tok_gpt2_add_merge(t, line, alen, sp + 1, len - alen - 1, rank, what, err);
}

/* ---- encoding ---------------------------------------------------------------------------- */

typedef struct gpt2_work {
    const seer_tok *t;
    tok_sym *sym;
    size_t cap;
    tok_heap heap;
} gpt2_work;

static int gpt2_try_pair(gpt2_work *k, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return 0;
    const tok_pair *p = pair_find(k->t, k->sym[l].id, k->sym[r].id);
    if (!p) return 0;
    tok_cand c = {(double)p->rank, l, r, k->sym[l].len + k->sym[r].len, p->id};
    return tok_heap_push(&k->heap, &c);
}

/* BPE over one pre-token of n bytes; -1 on out of memory. */
static int gpt2_word(gpt2_work *k, const uint8_t *s, size_t n, tok_ids *out) {
    const seer_tok *t = k->t;
    if (n == 1) return tok_ids_push(out, t->byte_id[s[0]]);
    if (n > k->cap) {
        tok_sym *ns = realloc(k->sym, n * sizeof(*ns));
        if (!ns) return -1;
        k->sym = ns;
        k->cap = n;
    }
    for (size_t i = 0; i < n; i++)
        k->sym[i] = (tok_sym){(int32_t)i - 1, i + 1 < n ? (int32_t)i + 1 : -1, (uint32_t)i, 1, t->byte_id[s[i]], 0};
    k->heap.n = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (gpt2_try_pair(k, (int32_t)i, (int32_t)i + 1) != 0) return -1;
    tok_cand c;
    while (tok_heap_pop(&k->heap, &c)) {
        tok_sym *a = &k->sym[c.left], *b = &k->sym[c.right];
        if (a->len == 0 || b->len == 0 || a->next != c.right || a->len + b->len != c.len) continue; /* stale */
        a->len = c.len;
        a->id = c.id;
        b->len = 0;
        a->next = b->next;
        if (a->next >= 0) k->sym[a->next].prev = c.left;
        if (gpt2_try_pair(k, a->prev, c.left) != 0 || gpt2_try_pair(k, c.left, a->next) != 0) return -1;
    }
    for (int32_t i = 0; i >= 0; i = k->sym[i].next)
        if (tok_ids_push(out, k->sym[i].id) != 0) return -1;
    return 0;
}

seer_status tok_gpt2_encode(const seer_tok *t, const char *text, size_t len, tok_ids *out, seer_err *err) {
    if (len >= UINT32_MAX) return seer_err_set(err, SEER_ERR_RANGE, "tok: text of %zu bytes is too long to encode", len);
    const uint8_t *s = (const uint8_t *)text;
    gpt2_work k = {.t = t};
    seer_status st = SEER_OK;
    for (size_t i = 0; i < len;) {
        size_t e = tok_gpt2_pretok_next(s, len, i);
        SEER_ASSERT(e > i && e <= len);
        if (gpt2_word(&k, s + i, e - i, out) != 0) {
            st = seer_err_set(err, SEER_ERR_NOMEM, "tok: out of memory encoding %zu bytes", len);
            break;
        }
        i = e;
    }
    free(k.sym);
    free(k.heap.a);
    return st;
}
