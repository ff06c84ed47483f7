/* The tokenizer object shared by both kinds: piece storage, lookup maps, the merge heap,
 * accessors, decoding (whole and streaming), and seer_tok_load's detection of what a path
 * holds. Encoders live in spm.c / gpt2.c, file formats in tok_llama2c.c, tok_hf.c, tok_gguf.c. */
#include "tok/tok_impl.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"spm", "gpt2"};
static_assert(SEER_TOK_KIND_COUNT == sizeof(kind_names) / sizeof(kind_names[0]), "kind_names");

static const char *const type_names[] = {"undefined", "normal", "unknown", "control",
                                         "user_defined", "unused", "byte"};
static_assert(SEER_TOK_TYPE_COUNT == sizeof(type_names) / sizeof(type_names[0]), "type_names");

const char *seer_tok_kind_name(seer_tok_kind k) {
    return (unsigned)k < SEER_TOK_KIND_COUNT ? kind_names[k] : "unknown";
}

const char *seer_tok_type_name(seer_tok_type t) {
    return (unsigned)t < SEER_TOK_TYPE_COUNT ? type_names[t] : "unknown";
}

/* ---- object ------------------------------------------------------------------------------ */

seer_status tok_alloc(seer_tok_kind kind, int64_t n_vocab, const char *what, seer_tok **out, seer_err *err) {
    *out = NULL;
    if (n_vocab <= 0 || n_vocab > TOK_MAX_VOCAB)
        return seer_err_set(err, SEER_ERR_FORMAT, "%s: vocabulary size %lld out of range (1..%d)", what,
                            (long long)n_vocab, TOK_MAX_VOCAB);
    size_t n = (size_t)n_vocab;
    seer_tok *t = NULL;
    /* The per-id tables below (the blob, maps and merges grow later, bounded by the file). */
    size_t per_id = sizeof(*t->raw_off) + sizeof(*t->dec_off) + sizeof(*t->raw_len) + sizeof(*t->dec_len) +
                    sizeof(*t->scores) + sizeof(*t->types) + sizeof(*t->has_piece);
    char budget_what[160];
    snprintf(budget_what, sizeof(budget_what), "%s: tables for %lld tokens", what, (long long)n_vocab);
    seer_status st = seer_mem_check(n * per_id, budget_what, err);
    if (st != SEER_OK) return st;
    t = calloc(1, sizeof(*t));
    if (!t) goto out_nomem;
    t->kind = kind;
    t->n_vocab = (int32_t)n_vocab;
    t->bos = t->eos = t->unk = -1;
    t->raw_off = calloc(n, sizeof(*t->raw_off));
    t->dec_off = calloc(n, sizeof(*t->dec_off));
    t->raw_len = calloc(n, sizeof(*t->raw_len));
    t->dec_len = calloc(n, sizeof(*t->dec_len));
    t->scores = calloc(n, sizeof(*t->scores));
    t->types = malloc(n * sizeof(*t->types));
    t->has_piece = calloc(n, sizeof(*t->has_piece));
    t->blob_cap = 1 << 16;
    t->blob = malloc(t->blob_cap);
    if (!t->raw_off || !t->dec_off || !t->raw_len || !t->dec_len || !t->scores || !t->types ||
        !t->has_piece || !t->blob)
        goto out_free;
    memset(t->types, SEER_TOK_TYPE_NORMAL, n);
    t->blob[0] = 0; /* offset 0: the empty piece every id starts with */
    t->blob_len = 1;
    for (int i = 0; i < 256; i++) t->byte_id[i] = -1;
    *out = t;
    return SEER_OK;
out_free:
    seer_tok_free(t);
out_nomem:
    return seer_err_set(err, SEER_ERR_NOMEM, "%s: out of memory for %lld tokens", what, (long long)n_vocab);
}

void seer_tok_free(seer_tok *t) {
    if (!t) return;
    free(t->blob);
    free(t->raw_off);
    free(t->dec_off);
    free(t->raw_len);
    free(t->dec_len);
    free(t->scores);
    free(t->types);
    free(t->has_piece);
    tok_map_free(&t->raw_map);
    tok_map_free(&t->spm_map);
    free(t->pairs);
    free(t);
}

/* Appends len bytes plus a NUL to the blob; returns the offset, or SIZE_MAX on failure (out of
 * memory, or past the 4 GiB that 32-bit offsets address). */
