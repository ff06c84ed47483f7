/* One table of Hugging Face <-> llama.cpp tensor names per architecture, used by both the loader
 * (load_hf.c) and the writer (save.c), with the transform each name needs: Llama q/k rows
 * between rotate-half and interleaved RoPE layouts, GPT-2 Conv1D weights between [in, out] and
 * [out, in]. */
#include "model_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct hf_entry {
    const char *hf, *gguf;
    hf_op op;
} hf_entry;

/* Llama: global names are under "model." except the head; layers are model.layers.N.<hf>. */
static const hf_entry llama_global[] = {
    {"model.embed_tokens.weight", "token_embd.weight", HF_AS_IS},
    {"model.norm.weight", "output_norm.weight", HF_AS_IS},
    {"lm_head.weight", "output.weight", HF_AS_IS},
};
static const hf_entry llama_layer[] = {
    {"input_layernorm.weight", "attn_norm.weight", HF_AS_IS},
    {"self_attn.q_proj.weight", "attn_q.weight", HF_PERMUTE_Q},
    {"self_attn.k_proj.weight", "attn_k.weight", HF_PERMUTE_K},
    {"self_attn.v_proj.weight", "attn_v.weight", HF_AS_IS},
    {"self_attn.o_proj.weight", "attn_output.weight", HF_AS_IS},
    {"post_attention_layernorm.weight", "ffn_norm.weight", HF_AS_IS},
    {"mlp.gate_proj.weight", "ffn_gate.weight", HF_AS_IS},
    {"mlp.up_proj.weight", "ffn_up.weight", HF_AS_IS},
    {"mlp.down_proj.weight", "ffn_down.weight", HF_AS_IS},
};
static const char *const llama_ignored[] = {"self_attn.rotary_emb.inv_freq"}; /* recomputed buffer */

/* GPT-2: the Hub's bare names (h.N.*); "transformer."-prefixed ones are accepted on load. */
static const hf_entry gpt2_global[] = {
    {"wte.weight", "token_embd.weight", HF_AS_IS},    {"wpe.weight", "position_embd.weight", HF_AS_IS},
    {"ln_f.weight", "output_norm.weight", HF_AS_IS},  {"ln_f.bias", "output_norm.bias", HF_AS_IS},
};
static const hf_entry gpt2_layer[] = {
    {"ln_1.weight", "attn_norm.weight", HF_AS_IS},        {"ln_1.bias", "attn_norm.bias", HF_AS_IS},
    {"attn.c_attn.weight", "attn_qkv.weight", HF_CONV1D}, {"attn.c_attn.bias", "attn_qkv.bias", HF_AS_IS},
    {"attn.c_proj.weight", "attn_output.weight", HF_CONV1D}, {"attn.c_proj.bias", "attn_output.bias", HF_AS_IS},
    {"ln_2.weight", "ffn_norm.weight", HF_AS_IS},         {"ln_2.bias", "ffn_norm.bias", HF_AS_IS},
    {"mlp.c_fc.weight", "ffn_up.weight", HF_CONV1D},      {"mlp.c_fc.bias", "ffn_up.bias", HF_AS_IS},
    {"mlp.c_proj.weight", "ffn_down.weight", HF_CONV1D},  {"mlp.c_proj.bias", "ffn_down.bias", HF_AS_IS},
};
static const char *const gpt2_ignored[] = {"attn.bias", "attn.masked_bias"}; /* causal-mask buffers */

typedef struct arch_names {
    const hf_entry *global, *layer;
    size_t n_global, n_layer;
    const char *layer_prefix; /* "model.layers." or "h." */
    const char *const *ignored;
    size_t n_ignored;
} arch_names;

#define N(a) (sizeof(a) / sizeof((a)[0]))
static const arch_names tables[SEER_ARCH_COUNT] = {
    [SEER_ARCH_LLAMA] = {llama_global, llama_layer, N(llama_global), N(llama_layer), "model.layers.", llama_ignored, N(llama_ignored)},
    [SEER_ARCH_GPT2] = {gpt2_global, gpt2_layer, N(gpt2_global), N(gpt2_layer), "h.", gpt2_ignored, N(gpt2_ignored)},
};

/* "<digits>." at s: the layer number (0..1e6) and the length consumed, or -1. strtol, unlike
 * sscanf's %d, has defined behaviour on overflow, which names in a hostile file may cause. */
static int parse_layer(const char *s, int *used) {
    char *end;
    if (*s < '0' || *s > '9') return -1;
    long v = strtol(s, &end, 10);
    if (*end != '.' || v > 1000000) return -1;
    *used = (int)(end - s) + 1;
    return (int)v;
}

int hf_name_to_gguf(seer_arch a, const char *hf, int n_layers, char *buf, size_t cap, hf_op *op) {
    const arch_names *t = &tables[a];
    if (a == SEER_ARCH_GPT2 && !strncmp(hf, "transformer.", 12)) hf += 12;
    if (a == SEER_ARCH_GPT2 && !strcmp(hf, "lm_head.weight")) return 0; /* tied to wte */
    for (size_t i = 0; i < t->n_global; i++) {
        if (strcmp(hf, t->global[i].hf) != 0) continue;
        snprintf(buf, cap, "%s", t->global[i].gguf);
        *op = t->global[i].op;
        return 1;
    }
    size_t pl = strlen(t->layer_prefix);
    int used = 0, layer = strncmp(hf, t->layer_prefix, pl) ? -1 : parse_layer(hf + pl, &used);
    if (layer < 0 || layer >= n_layers) return -1;
    const char *rest = hf + pl + used;
    for (size_t i = 0; i < t->n_ignored; i++)
        if (!strcmp(rest, t->ignored[i])) return 0;
    for (size_t i = 0; i < t->n_layer; i++) {
        if (strcmp(rest, t->layer[i].hf) != 0) continue;
        snprintf(buf, cap, "blk.%d.%s", layer, t->layer[i].gguf);
        *op = t->layer[i].op;
        return 1;
    }
    return -1;
}

int hf_name_from_gguf(seer_arch a, const char *gguf, char *buf, size_t cap, hf_op *op) {
    const arch_names *t = &tables[a];
    for (size_t i = 0; i < t->n_global; i++) {
        if (strcmp(gguf, t->global[i].gguf) != 0) continue;
        snprintf(buf, cap, "%s", t->global[i].hf);
        *op = t->global[i].op;
        return 1;
    }
    int used = 0, layer = strncmp(gguf, "blk.", 4) ? -1 : parse_layer(gguf + 4, &used);
    if (layer < 0) return -1;
    used += 4;
    for (size_t i = 0; i < t->n_layer; i++) {
        if (strcmp(gguf + used, t->layer[i].gguf) != 0) continue;
        snprintf(buf, cap, "%s%d.%s", t->layer_prefix, layer, t->layer[i].hf);
        *op = t->layer[i].op;
        return 1;
    }
    return -1;
}
