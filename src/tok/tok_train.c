/* The BPE tokenizer trainer: characters counted and the rarest left to byte fallback, text cut
 * into words, pair counts kept up to date incrementally across merges (a pair remembers the
 * words it occurs in; a heap with lazy re-checks gives the most frequent), and the result
 * written as a llama2.c tokenizer image that the ordinary loader turns into a seer_tok. */
#include "seer/tok_train.h"

#include "tok/tok_impl.h"

#include <stdlib.h>
#include <string.h>

#define TT_MAX_VOCAB (1 << 20)
#define TT_MAX_WORD 256 /* bytes; longer runs are cut, so one odd line cannot dominate a merge */

/* ---- small hash maps ---- */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Slots of int32 values (-1 empty); keys are read back through the caller's tables. */
typedef struct tt_slots {
    int32_t *v;
    size_t mask, n;
} tt_slots;

static int slots_init(tt_slots *s, size_t cap) {
    size_t c = 1024;
    while (c < cap * 2) c *= 2;
    s->v = malloc(c * sizeof(*s->v));
    if (!s->v) return -1;
    memset(s->v, 0xff, c * sizeof(*s->v));
    s->mask = c - 1;
    s->n = 0;
    return 0;
}

/* ---- trainer state ---- */

typedef struct tt_word {
    const char *s; /* bytes in the caller's (prefixed) text */
    uint32_t len;
    uint32_t stamp; /* last merge that visited it */
    int64_t count;
    size_t off; /* symbols at syms[off .. off + n) */
    int32_t n;
} tt_word;

typedef struct tt_sym {
    size_t off; /* bytes at pb[off .. off + len) */
    uint32_t len;
} tt_sym;

typedef struct tt_pair {
    int32_t a, b;
    int64_t count;
    int32_t *w; /* words it has occurred in (a word once per run of additions) */
    int32_t nw, capw;
    int32_t last_w;
    uint32_t touch; /* last merge that created it */
    uint8_t done;   /* merged, or too long to merge */
} tt_pair;

typedef struct tt_ent {
    int64_t count;
    int32_t pair;
} tt_ent;

typedef struct tt {
    /* characters: key = bytes packed little-endian | len << 32 */
    uint64_t *ch_key;
    int64_t *ch_count;
    int32_t n_ch, cap_ch;
    tt_slots ch_map;
    int32_t *ch_sym; /* char index -> symbol id, -1 when left to byte fallback */
    /* words */
    tt_word *words;
    int32_t n_words, cap_words;
    tt_slots word_map;
    int32_t *syms;
    /* symbols */
    tt_sym *sym;
    int32_t n_sym, cap_sym;
    char *pb;
    size_t pb_len, pb_cap;
    tt_slots sym_map;
    int32_t *merged; /* symbol ids of learned pieces, in order */
    int32_t n_merged;
    /* pairs */
    tt_pair *pairs;
    int32_t n_pairs, cap_pairs;
    uint64_t *pair_key; /* slot -> key, parallel to pair_map.v */
    tt_slots pair_map;
    tt_ent *heap;
    size_t n_heap, cap_heap;
    int32_t *touched;
    int32_t n_touched, cap_touched;
} tt;

/* arr grown to hold n + 1 elements of size elem (arr itself when it has room); NULL on out of
 * memory, with arr still valid and *cap unchanged. */
static void *grow(void *arr, int32_t *cap, int32_t n, size_t elem) {
    if (n < *cap) return arr;
    if (*cap >= INT32_MAX / 2) return NULL;
    int32_t nc = *cap ? *cap * 2 : 256;
    size_t bytes;
    if (seer_mul_size((size_t)nc, elem, &bytes)) return NULL;
    void *p = realloc(arr, bytes);
    if (p) *cap = nc;
    return p;
}

static uint64_t char_key(const char *s, size_t g) {
    uint64_t k = (uint64_t)g << 32;
    for (size_t i = 0; i < g; i++) k |= (uint64_t)(uint8_t)s[i] << (8 * i);
    return k;
}

