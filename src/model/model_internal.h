/* Internals shared by the model layer's files: the model and context structs, the tensor
 * registry, and the table each architecture fills (arch_llama.c, arch_gpt2.c). */
#ifndef SEER_MODEL_INTERNAL_H
#define SEER_MODEL_INTERNAL_H

#include "seer/gguf.h"
#include "seer/model.h"
#include "seer/safetensors.h"
#include "seer/tap.h"

/* One block's weights, resolved from the registry by name; NULL where the arch has none. */
typedef struct seer_layer {
    const seer_tensor *attn_norm, *attn_norm_b;
    const seer_tensor *wq, *wk, *wv; /* Llama */
    const seer_tensor *wqkv, *bqkv;  /* GPT-2: fused [3d, d] and its bias */
    const seer_tensor *wo, *bo;
    const seer_tensor *ffn_norm, *ffn_norm_b;
    const seer_tensor *w_gate, *w_up, *b_up, *w_down, *b_down;
} seer_layer;

struct seer_model {
    seer_model_config cfg;
    seer_format format;
    seer_tok *tok;

    /* registry: every tensor under its llama.cpp name */
    seer_tensor *tensors;
    int64_t n_tensors, cap_tensors;

    /* storage the views point into */
    seer_map map;
    seer_gguf *gguf;
    seer_st_set *st;
    void **owned;
    int64_t n_owned, cap_owned;

    /* resolved after loading */
    const seer_tensor *tok_embd, *pos_embd, *out_norm, *out_norm_b, *output;
    seer_layer *layers;
};

/* Adds a tensor view under name (copied). owned_data: the model takes ownership of data and
 * frees it with the model. Fails on OOM or a duplicate name. */
seer_status model_add_tensor(seer_model *m, const char *name, seer_dtype type, int n_dims, const int64_t *shape,
                             void *data, int owned_data, seer_err *err);
/* Keeps a buffer alive for the model's lifetime. */
seer_status model_own(seer_model *m, void *p, seer_err *err);
seer_model *model_alloc(void);
/* Finds the per-arch tensors, checks every shape against cfg, fills m->layers etc. */
seer_status model_resolve(seer_model *m, seer_err *err);

/* Format loaders. */
seer_status model_load_llama2c(seer_model *m, const char *path, seer_err *err);
seer_status model_load_gguf(seer_model *m, const char *path, seer_err *err);
seer_status model_load_hf(seer_model *m, const char *path, seer_err *err);

/* Hugging Face names (hf_names.c). */
typedef enum hf_op {
    HF_AS_IS = 0,
    HF_PERMUTE_Q, /* rotate-half <-> interleaved rows, n_heads heads */
    HF_PERMUTE_K, /* the same over n_kv_heads */
    HF_CONV1D,    /* [in, out] <-> [out, in] */
} hf_op;
/* HF name -> llama.cpp name: 1 mapped, 0 a buffer to ignore, -1 unknown. */
int hf_name_to_gguf(seer_arch a, const char *hf, int n_layers, char *buf, size_t cap, hf_op *op);
/* llama.cpp name -> HF name: 1 mapped, -1 unknown. */
int hf_name_from_gguf(seer_arch a, const char *gguf, char *buf, size_t cap, hf_op *op);

/* ---- context ---- */

struct seer_ctx {
    const seer_model *m;
    seer_pool *pool;
    int32_t n_ctx, n_seq, n_batch;
    /* Untapped batches run in slices of n_ubatch tokens so the scratch they touch stays a small
     * fraction of the weights (pages of the n_batch scratch past the slice are never touched). */
    int32_t n_ubatch;
    uint8_t *no_logits; /* (n_ubatch) zeros: want_logits for slices before the last */
    int32_t *seq_len; /* [n_seq] */

    float *k_cache, *v_cache; /* [L][n_seq][n_ctx][kv_dim] */
    float *rope_cos, *rope_sin; /* [n_ctx][d_head/2] */

    /* scratch for one batch (sized for n_batch tokens); q, k, v share memory with hb, hb2, and
     * att_out is xb (see seer_ctx_init) */
    seer_arena arena;
    float *x;    /* (n_batch, d) residual stream */
    float *xb;   /* (n_batch, d) normed input */
    float *q;    /* (n_batch, d) (GPT-2: qkv (n_batch, 3d)) */
    float *k;    /* (n_batch, kv_dim) */
    float *v;    /* (n_batch, kv_dim) */
    float *att_out; /* (n_batch, d) */
    float *shared;  /* (n_batch, max(q + k + v widths, 2 d_mlp)): holds q, k, v and hb, hb2 */
    float *hb;   /* (n_batch, d_mlp) */
    float *hb2;  /* (n_batch, d_mlp) */
    float *att_scores; /* (n_threads, n_ctx) */
    void *work;
    size_t work_size;
    int32_t *out_rows; /* (n_batch) rows whose logits are wanted */

