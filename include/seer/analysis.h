/* Analyses built on the hook points: logit lens, direct logit attribution, activation
 * patching, model diff.
 *
 * How the pieces fit: each analysis takes token ids (seer_analysis_encode encodes a prompt as
 * the model expects, BOS first), runs the model with taps (seer/tap.h) on the hook points it
 * needs, and returns a plain result struct that its _free releases. Nothing here prints; the
 * `seer lens|dla|patch|diff` commands format the results as tables or JSON.
 *
 *   logit lens   every layer's residual stream at one position, through the model's own final
 *                norm and unembedding: what the model "would say" if it stopped there.
 *   DLA          the final residual at one position split into embedding(s), attention heads
 *                (hook_z through W_O), attention output biases, MLPs, and the final norm's
 *                bias; each part's share of logit(A) - logit(B) through the final norm
 *                linearised at the scale the model actually computed there.
 *   patching     a corrupted prompt run again and again with one activation (a layer at a
 *                position, or a head at all positions) taken from a clean run; the metric
 *                normalised as (patched - corrupt) / (clean - corrupt). The runs are batched,
 *                many sequences per forward.
 *   model diff   two models on the same tokens, every hook point they share compared by cosine
 *                similarity and relative L2 distance.
 */
#ifndef SEER_ANALYSIS_H
#define SEER_ANALYSIS_H

#include "seer/hooks.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- tokens named by users ---- */

/* Encodes a prompt as the model expects it (BOS first when its tokenizer asks for one). Fails
 * when the model has no tokenizer or the result is empty. *ids is malloc'd. */
seer_status seer_analysis_encode(const seer_model *m, const char *text, int32_t **ids, int32_t *n, seer_err *err);

/* A token given as text: a decimal id; else text that encodes (without BOS) to exactly one
 * token (SPM adds its dummy leading space, so "Lily" names "▁Lily"); else a raw piece as the
 * vocabulary stores it ("▁the", "<0x0A>"; "▁" and a space stand for each other, since GGUF
 * stores "▁the" where llama2.c files store " the"). Fails naming the text and what it encoded
 * to. */
seer_status seer_analysis_parse_token(const seer_model *m, const char *text, int32_t *id, seer_err *err);

/* A short printable label for id following prev (the decoded text, or the raw piece for
 * control tokens and bytes that are not whole UTF-8 characters; control characters written
 * as \n, \t, \xNN). Always NUL-terminated within cap (cap >= 8); returns buf. */
char *seer_analysis_token_label(const seer_tok *t, int32_t prev, int32_t id, char *buf, size_t cap);

/* Resolves a position given as an index or negative from the end (-1: last) against n tokens;
 * fails with a message naming both. */
seer_status seer_analysis_resolve_pos(int32_t pos, int32_t n, int32_t *out, seer_err *err);

/* ---- logit lens ---- */

typedef struct seer_lens_params {
    int32_t pos;    /* position read; negative counts from the end (-1: last) */
    int32_t top_k;  /* tokens reported per layer (1..n_vocab) */
    int32_t target; /* token ranked at every layer, or -1 */
    int n_threads;  /* <= 0: one per core */
} seer_lens_params;

seer_lens_params seer_lens_default_params(void); /* pos -1, top_k 5, no target */

typedef struct seer_lens_row {
    char hook[64];       /* "blocks.L.hook_resid_pre"; the last row "blocks.{L-1}.hook_resid_post" */
    int32_t layer;       /* L of the hook */
    int32_t *top_ids;    /* [top_k], likeliest first */
    float *top_probs;    /* [top_k] */
    float *logits;       /* [n_vocab]: final norm then unembedding of the residual */
    int32_t target_rank; /* 1 = likeliest (ties rank together); 0 without a target */
    float target_prob, target_logit;
} seer_lens_row;

typedef struct seer_lens_result {
    int32_t n_rows; /* n_layers + 1 */
    int32_t top_k, n_vocab;
    int32_t pos, token, target; /* resolved position, the token there, the target or -1 */
    seer_lens_row *rows;
} seer_lens_result;

seer_status seer_lens_run(const seer_model *m, const int32_t *tokens, int32_t n_tokens, const seer_lens_params *p,
                          seer_lens_result **out, seer_err *err);
void seer_lens_result_free(seer_lens_result *r);

/* ---- direct logit attribution ---- */

typedef enum seer_dla_kind {
    SEER_DLA_EMBED = 0,  /* hook_embed */
    SEER_DLA_POS_EMBED,  /* hook_pos_embed (GPT-2) */
    SEER_DLA_HEAD,       /* one head: its slice of hook_z times its columns of W_O */
    SEER_DLA_ATTN_BIAS,  /* a layer's attention output bias b_O (GPT-2), apart from the heads */
    SEER_DLA_MLP,        /* hook_mlp_out (with its bias) */
    SEER_DLA_NORM_BIAS,  /* ln_final's bias (LayerNorm): constant, not part of the residual */
    SEER_DLA_KIND_COUNT
} seer_dla_kind;

const char *seer_dla_kind_name(seer_dla_kind k); /* "embed", "head", ... */

typedef struct seer_dla_params {
    int32_t pos; /* negative from the end */
    int32_t tok_a, tok_b;
    int n_threads;
} seer_dla_params;

typedef struct seer_dla_component {
    seer_dla_kind kind;
    int32_t layer, head; /* -1 where it does not apply */
    char name[32];       /* "embed", "pos_embed", "L2H5", "L2.attn_bias", "L3.mlp", "ln_final.bias" */
    double value;        /* contribution to logit(A) - logit(B) */
} seer_dla_component;