/* Index of character key k, added with count 0 if new; -1 on out of memory. */
static int32_t char_find(tt *t, uint64_t k, int add) {
    if ((size_t)t->n_ch * 2 >= t->ch_map.mask) { /* keep the load under one half */
        tt_slots ns;
        if (slots_init(&ns, (t->ch_map.mask + 1)) != 0) return -1;
        for (int32_t i = 0; i < t->n_ch; i++) {
            size_t h = hash_u64(t->ch_key[i]) & ns.mask;
            while (ns.v[h] >= 0) h = (h + 1) & ns.mask;
            ns.v[h] = i;
        }
        free(t->ch_map.v);
        t->ch_map = ns;
    }
    size_t h = hash_u64(k) & t->ch_map.mask;
    for (; t->ch_map.v[h] >= 0; h = (h + 1) & t->ch_map.mask)
        if (t->ch_key[t->ch_map.v[h]] == k) return t->ch_map.v[h];
    if (!add) return -2;
    void *g_ = grow(t->ch_key, &t->cap_ch, t->n_ch, sizeof(*t->ch_key));
    if (!g_) return -1;
    t->ch_key = g_;
    int64_t *nc = realloc(t->ch_count, (size_t)t->cap_ch * sizeof(*nc));
    if (!nc) return -1;
    t->ch_count = nc;
    t->ch_key[t->n_ch] = k;
    t->ch_count[t->n_ch] = 0;
    t->ch_map.v[h] = t->n_ch;
    return t->n_ch++;
}

/* The UTF-8 character at s[0..n) as the SPM encoder groups it: a byte and up to three
 * continuation bytes. *valid: the group is one well-formed character. */
static size_t char_len(const char *s, size_t n, int *valid) {
    size_t g = 1;
    while (g < n && g < 4 && ((uint8_t)s[g] & 0xC0) == 0x80) g++;
    uint8_t c = (uint8_t)s[0];
    size_t want = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    *valid = want == g;
    return g;
}

enum { CL_SPACE, CL_LETTER, CL_DIGIT, CL_PUNCT, CL_CTRL };

static int char_class(uint8_t c) {
    if (c == ' ') return CL_SPACE;
    if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return CL_LETTER;
    if (c >= '0' && c <= '9') return CL_DIGIT;
    if (c < 0x20 || c == 0x7f) return CL_CTRL;
    return CL_PUNCT;
}

/* ---- symbols ---- */

static int32_t sym_lookup(const tt *t, const char *s, size_t len, size_t *slot) {
    size_t h = hash_bytes(s, len) & t->sym_map.mask;
    for (; t->sym_map.v[h] >= 0; h = (h + 1) & t->sym_map.mask) {
        const tt_sym *y = &t->sym[t->sym_map.v[h]];
        if (y->len == len && memcmp(t->pb + y->off, s, len) == 0) break;
    }
    *slot = h;
    return t->sym_map.v[h];
}

/* The symbol spelled s[0..len), added if new (*added set); -1 on out of memory. */
static int32_t sym_intern(tt *t, const char *s, size_t len, int *added) {
    *added = 0;
    size_t h;
    int32_t id = sym_lookup(t, s, len, &h);
    if (id >= 0) return id;
    if ((size_t)t->n_sym * 2 >= t->sym_map.mask) {
        tt_slots ns;
        if (slots_init(&ns, t->sym_map.mask + 1) != 0) return -1;
        for (int32_t i = 0; i < t->n_sym; i++) {
            size_t k = hash_bytes(t->pb + t->sym[i].off, t->sym[i].len) & ns.mask;
            while (ns.v[k] >= 0) k = (k + 1) & ns.mask;
            ns.v[k] = i;
        }
        free(t->sym_map.v);
        t->sym_map = ns;
        sym_lookup(t, s, len, &h);
    }
    void *g_ = grow(t->sym, &t->cap_sym, t->n_sym, sizeof(*t->sym));
    if (!g_) return -1;
    t->sym = g_;
    if (t->pb_len + len > t->pb_cap) {
        size_t nc = t->pb_cap ? t->pb_cap * 2 : 4096;
        while (nc < t->pb_len + len) nc *= 2;
        char *p = realloc(t->pb, nc);
        if (!p) return -1;
        t->pb = p;
        t->pb_cap = nc;
    }
    /* s may point into pb itself (a concatenation is built there first), so move, not copy. */
    memmove(t->pb + t->pb_len, s, len);
    t->sym[t->n_sym] = (tt_sym){t->pb_len, (uint32_t)len};
    t->pb_len += len;
    t->sym_map.v[h] = t->n_sym;
    *added = 1;
    return t->n_sym++;
}

