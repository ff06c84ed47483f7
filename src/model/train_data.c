/* Training data: token corpora (encode, split, fixed validation windows), the counter-based
 * batch sampler whose state is two integers, and JSONL prompt/completion records with
 * completion-only loss masks and padded batches. */
#include "seer/train_data.h"

#include <assert.h>
#include <cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *const split_names[] = {"train", "validation"};
static_assert(SEER_SPLIT_COUNT == sizeof(split_names) / sizeof(split_names[0]), "split_names");

const char *seer_split_name(seer_split s) { return (unsigned)s < SEER_SPLIT_COUNT ? split_names[s] : "?"; }

/* ---- corpus ---- */

void seer_corpus_free(seer_corpus *c) {
    if (!c) return;
    free(c->ids);
    free(c);
}

seer_status seer_corpus_from_texts(const seer_tok *tok, const char *const *texts, const size_t *lens,
                                   const char *const *names, size_t n_texts, seer_corpus **out, seer_err *err) {
    *out = NULL;
    if (n_texts == 0) return seer_err_set(err, SEER_ERR_INVALID, "corpus: no text files given");
    seer_corpus *c = calloc(1, sizeof(*c));
    if (!c) return seer_err_set(err, SEER_ERR_NOMEM, "corpus: out of memory");
    c->n_vocab = seer_tok_n_vocab(tok);
    int add_bos = seer_tok_bos(tok) >= 0;
    size_t cap = 0;
    seer_status st = SEER_OK;
    for (size_t i = 0; i < n_texts; i++) {
        const char *name = names && names[i] ? names[i] : "text";
        if (lens[i] == 0) {
            st = seer_err_set(err, SEER_ERR_INVALID, "corpus: '%s' is empty: nothing to train on", name);
            goto out_free;
        }
        int32_t *ids;
        size_t n;
        st = seer_tok_encode(tok, texts[i], lens[i], add_bos, &ids, &n, err);
        if (st != SEER_OK) {
            seer_err_wrap(err, "corpus: '%s': ", name);
            goto out_free;
        }
        size_t need;
        if (seer_add_size(c->n_ids, n, &need)) {
            free(ids);
            st = seer_err_set(err, SEER_ERR_RANGE, "corpus: too many tokens");
            goto out_free;
        }
        if (need > cap) {
            size_t ncap = cap ? cap : 1 << 16, bytes;
            while (ncap < need) ncap *= 2;
            int32_t *g = seer_mul_size(ncap, sizeof(*g), &bytes) ? NULL : realloc(c->ids, bytes);
            if (!g) {
                free(ids);
                st = seer_err_set(err, SEER_ERR_NOMEM, "corpus: out of memory for %zu tokens", need);
                goto out_free;
            }
            c->ids = g;
            cap = ncap;
        }
        if (n) {
            SEER_ASSERT(c->ids != NULL); /* need > 0 made the buffer above */
            memcpy(c->ids + c->n_ids, ids, n * sizeof(*ids));
        }
        c->n_ids = need;
        free(ids);
    }
    c->n_train = c->n_ids;
    *out = c;
    return SEER_OK;
out_free:
    seer_corpus_free(c);
    return st;
}

seer_status seer_corpus_from_files(const seer_tok *tok, const char *const *paths, size_t n_paths, seer_corpus **out,
                                   seer_err *err) {
    *out = NULL;
    if (n_paths == 0) return seer_err_set(err, SEER_ERR_INVALID, "corpus: no text files given");
    char **texts = calloc(n_paths, sizeof(*texts));
    size_t *lens = calloc(n_paths, sizeof(*lens));
    seer_status st = SEER_OK;
    if (!texts || !lens) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "corpus: out of memory");
        goto out_free;
    }
    for (size_t i = 0; i < n_paths; i++) {
        st = seer_read_file(paths[i], &texts[i], &lens[i], err);
        if (st != SEER_OK) {
            seer_err_wrap(err, "corpus: ");
            goto out_free;
        }
    }
    st = seer_corpus_from_texts(tok, (const char *const *)texts, lens, paths, n_paths, out, err);
out_free:
    for (size_t i = 0; texts && i < n_paths; i++) free(texts[i]);
    free(texts);
    free(lens);
    return st;
}

