/* seer model random: random-weight models of any shape, for tests and benchmarks. */
#include "cli.h"

#include <string.h>

static void help(void) {
    printf("usage: seer model random [--arch llama|gpt2] [--dim 288] [--layers 6] [--heads 6] [--kv-heads H]\n"
           "                         [--hidden 768] [--vocab 32000] [--ctx 1024] [--seed 1] [--tied]\n"
           "                         [--type f32|f16|bf16|q8_0|q4_0] [--to gguf|safetensors|llama2c] OUT\n");
}

int cmd_model(int argc, char **argv) {
    const char *cmd = "model random";
    if (argc < 2 || (strcmp(argv[1], "random") != 0 && strcmp(argv[1], "--help") != 0 && strcmp(argv[1], "-h") != 0)) {
        fprintf(stderr, "seer model: expected 'seer model random ...'\n");
        return 2;
    }
    if (strcmp(argv[1], "random") != 0) {
        help();
        return 0;
    }
    long long seed = 1, dim = 288, layers = 6, heads = 6, kv_heads = 0, hidden = 768, vocab = 32000, ctx = 1024;
    int tied = 0;
    const char *out = NULL, *type_s = NULL, *to = "gguf", *arch = "llama";
    const cli_opt opts[] = {CLI_OPT_STR(NULL, &out), CLI_OPT_STR("--arch", &arch), CLI_OPT_STR("--type", &type_s),
                            CLI_OPT_STR("--to", &to), CLI_OPT_INT("--dim", &dim, 1, 1 << 22),
                            CLI_OPT_INT("--layers", &layers, 1, 1 << 22), CLI_OPT_INT("--heads", &heads, 1, 1 << 22),
                            CLI_OPT_INT("--kv-heads", &kv_heads, 1, 1 << 22), CLI_OPT_INT("--hidden", &hidden, 1, 1 << 22),
                            CLI_OPT_INT("--vocab", &vocab, 1, 1 << 22), CLI_OPT_INT("--ctx", &ctx, 1, 1 << 22),
                            CLI_OPT_INT("--seed", &seed, 0, INT64_MAX), CLI_OPT_SWITCH("--tied", &tied, 1), {0}};
    /* after "random"; an unknown option, or a second OUT, is an error */
    int prc = cli_parse(cmd, argc - 1, argv + 1, opts, help, NULL);
    if (prc >= 0) return prc;
    seer_model_config c = {.arch = SEER_ARCH_LLAMA, .n_vocab = (int32_t)vocab, .d_model = (int32_t)dim,
                           .n_layers = (int32_t)layers, .n_heads = (int32_t)heads, .n_kv_heads = (int32_t)kv_heads,
                           .d_mlp = (int32_t)hidden, .n_ctx = (int32_t)ctx, .norm_eps = 1e-5f, .rope_theta = 10000.0f,
                           .tied_embeddings = tied};
    if (seer_arch_from_name(arch, &c.arch)) {
        fprintf(stderr, "seer model random: --arch expects llama or gpt2, got '%s'\n", arch);
        return 2;
    }
    if (!out) {
        fprintf(stderr, "seer model random: OUT is required\n");
        return 2;
    }
    if (c.n_kv_heads == 0) c.n_kv_heads = c.n_heads;
    if (c.n_heads > 0) c.d_head = c.d_model / c.n_heads;
    if (c.n_heads > 0 && c.d_model % c.n_heads) {
        fprintf(stderr, "seer model random: --dim %d is not divisible by --heads %d\n", c.d_model, c.n_heads);
        return 2;
    }
    if (c.arch == SEER_ARCH_GPT2) c.tied_embeddings = 1;
    seer_dtype type = SEER_DTYPE_F32;
    if (type_s && seer_dtype_from_name(type_s, &type)) {
        fprintf(stderr, "seer model random: unknown --type '%s'\n", type_s);
        return 2;
    }
    seer_format fmt = !strcmp(to, "safetensors") ? SEER_FORMAT_SAFETENSORS : !strcmp(to, "llama2c") ? SEER_FORMAT_LLAMA2C : SEER_FORMAT_GGUF;
    seer_err err = {0};
    seer_model *m;
    if (seer_model_random(&c, (uint64_t)seed, &m, &err) || seer_model_save(m, fmt, out, type, &err)) {
        cli_error(cmd, &err);
        return 1;
    }
    fprintf(stderr, "seer model random: wrote %s (%s %s, %.2f M params)\n", out, seer_arch_name(c.arch),
            seer_dtype_name(type), (double)seer_model_n_params(m) / 1e6);
    seer_model_free(m);
    return 0;
}