/* ---- words ---- */

/* Counts one word (all its characters kept); -1 on out of memory. */
static int word_add(tt *t, const char *s, size_t len) {
    if ((size_t)t->n_words * 2 >= t->word_map.mask) {
        tt_slots ns;
        if (slots_init(&ns, t->word_map.mask + 1) != 0) return -1;
        for (int32_t i = 0; i < t->n_words; i++) {
            size_t k = hash_bytes(t->words[i].s, t->words[i].len) & ns.mask;
            while (ns.v[k] >= 0) k = (k + 1) & ns.mask;
            ns.v[k] = i;
        }
        free(t->word_map.v);
        t->word_map = ns;
    }
    size_t h = hash_bytes(s, len) & t->word_map.mask;
    for (; t->word_map.v[h] >= 0; h = (h + 1) & t->word_map.mask) {
        tt_word *w = &t->words[t->word_map.v[h]];
        if (w->len == len && memcmp(w->s, s, len) == 0) {
            w->count++;
            return 0;
        }
    }
    void *g_ = grow(t->words, &t->cap_words, t->n_words, sizeof(*t->words));
    if (!g_) return -1;
    t->words = g_;
    t->words[t->n_words] = (tt_word){.s = s, .len = (uint32_t)len, .count = 1};
    t->word_map.v[h] = t->n_words++;
    return 0;
}

/* Cuts one prefixed text into words of kept characters. */
static int text_words(tt *t, const char *s, size_t n, int64_t *n_words) {
    size_t start = 0, i = 0;
    int cls = -1; /* class of the current word's body; -1: empty, or only its leading space */
    int open = 0;
    while (i < n) {
        int valid;
        size_t g = char_len(s + i, n - i, &valid);
        int32_t ci = valid ? char_find(t, char_key(s + i, g), 0) : -2;
        if (ci == -1) return -1;
        int kept = ci >= 0 && t->ch_sym[ci] >= 0;
        int c = char_class((uint8_t)s[i]);
        int cut = !kept || !open || c == CL_SPACE || (cls >= 0 && c != cls) || i + g - start > TT_MAX_WORD;
        if (cut && open) {
            if (word_add(t, s + start, i - start) != 0) return -1;
            (*n_words)++;
            open = 0;
        }
        if (kept && !open) {
            start = i;
            open = 1;
            cls = c == CL_SPACE ? -1 : c;
        } else if (kept && cls < 0) {
            cls = c;
        }
        i += g;
    }
    if (open) {
        if (word_add(t, s + start, n - start) != 0) return -1;
        (*n_words)++;
    }
    return 0;
}

/* ---- pairs ---- */

