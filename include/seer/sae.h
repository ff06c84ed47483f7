/* Sparse autoencoders and transcoders: the object, training, file formats, evaluation.
 *
 * A seer_sae maps an activation x [d_in] (read at hook_in) to sparse codes f [d_sae] and back
 * to a reconstruction [d_out] of the activation at hook_out (the same hook for an SAE; a later
 * one for a transcoder, which may add a linear skip W_skip x):
 *   pre = (x - b_dec·apply_b_dec_to_input) · W_enc + b_enc      W_enc [d_in, d_sae]
 *   f   = activation(pre)    TopK / BatchTopK / ReLU / JumpReLU(threshold [d_sae])
 *   out = f · W_dec + b_dec (+ x · W_skipᵀ)                       W_dec [d_sae, d_out]
 * Decoding gathers only the rows of W_dec whose latent fired, so it costs O(L0 · d_out).
 *
 * Training (seer_sae_trainer) runs Adam on batches from an activation source (a safetensors
 * file, or a model + hook + corpus streamed through taps into a shuffled buffer), with unit-norm
 * decoder rows, b_dec started at the geometric median, AuxK on dead latents, input
 * normalisation folded into the weights at save, and checkpoints that resume bit-exactly. The
 * step costs one dense GEMM (the encoder); decoding, the decoder gradient and the encoder
 * gradient touch only the latents that fired. Files: SAELens (cfg.json +
 * sae_weights.safetensors, v6 "metadata" or older flat configs), sparsify (cfg.json +
 * sae.safetensors) and Gemma Scope's params.npz (read only). */
#ifndef SEER_SAE_H
#define SEER_SAE_H

#include "seer/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum seer_sae_arch {
    SEER_SAE_TOPK = 0,  /* ReLU, then keep the k largest per token */
    SEER_SAE_BATCHTOPK, /* training: the k·B largest over a batch; inference: one threshold */
    SEER_SAE_RELU,      /* ReLU, L1 penalty weighted by decoder row norms */
    SEER_SAE_JUMPRELU,  /* per-latent thresholds, L0 penalty, straight-through estimator */
    SEER_SAE_ARCH_COUNT
} seer_sae_arch;

const char *seer_sae_arch_name(seer_sae_arch a); /* "topk", "batchtopk", "relu", "jumprelu" */
int seer_sae_arch_from_name(const char *name, seer_sae_arch *out); /* 0 ok, -1 unknown */

typedef struct seer_sae_config {
    seer_sae_arch arch;
    int64_t d_in, d_sae, d_out; /* d_out == d_in for an SAE */
    int32_t k;                  /* topk / batchtopk: latents per token */
    int skip;                   /* transcoder with W_skip [d_out, d_in] */
    int apply_b_dec_to_input;   /* subtract b_dec before encoding (SAEs, not transcoders) */
    char hook_in[128];          /* e.g. "blocks.2.hook_resid_post"; may be empty */
    char hook_out[128];         /* == hook_in for an SAE */
    char model_name[128];       /* informational */
} seer_sae_config;

typedef struct seer_sae {
    seer_sae_config cfg;
    float *W_enc;     /* [d_in, d_sae] */
    float *b_enc;     /* [d_sae] */
    float *W_dec;     /* [d_sae, d_out] */
    float *b_dec;     /* [d_out] */
    float *threshold; /* [d_sae]: jumprelu and batchtopk (inference); NULL otherwise */
    float *W_skip;    /* [d_out, d_in] when cfg.skip; NULL otherwise */
} seer_sae;

/* Checks sizes and k against d_sae; the message names the field. */
seer_status seer_sae_config_check(const seer_sae_config *c, seer_err *err);
/* Allocates zeroed weights for the config. */
seer_status seer_sae_init(const seer_sae_config *c, seer_sae **out, seer_err *err);
void seer_sae_free(seer_sae *s);

/* Inference. x [n, d_in]; f [n, d_sae] dense codes; out [n, d_out]. BatchTopK uses its
 * threshold here (as JumpReLU with one threshold for all latents). */
seer_status seer_sae_encode(const seer_sae *s, const float *x, int64_t n, float *f, seer_err *err);
seer_status seer_sae_forward(const seer_sae *s, const float *x, int64_t n, float *out, seer_err *err);

/* Checks hook_in/hook_out exist in the model and their widths equal d_in/d_out. */
seer_status seer_sae_check_model(const seer_sae *s, const seer_model *m, seer_err *err);

