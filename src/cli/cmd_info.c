/* seer info: what a model file holds: format, architecture, shapes, parameter count, every
 * tensor, and (GGUF) every metadata key. */
#include "cli.h"
#include "seer/gguf.h"

#include <string.h>

static void help(void) {
    printf("usage: seer info MODEL [-z TOKENIZER] [--json] [--tensors] [--metadata]\n"
           "  prints architecture, shapes, parameter count; --tensors lists every tensor,\n"
           "  --metadata every GGUF key (both on by default in --json)\n");
}

int cmd_info(int argc, char **argv) {
    const char *cmd = "info", *path = NULL, *tok_path = NULL;
    int json = 0, tensors = 0, metadata = 0;
    cli_args a = {argc, argv, 1};
    for (; a.i < argc; a.i++) {
        const char *o = argv[a.i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            help();
            return 0;
        } else if (!strcmp(o, "--json")) json = 1;
        else if (!strcmp(o, "--tensors")) tensors = 1;
        else if (!strcmp(o, "--metadata")) metadata = 1;
        else if (!strcmp(o, "-z")) {
            if (!(tok_path = cli_value(cmd, &a))) return 2;
        } else if (o[0] == '-') return cli_unknown(cmd, o);
        else if (!path) path = o;
        else return cli_unknown(cmd, o);
    }
    if (!path) {
        fprintf(stderr, "seer info: MODEL is required\n");
        return 2;
    }
    seer_err err = {0};
    seer_model *m;
    if (seer_model_load(path, tok_path, &m, &err)) {
        cli_error(cmd, &err);
        return 1;
    }
    const seer_model_config *c = seer_model_get_config(m);
    const seer_tok *tok = seer_model_tok(m);
    char shp[96];
    if (json) {
        printf("{\"path\": ");
        cli_json_str(stdout, path, strlen(path));
        printf(", \"format\": \"%s\", \"arch\": \"%s\", \"n_vocab\": %d, \"d_model\": %d, \"n_layers\": %d, "
               "\"n_heads\": %d, \"n_kv_heads\": %d, \"d_head\": %d, \"d_mlp\": %d, \"n_ctx\": %d, \"norm_eps\": %g, "
               "\"rope_theta\": %g, \"tied_embeddings\": %s, \"n_params\": %lld, \"weight_bytes\": %zu, \"tokenizer\": %s",
               seer_format_name(seer_model_format(m)), seer_arch_name(c->arch), c->n_vocab, c->d_model, c->n_layers,
               c->n_heads, c->n_kv_heads, c->d_head, c->d_mlp, c->n_ctx, (double)c->norm_eps, (double)c->rope_theta,
               c->tied_embeddings ? "true" : "false", (long long)seer_model_n_params(m), seer_model_weight_bytes(m),
               tok ? (seer_tok_get_kind(tok) == SEER_TOK_SPM ? "\"spm\"" : "\"gpt2\"") : "null");
        printf(", \"tensors\": [");
        for (int64_t i = 0; i < seer_model_n_tensors(m); i++) {
            const seer_tensor *t = seer_model_tensor(m, i);
            printf("%s{\"name\": ", i ? ", " : "");
            cli_json_str(stdout, t->name, strlen(t->name));
            printf(", \"type\": \"%s\", \"shape\": [", seer_dtype_name(t->type));
            for (int k = 0; k < t->n_dims; k++) printf("%s%lld", k ? ", " : "", (long long)t->shape[k]);
            printf("]}");
        }
        printf("]}\n");
    } else {
        printf("model      %s\nformat     %s\narch       %s\n", path, seer_format_name(seer_model_format(m)),
               seer_arch_name(c->arch));
        printf("shape      d_model %d, %d layers, %d heads (%d kv, d_head %d), d_mlp %d, vocab %d, context %d\n",
               c->d_model, c->n_layers, c->n_heads, c->n_kv_heads, c->d_head, c->d_mlp, c->n_vocab, c->n_ctx);
        printf("norm eps   %g%s\n", (double)c->norm_eps, c->arch == SEER_ARCH_LLAMA ? "" : " (LayerNorm)");
        if (c->arch == SEER_ARCH_LLAMA) printf("rope theta %g\n", (double)c->rope_theta);
        printf("classifier %s\n", c->tied_embeddings ? "tied to the token embedding" : "separate");
        printf("params     %lld (%.2f M), %zu bytes of weights\n", (long long)seer_model_n_params(m),
               (double)seer_model_n_params(m) / 1e6, seer_model_weight_bytes(m));
        printf("tokenizer  %s\n", tok ? (seer_tok_get_kind(tok) == SEER_TOK_SPM ? "sentencepiece-style BPE" : "GPT-2 byte-level BPE") : "none (pass -z)");
        if (tensors) {
            printf("tensors    %lld\n", (long long)seer_model_n_tensors(m));
            for (int64_t i = 0; i < seer_model_n_tensors(m); i++) {
                const seer_tensor *t = seer_model_tensor(m, i);
                printf("  %-32s %-5s %s\n", t->name, seer_dtype_name(t->type), seer_shape_str(t->shape, t->n_dims, shp, sizeof(shp)));
            }
        }
        if (metadata && seer_model_format(m) == SEER_FORMAT_GGUF) {
            seer_gguf *g;
            if (seer_gguf_open_file(path, &g, &err) == SEER_OK) {
                char line[1024];
                for (int64_t i = 0; i < seer_gguf_n_kv(g); i++) {
                    seer_gguf_kv_format(g, i, line, sizeof(line));
                    printf("  %s\n", line);
                }
                seer_gguf_free(g);
            }
        }
    }
    seer_model_free(m);
    return 0;
}