seer_status seer_corpus_split(seer_corpus *c, double val_frac, seer_err *err) {
    if (!(val_frac >= 0 && val_frac <= 0.5))
        return seer_err_set(err, SEER_ERR_INVALID, "corpus: validation fraction %g is outside [0, 0.5]", val_frac);
    size_t n_val = (size_t)((double)c->n_ids * val_frac);
    c->n_train = c->n_ids - n_val;
    return SEER_OK;
}

const int32_t *seer_corpus_tokens(const seer_corpus *c, seer_split split, size_t *n) {
    if (split == SEER_SPLIT_VAL) {
        *n = c->n_ids - c->n_train;
        return c->ids + c->n_train;
    }
    *n = c->n_train;
    return c->ids;
}

size_t seer_corpus_n_windows(const seer_corpus *c, seer_split split, int32_t T) {
    size_t n;
    seer_corpus_tokens(c, split, &n);
    if (T <= 0 || n < (size_t)T + 1) return 0;
    return (n - 1) / (size_t)T;
}

seer_status seer_corpus_window(const seer_corpus *c, seer_split split, int32_t T, size_t i, int32_t *out,
                               seer_err *err) {
    size_t n, nw = seer_corpus_n_windows(c, split, T);
    const int32_t *ids = seer_corpus_tokens(c, split, &n);
    if (i >= nw)
        return seer_err_set(err, SEER_ERR_RANGE,
                            "corpus: %s window %zu of %d+1 tokens is past the end (%zu tokens hold %zu windows)",
                            seer_split_name(split), i, (int)T, n, nw);
    memcpy(out, ids + i * (size_t)T, ((size_t)T + 1) * sizeof(*out));
    return SEER_OK;
}

/* ---- sampler ---- */

static uint64_t mix64(uint64_t z) { /* splitmix64's finalizer: a bijection with full avalanche */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

seer_status seer_batcher_init(seer_batcher *s, const seer_corpus *c, seer_split split, int32_t B, int32_t T,
                              uint64_t seed, seer_err *err) {
    memset(s, 0, sizeof(*s));
    if (B < 1 || T < 1)
        return seer_err_set(err, SEER_ERR_INVALID, "batcher: batch size %d and sequence length %d must be >= 1", (int)B,
                            (int)T);
    size_t n;
    const int32_t *ids = seer_corpus_tokens(c, split, &n);
    if (n < (size_t)T + 1)
        return seer_err_set(err, SEER_ERR_RANGE,
                            "batcher: the %s split has %zu tokens, fewer than sequence length + 1 = %d (use more text, a "
                            "shorter sequence length or a different validation fraction)",
                            seer_split_name(split), n, (int)T + 1);
    s->ids = ids;
    s->n = n;
    s->B = B;
    s->T = T;
    s->state.seed = seed;
    return SEER_OK;
}

void seer_batcher_next(seer_batcher *s, int32_t *out) {
    SEER_ASSERT(s->ids && s->n > (size_t)s->T);
    uint64_t n_starts = (uint64_t)(s->n - (size_t)s->T); /* starts 0 .. n - T - 1 */
    size_t w = (size_t)s->T + 1;
    for (int32_t b = 0; b < s->B; b++) {
        uint64_t x = mix64(s->state.seed ^ mix64(s->state.counter + 0x9e3779b97f4a7c15ull));
        /* The high half of x * n_starts: uniform up to a bias of n_starts / 2^64. */
        uint64_t start = (uint64_t)(((unsigned __int128)x * n_starts) >> 64);
        memcpy(out + (size_t)b * w, s->ids + start, w * sizeof(*out));
        s->state.counter++;
    }
}

void seer_batcher_state_format(const seer_batcher_state *st, char *buf, size_t cap) {
    snprintf(buf, cap, "%" PRIu64 ":%" PRIu64, st->seed, st->counter);
}

seer_status seer_batcher_state_parse(const char *s, seer_batcher_state *out, seer_err *err) {
    const char *p = s;
    uint64_t v[2];
    for (int k = 0; k < 2; k++) {
        char *end;
        errno = 0;
        if (*p < '0' || *p > '9') goto bad;
        v[k] = strtoull(p, &end, 10);
        if (errno || *end != (k == 0 ? ':' : '\0')) goto bad;
        p = end + 1;
    }
    out->seed = v[0];
    out->counter = v[1];
    return SEER_OK;
bad:
    return seer_err_set(err, SEER_ERR_FORMAT, "batcher: state '%.60s' is not of the form <seed>:<counter>", s);
}

/* ---- prompt/completion records ---- */

void seer_sft_free(seer_sft_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->ex[i].ids);
        free(s->ex[i].mask);
    }
    free(s->ex);
    free(s);
}

