/* Private to src/tok: the tokenizer object that every loader fills and both encoders read,
 * plus the small pieces they share (piece hash map, merge candidate heap, UTF-8 and Unicode
 * helpers). Public API and semantics are in include/seer/tok.h. */
#ifndef SEER_TOK_IMPL_H
#define SEER_TOK_IMPL_H

#include "seer/tok.h"

/* Caps on what a tokenizer file may declare, checked before anything is allocated. */
#define TOK_MAX_VOCAB (1 << 24)
#define TOK_MAX_PIECE (1 << 16) /* bytes in one piece */

/* Open-addressing map from a token's key bytes to its id; slots hold ids (-1 empty) and the
 * key is read back from the tokenizer's blob, so the map stores no strings of its own. */
typedef struct tok_map {
    int32_t *slots;
    size_t mask;
    int use_dec; /* key is the decoded text (SPM lookups) rather than the raw piece */
} tok_map;

/* One GPT-2 merge: the pair (left id, right id) packed in key, its rank and the merged id. */
typedef struct tok_pair {
    uint64_t key; /* UINT64_MAX: empty slot */
    int32_t rank;
    int32_t id;
} tok_pair;

struct seer_tok {
    seer_tok_kind kind;
    int32_t n_vocab;
    int32_t bos, eos, unk;
    int add_bos;
    int add_space_prefix; /* SPM: a " " goes before non-empty text, and is dropped after BOS */
    /* Every piece twice, NUL-terminated: raw as stored, and the bytes it decodes to. */
    char *blob;
    size_t blob_len, blob_cap;
    uint32_t *raw_off, *dec_off; /* 32 bits: a blob past 4 GiB is refused (tok_set_piece) */
    uint32_t *raw_len, *dec_len;
    float *scores;
    uint8_t *types;        /* seer_tok_type */
    uint8_t *has_piece;    /* loader bookkeeping: id was given a piece */
    int32_t byte_id[256];  /* SPM: <0xAB> token of each byte; GPT-2: single-byte token */
    tok_map raw_map;       /* raw piece -> id, every token (first id wins on duplicates) */
    tok_map spm_map;       /* SPM: decoded text -> id, mergeable pieces only */
    /* SPM: bit (x << 8 | y) set when bytes x, y follow each other inside some mergeable piece.
     * Where the text has an unset pair, no merge can ever cross, so the encoder merges the
     * stretches between such places separately (same result, small heaps). */
    uint8_t spm_joins[256 * 256 / 8];
    tok_pair *pairs;       /* GPT-2 merges, open addressing */
    size_t pair_mask;
    size_t n_merges;
};

/* ---- object (tok.c) ---- */
seer_status tok_alloc(seer_tok_kind kind, int64_t n_vocab, const char *what, seer_tok **out, seer_err *err);
seer_status tok_set_piece(seer_tok *t, int32_t id, const char *s, size_t len, seer_err *err);
seer_status tok_set_dec(seer_tok *t, int32_t id, const char *s, size_t len, seer_err *err);
static inline const char *tok_raw(const seer_tok *t, int32_t id, size_t *len) {
    *len = t->raw_len[id];
    return t->blob + t->raw_off[id];
}
static inline const char *tok_dec(const seer_tok *t, int32_t id, size_t *len) {
    *len = t->dec_len[id];
    return t->blob + t->dec_off[id];
}
/* Parses "<0xAB>" into 0xAB; -1 if the piece is not of that form. */
int tok_parse_byte_piece(const char *s, size_t len);

/* ---- piece map (tok.c) ---- */
seer_status tok_map_build(seer_tok *t, tok_map *m, int use_dec, const uint8_t *include, seer_err *err);
int32_t tok_map_find(const seer_tok *t, const tok_map *m, const char *s, size_t len);
void tok_map_free(tok_map *m);

