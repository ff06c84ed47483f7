/* Hook point names (TransformerLens's) and which architectures have which points. */
#include "model_internal.h"

#include <assert.h>

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
