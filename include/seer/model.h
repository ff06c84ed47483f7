/* Models: load a transformer from any supported format, run it, sample from it.
 *
 * A seer_model holds weights (views into mapped files where possible, owned buffers where a
 * conversion was needed) under llama.cpp's tensor names, whatever the source format:
 *   token_embd.weight, position_embd.weight (GPT-2), blk.N.attn_norm.weight, blk.N.attn_q.weight,
 *   blk.N.attn_k.weight, blk.N.attn_v.weight, blk.N.attn_qkv.weight (GPT-2), blk.N.attn_output.weight,
 *   blk.N.ffn_norm.weight, blk.N.ffn_gate.weight, blk.N.ffn_up.weight, blk.N.ffn_down.weight,
 *   output_norm.weight, output.weight (absent when tied to token_embd), plus .bias for GPT-2.
 * Matrices are [out, in] (rows = outputs). RoPE is applied to interleaved pairs (2i, 2i+1)
 * within each head; Hugging Face Llama checkpoints are permuted at load to match.
 *
 * A seer_ctx runs the model: a KV cache for up to n_seq sequences of n_ctx positions each, and
 * scratch for batches of up to n_batch tokens. seer_ctx_decode() takes a batch of tokens, each
 * with its sequence id and position, so batched prefill of several prompts and single-token
 * decode are the same call. */
#ifndef SEER_MODEL_H
#define SEER_MODEL_H

#include "seer/core.h"
#include "seer/ops.h"
#include "seer/tok.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum seer_arch { SEER_ARCH_LLAMA = 0, SEER_ARCH_GPT2, SEER_ARCH_COUNT } seer_arch;

const char *seer_arch_name(seer_arch a);
int seer_arch_from_name(const char *name, seer_arch *out); /* 0 ok, -1 unknown */

typedef enum seer_format {
    SEER_FORMAT_LLAMA2C = 0,
    SEER_FORMAT_GGUF,
    SEER_FORMAT_SAFETENSORS, /* a Hugging Face folder (config.json + safetensors) */
    SEER_FORMAT_COUNT
} seer_format;
const char *seer_format_name(seer_format f);

typedef struct seer_model_config {
    seer_arch arch;
    int32_t n_vocab;
    int32_t d_model;
    int32_t n_layers;
    int32_t n_heads;
    int32_t n_kv_heads;
    int32_t d_head;
    int32_t d_mlp;
    int32_t n_ctx; /* trained context length */
    float norm_eps;
    float rope_theta;
    int tied_embeddings; /* output.weight is token_embd.weight */
} seer_model_config;

/* Checks a config for consistency and sane sizes (the message names the field and value). */
seer_status seer_model_config_check(const seer_model_config *c, seer_err *err);

/* Reads a Hugging Face config.json (len bytes of text, no NUL needed) into *out: Llama/Mistral
 * or GPT-2 fields, defaults for the optional ones. Does not run seer_model_config_check. */
seer_status seer_hf_config_parse(const char *text, size_t len, seer_model_config *out, seer_err *err);

typedef struct seer_model seer_model;

/* path: a llama2.c checkpoint, a .gguf, a .safetensors file with config.json beside it, or a
 * Hugging Face folder. tok_path: optional tokenizer source (see seer_tok_load); when NULL the
 * tokenizer comes from the model file (GGUF), its folder (HF), or tokenizer.bin / tok<vocab>.bin
 * beside a llama2.c checkpoint. A model without a findable tokenizer still loads (tok NULL). */
seer_status seer_model_load(const char *path, const char *tok_path, seer_model **out, seer_err *err);
void seer_model_free(seer_model *m);

const seer_model_config *seer_model_get_config(const seer_model *m);
seer_format seer_model_format(const seer_model *m);
const seer_tok *seer_model_tok(const seer_model *m); /* may be NULL */
int64_t seer_model_n_tensors(const seer_model *m);
const seer_tensor *seer_model_tensor(const seer_model *m, int64_t i);
const seer_tensor *seer_model_find_tensor(const seer_model *m, const char *name);
int64_t seer_model_n_params(const seer_model *m);
size_t seer_model_weight_bytes(const seer_model *m);

