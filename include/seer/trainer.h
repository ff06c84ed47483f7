/* The training loop behind `seer train` and `seer finetune`: batches from a token corpus
 * (random windows) or from prompt/completion records (loss on the completion only), gradient
 * accumulation, clipping, AdamW with warmup + cosine, validation loss, and checkpoints that
 * resume exactly: a run stopped at a checkpoint and resumed gives the same losses, bit for bit,
 * as one that never stopped (same threads).
 *
 *     seer_trainer *t;
 *     seer_trainer_init(tm, &data, &opts, &t, &err);
 *     if (resuming) seer_trainer_resume(t, "ckpt.safetensors", &err);
 *     while (seer_trainer_step_index(t) < opts.steps) seer_trainer_step(t, &report, &err);
 */
#ifndef SEER_TRAINER_H
#define SEER_TRAINER_H

#include "seer/grad.h"
#include "seer/optim.h"
#include "seer/train_data.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct seer_train_opts {
    int32_t batch;  /* sequences per micro-batch */
    int32_t seq;    /* tokens per sequence (corpus training); records are cut to it (finetuning) */
    int32_t accum;  /* micro-batches per optimizer step */
    int64_t steps;  /* optimizer steps in the whole run */
    seer_lr_sched lr;
    seer_adamw_cfg adamw;
    float clip;     /* global gradient-norm clip; 0: off */
    int32_t eval_batches; /* validation micro-batches per evaluation */
    uint64_t seed;  /* data order */
    int n_threads;
} seer_train_opts;

/* batch 8, seq 256, accum 1, steps 1000, cosine 1e-3 -> 1e-4 with 100 warmup steps, AdamW
 * (0.9, 0.95, 1e-8, wd 0.1), clip 1, 8 eval batches, seed 1. */
seer_train_opts seer_train_default_opts(void);

/* Where batches come from: a corpus (its train and validation splits), or records. */
typedef struct seer_train_data {
    const seer_corpus *corpus;
    const seer_sft_set *sft;     /* finetuning records */
    const seer_sft_set *sft_val; /* may be NULL: no validation */
} seer_train_data;

typedef struct seer_train_report {
    int64_t step;      /* optimizer steps done (after this one) */
    int64_t tokens;    /* tokens seen so far (all positions of the micro-batches) */
    float loss;        /* mean of the micro-batches' losses */
    float lr;
    float grad_norm;   /* before clipping */
} seer_train_report;

typedef struct seer_trainer seer_trainer;

/* Borrows tm and the data until freed. Checks the options (batch, seq against the model's
 * context for GPT-2, steps, schedule, AdamW) and that the corpus has windows of seq + 1 tokens. */
seer_status seer_trainer_init(seer_tmodel *tm, const seer_train_data *d, const seer_train_opts *o, seer_trainer **out,
                              seer_err *err);
void seer_trainer_free(seer_trainer *t);

/* One optimizer step (accum micro-batches). */
seer_status seer_trainer_step(seer_trainer *t, seer_train_report *r, seer_err *err);
/* Mean validation loss over the first eval_batches micro-batches of the validation data (always
 * the same ones). Fails when there is no validation data. */
seer_status seer_trainer_eval(seer_trainer *t, float *loss, seer_err *err);
int64_t seer_trainer_step_index(const seer_trainer *t);
int64_t seer_trainer_tokens(const seer_trainer *t); /* tokens seen so far, resumed runs included */

/* Parameters, AdamW moments, step, data position, seed and the model's shape, in one file
 * written atomically. */
seer_status seer_trainer_save(const seer_trainer *t, const char *path, seer_err *err);
/* Restores a state written by seer_trainer_save for the same model shape (and the same LoRA
 * adapters, added before). A checkpoint of another shape is refused naming the tensor. */
seer_status seer_trainer_resume(seer_trainer *t, const char *path, seer_err *err);

/* Writes the model with tok (may be NULL) as its tokenizer, in any format seer_model_save
 * writes (f32 weights). LoRA adapters must be merged first (seer_tmodel_lora_merge). */
seer_status seer_tmodel_save(const seer_tmodel *tm, const seer_tok *tok, seer_format fmt, const char *path,
                             seer_err *err);

#ifdef __cplusplus
}
#endif
#endif