static size_t blob_append(seer_tok *t, const char *s, size_t len) {
    size_t need;
    if (seer_add_size(t->blob_len, len, &need) || seer_add_size(need, 1, &need) || need > UINT32_MAX) return SIZE_MAX;
    if (need > t->blob_cap) {
        size_t cap = t->blob_cap;
        while (cap < need) {
            if (cap > SIZE_MAX / 2) return SIZE_MAX;
            cap *= 2;
        }
        char *nb = realloc(t->blob, cap);
        if (!nb) return SIZE_MAX;
        t->blob = nb;
        t->blob_cap = cap;
    }
    size_t off = t->blob_len;
    if (len) memcpy(t->blob + off, s, len);
    t->blob[off + len] = 0;
    t->blob_len = need;
    return off;
}

seer_status tok_set_piece(seer_tok *t, int32_t id, const char *s, size_t len, seer_err *err) {
    SEER_ASSERT(id >= 0 && id < t->n_vocab);
    if (len > TOK_MAX_PIECE)
        return seer_err_set(err, SEER_ERR_FORMAT, "token %d: piece of %zu bytes exceeds the limit of %d",
                            (int)id, len, TOK_MAX_PIECE);
    size_t off = blob_append(t, s, len);
    if (off == SIZE_MAX)
        return seer_err_set(err, SEER_ERR_NOMEM, "token %d: out of memory storing piece (pieces are limited to 4 GiB in all)", (int)id);
    t->raw_off[id] = (uint32_t)off;
    t->raw_len[id] = (uint32_t)len;
    t->has_piece[id] = 1;
    return SEER_OK;
}

seer_status tok_set_dec(seer_tok *t, int32_t id, const char *s, size_t len, seer_err *err) {
    SEER_ASSERT(id >= 0 && id < t->n_vocab && len <= TOK_MAX_PIECE);
    size_t off = blob_append(t, s, len);
    if (off == SIZE_MAX)
        return seer_err_set(err, SEER_ERR_NOMEM, "token %d: out of memory storing text (pieces are limited to 4 GiB in all)", (int)id);
    t->dec_off[id] = (uint32_t)off;
    t->dec_len[id] = (uint32_t)len;
    return SEER_OK;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int tok_parse_byte_piece(const char *s, size_t len) {
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int hi = hexval(s[3]), lo = hexval(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* ---- piece map --------------------------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

static const char *map_key(const seer_tok *t, const tok_map *m, int32_t id, size_t *len) {
    return m->use_dec ? tok_dec(t, id, len) : tok_raw(t, id, len);
}

seer_status tok_map_build(seer_tok *t, tok_map *m, int use_dec, const uint8_t *include, seer_err *err) {
    tok_map_free(m);
    size_t cap = 16;
    while (cap < 2 * (size_t)t->n_vocab) cap *= 2;
    m->slots = malloc(cap * sizeof(*m->slots));
    if (!m->slots) return seer_err_set(err, SEER_ERR_NOMEM, "tokenizer: out of memory for piece map");
    memset(m->slots, 0xff, cap * sizeof(*m->slots)); /* -1 */
    m->mask = cap - 1;
    m->use_dec = use_dec;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (include && !include[id]) continue;
        size_t len;
        const char *k = map_key(t, m, id, &len);
        size_t i = (size_t)hash_bytes(k, len) & m->mask;
        for (;; i = (i + 1) & m->mask) {
            int32_t o = m->slots[i];
            if (o < 0) {
                m->slots[i] = id;
                break;
            }
            size_t olen;
            const char *ok = map_key(t, m, o, &olen);
            if (olen == len && memcmp(ok, k, len) == 0) break; /* duplicate piece: first id wins */
        }
    }
    return SEER_OK;
}

int32_t tok_map_find(const seer_tok *t, const tok_map *m, const char *s, size_t len) {
    if (!m->slots) return -1;
    size_t i = (size_t)hash_bytes(s, len) & m->mask;
    for (;; i = (i + 1) & m->mask) {
        int32_t o = m->slots[i];
        if (o < 0) return -1;
        size_t olen;
        const char *ok = map_key(t, m, o, &olen);
        if (olen == len && memcmp(ok, s, len) == 0) return o;
    }
}

void tok_map_free(tok_map *m) {
    free(m->slots);
    m->slots = NULL;
    m->mask = 0;
}

/* ---- merge heap -------------------------------------------------------------------------- */

static int cand_less(const tok_cand *a, const tok_cand *b) {
    if (a->key != b->key) return a->key < b->key;
    return a->left < b->left;
}

int tok_heap_push(tok_heap *h, const tok_cand *c) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof(*h->a)) return -1;
        tok_cand *na = realloc(h->a, cap * sizeof(*na));
        if (!na) return -1;
        h->a = na;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(c, &h->a[p])) break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = *c;
    return 0;
}

