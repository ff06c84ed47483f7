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
    seer_model_config c = {.arch = SEER_ARCH_LLAMA, .n_vocab = 32000, .d_model = 288, .n_layers = 6, .n_heads = 6,
                           .n_kv_heads = 0, .d_mlp = 768, .n_ctx = 1024, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    long long seed = 1, v;
    const char *out = NULL, *type_s = NULL, *to = "gguf";
    cli_args a = {argc, argv, 2};
    for (; a.i < argc; a.i++) {
        const char *o = argv[a.i], *s;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            help();
            return 0;
        } else if (!strcmp(o, "--tied")) {
            c.tied_embeddings = 1;
        } else if (!strcmp(o, "--arch")) {
            if (!(s = cli_value(cmd, &a))) return 2;
            if (seer_arch_from_name(s, &c.arch)) {
                fprintf(stderr, "seer model random: --arch expects llama or gpt2, got '%s'\n", s);
                return 2;
            }
        } else if (!strcmp(o, "--type")) {
            if (!(type_s = cli_value(cmd, &a))) return 2;
        } else if (!strcmp(o, "--to")) {
            if (!(to = cli_value(cmd, &a))) return 2;
        } else if (!strcmp(o, "--dim") || !strcmp(o, "--layers") || !strcmp(o, "--heads") || !strcmp(o, "--kv-heads") ||
                   !strcmp(o, "--hidden") || !strcmp(o, "--vocab") || !strcmp(o, "--ctx") || !strcmp(o, "--seed")) {
            if (!(s = cli_value(cmd, &a))) return 2;
            if (cli_int(cmd, o, s, !strcmp(o, "--seed") ? 0 : 1, !strcmp(o, "--seed") ? INT64_MAX : (1 << 22), &v)) return 2;
            if (!strcmp(o, "--dim")) c.d_model = (int32_t)v;
            else if (!strcmp(o, "--layers")) c.n_layers = (int32_t)v;
            else if (!strcmp(o, "--heads")) c.n_heads = (int32_t)v;
            else if (!strcmp(o, "--kv-heads")) c.n_kv_heads = (int32_t)v;
            else if (!strcmp(o, "--hidden")) c.d_mlp = (int32_t)v;
            else if (!strcmp(o, "--vocab")) c.n_vocab = (int32_t)v;
            else if (!strcmp(o, "--ctx")) c.n_ctx = (int32_t)v;
            else seed = v;
        } else if (o[0] != '-' && !out) out = o;
        else return cli_unknown("model random", o); /* an unknown option, or a second OUT */
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
