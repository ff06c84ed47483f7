/* Private to src/hooks: the parsed intervention graph that graph_parse.c builds, intervene.c
 * applies at taps and trace.c runs. */
#ifndef SEER_GRAPH_INTERNAL_H
#define SEER_GRAPH_INTERNAL_H

#include "seer/hooks.h"

typedef enum graph_op {
    OP_SAVE = 0,
    OP_SET,
    OP_ADD,
    OP_SCALE,
    OP_ZERO,
    OP_MEAN_ABLATE,
    OP_PATCH,
    OP_PROJECT_OUT,
    OP_PROJECT_ONTO,
    OP_CLAMP,
    OP_NOISE,
    OP_SAE,
    OP_GRAD, /* d(metric)/d(activation), from the gradient engine on the unmodified forward */
    OP_COUNT
} graph_op;

const char *graph_op_name(graph_op op);

/* Which rows and elements a node touches. Empty lists mean "all". */
typedef struct graph_sel {
    int32_t *batch;
    int32_t n_batch;
    int32_t *pos; /* negative: from the end of each prompt (-1 = last) */
    int32_t n_pos;
    int32_t *head;
    int32_t n_head;
    int32_t *index; /* within a head's block (or the row when not per head) */
    int32_t n_index;
} graph_sel;

typedef struct graph_tensor {
    char *name;
    float *data; /* f32 copy */
    int64_t n;
    int n_dims;
    int64_t shape[SEER_MAX_DIMS];
} graph_tensor;

/* A dictionary declared in inputs.saes, opened through the installed codec. */
typedef struct graph_sae {
    char *name;
    char *path;
    char *hook; /* the hook it was opened for (every node using it must name the same) */
    const seer_hook_codec *codec;
    void *state;
    int64_t n_latents;
} graph_sae;

/* What an sae node does to the latents before decoding. */
typedef enum graph_sae_edit { SAE_EDIT_NONE = 0, SAE_EDIT_ZERO, SAE_EDIT_SET, SAE_EDIT_ADD, SAE_EDIT_SCALE } graph_sae_edit;

typedef struct graph_node {
    char *id;
    char *hook; /* as written */
    seer_hook_point point;
    int layer;
    int order; /* position of the hook in the forward, for reference checks */
    graph_op op;
    graph_sel sel;
    const graph_tensor *tensor; /* set/add/mean_ablate/project/patch values */
    const float *inline_v;      /* set/add with an inline "value" list */
    int64_t inline_n;
    float *inline_buf;
    int from_node;  /* set: index of the save node to copy from, else -1 */
    int from_batch; /* patch: batch item to copy from, else -1 */
    float coef, factor, lo, hi, scale;
    int relative, uniform;
    uint64_t seed;
    int32_t *steps; /* generation steps (0 = prompt); NULL = every step */
    int32_t n_steps;
    int64_t per_row; /* elements a row selection covers (for value lengths) */
    /* sae: the dictionary, an edit of some latents, whether the reconstruction error is added
     * back (so only the edit changes the activation), whether the latents are saved */
    const graph_sae *sae;
    graph_sae_edit edit;
    int32_t *latents; /* NULL: all latents */
    int32_t n_latents;
    float edit_value;
    int keep_error, save_latents;
    char *metric_name; /* grad: an outputs.metrics entry */
    int metric;        /* its index, resolved after outputs are parsed */
} graph_node;

typedef struct graph_metric {
    char *name;
    int kind; /* 0 logit_diff, 1 prob, 2 logit, 3 loss */
    int32_t pos; /* query position (negative from the end) */
    int32_t tok_a, tok_b;
} graph_metric;

typedef struct graph_gen {
    int32_t steps; /* 0: no generation */
    float temp, top_p;
    int32_t top_k;
    uint64_t seed;
} graph_gen;

struct seer_graph {
    int version;
    int32_t n_prompts;
    int32_t **prompt_ids;
    int32_t *prompt_len;
    char **prompt_text;
    graph_tensor *tensors;
    int32_t n_tensors;
    graph_sae *saes;
    int32_t n_saes;
    graph_node *nodes;
    int32_t n_nodes;
    int32_t *save_outputs; /* node indices written to the result */
    int32_t n_save_outputs;
    graph_metric *metrics;
    int32_t n_metrics;
    graph_gen gen;
    seer_graph_limits limits;
};

/* Forward order of a hook point, so a node can only read values computed before it. */
int graph_hook_order(const seer_model *m, seer_hook_point p, int layer);

#endif
