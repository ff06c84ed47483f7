/* seer's command line: one table of subcommands, each in its own cmd_*.c file. */
#include "cli.h"
#include "seer/sae_hook.h"

#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"generate", cmd_generate, "generate text from a prompt"},
    {"info", cmd_info, "print a model's architecture, shapes, tensors and metadata"},
    {"tokenize", cmd_tokenize, "encode text with a tokenizer"},
    {"bench", cmd_bench, "measure prefill and decode speed"},
    {"perplexity", cmd_perplexity, "score a text file (mean NLL, bits per byte)"},
    {"convert", cmd_convert, "convert a model between llama2c, gguf and safetensors"},
    {"model", cmd_model, "make models (seer model random ...)"},
    {"trace", cmd_trace, "run an intervention graph: save, patch, ablate, steer, add noise"},
    {"lens", cmd_lens, "logit lens: every layer's residual through the final norm and unembedding"},
    {"dla", cmd_dla, "direct logit attribution of logit(A) - logit(B) to heads, MLPs, embeddings"},
    {"patch", cmd_patch, "activation patching sweep from a clean into a corrupted prompt (table, JSON, SVG)"},
    {"diff", cmd_diff, "compare two models' activations at every shared hook point"},
    {"sae", cmd_sae, "train and evaluate sparse autoencoders and transcoders (SAELens, sparsify files)"},
    {"tokenizer", cmd_tokenizer, "train a SentencePiece-style BPE tokenizer on text files"},
    {"train", cmd_train, "train a model on text files, with checkpoints and exact resume"},
    {"finetune", cmd_finetune, "fine-tune (full or LoRA) on prompt/completion JSONL records"},
    {"attrib", cmd_attrib, "attribution patching: grad x (clean - corrupt) per layer and position"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: seer <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nseer <command> --help shows a command's options.\n");
}

int main(int argc, char **argv) {
    seer_malloc_tune();
    seer_graph_set_codec(seer_sae_hook_codec()); /* graphs may run SAEs at hooks */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "seer: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