/* Writes the model in another format. type: weight type for matrices (F32, F16, BF16, Q8_0,
 * Q4_0; norms, biases and other 1-d tensors stay f32; SEER_DTYPE_COUNT keeps each tensor's
 * type). llama2c and safetensors hold only f32/f16/bf16. The tokenizer travels when the
 * format can carry it (GGUF metadata; tokenizer files beside a safetensors folder). */
seer_status seer_model_save(const seer_model *m, seer_format fmt, const char *path, seer_dtype type,
                            seer_err *err);

/* A model with random weights (normal, std 0.02, norms 1) of the given shape, with a
 * byte-level SPM tokenizer when n_vocab >= 259 (ids 0..2 specials, 3..258 bytes, the rest
 * merged pieces of random bytes) so that generate works. */
seer_status seer_model_random(const seer_model_config *c, uint64_t seed, seer_model **out, seer_err *err);

/* ---- running ---- */

typedef struct seer_ctx seer_ctx;

typedef struct seer_ctx_params {
    int32_t n_ctx;   /* positions per sequence (<= 0: the model's n_ctx, at most 4096) */
    int32_t n_seq;   /* sequences held at once (default 1) */
    int32_t n_batch; /* tokens per seer_ctx_decode call (default 512) */
    int32_t n_ubatch; /* untapped batches run in slices of this many tokens (<= 0: chosen from the
                       * model's size, see seer_ctx_init); smaller slices touch less scratch */
    int n_threads;   /* <= 0: one per core */
} seer_ctx_params;

seer_ctx_params seer_ctx_default_params(void);
seer_status seer_ctx_init(const seer_model *m, const seer_ctx_params *p, seer_ctx **out, seer_err *err);
void seer_ctx_free(seer_ctx *c);
size_t seer_ctx_kv_bytes(const seer_ctx *c);

/* One batch: n tokens; token i belongs to sequence seq[i] at position pos[i]; positions of a
 * sequence must continue where its cache ends (pos 0 restarts it). Logits [n_out, vocab] are
 * written to `logits` for each i with want_logits[i] != 0, in order (want_logits NULL: only the
 * last token of the batch). Returns an error (and runs nothing) for a position past n_ctx, a
 * token outside the vocabulary, a gap in positions, or n > n_batch. */
typedef struct seer_batch {
    int32_t n;
    const int32_t *tokens;
    const int32_t *pos;
    const int32_t *seq; /* NULL: all sequence 0 */
    const uint8_t *want_logits;
} seer_batch;

seer_status seer_ctx_decode(seer_ctx *c, const seer_batch *b, float *logits, seer_err *err);
/* Forgets sequence s (its next token must have pos 0). */
void seer_ctx_clear_seq(seer_ctx *c, int32_t s);
int32_t seer_ctx_seq_len(const seer_ctx *c, int32_t s);
int32_t seer_ctx_n_ctx(const seer_ctx *c);
int32_t seer_ctx_n_ubatch(const seer_ctx *c);
int32_t seer_ctx_n_seq(const seer_ctx *c);
int32_t seer_ctx_n_batch(const seer_ctx *c);
seer_pool *seer_ctx_pool(seer_ctx *c);

/* ---- sampling ---- */

/* Temperatures above this are refused (the distribution is uniform long before). */
#define SEER_SAMPLER_MAX_TEMP 1e6

typedef struct seer_sampler_params {
    float temp;  /* 0: greedy */
    int32_t top_k; /* 0: off */
    float top_p;   /* 1: off */
    uint64_t seed;
} seer_sampler_params;

typedef struct seer_sampler seer_sampler;
seer_status seer_sampler_init(const seer_sampler_params *p, int32_t n_vocab, seer_sampler **out, seer_err *err);
void seer_sampler_free(seer_sampler *s);
/* Picks a token from logits [n_vocab] (logits are not modified). */
int32_t seer_sampler_sample(seer_sampler *s, const float *logits);

#ifdef __cplusplus
}
#endif
#endif
