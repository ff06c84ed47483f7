/* Gradients: a trainable copy of a model, a training forward/backward over batches, gradients
 * with respect to hook points, and LoRA adapters.
 *
 * How the pieces fit:
 *   - A seer_tmodel holds every parameter as f32 in ONE contiguous buffer, with a matching
 *     gradient buffer, and a table of spans (llama.cpp tensor name, offset, shape, whether weight
 *     decay applies, whether it is trained). An optimizer treats the two buffers as flat arrays
 *     (see seer/optim.h); seer_tmodel_to_model turns the weights back into a seer_model that
 *     seer_model_save can write.
 *   - A seer_tctx runs it on batches of up to B sequences of T tokens, with activations sized
 *     once for (B, T) and reused. seer_tctx_step is forward + masked cross-entropy + backward,
 *     accumulating (+=) into the gradient buffer; seer_tctx_forward only evaluates.
 *   - seer_tctx_hook_grads returns, for chosen hook points (TransformerLens names, as
 *     seer/tap.h), the activation and d(metric)/d(activation), where the metric is the loss or
 *     a linear function of the logits. Attribution patching is then grad · (clean - corrupt).
 *   - LoRA: seer_tmodel_lora_add puts rank-r adapters on chosen matrices of chosen layers; from
 *     then on only adapters train (the base is frozen and its weight gradients are skipped).
 *
 *     seer_tmodel *tm;  seer_tctx *tc;  float loss;
 *     seer_tmodel_from_model(model, &tm, &err);
 *     seer_tctx_init(tm, 4, 256, 2, &tc, &err);          // up to 4 x 256 tokens, 2 threads
 *     seer_tmodel_zero_grads(tm);
 *     seer_tctx_step(tc, &batch, &loss, &err);          // grads += dloss/dparams
 *     ... optimizer step on seer_tmodel_params / seer_tmodel_grads ...
 */
#ifndef SEER_GRAD_H
#define SEER_GRAD_H

#include "seer/model.h"
#include "seer/tap.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- trainable models ---- */

typedef struct seer_tmodel seer_tmodel;

/* One named tensor inside the flat parameter buffer. */
typedef struct seer_tspan {
    const char *name; /* llama.cpp name ("blk.0.attn_q.weight"); LoRA: "<matrix>.lora_a" / ".lora_b" */
    size_t offset;    /* floats from the start of the parameter (and gradient) buffer */
    size_t count;     /* floats */
    int n_dims;
    int64_t shape[2]; /* outermost first; [out, in] for matrices */
    int decay;        /* weight decay applies (2-d matrices; see seer_tmodel_set_decay) */
    int trainable;    /* 0: frozen (its gradient stays zero and is never computed) */
} seer_tspan;

/* A copy of m's weights in f32 (any weight type is dequantized). The tokenizer is not copied. */
seer_status seer_tmodel_from_model(const seer_model *m, seer_tmodel **out, seer_err *err);
/* Random weights of the given shape, initialized like seer_model_random (normal with std 0.02,
 * 0.01 for GPT-2 positions; norm gains 1, norm biases 0), straight into the flat buffer. */
seer_status seer_tmodel_random(const seer_model_config *c, uint64_t seed, seer_tmodel **out, seer_err *err);
void seer_tmodel_free(seer_tmodel *tm);

const seer_model_config *seer_tmodel_config(const seer_tmodel *tm);
/* The flat buffers (n floats each, 64-byte aligned). Valid until seer_tmodel_lora_add/_merge. */
float *seer_tmodel_params(seer_tmodel *tm, size_t *n);
float *seer_tmodel_grads(seer_tmodel *tm, size_t *n);
void seer_tmodel_zero_grads(seer_tmodel *tm);

int64_t seer_tmodel_n_spans(const seer_tmodel *tm);
const seer_tspan *seer_tmodel_span(const seer_tmodel *tm, int64_t i);
const seer_tspan *seer_tmodel_find(const seer_tmodel *tm, const char *name); /* NULL if absent */
/* Which 1-d / embedding tensors decay (2-d matrices always do; LoRA adapters always do). */
void seer_tmodel_set_decay(seer_tmodel *tm, int norms_and_biases, int embeddings);
/* Freezes (0) or unfreezes (1) one tensor by name. */
seer_status seer_tmodel_set_trainable(seer_tmodel *tm, const char *name, int trainable, seer_err *err);

/* A seer_model holding a copy of the weights (f32, owned by the new model; LoRA adapters are
 * not included: merge them first), ready for seer_model_save or seer_ctx_init. */
seer_status seer_tmodel_to_model(const seer_tmodel *tm, seer_model **out, seer_err *err);

/* ---- training context ---- */

typedef struct seer_tctx seer_tctx;

/* Activations for batches of up to max_batch sequences of up to max_seq tokens. n_threads <= 0:
 * one per core. GPT-2 needs max_seq <= n_ctx (learned positions). */
seer_status seer_tctx_init(seer_tmodel *tm, int32_t max_batch, int32_t max_seq, int n_threads, seer_tctx **out,
                           seer_err *err);
void seer_tctx_free(seer_tctx *tc);
/* Bytes of activations and scratch the context holds. */
size_t seer_tctx_bytes(const seer_tctx *tc);

/* B sequences of T tokens each, row-major [B, T]. Position t predicts targets[b, t].
 *   targets:     NULL: the next token (tokens[b, t + 1]); the last position then counts nothing.
 *   loss_weight: NULL: 1 for every position; otherwise a float weight (0 drops the position).
 *   loss_mask:   NULL or uint8 [B, T]; 0 drops the position (combined with loss_weight).
 *   attn_mask:   NULL or uint8 [B, T]; 0 marks padding: padding is never attended to, never
 *                counted in the loss, and real tokens are numbered 0, 1, ... skipping it, so a
 *                left- or right-padded sequence gives the same results as the bare one.
 * The loss is Σ w·CE / Σ w over the counted positions. */
