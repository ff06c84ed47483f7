/* Hooks: TransformerLens-named hook points, the intervention graph, and traces.
 *
 * A hook name is "hook_embed", "hook_pos_embed", "blocks.L.<point>" (e.g.
 * "blocks.2.hook_resid_post", "blocks.0.attn.hook_pattern"), "ln_final.hook_normalized" or
 * "logits". Activations are seen as [batch, pos, ...]: [batch, pos, d_model] for residual
 * points, [batch, pos, head, d_head] for q/k/v/z, [batch, head, query_pos, key_pos] for scores
 * and patterns, [batch, pos, d_mlp] for MLP points, [batch, pos, vocab] for logits.
 *
 * An intervention graph (JSON, see docs/intervention-graph.md) declares prompts, input tensors,
 * nodes (hook, selector, operation, arguments) and outputs (saved values, metrics). It is
 * parsed and validated completely against the model before anything runs, and it is data only:
 * the only files it touches are the tensor files it declares as inputs.
 *
 * A trace runs the graph: all prompts as one batch (each prompt its own sequence, results equal
 * to running it alone), the nodes applied at their hooks in graph order, then optionally
 * generation with the nodes applied at every step or at chosen steps. */
#ifndef SEER_HOOKS_H
#define SEER_HOOKS_H

#include "seer/tap.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version this seer writes and the newest it reads. Older graphs are accepted. */
#define SEER_GRAPH_VERSION 1

/* "blocks.3.attn.hook_q" -> (SEER_HP_Q, 3); checks the point exists for the model. */
seer_status seer_hook_parse(const seer_model *m, const char *name, seer_hook_point *p, int *layer, seer_err *err);
void seer_hook_format(seer_hook_point p, int layer, char *buf, size_t cap);

/* Shape of a hook's activation for a batch of b prompts of up to t tokens ([batch, pos, ...] or
 * [batch, head, q, k]); returns n_dims. */
int seer_hook_shape(const seer_model *m, seer_hook_point p, int64_t b, int64_t t, int64_t shape[4]);

/* Limits a graph must stay within (server-side policy; the CLI uses the defaults). */
typedef struct seer_graph_limits {
    int32_t max_prompts;
    int32_t max_tokens;      /* per prompt, prompt + generated */
    int32_t max_nodes;
    int64_t max_save_bytes;  /* total saved per trace */
    int64_t max_input_bytes; /* total of input tensors */
    int32_t max_steps;       /* generation steps */
    int allow_any_path;      /* 0: input files must be relative paths without ".." (servers) */
} seer_graph_limits;
seer_graph_limits seer_graph_default_limits(void);

/* A dictionary the graph's "sae" operation encodes a hook's rows through and decodes them
 * from. The hooks layer does not know SAEs (they live in a layer above it); the sae layer
 * provides one (seer_sae_hook_codec() in seer/sae_hook.h) and programs install it at start-up.
 * Without one, graphs that use "sae" are refused. */
typedef struct seer_hook_codec {
    /* Opens the dictionary at path for hook (rows of `width` values): *n_latents, *state. */
    seer_status (*open)(const char *path, const seer_model *m, const char *hook, int64_t width, void **state,
                        int64_t *n_latents, seer_err *err);
    void (*close)(void *state);
    /* x [n, width] -> z [n, n_latents]; z [n, n_latents] -> y [n, width]. */
    seer_status (*encode)(void *state, const float *x, int64_t n, float *z, seer_err *err);
    void (*decode)(void *state, const float *z, int64_t n, float *y);
} seer_hook_codec;
/* Process-wide; set it before loading graphs (not thread-safe against concurrent loads). */
void seer_graph_set_codec(const seer_hook_codec *codec);

typedef struct seer_graph seer_graph;

/* Parses and validates the graph against the model (hooks, shapes, indices, references, order,
 * limits). Tensor files named in inputs are read relative to base_dir (NULL: the current
 * folder); extra_tensors (may be NULL) are safetensors files the caller opened, searched before
 * the declared ones. */
seer_status seer_graph_load(const seer_model *m, const char *json, size_t len, const char *base_dir,
                            const seer_graph_limits *limits, seer_graph **out, seer_err *err);
void seer_graph_free(seer_graph *g);
int32_t seer_graph_n_prompts(const seer_graph *g);

/* ---- results ---- */
typedef struct seer_trace_result seer_trace_result;

/* Runs the graph. n_threads <= 0: one per core. */
seer_status seer_trace_run(const seer_model *m, const seer_graph *g, int n_threads, seer_trace_result **out,
                           seer_err *err);
/* The same in a context made by the caller and kept across traces (no set-up per trace): it
 * must hold at least seer_trace_ctx_params(g)'s sequences, positions and batch. */
seer_status seer_trace_run_ctx(seer_ctx *ctx, const seer_model *m, const seer_graph *g, seer_trace_result **out,
                               seer_err *err);
seer_ctx_params seer_trace_ctx_params(const seer_graph *g);
void seer_trace_result_free(seer_trace_result *r);

int64_t seer_trace_result_n_tensors(const seer_trace_result *r);
const seer_tensor *seer_trace_result_tensor(const seer_trace_result *r, int64_t i);
const seer_tensor *seer_trace_result_find(const seer_trace_result *r, const char *name);
/* Writes every saved tensor (F32) to a safetensors file, atomically. */
seer_status seer_trace_result_save(const seer_trace_result *r, const char *path, seer_err *err);
/* The JSON summary: prompts and their token counts, saved tensors with shapes, metrics per
 * prompt, generated text. */
void seer_trace_result_print_json(const seer_trace_result *r, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