static int32_t pair_find(tt *t, int32_t a, int32_t b) {
    if ((size_t)t->n_pairs * 2 >= t->pair_map.mask) {
        tt_slots ns;
        if (slots_init(&ns, t->pair_map.mask + 1) != 0) return -1;
        uint64_t *nk = malloc((ns.mask + 1) * sizeof(*nk));
        if (!nk) {
            free(ns.v);
            return -1;
        }
        for (int32_t i = 0; i < t->n_pairs; i++) {
            uint64_t key = (uint64_t)(uint32_t)t->pairs[i].a << 32 | (uint32_t)t->pairs[i].b;
            size_t k = hash_u64(key) & ns.mask;
            while (ns.v[k] >= 0) k = (k + 1) & ns.mask;
            ns.v[k] = i;
            nk[k] = key;
        }
        free(t->pair_map.v);
        free(t->pair_key);
        t->pair_map = ns;
        t->pair_key = nk;
    }
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    size_t h = hash_u64(key) & t->pair_map.mask;
    for (; t->pair_map.v[h] >= 0; h = (h + 1) & t->pair_map.mask)
        if (t->pair_key[h] == key) return t->pair_map.v[h];
    void *g_ = grow(t->pairs, &t->cap_pairs, t->n_pairs, sizeof(*t->pairs));
    if (!g_) return -1;
    t->pairs = g_;
    t->pairs[t->n_pairs] = (tt_pair){.a = a, .b = b, .last_w = -1};
    t->pair_map.v[h] = t->n_pairs;
    t->pair_key[h] = key;
    return t->n_pairs++;
}

/* count += delta for (a, b); records word w in its list when w >= 0. Index, or -1 on OOM. */
static int32_t pair_add(tt *t, int32_t a, int32_t b, int64_t delta, int32_t w) {
    int32_t pi = pair_find(t, a, b);
    if (pi < 0) return -1;
    tt_pair *p = &t->pairs[pi];
    p->count += delta;
    if (w >= 0 && p->last_w != w) {
        void *g_ = grow(p->w, &p->capw, p->nw, sizeof(*p->w));
        if (!g_) return -1;
        p->w = g_;
        p->w[p->nw++] = w;
        p->last_w = w;
    }
    return pi;
}

/* Heap order: higher count first, then the smaller (a, b) so ties break the same way always. */
static int ent_before(const tt *t, const tt_ent *x, const tt_ent *y) {
    if (x->count != y->count) return x->count > y->count;
    const tt_pair *p = &t->pairs[x->pair], *q = &t->pairs[y->pair];
    if (p->a != q->a) return p->a < q->a;
    return p->b < q->b;
}

static int heap_push(tt *t, int64_t count, int32_t pair) {
    if (t->n_heap == t->cap_heap) {
        size_t nc = t->cap_heap ? t->cap_heap * 2 : 4096, bytes;
        tt_ent *h = seer_mul_size(nc, sizeof(*h), &bytes) ? NULL : realloc(t->heap, bytes);
        if (!h) return -1;
        t->heap = h;
        t->cap_heap = nc;
    }
    size_t i = t->n_heap++;
    tt_ent e = {count, pair};
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!ent_before(t, &e, &t->heap[up])) break;
        t->heap[i] = t->heap[up];
        i = up;
    }
    t->heap[i] = e;
    return 0;
}

static int heap_pop(tt *t, tt_ent *out) {
    if (t->n_heap == 0) return 0;
    *out = t->heap[0];
    tt_ent last = t->heap[--t->n_heap];
    size_t i = 0, n = t->n_heap;
    for (;;) {
        size_t l = 2 * i + 1, best = i;
        const tt_ent *bv = &last;
        if (l < n && ent_before(t, &t->heap[l], bv)) best = l, bv = &t->heap[l];
        if (l + 1 < n && ent_before(t, &t->heap[l + 1], bv)) best = l + 1;
        if (best == i) break;
        t->heap[i] = t->heap[best];
        i = best;
    }
    if (n) t->heap[i] = last;
    return 1;
}

