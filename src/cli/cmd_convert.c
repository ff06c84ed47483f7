/* seer convert: any supported model format to any other, optionally changing the weight type. */
#include "cli.h"

#include <string.h>

static void help(void) {
    printf("usage: seer convert IN OUT --to gguf|safetensors|llama2c [--type f32|f16|bf16|q8_0|q4_0] [-z TOKENIZER]\n"
           "  safetensors writes a Hugging Face folder OUT (config.json, model.safetensors, tokenizer files)\n"
           "  without --type each tensor keeps its type (llama2c: f32)\n");
}

int cmd_convert(int argc, char **argv) {
    const char *cmd = "convert", *in = NULL, *out = NULL, *to = NULL, *type_s = NULL, *tok_path = NULL;
    /* IN and OUT are positional ("-" is a file name: stdin/stdout); a third file is an error */
    const cli_opt opts[] = {CLI_OPT_STR(NULL, &in), CLI_OPT_STR(NULL, &out), CLI_OPT_STR("--to", &to),
                            CLI_OPT_STR("--type", &type_s), CLI_OPT_STR("-z", &tok_path), {0}};
    int prc = cli_parse(cmd, argc, argv, opts, help, NULL);
    if (prc >= 0) return prc;
    if (!in || !out || !to) {
        fprintf(stderr, "seer convert: needs IN, OUT and --to FORMAT\n");
        return 2;
    }
    seer_format fmt;
    if (!strcmp(to, "gguf")) fmt = SEER_FORMAT_GGUF;
    else if (!strcmp(to, "safetensors")) fmt = SEER_FORMAT_SAFETENSORS;
    else if (!strcmp(to, "llama2c")) fmt = SEER_FORMAT_LLAMA2C;
    else {
        fprintf(stderr, "seer convert: --to expects gguf, safetensors or llama2c, got '%s'\n", to);
        return 2;
    }
    seer_dtype type = SEER_DTYPE_COUNT;
    if (type_s && (seer_dtype_from_name(type_s, &type) != 0 ||
                   !(type == SEER_DTYPE_F32 || type == SEER_DTYPE_F16 || type == SEER_DTYPE_BF16 ||
                     type == SEER_DTYPE_Q8_0 || type == SEER_DTYPE_Q4_0))) {
        fprintf(stderr, "seer convert: --type expects f32, f16, bf16, q8_0 or q4_0, got '%s'\n", type_s);
        return 2;
    }
    seer_err err = {0};
    seer_model *m;
    if (seer_model_load(in, tok_path, &m, &err)) {
        cli_error(cmd, &err);
        return 1;
    }
    int rc = 0;
    if (seer_model_save(m, fmt, out, type, &err)) {
        cli_error(cmd, &err);
        rc = 1;
    } else {
        fprintf(stderr, "seer convert: wrote %s (%s%s%s)\n", out, seer_format_name(fmt), type_s ? ", " : "", type_s ? type_s : "");
    }
    seer_model_free(m);
    return rc;
}