static const char *json_kind(const cJSON *j) {
    if (cJSON_IsNull(j)) return "null";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    return "not a string";
}

/* The string field `key` of record o, or an error naming the line. */
static seer_status sft_field(const cJSON *o, const char *key, const char *what, int64_t line, const char **out,
                             seer_err *err) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!f)
        return seer_err_set(err, SEER_ERR_FORMAT, "sft '%s': line %lld: field \"%s\" is missing", what, (long long)line,
                            key);
    if (!cJSON_IsString(f))
        return seer_err_set(err, SEER_ERR_FORMAT, "sft '%s': line %lld: field \"%s\" is %s, expected a string", what,
                            (long long)line, key, json_kind(f));
    *out = f->valuestring;
    return SEER_OK;
}

/* Builds one record from its prompt and completion; the example owns its arrays after. */
static seer_status sft_build(const seer_tok *tok, const char *prompt, const char *completion, const char *what,
                             int64_t line, const seer_sft_opts *o, seer_sft_example *ex, seer_err *err) {
    int32_t *p = NULL, *c = NULL;
    size_t np = 0, nc = 0;
    seer_status st = seer_tok_encode(tok, prompt, strlen(prompt), seer_tok_bos(tok) >= 0, &p, &np, err);
    if (st == SEER_OK) st = seer_tok_encode(tok, completion, strlen(completion), 0, &c, &nc, err);
    if (st != SEER_OK) {
        seer_err_wrap(err, "sft '%s': line %lld: ", what, (long long)line);
        goto out_free;
    }
    int32_t eos = seer_tok_eos(tok);
    size_t n_eos = o->add_eos && eos >= 0 ? 1 : 0;
    size_t n = np + nc + n_eos;
    if (o->max_tokens > 0 && np >= (size_t)o->max_tokens) {
        st = seer_err_set(err, SEER_ERR_RANGE,
                          "sft '%s': line %lld: the prompt takes %zu tokens (with BOS), leaving no room for the "
                          "completion within max %d tokens",
                          what, (long long)line, np, (int)o->max_tokens);
        goto out_free;
    }
    if (o->max_tokens > 0 && n > (size_t)o->max_tokens) n = (size_t)o->max_tokens;
    if (n == np) {
        st = seer_err_set(err, SEER_ERR_FORMAT, "sft '%s': line %lld: the completion is empty: nothing to train on", what,
                          (long long)line);
        goto out_free;
    }
    if (n > INT32_MAX) {
        st = seer_err_set(err, SEER_ERR_RANGE, "sft '%s': line %lld: %zu tokens is too long", what, (long long)line, n);
        goto out_free;
    }
    ex->ids = malloc(n * sizeof(*ex->ids));
    ex->mask = malloc(n);
    if (!ex->ids || !ex->mask) {
        free(ex->ids);
        free(ex->mask);
        ex->ids = NULL;
        ex->mask = NULL;
        st = seer_err_set(err, SEER_ERR_NOMEM, "sft '%s': line %lld: out of memory", what, (long long)line);
        goto out_free;
    }
    for (size_t i = 0; i < n; i++) {
        ex->ids[i] = i < np ? p[i] : i < np + nc ? c[i - np] : eos;
        ex->mask[i] = i >= np;
    }
    ex->n = (int32_t)n;
    ex->n_prompt = (int32_t)np;
    ex->line = line;
out_free:
    free(p);
    free(c);
    return st;
}