/* Replaces every (a, b) by c in the words holding it, keeping pair counts exact. */
static int apply_merge(tt *t, int32_t pi, int32_t c, uint32_t stamp) {
    int32_t a = t->pairs[pi].a, b = t->pairs[pi].b;
    int32_t *wl = t->pairs[pi].w, nw = t->pairs[pi].nw; /* this pair gains no words below */
    t->n_touched = 0;
    for (int32_t k = 0; k < nw; k++) {
        tt_word *w = &t->words[wl[k]];
        if (w->stamp == stamp) continue;
        w->stamp = stamp;
        int32_t *s = t->syms + w->off, n = w->n, hit = 0;
        for (int32_t i = 0; i + 1 < n && !hit; i++) hit = s[i] == a && s[i + 1] == b;
        if (!hit) continue; /* an earlier merge took the pair out of this word */
        for (int32_t i = 0; i + 1 < n; i++)
            if (pair_add(t, s[i], s[i + 1], -w->count, -1) < 0) return -1;
        int32_t j = 0;
        for (int32_t i = 0; i < n;) {
            if (i + 1 < n && s[i] == a && s[i + 1] == b) {
                s[j++] = c;
                i += 2;
            } else {
                s[j++] = s[i++];
            }
        }
        w->n = j;
        for (int32_t i = 0; i + 1 < j; i++) {
            int is_new = s[i] == c || s[i + 1] == c;
            int32_t q = pair_add(t, s[i], s[i + 1], w->count, is_new ? wl[k] : -1);
            if (q < 0) return -1;
            if (is_new && t->pairs[q].touch != stamp) {
                t->pairs[q].touch = stamp;
                void *g_ = grow(t->touched, &t->cap_touched, t->n_touched, sizeof(*t->touched));
                if (!g_) return -1;
                t->touched = g_;
                t->touched[t->n_touched++] = q;
            }
        }
    }
    /* Counts only rose for pairs holding c; the rest fell and are re-checked when popped. */
    for (int32_t k = 0; k < t->n_touched; k++) {
        const tt_pair *p = &t->pairs[t->touched[k]];
        if (!p->done && p->count > 0 && heap_push(t, p->count, t->touched[k]) != 0) return -1;
    }
    free(t->pairs[pi].w);
    t->pairs[pi].w = NULL;
    t->pairs[pi].nw = t->pairs[pi].capw = 0;
    return 0;
}

static void tt_free(tt *t) {
    free(t->ch_key);
    free(t->ch_count);
    free(t->ch_map.v);
    free(t->ch_sym);
    free(t->words);
    free(t->word_map.v);
    free(t->syms);
    free(t->sym);
    free(t->pb);
    free(t->sym_map.v);
    free(t->merged);
    for (int32_t i = 0; i < t->n_pairs; i++) free(t->pairs[i].w);
    free(t->pairs);
    free(t->pair_key);
    free(t->pair_map.v);
    free(t->heap);
    free(t->touched);
}

/* ---- output ---- */

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static void put_f32(uint8_t *p, float f) {
    uint32_t v;
    memcpy(&v, &f, sizeof(v));
    put_u32(p, v);
}

/* The llama2.c tokenizer.bin image of the result, loaded back as a seer_tok. */
static seer_status build_tok(const tt *t, const int32_t *char_order, int32_t n_char, seer_tok **out, seer_err *err) {
    int32_t n_vocab = SEER_TOK_TRAIN_FIXED + t->n_merged + n_char;
    size_t size = 4, max_len = 6;
    static const char *const special[3] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++) size += 8 + strlen(special[i]);
    size += (size_t)256 * (8 + 6);
    for (int32_t i = 0; i < t->n_merged; i++) {
        size += 8 + t->sym[t->merged[i]].len;
        if (t->sym[t->merged[i]].len > max_len) max_len = t->sym[t->merged[i]].len;
    }
    for (int32_t i = 0; i < n_char; i++) size += 8 + t->sym[t->ch_sym[char_order[i]]].len;
    uint8_t *buf = malloc(size);
    if (!buf) return seer_err_set(err, SEER_ERR_NOMEM, "tokenizer train: out of memory");
    uint8_t *p = buf;
    put_u32(p, (uint32_t)max_len);
    p += 4;
    int32_t rank = 0;