    float *tmp;  /* (n_batch, d) a block's attention or MLP output, when tapped */

    /* taps */
    seer_tap_fn tap_fn;
    void *tap_ud;
    uint32_t *tap_mask; /* [n_layers + 1]: bit p of [0] global points, of [l + 1] layer l */
    float *att_buf;     /* (n_batch, n_heads, n_ctx) scores/pattern, allocated when tapped */

    /* current batch, for the parallel kernels */
    const seer_batch *batch;
};

static inline int ctx_tapped(const seer_ctx *c, seer_hook_point p, int layer) {
#ifdef SEER_NO_TAPS /* the bench's reference build: what an idle hook point costs */
    (void)c, (void)p, (void)layer;
    return 0;
#else
    return c->tap_fn && ((c->tap_mask[layer + 1] >> p) & 1u);
#endif
}
/* Visits point p of layer (or -1): rows of width floats, stride apart, as heads blocks. */
void ctx_tap_visit(seer_ctx *c, seer_hook_point p, int layer, float *data, int64_t rows, int64_t width, int64_t stride,
                   int32_t heads);
/* The same if the point is enabled; inline, so an idle hook point costs one test. */
static inline void ctx_tap(seer_ctx *c, seer_hook_point p, int layer, float *data, int64_t rows, int64_t width,
                           int64_t stride, int32_t heads) {
    if (ctx_tapped(c, p, layer)) ctx_tap_visit(c, p, layer, data, rows, width, stride, heads);
}

/* Architecture table: adding an architecture means adding a file that fills one of these. */
typedef struct seer_arch_ops {
    seer_status (*resolve)(seer_model *m, seer_err *err);
    /* Runs the blocks over c->x (already embedded) for the batch; leaves the final residual
     * stream in c->x. */
    void (*forward)(seer_ctx *c, const seer_batch *b);
    /* Final norm of one row. */
    void (*final_norm)(const seer_model *m, float *y, const float *x);
} seer_arch_ops;

extern const seer_arch_ops seer_arch_llama;
extern const seer_arch_ops seer_arch_gpt2;
const seer_arch_ops *seer_arch_get(seer_arch a);

/* Shared pieces of the forward pass (context.c). */
const seer_tensor *model_need(const seer_model *m, const char *name, int n_dims, int64_t d0, int64_t d1,
                              seer_err *err, seer_status *st);
void ctx_carve_shared(seer_ctx *c, int64_t n);
/* Gate and up of the same type and shape: the MLP can run them as one fused SwiGLU matmul. */
int ctx_swiglu_fusable(const seer_layer *L);
void ctx_matmul_swiglu(seer_ctx *c, float *y, const float *x, int64_t n, const seer_layer *L);
void ctx_matmul(seer_ctx *c, float *y, const float *x, int64_t n, const seer_tensor *w);
void ctx_matmul_acc(seer_ctx *c, float *y, const float *x, int64_t n, const seer_tensor *w);
/* x += w·in + b, with the block output visited at point p when tapped (kept apart first). */
void ctx_project_add(seer_ctx *c, float *x, const float *in, int64_t n, const seer_tensor *w, const seer_tensor *b,
                     seer_hook_point p, int layer);
void ctx_add_bias(float *y, const seer_tensor *b, int64_t n, int64_t width);
/* Writes k, v rows of the batch into layer l's cache and runs causal attention for every
 * token and head: att_out (n, n_heads*d_head) from q (n, q_stride). Visits the scores and
 * pattern taps of layer l when they are enabled. */
void ctx_attention(seer_ctx *c, const seer_batch *b, int l, const float *q, int64_t q_stride, const float *k,
                   const float *v, int64_t kv_stride, float *att_out);
void ctx_rope(seer_ctx *c, const seer_batch *b, float *x, int64_t stride, int n_heads);
/* Runs fn(c, row) for rows [0, n) split over the pool. */
void ctx_parallel_rows(seer_ctx *c, int64_t n, void (*fn)(seer_ctx *c, int64_t row, void *ud), void *ud);

#endif
