/* Hook point names (TransformerLens's), parsing them against a model's shape, and which
 * architectures have which points. */
#include "model_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static const char *const point_names[] = {
    [SEER_HP_EMBED] = "hook_embed",
    [SEER_HP_POS_EMBED] = "hook_pos_embed",
    [SEER_HP_RESID_PRE] = "hook_resid_pre",
    [SEER_HP_LN1] = "ln1.hook_normalized",
    [SEER_HP_Q] = "attn.hook_q",
    [SEER_HP_K] = "attn.hook_k",
    [SEER_HP_V] = "attn.hook_v",
    [SEER_HP_ROT_Q] = "attn.hook_rot_q",
    [SEER_HP_ROT_K] = "attn.hook_rot_k",
    [SEER_HP_ATTN_SCORES] = "attn.hook_attn_scores",
    [SEER_HP_PATTERN] = "attn.hook_pattern",
    [SEER_HP_Z] = "attn.hook_z",
    [SEER_HP_ATTN_OUT] = "hook_attn_out",
    [SEER_HP_RESID_MID] = "hook_resid_mid",
    [SEER_HP_LN2] = "ln2.hook_normalized",
    [SEER_HP_MLP_PRE] = "mlp.hook_pre",
    [SEER_HP_MLP_PRE_LINEAR] = "mlp.hook_pre_linear",
    [SEER_HP_MLP_POST] = "mlp.hook_post",
    [SEER_HP_MLP_OUT] = "hook_mlp_out",
    [SEER_HP_RESID_POST] = "hook_resid_post",
    [SEER_HP_LN_FINAL] = "ln_final.hook_normalized",
    [SEER_HP_LOGITS] = "logits",
};
static_assert(SEER_HP_COUNT == sizeof(point_names) / sizeof(point_names[0]), "point_names covers seer_hook_point");
static_assert(SEER_HP_COUNT <= 32, "tap masks are 32-bit");

const char *seer_hook_point_name(seer_hook_point p) {
    return (unsigned)p < SEER_HP_COUNT ? point_names[p] : "unknown";
}

int seer_hook_point_is_global(seer_hook_point p) {
    return p == SEER_HP_EMBED || p == SEER_HP_POS_EMBED || p == SEER_HP_LN_FINAL || p == SEER_HP_LOGITS;
}

int seer_hook_point_exists(seer_arch a, seer_hook_point p) {
    if ((unsigned)p >= SEER_HP_COUNT) return 0;
    switch (p) {
    case SEER_HP_POS_EMBED: return a == SEER_ARCH_GPT2;
    case SEER_HP_ROT_Q:
    case SEER_HP_ROT_K:
    case SEER_HP_MLP_PRE_LINEAR: return a == SEER_ARCH_LLAMA;
    default: return 1;
    }
}

seer_status seer_hook_point_parse(const seer_model_config *c, const char *name, seer_hook_point *p, int *layer,
                                  seer_err *err) {
    if (!name) return seer_err_set(err, SEER_ERR_INVALID, "hook name is NULL");
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