/* ---- merge candidates: a binary min-heap ordered by key, then by left position (tok.c) ---- */
typedef struct tok_cand {
    double key;    /* SPM: -score; GPT-2: rank */
    int32_t left;  /* symbol index */
    int32_t right;
    uint32_t len;  /* bytes of left + right when pushed; a mismatch later means stale */
    int32_t id;    /* merged token */
} tok_cand;
typedef struct tok_heap {
    tok_cand *a;
    size_t n, cap;
} tok_heap;
int tok_heap_push(tok_heap *h, const tok_cand *c); /* 0, or -1 out of memory */
int tok_heap_pop(tok_heap *h, tok_cand *out);      /* 1 popped, 0 empty */

/* A symbol of the sequence being merged: a span of the text (or of one word), linked. */
typedef struct tok_sym {
    int32_t prev, next;
    uint32_t start, len; /* len 0: absorbed into its left neighbour */
    int32_t id;
    int32_t nomerge; /* SPM byte fallback: never merges */
} tok_sym;

/* Growable id output shared by the encoders. */
typedef struct tok_ids {
    int32_t *a;
    size_t n, cap;
} tok_ids;
int tok_ids_push(tok_ids *v, int32_t id); /* 0, or -1 out of memory */

/* ---- SPM (spm.c) ---- */
/* Fills decoded texts, byte tokens and the lookup map once every piece, score and type is set. */
seer_status tok_spm_finish(seer_tok *t, seer_err *err);
seer_status tok_spm_encode(const seer_tok *t, const char *text, size_t len, tok_ids *out, seer_err *err);

/* ---- GPT-2 (gpt2.c, gpt2_pretok.c) ---- */
/* After the pieces are set: decoded texts, byte tokens, piece map; sizes the merge table. */
seer_status tok_gpt2_finish_vocab(seer_tok *t, size_t n_merges, seer_err *err);
/* Adds merge number rank: pieces a and b (raw, byte-level alphabet). what names the source
 * item for messages ("merges.txt line 7"). */
seer_status tok_gpt2_add_merge(seer_tok *t, const char *a, size_t alen, const char *b, size_t blen,
                               size_t rank, const char *what, seer_err *err);
/* The same for a "a b" line. */
seer_status tok_gpt2_add_merge_line(seer_tok *t, const char *line, size_t len, size_t rank,
                                    const char *what, seer_err *err);
/* Picks BOS/EOS/control types from <|endoftext|> when the source did not say. */
void tok_gpt2_default_special(seer_tok *t);
seer_status tok_gpt2_encode(const seer_tok *t, const char *text, size_t len, tok_ids *out, seer_err *err);
/* End of the pre-token that starts at byte i (GPT-2's split pattern); always > i when i < len. */
size_t tok_gpt2_pretok_next(const uint8_t *s, size_t len, size_t i);
/* GPT-2's byte <-> printable character alphabet. */
uint32_t tok_gpt2_byte_to_cp(uint8_t b);
int tok_gpt2_cp_to_byte(uint32_t cp); /* -1 if cp is not in the alphabet */

/* ---- UTF-8 and Unicode classes (utf8.c, unicode_tab.c) ---- */
/* Length (1..4) of the well-formed character at s, with its code point; 0 if s[0] does not
 * start one (overlong, surrogate, out of range, truncated, stray continuation byte). */
int tok_utf8_decode(const uint8_t *s, size_t len, uint32_t *cp);
int tok_utf8_encode(uint32_t cp, char out[4]);
/* Expected length of a sequence from its first byte (1 for ASCII and for bytes that cannot
 * start one). */
int tok_utf8_lead_len(uint8_t b);

enum { TOK_UC_OTHER = 0, TOK_UC_LETTER, TOK_UC_NUMBER, TOK_UC_SPACE };
int tok_unicode_class(uint32_t cp); /* \p{L}, \p{N}, White_Space, or other */

/* ---- loaders (tok_llama2c.c, tok_hf.c, tok_gguf.c) used by seer_tok_load (tok.c) ---- */
seer_status tok_load_hf_file(const char *path, seer_tok **out, seer_err *err);
seer_status tok_load_gpt2_files(const char *vocab_path, const char *merges_path, seer_tok **out, seer_err *err);
seer_status tok_load_gguf_file(const char *path, seer_tok **out, seer_err *err);
seer_status tok_load_llama2c_file(const char *path, seer_tok **out, seer_err *err);

#endif
