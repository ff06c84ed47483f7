/* Training data: a token corpus with a train/validation split and a seeded batch sampler for
 * pretraining, and prompt/completion records (JSONL) with loss masks for fine-tuning.
 *
 * Pretraining:
 *
 *     seer_corpus *c;
 *     seer_corpus_from_files(tok, paths, n_paths, &c, &err);  // each file: BOS + its tokens
 *     seer_corpus_split(c, 0.1, &err);                          // last 10% is validation
 *     seer_batcher s;
 *     seer_batcher_init(&s, c, SEER_SPLIT_TRAIN, B, T, seed, &err);
 *     seer_batcher_next(&s, batch);                // batch [B, T+1]: inputs [:, :T], targets [:, 1:]
 *
 * The batcher draws each window's start from a counter-based generator: window k of the run
 * comes from hash(seed, k) alone, so its whole state is {seed, counter}. Saving s.state in a
 * checkpoint and restoring it resumes the exact stream of batches ("data position + RNG
 * state"). Validation reads fixed windows at stride T (seer_corpus_window) so every
 * evaluation sees the same tokens.
 *
 * Fine-tuning: each JSONL line {"prompt": str, "completion": str} becomes BOS + prompt tokens +
 * completion tokens (+ EOS when asked), with a mask that is 1 on completion tokens only; the
 * loss on token i (predicted from position i - 1) counts when mask[i] is 1. Prompt and
 * completion are encoded separately, so the boundary between them is exact (with an SPM
 * tokenizer each gets its dummy leading space: write the completion without one). Batches are
 * right-padded to the longest record in the batch with mask 0. */
#ifndef SEER_TRAIN_DATA_H
#define SEER_TRAIN_DATA_H

#include "seer/core.h"
#include "seer/tok.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- token corpus ---- */

typedef enum seer_split { SEER_SPLIT_TRAIN = 0, SEER_SPLIT_VAL, SEER_SPLIT_COUNT } seer_split;
const char *seer_split_name(seer_split s); /* "train", "validation" */

typedef struct seer_corpus {
    int32_t *ids;   /* n_ids tokens: the documents one after another, each starting with BOS */
    size_t n_ids;
    size_t n_train; /* ids[0 .. n_train) train, ids[n_train .. n_ids) validation */
    int32_t n_vocab;
} seer_corpus;

/* Encodes each file (BOS first when the tokenizer has one). An empty file, or a corpus with no
 * tokens, is an error naming the file. Starts with everything in the train split. */
seer_status seer_corpus_from_files(const seer_tok *tok, const char *const *paths, size_t n_paths, seer_corpus **out,
                                   seer_err *err);
/* The same from texts in memory; names[i] (may be NULL) labels text i in messages. */
seer_status seer_corpus_from_texts(const seer_tok *tok, const char *const *texts, const size_t *lens,
                                   const char *const *names, size_t n_texts, seer_corpus **out, seer_err *err);
void seer_corpus_free(seer_corpus *c);

/* Puts the last floor(n_ids * val_frac) tokens in the validation split; val_frac in [0, 0.5]. */
seer_status seer_corpus_split(seer_corpus *c, double val_frac, seer_err *err);
/* The tokens of one split. */
const int32_t *seer_corpus_tokens(const seer_corpus *c, seer_split split, size_t *n);

/* Fixed windows of T+1 tokens at stride T (consecutive windows share one token, so every token
 * but the first is a target exactly once): how many fit in the split. */
size_t seer_corpus_n_windows(const seer_corpus *c, seer_split split, int32_t T);
/* Copies window i (T+1 tokens) into out. */
seer_status seer_corpus_window(const seer_corpus *c, seer_split split, int32_t T, size_t i, int32_t *out,
                               seer_err *err);

/* ---- batch sampler: seer_batcher ---- */

/* Everything that decides the batcher's future batches. */
typedef struct seer_batcher_state {
    uint64_t seed;
    uint64_t counter; /* windows drawn so far */
} seer_batcher_state;

typedef struct seer_batcher {
    const int32_t *ids; /* the split's tokens, borrowed from the corpus */
    size_t n;
    int32_t B, T;
    seer_batcher_state state;
} seer_batcher;

/* The split must hold at least T+1 tokens; an error names the split, its size and T. */
seer_status seer_batcher_init(seer_batcher *s, const seer_corpus *c, seer_split split, int32_t B, int32_t T,
                              uint64_t seed, seer_err *err);
/* Fills out [B, T+1] with B windows at pseudo-random offsets and advances the counter by B. */
void seer_batcher_next(seer_batcher *s, int32_t *out);

/* The state as text for checkpoint metadata ("<seed>:<counter>", decimal; cap >= 48) and back;
 * a malformed string is an error quoting it. */
void seer_batcher_state_format(const seer_batcher_state *st, char *buf, size_t cap);
seer_status seer_batcher_state_parse(const char *s, seer_batcher_state *out, seer_err *err);

/* ---- prompt/completion records ---- */

typedef struct seer_sft_opts {
    int add_eos;        /* end each record with EOS (part of the completion: trained on) */
    int32_t max_tokens; /* 0: no limit. Longer records lose the end of their completion; a
                           record whose BOS + prompt alone reaches max_tokens is an error */
} seer_sft_opts;

typedef struct seer_sft_example {
    int32_t *ids;     /* n */
    uint8_t *mask;    /* n: 1 where ids[i] is a completion token */
    int32_t n;
    int32_t n_prompt; /* BOS + prompt tokens */
    int64_t line;     /* 1-based line in the JSONL text */
} seer_sft_example;

typedef struct seer_sft_set {
    seer_sft_example *ex;
    size_t n;
    int32_t max_len; /* the longest record */
} seer_sft_set;

/* Parses JSONL text: one object per line, blank lines skipped. Bad JSON, a line that is not an
 * object, a missing or non-string "prompt" / "completion", or a record with no completion
 * token are errors naming `what` and the line number. */
seer_status seer_sft_parse_jsonl(const seer_tok *tok, const char *text, size_t len, const char *what,
                                 const seer_sft_opts *opts, seer_sft_set **out, seer_err *err);
seer_status seer_sft_load_jsonl(const seer_tok *tok, const char *path, const seer_sft_opts *opts, seer_sft_set **out,
                                seer_err *err);
void seer_sft_free(seer_sft_set *s);

/* Gathers records idx[0..B) into tokens [B, L] and mask [B, L] (L: the longest of them,
 * written to *L; rows right-padded with pad_id and mask 0). Both buffers must hold
 * B * s->max_len entries. */
seer_status seer_sft_batch(const seer_sft_set *s, const size_t *idx, int32_t B, int32_t pad_id, int32_t *tokens,
                           uint8_t *mask, int32_t *L, seer_err *err);
/* A permutation of 0..n-1 for one epoch, from (seed, epoch) alone. */
void seer_sft_shuffle(size_t n, uint64_t seed, uint64_t epoch, size_t *perm);

#ifdef __cplusplus
}
#endif
#endif
