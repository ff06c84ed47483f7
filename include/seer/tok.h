/* Tokenizers: SentencePiece-style BPE with byte fallback (llama2.c tokenizer.bin, GGUF "llama"
 * metadata) and GPT-2 byte-level BPE (GGUF "gpt2" metadata, OpenAI encoder.json + vocab.bpe,
 * Hugging Face vocab.json + merges.txt or tokenizer.json).
 *
 * seer_tok_load() takes a file or a folder and finds out which kind it is; seer_tok_from_gguf()
 * reads tokenizer.ggml.* from a parsed GGUF. Encoding never fails on any bytes (invalid UTF-8
 * goes through byte fallback); decoding of pieces that end inside a UTF-8 character is
 * buffered by seer_tok_stream until the character completes. */
#ifndef SEER_TOK_H
#define SEER_TOK_H

#include "seer/core.h"
#include "seer/gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum seer_tok_kind {
    SEER_TOK_SPM = 0, /* SentencePiece-style BPE, merge by score, byte fallback, dummy prefix */
    SEER_TOK_GPT2,    /* byte-level BPE, merge by rank, GPT-2 pre-tokenizer */
    SEER_TOK_KIND_COUNT
} seer_tok_kind;

typedef struct seer_tok seer_tok;

/* path: llama2.c tokenizer.bin; a .gguf file; encoder.json / vocab.json / tokenizer.json
 * (with its sibling vocab.bpe / merges.txt where needed); or a folder holding any of these. */
seer_status seer_tok_load(const char *path, seer_tok **out, seer_err *err);
seer_status seer_tok_from_gguf(const seer_gguf *g, seer_tok **out, seer_err *err);
/* From a llama2.c tokenizer.bin image in memory (n_vocab: the model's vocab size, since the
 * file does not record it; pass -1 to take every entry the file holds). */
seer_status seer_tok_load_llama2c_buffer(const void *data, size_t size, int32_t n_vocab, seer_tok **out,
                                         seer_err *err);
void seer_tok_free(seer_tok *t);

seer_tok_kind seer_tok_get_kind(const seer_tok *t);
int32_t seer_tok_n_vocab(const seer_tok *t);
int32_t seer_tok_bos(const seer_tok *t); /* -1 if none */
int32_t seer_tok_eos(const seer_tok *t); /* -1 if none */
/* The raw piece of id (as stored: "▁the", "<0x0A>", "Ġthe"); NULL if out of range. */
const char *seer_tok_piece(const seer_tok *t, int32_t id, size_t *len);
float seer_tok_score(const seer_tok *t, int32_t id);

/* Encodes len bytes of text. add_bos prepends BOS (SPM: <s>; GPT-2: <|endoftext|>).
 * *ids is malloc'd (caller frees); *n_ids its length. */
seer_status seer_tok_encode(const seer_tok *t, const char *text, size_t len, int add_bos, int32_t **ids,
                            size_t *n_ids, seer_err *err);

/* Bytes that id stands for when it follows prev (SPM drops the leading space after BOS; byte
 * pieces <0xAB> give one raw byte; GPT-2 maps its byte alphabet back). Writes up to cap bytes,
 * returns the number of bytes the piece has (may exceed cap). Control tokens give 0 bytes. */
size_t seer_tok_decode_piece(const seer_tok *t, int32_t prev, int32_t id, char *buf, size_t cap);

/* Decodes a whole id sequence into a malloc'd NUL-terminated string (invalid UTF-8 bytes are
 * kept as they are). */
seer_status seer_tok_decode(const seer_tok *t, const int32_t *ids, size_t n, char **out, seer_err *err);

/* Streaming decode for generation: feed ids one at a time, get back only complete UTF-8
 * characters; seer_tok_stream_flush gives what is left (incomplete bytes as they are). */
typedef struct seer_tok_stream {
    const seer_tok *tok;
    int32_t prev;
    uint8_t pending[8];
    int n_pending;
} seer_tok_stream;
void seer_tok_stream_init(seer_tok_stream *s, const seer_tok *t);
/* Writes the complete characters now available into buf (cap >= 64 recommended; longer pieces
 * are cut at cap); returns bytes written. */
size_t seer_tok_stream_push(seer_tok_stream *s, int32_t id, char *buf, size_t cap);
size_t seer_tok_stream_flush(seer_tok_stream *s, char *buf, size_t cap);

/* ---- additions ---- */

/* Token types, numbered as GGUF's tokenizer.ggml.token_type. */
typedef enum seer_tok_type {
    SEER_TOK_TYPE_UNDEFINED = 0,
    SEER_TOK_TYPE_NORMAL = 1,
    SEER_TOK_TYPE_UNKNOWN = 2,      /* <unk>: encodes nothing, decodes to nothing */
    SEER_TOK_TYPE_CONTROL = 3,      /* <s>, </s>, <|endoftext|>: decode to nothing */
    SEER_TOK_TYPE_USER_DEFINED = 4, /* added tokens: decode to their text as stored */
    SEER_TOK_TYPE_UNUSED = 5,
    SEER_TOK_TYPE_BYTE = 6, /* SPM <0xAB> byte fallback */
    SEER_TOK_TYPE_COUNT
} seer_tok_type;

const char *seer_tok_kind_name(seer_tok_kind k);  /* "spm", "gpt2" */
const char *seer_tok_type_name(seer_tok_type t); /* "normal", "control", ... */
seer_tok_type seer_tok_get_type(const seer_tok *t, int32_t id); /* UNDEFINED if out of range */
/* Whether the model expects BOS before a prompt (SPM: yes unless GGUF add_bos_token says no;
 * GPT-2: no unless GGUF says yes). */
int seer_tok_get_add_bos(const seer_tok *t);
/* Id of the token whose raw piece is exactly these bytes ("<|endoftext|>", "▁the"); -1 if none. */
int32_t seer_tok_find_piece(const seer_tok *t, const char *piece, size_t len);

/* From-memory entries for the JSON/text formats (tests, fuzzers): a Hugging Face tokenizer.json,
 * and a GPT-2 vocabulary (encoder.json / vocab.json) with its merges (vocab.bpe / merges.txt).
 * Merges that name a piece missing from the vocabulary, or whose concatenation is missing, are
 * errors (naming the line or index), as Hugging Face's loader treats them. */
seer_status seer_tok_load_hf_buffer(const char *json, size_t len, seer_tok **out, seer_err *err);
seer_status seer_tok_load_gpt2_buffers(const char *vocab_json, size_t vocab_len, const char *merges,
                                       size_t merges_len, seer_tok **out, seer_err *err);

/* ---- export (used by model conversion) ---- */
/* Writes tokenizer.ggml.* keys llama.cpp reads (model, tokens, scores, token_type, merges,
 * bos/eos/unk ids, add_bos_token). */
struct seer_gguf_writer;
seer_status seer_tok_write_gguf(const seer_tok *t, struct seer_gguf_writer *w, seer_err *err);
/* Writes a llama2.c tokenizer.bin (SPM only). */
seer_status seer_tok_save_llama2c(const seer_tok *t, const char *path, seer_err *err);
/* Writes tokenizer files into a Hugging Face folder that seer_tok_load(dir) reads back:
 * GPT-2 -> vocab.json + merges.txt; SPM -> tokenizer.bin (llama2.c layout). */
seer_status seer_tok_save_hf(const seer_tok *t, const char *dir, seer_err *err);

#ifdef __cplusplus
}
#endif
#endif
