/* Attribution patching: a first-order estimate of activation patching from one forward and one
 * backward pass. For each hook point and position, the change of a metric when the corrupted
 * run's activation is replaced by the clean run's is estimated as
 *     grad_corrupt(metric) · (act_clean − act_corrupt)
 * (Nanda's attribution patching), per position, and per head for the per-head hooks. */
#ifndef SEER_ATTRIB_H
#define SEER_ATTRIB_H

#include "seer/grad.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct seer_attrib_grid {
    char hook[64];    /* "blocks.3.hook_resid_pre" */
    int32_t n_heads;  /* 1, or the heads of q/k/v/z hooks */
    float *scores;    /* [n_pos][n_heads]: estimated metric change (metric units) */
} seer_attrib_grid;

typedef struct seer_attrib_result {
    int32_t n_pos;
    double metric_clean, metric_corrupt;
    seer_attrib_grid *grids;
    int32_t n_grids;
} seer_attrib_result;

/* clean and corrupt: T token ids each (same length). metric.b and .t are ignored: the metric is
 * read at position t_metric of each prompt. hooks: TransformerLens names. */
seer_status seer_attrib_run(const seer_model *m, const int32_t *clean, const int32_t *corrupt, int32_t T,
                            const seer_metric *metric, int32_t t_metric, const char *const *hooks, int n_hooks,
                            int n_threads, seer_attrib_result *out, seer_err *err);
void seer_attrib_result_free(seer_attrib_result *r);

#ifdef __cplusplus
}
#endif
#endif