typedef struct seer_dla_result {
    int32_t n; /* components, in forward order */
    seer_dla_component *c;
    int32_t pos, tok_a, tok_b;
    double total;      /* sum of the components */
    double logit_diff; /* the model's own logit(A) - logit(B) at pos (equal to total to ~1e-5
                          with f32 weights; a quantized unembedding quantizes the activation too,
                          so they differ by ~1e-2) */
    double scale;      /* the final norm's divisor at pos: sqrt(mean(x^2)+eps) (RMSNorm) or
                          sqrt(var(x)+eps) (LayerNorm) */
} seer_dla_result;

seer_status seer_dla_run(const seer_model *m, const int32_t *tokens, int32_t n_tokens, const seer_dla_params *p,
                         seer_dla_result **out, seer_err *err);
void seer_dla_result_free(seer_dla_result *r);

/* ---- activation patching ---- */

typedef enum seer_patch_metric {
    SEER_PATCH_LOGIT_DIFF = 0, /* logit(A) - logit(B) at the last position */
    SEER_PATCH_PROB,           /* softmax probability of A at the last position */
    SEER_PATCH_METRIC_COUNT
} seer_patch_metric;

const char *seer_patch_metric_name(seer_patch_metric k);
int seer_patch_metric_from_name(const char *name, seer_patch_metric *out); /* 0 ok, -1 unknown */

typedef struct seer_patch_params {
    seer_patch_metric metric;
    int32_t tok_a, tok_b; /* tok_b unused by prob */
    int n_threads;
    int32_t max_seqs; /* corrupted copies per batched forward (0: as many as ~64 MiB of scratch allows) */
} seer_patch_params;

/* One patch: the clean activation of point at layer (-1 for hook_embed, hook_pos_embed,
 * ln_final) copied into the corrupted run, at pos (or every position when pos is -1), for head
 * (per-head points q, k, v, rot_q, rot_k, z; -1: every head). Attention scores, patterns and
 * logits cannot be patched. */
typedef struct seer_patch_cell {
    seer_hook_point point;
    int32_t layer, pos, head;
} seer_patch_cell;

/* The raw metric of each patched run (values[n_cells]) and of the two unpatched runs. The
 * prompts must have the same number of tokens (else an error naming both counts). */
seer_status seer_patch_run(const seer_model *m, const int32_t *clean, int32_t n_clean, const int32_t *corrupt,
                           int32_t n_corrupt, const seer_patch_params *p, const seer_patch_cell *cells, int32_t n_cells,
                           double *values, double *clean_metric, double *corrupt_metric, seer_err *err);

/* A sweep over one point: rows are layers; columns positions, or heads for hook_z (each head
 * patched at every position). */
typedef struct seer_patch_grid {
    seer_hook_point point;
    int32_t n_rows, n_cols;
    int per_head;
    double *raw;        /* [n_rows * n_cols] metric of the patched run */
    double *normalised; /* (raw - corrupt) / (clean - corrupt) */
} seer_patch_grid;

typedef struct seer_patch_result {
    seer_patch_metric metric;
    int32_t tok_a, tok_b;
    double clean, corrupt; /* the unpatched metrics */
    int32_t n_tokens;
    int32_t *clean_tokens, *corrupt_tokens;
    int32_t n_grids;
    seer_patch_grid *grids;
    int64_t n_runs;  /* patched forwards */
    double seconds;  /* wall time of the sweep */
} seer_patch_result;

/* Sweeps each point: block points per position (resid_pre, attn_out, mlp_out, ...) as layer x
 * position; per-head points (z, q, k, v) as layer x head. Fails when the two unpatched metrics
 * are equal (nothing to normalise). */
seer_status seer_patch_sweep(const seer_model *m, const int32_t *clean, int32_t n_clean, const int32_t *corrupt,
                             int32_t n_corrupt, const seer_patch_params *p, const seer_hook_point *points,
                             int32_t n_points, seer_patch_result **out, seer_err *err);
void seer_patch_result_free(seer_patch_result *r);

/* A heatmap per grid (diverging colours around 0, 1 = fully restored; labels from tok, which
 * may be NULL), as a standalone SVG file written atomically. */
seer_status seer_patch_result_write_svg(const seer_patch_result *r, const seer_tok *tok, const char *path, seer_err *err);

/* ---- model diff ---- */

/* Fails unless a and b can read the same token ids: equal vocabulary sizes, and equal pieces
 * when both have a tokenizer. */
seer_status seer_diff_check_vocab(const seer_model *a, const seer_model *b, seer_err *err);

typedef struct seer_diff_entry {
    char hook[64];
    seer_hook_point point;
    int32_t layer;
    int64_t width;  /* floats per token */
    double cosine;  /* mean over every prompt's positions of the per-position cosine similarity
                       (1 when both rows are zero, 0 when one is) */
    double rel_l2;  /* ||a - b|| / ||a|| over all positions (0 when equal, inf when a is zero) */
    double max_abs; /* largest |a - b| */
} seer_diff_entry;

typedef struct seer_diff_result {
    int32_t n; /* hooks shared by both models, in forward order */
    seer_diff_entry *e;
    int32_t n_tokens; /* over all prompts */
} seer_diff_result;

/* Runs both models on the prompts (each its own sequence of one batch) and compares every hook
 * point with the same name and width in both. Masked attention scores (-inf in both) are
 * skipped. */
seer_status seer_diff_run(const seer_model *a, const seer_model *b, int32_t n_prompts, const int32_t *const *prompts,
                          const int32_t *lens, int n_threads, seer_diff_result **out, seer_err *err);
void seer_diff_result_free(seer_diff_result *r);

#ifdef __cplusplus
}
#endif
#endif