/* ---- files ---- */
typedef enum seer_sae_format {
    SEER_SAE_FORMAT_SAELENS = 0,
    SEER_SAE_FORMAT_SPARSIFY,
    SEER_SAE_FORMAT_GEMMASCOPE, /* params.npz: read only */
    SEER_SAE_FORMAT_COUNT
} seer_sae_format;
const char *seer_sae_format_name(seer_sae_format f);
int seer_sae_format_from_name(const char *name, seer_sae_format *out);

/* Writes DIR/cfg.json and the weights (DIR is created). SAELens: v6 config; BatchTopK is saved
 * as JumpReLU with its threshold (as SAELens does). sparsify: TopK only. */
seer_status seer_sae_save(const seer_sae *s, seer_sae_format fmt, const char *dir, seer_err *err);
/* Reads a folder in any layout (found by its weight file name: sae_weights.safetensors,
 * sae.safetensors or params.npz), or a .npz file itself; *fmt may be NULL. */
seer_status seer_sae_load(const char *dir, seer_sae **out, seer_sae_format *fmt, seer_err *err);
/* From memory: cfg.json text and the safetensors image. */
seer_status seer_sae_load_buffers(seer_sae_format fmt, const char *cfg_json, size_t cfg_len, const void *st,
                                  size_t st_len, seer_sae **out, seer_err *err);

/* Gemma Scope params.npz (a zip of .npy arrays W_enc [d_in, d_sae], W_dec [d_sae, d_out], b_enc,
 * b_dec, threshold; f32, f16 or f64): a JumpReLU SAE without b_dec subtracted at the input.
 * Hook and model names are not in the file and are left empty. */
seer_status seer_sae_load_npz(const char *path, seer_sae **out, seer_err *err);
seer_status seer_sae_load_npz_buffer(const void *buf, size_t len, seer_sae **out, seer_err *err);

/* ---- activation sources ---- */
typedef struct seer_sae_data seer_sae_data;

/* One F32 tensor [n, d] in a safetensors file (the only tensor, or the one named `name`). */
seer_status seer_sae_data_open_file(const char *path, const char *name, seer_sae_data **out, seer_err *err);
/* Rows from memory (borrowed). */
seer_status seer_sae_data_open_memory(const float *rows, int64_t n, int64_t d, seer_sae_data **out, seer_err *err);
/* Streams activations of hook (and hook_out, for transcoders; NULL for an SAE) from the model
 * run on the corpus text: chunks of n_ctx tokens (BOS first, BOS rows skipped), buffer_rows rows
 * per buffer, each buffer shuffled with a generator seeded by (seed, buffer number); the corpus
 * wraps around when it ends. */
seer_status seer_sae_data_open_model(const seer_model *m, const char *hook, const char *hook_out, const char *text,
                                     size_t len, int32_t n_ctx, int64_t buffer_rows, int n_threads,
                                     seer_sae_data **out, seer_err *err);
void seer_sae_data_free(seer_sae_data *d);
/* Text sampled from the model, for training and evaluating on its own distribution: stories
 * started at BOS and sampled at temperature temp (no truncation) until BOS, EOS or the end of
 * the context, 16 at a time from samplers seeded by seed, one story per line, until n_tokens
 * tokens have been sampled. *out is malloc'd and NUL-terminated. */
seer_status seer_sae_sample_text(const seer_model *m, int64_t n_tokens, uint64_t seed, double temp, int n_threads,
                                 char **out, size_t *len, seer_err *err);
int64_t seer_sae_data_d_in(const seer_sae_data *d);
int64_t seer_sae_data_d_out(const seer_sae_data *d);

/* ---- training ---- */
/* Where b_dec starts: the geometric median of a sample (Weiszfeld iterations; robust to the
 * outlying rows the mean follows), the mean, or zero. */
typedef enum seer_sae_bdec_init {
    SEER_SAE_BDEC_MEDIAN = 0,
    SEER_SAE_BDEC_MEAN,
    SEER_SAE_BDEC_ZERO,
    SEER_SAE_BDEC_COUNT
} seer_sae_bdec_init;
const char *seer_sae_bdec_init_name(seer_sae_bdec_init b); /* "median", "mean", "zero" */
int seer_sae_bdec_init_from_name(const char *name, seer_sae_bdec_init *out);