#define PUT_PIECE(score, s, len)                                                               \
    do {                                                                                       \
        put_f32(p, (score));                                                                   \
        put_u32(p + 4, (uint32_t)(len));                                                       \
        memcpy(p + 8, (s), (len));                                                             \
        p += 8 + (len);                                                                        \
    } while (0)
    for (int i = 0; i < 3; i++) PUT_PIECE(0.0f, special[i], strlen(special[i]));
    for (int b = 0; b < 256; b++) {
        char piece[8];
        snprintf(piece, sizeof(piece), "<0x%02X>", b);
        PUT_PIECE(0.0f, piece, 6);
    }
    for (int32_t i = 0; i < t->n_merged; i++, rank++) {
        const tt_sym *y = &t->sym[t->merged[i]];
        PUT_PIECE(-(float)rank, t->pb + y->off, y->len);
    }
    for (int32_t i = 0; i < n_char; i++, rank++) {
        const tt_sym *y = &t->sym[t->ch_sym[char_order[i]]];
        PUT_PIECE(-(float)rank, t->pb + y->off, y->len);
    }
#undef PUT_PIECE
    SEER_ASSERT((size_t)(p - buf) == size);
    seer_status st = seer_tok_load_llama2c_buffer(buf, size, n_vocab, out, err);
    free(buf);
    if (st != SEER_OK) seer_err_wrap(err, "tokenizer train: ");
    return st;
}

/* ---- training ---- */

seer_tok_train_opts seer_tok_train_default(int32_t vocab_size) {
    seer_tok_train_opts o = {vocab_size, 0.9995, 16, 2};
    return o;
}

typedef struct char_rank {
    int64_t count;
    uint64_t key;
    int32_t idx;
} char_rank;

/* Most frequent first; equal counts by their bytes, so the order never depends on hashing. */
static int cmp_char(const void *x, const void *y) {
    const char_rank *p = x, *q = y;
    if (p->count != q->count) return p->count > q->count ? -1 : 1;
    return p->key < q->key ? -1 : p->key > q->key;
}