int tok_heap_pop(tok_heap *h, tok_cand *out) {
    if (h->n == 0) return 0;
    *out = h->a[0];
    tok_cand last = h->a[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= n) break;
        size_t m = l + 1 < n && cand_less(&h->a[l + 1], &h->a[l]) ? l + 1 : l;
        if (!cand_less(&h->a[m], &last)) break;
        h->a[i] = h->a[m];
        i = m;
    }
    if (n > 0) h->a[i] = last;
    return 1;
}

int tok_ids_push(tok_ids *v, int32_t id) {
    if (v->n == v->cap || !v->a) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof(*v->a)) return -1;
        int32_t *na = realloc(v->a, cap * sizeof(*na));
        if (!na) return -1;
        v->a = na;
        v->cap = cap;
    }
    v->a[v->n++] = id;
    return 0;
}

/* ---- accessors --------------------------------------------------------------------------- */

seer_tok_kind seer_tok_get_kind(const seer_tok *t) { return t->kind; }
int32_t seer_tok_n_vocab(const seer_tok *t) { return t->n_vocab; }
int32_t seer_tok_bos(const seer_tok *t) { return t->bos; }
int32_t seer_tok_eos(const seer_tok *t) { return t->eos; }
int seer_tok_get_add_bos(const seer_tok *t) { return t->add_bos && t->bos >= 0; }

const char *seer_tok_piece(const seer_tok *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) {
        if (len) *len = 0;
        return NULL;
    }
    size_t n;
    const char *s = tok_raw(t, id, &n);
    if (len) *len = n;
    return s;
}

float seer_tok_score(const seer_tok *t, int32_t id) {
    return id >= 0 && id < t->n_vocab ? t->scores[id] : 0.0f;
}

seer_tok_type seer_tok_get_type(const seer_tok *t, int32_t id) {
    return id >= 0 && id < t->n_vocab ? (seer_tok_type)t->types[id] : SEER_TOK_TYPE_UNDEFINED;
}

int32_t seer_tok_find_piece(const seer_tok *t, const char *piece, size_t len) {
    return tok_map_find(t, &t->raw_map, piece, len);
}

/* ---- encode / decode --------------------------------------------------------------------- */

seer_status seer_tok_encode(const seer_tok *t, const char *text, size_t len, int add_bos, int32_t **ids,
                            size_t *n_ids, seer_err *err) {
    *ids = NULL;
    *n_ids = 0;
    if (!text && len > 0) return seer_err_set(err, SEER_ERR_INVALID, "tok: encode given NULL text of %zu bytes", len);
    tok_ids v = {0};
    if (add_bos && t->bos >= 0 && tok_ids_push(&v, t->bos) != 0) goto out_nomem;
    seer_status st = t->kind == SEER_TOK_SPM ? tok_spm_encode(t, text, len, &v, err)
                                             : tok_gpt2_encode(t, text, len, &v, err);
    if (st != SEER_OK) {
        free(v.a);
        return st;
    }
    if (!v.a && tok_ids_push(&v, 0) == 0) v.n = 0; /* a real (empty) allocation, so callers can free */
    if (!v.a) goto out_nomem;
    *ids = v.a;
    *n_ids = v.n;
    return SEER_OK;
out_nomem:
    free(v.a);
    return seer_err_set(err, SEER_ERR_NOMEM, "tok: out of memory encoding %zu bytes", len);
}

/* The bytes id stands for after prev, as a pointer into the blob. */
static const char *piece_bytes(const seer_tok *t, int32_t prev, int32_t id, size_t *n) {
    *n = 0;
    if (id < 0 || id >= t->n_vocab) return "";
    const char *s = tok_dec(t, id, n);
    /* SPM adds a space before the text; the piece right after BOS carries it (llama2.c). */
    if (t->kind == SEER_TOK_SPM && t->add_space_prefix && prev >= 0 && prev == t->bos && *n > 0 && s[0] == ' ') {
        s++;
        (*n)--;
    }
    return s;
}

