/* Hook names <-> (point, layer), and the [batch, pos, ...] shape of each point. */
#include "seer/hooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

seer_status seer_hook_parse(const seer_model *m, const char *name, seer_hook_point *p, int *layer, seer_err *err) {
    const seer_model_config *c = seer_model_get_config(m);
    const char *rest = name;
    int l = -1;
    if (!strncmp(name, "blocks.", 7)) {
        char *end;
        long v = strtol(name + 7, &end, 10);
        if (end == name + 7 || *end != '.' || v < 0 || v > 1000000)
            return seer_err_set(err, SEER_ERR_INVALID, "hook '%s': expected blocks.<layer>.<point>", name);
        if (v >= c->n_layers)
            return seer_err_set(err, SEER_ERR_RANGE, "hook '%s': layer %ld out of range (model has %d layers)", name, v,
                                c->n_layers);
        l = (int)v;
        rest = end + 1;
    }
    for (int i = 0; i < SEER_HP_COUNT; i++) {
        seer_hook_point hp = (seer_hook_point)i;
        if (strcmp(rest, seer_hook_point_name(hp)) != 0) continue;
        if (seer_hook_point_is_global(hp) != (l < 0)) break;
        if (!seer_hook_point_exists(c->arch, hp))
            return seer_err_set(err, SEER_ERR_INVALID, "hook '%s': %s models have no such hook point", name,
                                seer_arch_name(c->arch));
        *p = hp;
        *layer = l;
        return SEER_OK;
    }
    return seer_err_set(err, SEER_ERR_INVALID, "unknown hook '%s' (seer info --hooks MODEL lists them)", name);
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