static int blank_line(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

seer_status seer_sft_parse_jsonl(const seer_tok *tok, const char *text, size_t len, const char *what,
                                 const seer_sft_opts *opts, seer_sft_set **out, seer_err *err) {
    *out = NULL;
    seer_sft_opts o = opts ? *opts : (seer_sft_opts){0};
    if (o.max_tokens < 0)
        return seer_err_set(err, SEER_ERR_INVALID, "sft '%s': max tokens %d must be >= 0", what, (int)o.max_tokens);
    seer_sft_set *s = calloc(1, sizeof(*s));
    if (!s) return seer_err_set(err, SEER_ERR_NOMEM, "sft '%s': out of memory", what);
    seer_status st = SEER_OK;
    size_t cap = 0;
    int64_t line = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        const char *ls = text + pos;
        size_t ll = end - pos;
        line++;
        pos = end + 1;
        if (blank_line(ls, ll)) continue;
        const char *stop = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(ls, ll, &stop, 0);
        /* cJSON stops after the first value; anything but blanks after it is an error too. */
        size_t at = stop && stop >= ls && stop <= ls + ll ? (size_t)(stop - ls) : 0;
        if (j && !blank_line(ls + at, ll - at)) {
            cJSON_Delete(j);
            j = NULL;
        }
        if (!j) {
            st = seer_err_set(err, SEER_ERR_FORMAT, "sft '%s': line %lld: not valid JSON (at column %zu)", what,
                              (long long)line, at + 1);
            goto out_free;
        }
        const char *prompt = NULL, *completion = NULL;
        if (!cJSON_IsObject(j)) {
            st = seer_err_set(err, SEER_ERR_FORMAT,
                              "sft '%s': line %lld: a record must be an object {\"prompt\": ..., \"completion\": ...}, "
                              "got %s",
                              what, (long long)line, json_kind(j));
        } else {
            st = sft_field(j, "prompt", what, line, &prompt, err);
            if (st == SEER_OK) st = sft_field(j, "completion", what, line, &completion, err);
        }
        if (st == SEER_OK && s->n == cap) {
            size_t ncap = cap ? cap * 2 : 64, bytes;
            seer_sft_example *g = seer_mul_size(ncap, sizeof(*g), &bytes) ? NULL : realloc(s->ex, bytes);
            if (!g) st = seer_err_set(err, SEER_ERR_NOMEM, "sft '%s': out of memory at line %lld", what, (long long)line);
            else {
                s->ex = g;
                cap = ncap;
            }
        }
        if (st == SEER_OK) {
            memset(&s->ex[s->n], 0, sizeof(s->ex[s->n]));
            st = sft_build(tok, prompt, completion, what, line, &o, &s->ex[s->n], err);
        }
        cJSON_Delete(j);
        if (st != SEER_OK) goto out_free;
        if (s->ex[s->n].n > s->max_len) s->max_len = s->ex[s->n].n;
        s->n++;
    }
    if (s->n == 0) {
        st = seer_err_set(err, SEER_ERR_FORMAT, "sft '%s': no records (%lld lines, all blank)", what, (long long)line);
        goto out_free;
    }
    *out = s;
    return SEER_OK;
out_free:
    seer_sft_free(s);
    return st;
}

seer_status seer_sft_load_jsonl(const seer_tok *tok, const char *path, const seer_sft_opts *opts, seer_sft_set **out,
                                seer_err *err) {
    *out = NULL;
    char *text;
    size_t len;
    seer_status st = seer_read_file(path, &text, &len, err);
    if (st != SEER_OK) {
        seer_err_wrap(err, "sft: ");
        return st;
    }
    st = seer_sft_parse_jsonl(tok, text, len, path, opts, out, err);
    free(text);
    return st;
}

seer_status seer_sft_batch(const seer_sft_set *s, const size_t *idx, int32_t B, int32_t pad_id, int32_t *tokens,
                           uint8_t *mask, int32_t *L, seer_err *err) {
    *L = 0;
    if (B < 1) return seer_err_set(err, SEER_ERR_INVALID, "sft: batch size %d must be >= 1", (int)B);
    for (int32_t b = 0; b < B; b++) {
        if (idx[b] >= s->n)
            return seer_err_set(err, SEER_ERR_RANGE, "sft: batch row %d asks for record %zu of %zu", (int)b, idx[b],
                                s->n);
        if (s->ex[idx[b]].n > *L) *L = s->ex[idx[b]].n;
    }
    size_t w = (size_t)*L;
    for (int32_t b = 0; b < B; b++) {
        const seer_sft_example *e = &s->ex[idx[b]];
        int32_t *t = tokens + (size_t)b * w;
        uint8_t *m = mask + (size_t)b * w;
        memcpy(t, e->ids, (size_t)e->n * sizeof(*t));
        memcpy(m, e->mask, (size_t)e->n);
        for (size_t i = (size_t)e->n; i < w; i++) {
            t[i] = pad_id;
            m[i] = 0;
        }
    }
    return SEER_OK;
}

void seer_sft_shuffle(size_t n, uint64_t seed, uint64_t epoch, size_t *perm) {
    seer_rng r;
    seer_rng_seed(&r, seed ^ mix64(epoch + 0x9e3779b97f4a7c15ull));
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)(((unsigned __int128)seer_rng_u64(&r) * i) >> 64);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}