size_t seer_tok_decode_piece(const seer_tok *t, int32_t prev, int32_t id, char *buf, size_t cap) {
    size_t n;
    const char *s = piece_bytes(t, prev, id, &n);
    if (buf && cap) memcpy(buf, s, n < cap ? n : cap);
    return n;
}

seer_status seer_tok_decode(const seer_tok *t, const int32_t *ids, size_t n, char **out, seer_err *err) {
    *out = NULL;
    size_t total = 0, k;
    for (size_t i = 0; i < n; i++) {
        piece_bytes(t, i ? ids[i - 1] : -1, ids[i], &k);
        if (seer_add_size(total, k, &total)) return seer_err_set(err, SEER_ERR_RANGE, "tok: decoded text too long");
    }
    char *s = malloc(total + 1);
    if (!s) return seer_err_set(err, SEER_ERR_NOMEM, "tok: out of memory decoding %zu tokens (%zu bytes)", n, total);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = piece_bytes(t, i ? ids[i - 1] : -1, ids[i], &k);
        memcpy(s + at, p, k);
        at += k;
    }
    s[at] = 0;
    *out = s;
    return SEER_OK;
}

/* ---- streaming decode -------------------------------------------------------------------- */

void seer_tok_stream_init(seer_tok_stream *s, const seer_tok *t) {
    memset(s, 0, sizeof(*s));
    s->tok = t;
    s->prev = -1;
}

/* Start of the incomplete character at the end of a (bytes 0..n-1 read through at()), or n
 * when the text ends on a complete character or on bytes that can never complete. */
static size_t incomplete_tail(const uint8_t *pend, size_t np, const uint8_t *p, size_t n) {
    size_t total = np + n;
#define AT(i) ((i) < np ? pend[i] : p[(i) - np])
    size_t i = total, conts = 0;
    while (i > 0 && conts < 3 && (AT(i - 1) & 0xC0) == 0x80) {
        i--;
        conts++;
    }
    if (i == 0) return total;
    uint8_t lead = AT(i - 1);
    int need = tok_utf8_lead_len(lead);
    if (lead >= 0xC2 && lead <= 0xF4 && (size_t)need > conts + 1) return i - 1;
#undef AT
    return total;
}

/* Largest count <= cap that does not end inside a UTF-8 character of s[0..n). */
static size_t cut_at_char(const uint8_t *s, size_t n, size_t cap) {
    if (n <= cap) return n;
    size_t k = cap;
    while (k > 0 && cap - k < 3 && (s[k] & 0xC0) == 0x80) k--;
    return (s[k] & 0xC0) == 0x80 || k == 0 ? cap : k;
}

size_t seer_tok_stream_push(seer_tok_stream *s, int32_t id, char *buf, size_t cap) {
    size_t n;
    const uint8_t *p = (const uint8_t *)piece_bytes(s->tok, s->prev, id, &n);
    s->prev = id;
    size_t np = (size_t)s->n_pending;
    size_t keep = incomplete_tail(s->pending, np, p, n);
    /* Bytes [0, keep) of pending+piece go out now; [keep, np+n) (at most 3) wait. */
    uint8_t tail[8] = {0};
    size_t nt = 0;
    for (size_t i = keep; i < np + n; i++) tail[nt++] = i < np ? s->pending[i] : p[i - np];
    size_t out = 0;
    if (buf && cap) {
        size_t from_pend = keep < np ? keep : np;
        size_t k = from_pend < cap ? from_pend : cap;
        memcpy(buf, s->pending, k);
        out = k;
        if (keep > np && out < cap) {
            size_t want = keep - np;
            size_t room = cap - out;
            size_t take = want <= room ? want : cut_at_char(p, want, room);
            memcpy(buf + out, p, take);
            out += take;
        }
    }
    memcpy(s->pending, tail, nt);
    s->n_pending = (int)nt;
    return out;
}

size_t seer_tok_stream_flush(seer_tok_stream *s, char *buf, size_t cap) {
    size_t n = (size_t)s->n_pending;
    s->n_pending = 0;
    if (!buf) return 0;
    if (n > cap) n = cap;
    if (n) memcpy(buf, s->pending, n);
    return n;
}

/* ---- seer_tok_load: what does this path hold? -------------------------------------------- */