typedef struct seer_tbatch {
    int32_t B, T;
    const int32_t *tokens;
    const int32_t *targets;
    const float *loss_weight;
    const uint8_t *loss_mask;
    const uint8_t *attn_mask;
} seer_tbatch;

/* Loss of the batch (and logits [B, T, n_vocab] when logits != NULL); no gradients. */
seer_status seer_tctx_forward(seer_tctx *tc, const seer_tbatch *b, float *loss, float *logits, seer_err *err);
/* Forward, loss and backward: gradients of the loss are ADDED to the gradient buffer (zero it
 * with seer_tmodel_zero_grads first). Frozen tensors get no gradient. */
seer_status seer_tctx_step(seer_tctx *tc, const seer_tbatch *b, float *loss, seer_err *err);

/* ---- hook gradients ---- */

typedef enum seer_metric_kind {
    SEER_METRIC_LOSS = 0,   /* the batch's masked mean cross-entropy */
    SEER_METRIC_LOGIT,      /* logits[b, t, token] */
    SEER_METRIC_LOGIT_DIFF, /* logits[b, t, token] - logits[b, t, token2] */
    SEER_METRIC_COUNT
} seer_metric_kind;

typedef struct seer_metric {
    seer_metric_kind kind;
    int32_t b, t, token, token2;
} seer_metric;

const char *seer_metric_kind_name(seer_metric_kind k); /* "loss", "logit", "logit_diff" */

/* One requested hook: name ("blocks.1.hook_resid_post", "hook_embed", ...) and where to put its
 * activation and gradient, each laid out as seer_hook_shape gives for (B, T): [B, T, ...] or
 * [B, heads, T, T] for attention scores and patterns. Either pointer may be NULL. Every hook
 * point of seer/tap.h has values and gradients: hook_embed, hook_pos_embed (GPT-2),
 * blocks.L.{hook_resid_pre, ln1.hook_normalized, attn.hook_q/k/v, attn.hook_rot_q/rot_k (Llama;
 * q/k are before RoPE), attn.hook_attn_scores, attn.hook_pattern, attn.hook_z, hook_attn_out,
 * hook_resid_mid, ln2.hook_normalized, mlp.hook_pre, mlp.hook_pre_linear (Llama), mlp.hook_post,
 * hook_mlp_out, hook_resid_post}, ln_final.hook_normalized, logits. Masked attention entries
 * (future keys, padding keys, padding queries) read 0 in scores and patterns and in their
 * gradients; padding rows of other hooks hold whatever the model computes there, with gradient 0. */
typedef struct seer_hook_grad {
    const char *name;
    float *value;
    float *grad;
} seer_hook_grad;

/* Runs the batch and writes each hook's activation and d(metric)/d(activation); *metric_out
 * (may be NULL) gets the metric's value. Parameter gradients are not touched. */
seer_status seer_tctx_hook_grads(seer_tctx *tc, const seer_tbatch *b, const seer_metric *metric, seer_hook_grad *hooks,
                                 int n_hooks, float *metric_out, seer_err *err);
/* Floats of a hook's activation for a (B, T) batch; 0 with err set for an unknown name. */
size_t seer_tctx_hook_size(const seer_tctx *tc, const char *name, int32_t B, int32_t T, seer_err *err);

/* ---- LoRA ---- */

/* Matrices an adapter can sit on (bit flags). Llama: Q K V O GATE UP DOWN; GPT-2: QKV O UP DOWN. */
enum {
    SEER_LORA_Q = 1 << 0,
    SEER_LORA_K = 1 << 1,
    SEER_LORA_V = 1 << 2,
    SEER_LORA_O = 1 << 3,
    SEER_LORA_GATE = 1 << 4,
    SEER_LORA_UP = 1 << 5,
    SEER_LORA_DOWN = 1 << 6,
    SEER_LORA_QKV = 1 << 7,
};

/* Adds adapters W' = W + (alpha / rank) · B·A with A [rank, in] ~ N(0, 1/in) (from seed) and
 * B [out, rank] = 0 on the chosen matrices of layers whose bit is set in layer_mask (~0: all;
 * layers >= 64 are chosen by ~0 only). Afterwards only adapters are trainable; the parameter
 * and gradient buffers are reallocated (old pointers become invalid). Fails if adapters exist
 * already, rank is not in [1, min(in, out)], or no matrix is chosen. Needs no seer_tctx to be
 * alive (make the context after). */
seer_status seer_tmodel_lora_add(seer_tmodel *tm, int rank, float alpha, uint32_t matrices, uint64_t layer_mask,
                                 uint64_t seed, seer_err *err);
int seer_tmodel_lora_rank(const seer_tmodel *tm); /* 0 without adapters */
/* W += (alpha / rank) · B·A for every adapter, then removes the adapters and unfreezes the base. */
seer_status seer_tmodel_lora_merge(seer_tmodel *tm, seer_err *err);
/* Adapters as safetensors: "<matrix>.lora_a" F32 [rank, in] and "<matrix>.lora_b" F32 [out, rank]
 * under llama.cpp matrix names ("blk.0.attn_q.weight.lora_a"; rows in seer's interleaved RoPE
 * order), metadata "seer.lora.rank", "seer.lora.alpha", "seer.arch". */
seer_status seer_tmodel_lora_save(const seer_tmodel *tm, const char *path, seer_err *err);
/* Loads adapters saved by seer_tmodel_lora_save into a model without adapters (shapes checked
 * against the model). */
seer_status seer_tmodel_lora_load(seer_tmodel *tm, const char *path, seer_err *err);

#ifdef __cplusplus
}
#endif
#endif
