/* Training checkpoints: one safetensors file holding named f32 tensors (parameters, AdamW m and
 * v, anything else a trainer keeps) and string metadata (step, sampler and RNG state, model
 * config and hyperparameters as JSON), written atomically so a crash mid-save leaves the
 * previous checkpoint intact.
 *
 * The API is generic: the caller lists (name, shape, float *) triples. A trainer names them by
 * role, e.g. "param.blk.0.attn_q.weight", "adam_m.blk.0.attn_q.weight", "adam_v...". Loading
 * takes the same list and checks, before copying anything, that the file holds exactly these
 * names with exactly these shapes, so a checkpoint of another model fails with a message
 * naming the first tensor that differs:
 *
 *     seer_ckpt *ck;
 *     seer_ckpt_open("run/ckpt.safetensors", &ck, &err);
 *     seer_ckpt_meta_i64(ck, "step", &step, &err);
 *     seer_ckpt_load(ck, tensors, n, &err);   // copies into tensors[i].data
 *     seer_ckpt_close(ck);
 *
 * Values round-trip bit for bit (f32 stored as f32). */
#ifndef SEER_CHECKPOINT_H
#define SEER_CHECKPOINT_H

#include "seer/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct seer_ckpt_tensor {
    const char *name;
    int n_dims;
    int64_t shape[SEER_MAX_DIMS]; /* outermost first */
    float *data;                  /* read by save, filled by load */
} seer_ckpt_tensor;

typedef struct seer_ckpt_kv {
    const char *key;
    const char *value;
} seer_ckpt_kv;

/* Metadata key every seer checkpoint carries (value: format version "1"). Callers' keys must
 * not use it. */
#define SEER_CKPT_KEY_FORMAT "seer.checkpoint"

/* Writes the tensors and metadata to path atomically. Duplicate or empty names, bad shapes and
 * duplicate metadata keys are errors. */
seer_status seer_ckpt_save(const char *path, const seer_ckpt_tensor *tensors, size_t n_tensors,
                           const seer_ckpt_kv *meta, size_t n_meta, seer_err *err);

typedef struct seer_ckpt seer_ckpt;

/* Maps a checkpoint and checks it is a safetensors file seer wrote as a checkpoint. */
seer_status seer_ckpt_open(const char *path, seer_ckpt **out, seer_err *err);
/* From memory (borrowed until close); what names messages. */
seer_status seer_ckpt_open_buffer(const void *data, size_t size, const char *what, seer_ckpt **out, seer_err *err);
void seer_ckpt_close(seer_ckpt *c);

/* A metadata value, NULL when absent. */
const char *seer_ckpt_meta(const seer_ckpt *c, const char *key);
/* A metadata value parsed as a whole decimal integer; missing or malformed is an error naming
 * the key and the value. */
seer_status seer_ckpt_meta_i64(const seer_ckpt *c, const char *key, int64_t *out, seer_err *err);
seer_status seer_ckpt_meta_u64(const seer_ckpt *c, const char *key, uint64_t *out, seer_err *err);

/* Checks that the checkpoint holds exactly the expected tensors (every name present, F32, the
 * same shape; no tensor the caller did not ask for), then copies each into want[i].data. On
 * failure nothing has been written to any want[i].data. */
seer_status seer_ckpt_load(const seer_ckpt *c, const seer_ckpt_tensor *want, size_t n_want, seer_err *err);

#ifdef __cplusplus
}
#endif
#endif