/* The geometric median of rows x [n, d] (the point minimising the sum of Euclidean distances),
 * by Weiszfeld iterations from the mean until the objective improves by less than tol
 * (relative) or max_iter; out [d]. */
seer_status seer_sae_geometric_median(const float *x, int64_t n, int64_t d, int max_iter, double tol, float *out,
                                      seer_err *err);

typedef struct seer_sae_train_params {
    int64_t batch;        /* tokens per step (default 4096) */
    int64_t tokens;       /* total training tokens */
    double lr;            /* base learning rate (default 2e-4) */
    int lr_scale;         /* multiply lr by 1/sqrt(d_sae / 2^14) (default on) */
    double beta1, beta2, eps;
    uint64_t seed;
    int normalize_decoder; /* unit-norm decoder rows (default: on except relu) */
    int normalize_input;   /* scale so the mean squared norm is d (default on) */
    double l1_coeff;       /* relu */
    double l0_coeff;       /* jumprelu */
    double jump_bandwidth; /* jumprelu STE rectangle width (default 0.001) */
    double jump_init_threshold;
    double auxk_coeff;     /* topk/batchtopk (default 1/32) */
    int32_t auxk;          /* latents in the AuxK reconstruction (default d_in/2) */
    int64_t dead_tokens;   /* a latent silent this many tokens is dead (0: min(10M, tokens/10)) */
    seer_sae_bdec_init b_dec_init; /* default: geometric median, as SAELens */
    int n_threads;         /* threads for the step (<= 0: one per core); results do not depend on it */
} seer_sae_train_params;

seer_sae_train_params seer_sae_train_default_params(void);

typedef struct seer_sae_trainer seer_sae_trainer;

typedef struct seer_sae_stats {
    int64_t step, tokens;
    double loss, mse, fvu, l0, aux, dead_frac;
} seer_sae_stats;

/* Initialises weights from the seed and the first rows of data (b_dec, and the input scale).
 * The trainer borrows data until freed. */
seer_status seer_sae_trainer_init(const seer_sae_config *c, const seer_sae_train_params *p, seer_sae_data *data,
                                  seer_sae_trainer **out, seer_err *err);
/* Restores a trainer from a state file written by seer_sae_trainer_save_state (the config
 * and parameters are those recorded in it; data must be the same source). n_threads as in
 * seer_sae_train_params. */
seer_status seer_sae_trainer_resume(const char *state_path, seer_sae_data *data, int n_threads, seer_sae_trainer **out,
                                    seer_err *err);
void seer_sae_trainer_free(seer_sae_trainer *t);
/* One step; stats may be NULL. */
seer_status seer_sae_trainer_step(seer_sae_trainer *t, seer_sae_stats *stats, seer_err *err);
int64_t seer_sae_trainer_steps_total(const seer_sae_trainer *t);
int64_t seer_sae_trainer_step_index(const seer_sae_trainer *t);
/* Weights, Adam moments, step, RNG, data position: written atomically. */
seer_status seer_sae_trainer_save_state(const seer_sae_trainer *t, const char *path, seer_err *err);
/* A copy of the SAE for inference: normalisation folded into the weights, BatchTopK's
 * threshold filled in. */
seer_status seer_sae_trainer_export(const seer_sae_trainer *t, seer_sae **out, seer_err *err);

/* ---- evaluation ---- */
/* Latents by firing density d: bin 0 never fired; bin b in 1..11 holds 10^(b-12) <= d < 10^(b-11)
 * (bin 1 also everything rarer, bin 11 also d == 1). */
#define SEER_SAE_HIST_BINS 12
typedef struct seer_sae_eval_result {
    int64_t tokens;
    double l0, mse, fvu;
    double dead_frac, dense_frac; /* never fired; fired on more than 10% of tokens */
    int64_t hist[SEER_SAE_HIST_BINS];
    double ce_clean, ce_spliced, ce_zero; /* mean next-token NLL */
    double ce_increase, frac_recovered;
} seer_sae_eval_result;

/* Runs the model on text (BOS-first chunks of n_ctx tokens, up to max_tokens) three times:
 * clean, with hook_out replaced by the SAE's reconstruction, and with it zeroed. */
seer_status seer_sae_evaluate(const seer_sae *s, const seer_model *m, const char *text, size_t len, int32_t n_ctx,
                              int64_t max_tokens, int n_threads, seer_sae_eval_result *out, seer_err *err);

#ifdef __cplusplus
}
#endif
#endif
