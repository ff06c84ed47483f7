/* Training a SentencePiece-style BPE tokenizer from text, for models trained from scratch.
 *
 * The result is an ordinary seer_tok (SPM kind) laid out as llama2.c's tokenizers are: ids 0..2
 * <unk> <s> </s>, ids 3..258 the byte fallbacks <0x00>..<0xFF>, then the merged pieces in the
 * order they were learned with scores 0, -1, -2, ... (so seer's encoder, which merges the
 * highest-scoring adjacent pair first, replays the merges), then the single characters kept as
 * pieces. Spaces are part of the text: like the encoder, the trainer puts a dummy " " before
 * each text, and a piece may start with a space ("▁the") but never continue across one.
 *
 * How the text is cut before merging: into words, each an optional leading space followed by a
 * run of one kind of character (letters and any non-ASCII character / digits / punctuation /
 * line breaks, tabs and other control characters). Characters outside the kept set (the
 * rarest, beyond char_coverage of the text) become byte tokens and are never merged.
 *
 * Training counts pair frequencies once and then updates them incrementally at every merge
 * (only the words holding the merged pair are revisited), with a max-heap of candidate pairs:
 * a megabyte of text to a few thousand pieces takes well under a second.
 *
 * Save the result with seer_tok_save_llama2c (tokenizer.bin) or seer_tok_write_gguf. */
#ifndef SEER_TOK_TRAIN_H
#define SEER_TOK_TRAIN_H

#include "seer/core.h"
#include "seer/tok.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SEER_TOK_TRAIN_FIXED 259 /* <unk> <s> </s> + 256 byte pieces */

typedef struct seer_tok_train_opts {
    int32_t vocab_size;      /* total ids including the 259 fixed ones; 260 .. 1 << 20 */
    double char_coverage;    /* fraction of the text's characters kept as pieces (0.9995) */
    int32_t max_piece_bytes; /* longest merged piece (16) */
    int32_t min_pair_count;  /* stop when the best pair occurs fewer times (2) */
} seer_tok_train_opts;

seer_tok_train_opts seer_tok_train_default(int32_t vocab_size);

typedef struct seer_tok_train_stats {
    int64_t n_chars_total; /* characters in the texts (with the dummy spaces) */
    int64_t n_words;       /* words after cutting */
    int64_t n_unique;      /* distinct words */
    int32_t n_char_pieces; /* characters kept as pieces */
    int32_t n_merges;      /* merged pieces learned */
    int32_t n_vocab;       /* the tokenizer's size: below vocab_size when pairs ran out */
} seer_tok_train_stats;

/* Trains on n texts (names may be NULL; they label messages). An empty set of texts, texts with
 * no characters, or options out of range are errors. stats may be NULL. */
seer_status seer_tok_train(const char *const *texts, const size_t *lens, const char *const *names, size_t n,
                           const seer_tok_train_opts *opts, seer_tok **out, seer_tok_train_stats *stats,
                           seer_err *err);
/* The same over files read whole. */
seer_status seer_tok_train_files(const char *const *paths, size_t n, const seer_tok_train_opts *opts, seer_tok **out,
                                 seer_tok_train_stats *stats, seer_err *err);

#ifdef __cplusplus
}
#endif
#endif
