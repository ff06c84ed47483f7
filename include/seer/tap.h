/* Taps: the forward pass's hook points, as the engine exposes them.
 *
 * Every architecture calls a tap at each of its hook points (TransformerLens names, see
 * seer_hook_point_name) with the activation of the whole batch, mutable, so a tap can read it,
 * copy it, or change it before the forward goes on. A point is only visited when it was enabled
 * with seer_ctx_tap_enable: with nothing enabled the forward pays one branch per point.
 * Enabling some points changes how the forward computes (attention scores are materialised;
 * attention and MLP outputs are kept apart from the residual stream before they are added),
 * never what it computes.
 *
 * The names, the [batch, pos, ...] views, the intervention graph and its operations are built
 * on top of this in src/hooks/. */
#ifndef SEER_TAP_H
#define SEER_TAP_H

#include "seer/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum seer_hook_point {
    SEER_HP_EMBED = 0,      /* hook_embed                (tokens, d_model) */
    SEER_HP_POS_EMBED,      /* hook_pos_embed (GPT-2)    (tokens, d_model) */
    SEER_HP_RESID_PRE,      /* blocks.L.hook_resid_pre   (tokens, d_model) */
    SEER_HP_LN1,            /* blocks.L.ln1.hook_normalized */
    SEER_HP_Q,              /* blocks.L.attn.hook_q      (tokens, heads, d_head) */
    SEER_HP_K,              /* blocks.L.attn.hook_k      (tokens, kv_heads, d_head) */
    SEER_HP_V,              /* blocks.L.attn.hook_v      (tokens, kv_heads, d_head) */
    SEER_HP_ROT_Q,          /* blocks.L.attn.hook_rot_q (Llama) */
    SEER_HP_ROT_K,          /* blocks.L.attn.hook_rot_k (Llama) */
    SEER_HP_ATTN_SCORES,    /* blocks.L.attn.hook_attn_scores (tokens, heads, keys); masked keys -inf */
    SEER_HP_PATTERN,        /* blocks.L.attn.hook_pattern     (tokens, heads, keys); masked keys 0 */
    SEER_HP_Z,              /* blocks.L.attn.hook_z      (tokens, heads, d_head) */
    SEER_HP_ATTN_OUT,       /* blocks.L.hook_attn_out    (tokens, d_model), with bias */
    SEER_HP_RESID_MID,      /* blocks.L.hook_resid_mid */
    SEER_HP_LN2,            /* blocks.L.ln2.hook_normalized */
    SEER_HP_MLP_PRE,        /* blocks.L.mlp.hook_pre     (tokens, d_mlp): gate input (GPT-2: pre-GELU) */
    SEER_HP_MLP_PRE_LINEAR, /* blocks.L.mlp.hook_pre_linear (Llama up projection) */
    SEER_HP_MLP_POST,       /* blocks.L.mlp.hook_post    (tokens, d_mlp) */
    SEER_HP_MLP_OUT,        /* blocks.L.hook_mlp_out     (tokens, d_model), with bias */
    SEER_HP_RESID_POST,     /* blocks.L.hook_resid_post */
    SEER_HP_LN_FINAL,       /* ln_final.hook_normalized  (tokens, d_model) */
    SEER_HP_LOGITS,         /* logits                    (tokens, vocab) */
    SEER_HP_COUNT
} seer_hook_point;

/* "hook_resid_pre", "attn.hook_q", ... (the part after "blocks.L."; global points in full). */
const char *seer_hook_point_name(seer_hook_point p);
int seer_hook_point_is_global(seer_hook_point p); /* embed, pos_embed, ln_final, logits */
/* Whether the architecture has this point (rot_q/rot_k: Llama; pos_embed: GPT-2; pre_linear: Llama). */
int seer_hook_point_exists(seer_arch a, seer_hook_point p);
/* "blocks.3.attn.hook_q" -> (SEER_HP_Q, 3), "logits" -> (SEER_HP_LOGITS, -1), checked against a
 * model of config c (layer in range, point present in the architecture). */
seer_status seer_hook_point_parse(const seer_model_config *c, const char *name, seer_hook_point *p, int *layer,
                                  seer_err *err);

/* One visit of a point. Row r of data (r < n_rows) is batch token r (batch->tokens[r] at
 * batch->pos[r] of sequence batch->seq[r]); a row holds width floats, as n_heads blocks of
 * head_width (head_width == width when the point is not per head). For attention scores and
 * patterns, head_width is n_keys: keys 0..pos of the token's own sequence, the rest masked. */
typedef struct seer_tap_event {
    seer_hook_point point;
    int layer; /* -1 for global points */
    float *data;
    int64_t n_rows;
    int64_t width;
    int64_t row_stride; /* floats between rows (>= width) */
    int32_t n_heads;    /* 1 when not per head */
    int32_t head_width;
    const seer_batch *batch;
    const int32_t *row_token; /* batch index of each row; NULL when row r is token r (logits of
                                 a batch that wanted only some rows use it) */
} seer_tap_event;

typedef void (*seer_tap_fn)(void *ud, const seer_tap_event *ev);

/* Installs the callback (NULL removes it). */
void seer_ctx_set_tap(seer_ctx *c, seer_tap_fn fn, void *ud);
/* Enables or disables a point (layer -1 for global points; layer -1 on a block point means
 * every layer). May allocate (attention scores); fails with a message on OOM or a bad layer. */
seer_status seer_ctx_tap_enable(seer_ctx *c, seer_hook_point p, int layer, int on, seer_err *err);
void seer_ctx_tap_clear(seer_ctx *c);

#ifdef __cplusplus
}
#endif
#endif
