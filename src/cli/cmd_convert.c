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
    cli_args a = {argc, argv, 1};
    for (; a.i < argc; a.i++) {
        const char *o = argv[a.i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            help();
            return 0;
        } else if (!strcmp(o, "--to")) {
            if (!(to = cli_value(cmd, &a))) return 2;
        } else if (!strcmp(o, "--type")) {
            if (!(type_s = cli_value(cmd, &a))) return 2;
        } else if (!strcmp(o, "-z")) {
            if (!(tok_path = cli_value(cmd, &a))) return 2;
        } else if ((o[0] != '-' || !o[1]) && (!in || !out)) {
            *(in ? &out : &in) = o; /* "-" is a file name (stdin/stdout) */
        } else {
            return cli_unknown(cmd, o); /* an unknown option, or a third file */
        }
    }
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