static const char *base_name(const char *path) {
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* path with its last component replaced by name (malloc'd; NULL on OOM). */
static char *sibling(const char *path, const char *name) {
    const char *b = base_name(path);
    size_t dlen = (size_t)(b - path);
    size_t nlen = strlen(name);
    char *s = malloc(dlen + nlen + 1);
    if (!s) return NULL;
    memcpy(s, path, dlen);
    memcpy(s + dlen, name, nlen + 1);
    return s;
}

/* A vocabulary json plus the first of two merges file names that exists beside it. */
static seer_status load_vocab_json(const char *path, const char *merges1, const char *merges2, seer_tok **out,
                                   seer_err *err) {
    char *m1 = sibling(path, merges1), *m2 = sibling(path, merges2);
    seer_status st;
    if (!m1 || !m2) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "tok: out of memory");
    } else if (seer_path_exists(m1)) {
        st = tok_load_gpt2_files(path, m1, out, err);
    } else if (seer_path_exists(m2)) {
        st = tok_load_gpt2_files(path, m2, out, err);
    } else {
        st = seer_err_set(err, SEER_ERR_IO, "tok: '%s' needs its merges beside it: neither '%s' nor '%s' exists", path,
                          m1, m2);
    }
    free(m1);
    free(m2);
    return st;
}

static int is_tok_bin(const struct dirent *d) {
    return strncmp(d->d_name, "tok", 3) == 0 && ends_with(d->d_name, ".bin");
}

static seer_status load_folder(const char *dir, seer_tok **out, seer_err *err) {
    static const char *const singles[] = {"tokenizer.json"};
    static const char *const pairs[][2] = {{"vocab.json", "merges.txt"}, {"encoder.json", "vocab.bpe"}};
    seer_status st = SEER_OK;
    char *a = NULL, *b = NULL;
    a = seer_path_join(dir, singles[0]);
    if (!a) goto out_nomem;
    if (seer_path_exists(a)) {
        st = tok_load_hf_file(a, out, err);
        goto out_free;
    }
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        free(a);
        free(b);
        a = seer_path_join(dir, pairs[i][0]);
        b = seer_path_join(dir, pairs[i][1]);
        if (!a || !b) goto out_nomem;
        if (seer_path_exists(a) && seer_path_exists(b)) {
            st = tok_load_gpt2_files(a, b, out, err);
            goto out_free;
        }
    }
    free(a);
    a = seer_path_join(dir, "tokenizer.bin");
    if (!a) goto out_nomem;
    if (seer_path_exists(a)) {
        st = tok_load_llama2c_file(a, out, err);
        goto out_free;
    }
    struct dirent **list = NULL;
    int n = scandir(dir, &list, is_tok_bin, alphasort);
    if (n < 0) {
        st = seer_err_set(err, SEER_ERR_IO, "tok: cannot list folder '%s': %s", dir, strerror(errno));
        goto out_free;
    }
    if (n > 0) {
        free(a);
        a = seer_path_join(dir, list[0]->d_name);
        st = a ? tok_load_llama2c_file(a, out, err) : seer_err_set(err, SEER_ERR_NOMEM, "tok: out of memory");
    } else {
        st = seer_err_set(err, SEER_ERR_IO,
                          "tok: folder '%s' holds no tokenizer (looked for tokenizer.json, vocab.json + merges.txt, "
                          "encoder.json + vocab.bpe, tokenizer.bin, tok*.bin)",
                          dir);
    }
    for (int i = 0; i < n; i++) free(list[i]);
    free(list);
    goto out_free;
out_nomem:
    st = seer_err_set(err, SEER_ERR_NOMEM, "tok: out of memory");
out_free:
    free(a);
    free(b);
    return st;
}

seer_status seer_tok_load(const char *path, seer_tok **out, seer_err *err) {
    *out = NULL;
    if (seer_path_is_dir(path)) return load_folder(path, out, err);
    FILE *f = fopen(path, "rb");
    if (!f) return seer_err_set(err, SEER_ERR_IO, "tok: cannot open '%s': %s", path, strerror(errno));
    char magic[4] = {0};
    size_t got = fread(magic, 1, 4, f);
    (void)fclose(f); /* read only: nothing to lose */
    if (got == 4 && memcmp(magic, "GGUF", 4) == 0) return tok_load_gguf_file(path, out, err);
    const char *b = base_name(path);
    if (strcmp(b, "encoder.json") == 0) return load_vocab_json(path, "vocab.bpe", "merges.txt", out, err);
    if (strcmp(b, "vocab.json") == 0) return load_vocab_json(path, "merges.txt", "vocab.bpe", out, err);
    if (ends_with(b, ".json")) return tok_load_hf_file(path, out, err);
    return tok_load_llama2c_file(path, out, err);
}
