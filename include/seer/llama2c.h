/* llama2.c checkpoints: the legacy layout (7 int32 header, fp32 tensors in a fixed order) and
 * the v1 layout (256-byte header with magic "ak42", version 1, fp32). The reader validates the
 * header and the file size and hands out views of the stacked tensors inside the mapping. */
#ifndef SEER_LLAMA2C_H
#define SEER_LLAMA2C_H

#include "seer/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SEER_LLAMA2C_MAGIC 0x616b3432u /* "ak42" */

typedef struct seer_llama2c_header {
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int shared_classifier;
    int version; /* 0 legacy, 1 */
} seer_llama2c_header;

/* Views of the stacked fp32 arrays (layer-major), pointing into the parsed buffer. */
typedef struct seer_llama2c {
    seer_llama2c_header hdr;
    const float *token_embedding; /* (vocab, dim) */
    const float *rms_att;         /* (L, dim) */
    const float *wq;              /* (L, dim, dim) */
    const float *wk;              /* (L, kv_dim, dim) */
    const float *wv;              /* (L, kv_dim, dim) */
    const float *wo;              /* (L, dim, dim) */
    const float *rms_ffn;         /* (L, dim) */
    const float *w1;              /* (L, hidden, dim) */
    const float *w2;              /* (L, dim, hidden) */
    const float *w3;              /* (L, hidden, dim) */
    const float *rms_final;       /* (dim) */
    const float *wcls;            /* (vocab, dim); == token_embedding when shared */
} seer_llama2c;

/* Parses a checkpoint image of size bytes (kept alive by the caller; 4-byte aligned). */
seer_status seer_llama2c_parse(const void *data, size_t size, seer_llama2c *out, seer_err *err);

#ifdef __cplusplus
}
#endif
#endif
