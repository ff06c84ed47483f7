/* Hook names <-> (point, layer), and the [batch, pos, ...] shape of each point. */
#include "seer/hooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

seer_status seer_hook_parse(const seer_model *m, const char *name, seer_hook_point *p, int *layer, seer_err *err) {
    return seer_hook_point_parse(seer_model_get_config(m), name, p, layer, err);
}

void seer_hook_format(seer_hook_point p, int layer, char *buf, size_t cap) {
    if (layer < 0) snprintf(buf, cap, "%s", seer_hook_point_name(p));
    else snprintf(buf, cap, "blocks.%d.%s", layer, seer_hook_point_name(p));
}

int seer_hook_shape(const seer_model *m, seer_hook_point p, int64_t b, int64_t t, int64_t shape[4]) {
    const seer_model_config *c = seer_model_get_config(m);
    shape[0] = b;
    shape[1] = t;
    switch (p) {
    case SEER_HP_Q:
    case SEER_HP_ROT_Q:
    case SEER_HP_Z:
        shape[2] = c->n_heads;
        shape[3] = c->d_head;
        return 4;
    case SEER_HP_K:
    case SEER_HP_V:
    case SEER_HP_ROT_K:
        shape[2] = c->n_kv_heads;
        shape[3] = c->d_head;
        return 4;
    case SEER_HP_ATTN_SCORES:
    case SEER_HP_PATTERN:
        shape[1] = c->n_heads;
        shape[2] = t;
        shape[3] = t;
        return 4;
    case SEER_HP_MLP_PRE:
    case SEER_HP_MLP_PRE_LINEAR:
    case SEER_HP_MLP_POST:
        shape[2] = c->d_mlp;
        return 3;
    case SEER_HP_LOGITS:
        shape[2] = c->n_vocab;
        return 3;
    default:
        shape[2] = c->d_model;
        return 3;
    }
}