seer_status seer_tok_train(const char *const *texts, const size_t *lens, const char *const *names, size_t n_texts,
                           const seer_tok_train_opts *opts, seer_tok **out, seer_tok_train_stats *stats,
                           seer_err *err) {
    *out = NULL;
    seer_tok_train_opts o = *opts;
    if (o.vocab_size <= SEER_TOK_TRAIN_FIXED || o.vocab_size > TT_MAX_VOCAB)
        return seer_err_set(err, SEER_ERR_INVALID,
                            "tokenizer train: vocab size %d is outside %d..%d (%d ids are fixed: <unk> <s> </s> and "
                            "256 bytes)",
                            (int)o.vocab_size, SEER_TOK_TRAIN_FIXED + 1, TT_MAX_VOCAB, SEER_TOK_TRAIN_FIXED);
    if (!(o.char_coverage > 0 && o.char_coverage <= 1))
        return seer_err_set(err, SEER_ERR_INVALID, "tokenizer train: character coverage %g is outside (0, 1]",
                            o.char_coverage);
    if (o.max_piece_bytes < 2 || o.max_piece_bytes > 1024)
        return seer_err_set(err, SEER_ERR_INVALID, "tokenizer train: max piece length %d is outside 2..1024 bytes",
                            (int)o.max_piece_bytes);
    if (o.min_pair_count < 1)
        return seer_err_set(err, SEER_ERR_INVALID, "tokenizer train: min pair count %d must be >= 1",
                            (int)o.min_pair_count);
    if (n_texts == 0) return seer_err_set(err, SEER_ERR_INVALID, "tokenizer train: no text given");
    for (size_t i = 0; i < n_texts; i++)
        if (lens[i] == 0)
            return seer_err_set(err, SEER_ERR_INVALID, "tokenizer train: '%s' is empty",
                                names && names[i] ? names[i] : "text");

    tt t = {0};
    seer_tok_train_stats sx = {0};
    seer_status st = SEER_OK;
    char **pre = calloc(n_texts, sizeof(*pre));
    int32_t *order = NULL;
    char_rank *rank = NULL;
    if (!pre || slots_init(&t.ch_map, 512) != 0 || slots_init(&t.word_map, 1 << 14) != 0 ||
        slots_init(&t.sym_map, 1 << 12) != 0 || slots_init(&t.pair_map, 1 << 14) != 0)
        goto out_nomem;
    t.pair_key = malloc((t.pair_map.mask + 1) * sizeof(*t.pair_key));
    if (!t.pair_key) goto out_nomem;

    /* 1. Characters, over each text with the encoder's dummy leading space. */
    for (size_t k = 0; k < n_texts; k++) {
        size_t n = lens[k] + 1;
        if (!(pre[k] = malloc(n))) goto out_nomem;
        pre[k][0] = ' ';
        memcpy(pre[k] + 1, texts[k], lens[k]);
        for (size_t i = 0; i < n;) {
            int valid;
            size_t g = char_len(pre[k] + i, n - i, &valid);
            if (valid) {
                int32_t ci = char_find(&t, char_key(pre[k] + i, g), 1);
                if (ci < 0) goto out_nomem;
                t.ch_count[ci]++;
            }
            sx.n_chars_total++;
            i += g;
        }
    }
    /* 2. Keep the most frequent characters up to the coverage (and what the vocab can hold). */
    if (!(order = malloc((size_t)(t.n_ch ? t.n_ch : 1) * sizeof(*order)))) goto out_nomem;
    if (!(rank = malloc((size_t)(t.n_ch ? t.n_ch : 1) * sizeof(*rank)))) goto out_nomem;
    if (!(t.ch_sym = malloc((size_t)(t.n_ch ? t.n_ch : 1) * sizeof(*t.ch_sym)))) goto out_nomem;
    int64_t valid_total = 0;
    for (int32_t i = 0; i < t.n_ch; i++) {
        rank[i] = (char_rank){t.ch_count[i], t.ch_key[i], i};
        t.ch_sym[i] = -1;
        valid_total += t.ch_count[i];
    }
    qsort(rank, (size_t)t.n_ch, sizeof(*rank), cmp_char);
    for (int32_t i = 0; i < t.n_ch; i++) order[i] = rank[i].idx;
    int32_t n_keep = 0;
    int64_t covered = 0;
    while (n_keep < t.n_ch && n_keep < o.vocab_size - SEER_TOK_TRAIN_FIXED &&
           (double)covered < o.char_coverage * (double)valid_total) {
        covered += t.ch_count[order[n_keep]];
        n_keep++;
    }
    SEER_ASSERT(n_keep > 0); /* the dummy space is always there */
    for (int32_t i = 0; i < n_keep; i++) {
        uint64_t k = t.ch_key[order[i]];
        char s[4];
        size_t g = (size_t)(k >> 32);
        for (size_t j = 0; j < g; j++) s[j] = (char)(k >> (8 * j));
        int added;
        int32_t id = sym_intern(&t, s, g, &added);
        if (id < 0) goto out_nomem;
        t.ch_sym[order[i]] = id;
    }
    sx.n_char_pieces = n_keep;

    /* 3. Words and their symbols. */
    for (size_t k = 0; k < n_texts; k++)
        if (text_words(&t, pre[k], lens[k] + 1, &sx.n_words) != 0) goto out_nomem;
    size_t n_syms = 0;
    for (int32_t w = 0; w < t.n_words; w++) {
        tt_word *wd = &t.words[w];
        wd->off = n_syms;
        for (uint32_t i = 0; i < wd->len; n_syms++) {
            int valid;
            i += (uint32_t)char_len(wd->s + i, wd->len - i, &valid);
        }
    }
    if (!(t.syms = malloc((n_syms ? n_syms : 1) * sizeof(*t.syms)))) goto out_nomem;
    for (int32_t w = 0; w < t.n_words; w++) {
        tt_word *wd = &t.words[w];
        int32_t *s = t.syms + wd->off;
        for (uint32_t i = 0; i < wd->len;) {
            int valid;
            size_t g = char_len(wd->s + i, wd->len - i, &valid);
            int32_t ci = char_find(&t, char_key(wd->s + i, g), 0);
            if (ci < 0) goto out_nomem; /* only a failed rehash: every character here was counted */
            s[wd->n++] = t.ch_sym[ci];
            i += (uint32_t)g;
        }
        for (int32_t i = 0; i + 1 < wd->n; i++)
            if (pair_add(&t, s[i], s[i + 1], wd->count, w) < 0) goto out_nomem;
    }
    sx.n_unique = t.n_words;
    for (int32_t i = 0; i < t.n_pairs; i++)
        if (heap_push(&t, t.pairs[i].count, i) != 0) goto out_nomem;

    /* 4. Merge the most frequent pair until the vocab is full or pairs run out. */
    int32_t target = o.vocab_size - SEER_TOK_TRAIN_FIXED - n_keep;
    if (!(t.merged = malloc((size_t)(target > 0 ? target : 1) * sizeof(*t.merged)))) goto out_nomem;
    uint32_t stamp = 0;
    tt_ent e;
    while (t.n_merged < target && heap_pop(&t, &e)) {
        tt_pair *p = &t.pairs[e.pair];
        if (p->done || e.count < p->count) continue; /* merged, or a fresher entry is queued */
        if (e.count > p->count) { /* it lost occurrences since: queue it at its true count */
            if (p->count >= o.min_pair_count && heap_push(&t, p->count, e.pair) != 0) goto out_nomem;
            continue;
        }
        if (p->count < o.min_pair_count) break; /* the best left is too rare */
        const tt_sym *ya = &t.sym[p->a], *yb = &t.sym[p->b];
        size_t len = (size_t)ya->len + yb->len;
        if (len > (size_t)o.max_piece_bytes) {
            p->done = 1;
            continue;
        }
        char cat[1024 * 2];
        memcpy(cat, t.pb + ya->off, ya->len);
        memcpy(cat + ya->len, t.pb + yb->off, yb->len);
        if (tok_parse_byte_piece(cat, len) >= 0) { /* "<0x41>" in the text: the loader would take it for a byte */
            p->done = 1;
            continue;
        }
        int added;
        int32_t c = sym_intern(&t, cat, len, &added);
        if (c < 0) goto out_nomem;
        if (added) t.merged[t.n_merged++] = c;
        t.pairs[e.pair].done = 1;
        if (apply_merge(&t, e.pair, c, ++stamp) != 0) goto out_nomem;
    }
    sx.n_merges = t.n_merged;
    sx.n_vocab = SEER_TOK_TRAIN_FIXED + t.n_merged + n_keep;

    st = build_tok(&t, order, n_keep, out, err);
    if (st == SEER_OK && stats) *stats = sx;
    goto out_free;
out_nomem:
    st = seer_err_set(err, SEER_ERR_NOMEM, "tokenizer train: out of memory");
out_free:
    for (size_t k = 0; pre && k < n_texts; k++) free(pre[k]);
    free(pre);
    free(order);
    free(rank);
    tt_free(&t);
    return st;
}

seer_status seer_tok_train_files(const char *const *paths, size_t n, const seer_tok_train_opts *opts, seer_tok **out,
                                 seer_tok_train_stats *stats, seer_err *err) {
    *out = NULL;
    if (n == 0) return seer_err_set(err, SEER_ERR_INVALID, "tokenizer train: no text files given");
    char **texts = calloc(n, sizeof(*texts));
    size_t *lens = calloc(n, sizeof(*lens));
    seer_status st = SEER_OK;
    if (!texts || !lens) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "tokenizer train: out of memory");
        goto out_free;
    }
    for (size_t i = 0; i < n && st == SEER_OK; i++) st = seer_read_file(paths[i], &texts[i], &lens[i], err);
    if (st != SEER_OK) {
        seer_err_wrap(err, "tokenizer train: ");
        goto out_free;
    }
    st = seer_tok_train((const char *const *)texts, lens, paths, n, opts, out, stats, err);
out_free:
    for (size_t i = 0; texts && i < n; i++) free(texts[i]);
    free(texts);
    free(lens);
    return st;
}
