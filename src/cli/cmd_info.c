/* seer info: what a model file holds: format, architecture, shapes, parameter count, every
 * tensor, and (GGUF) every metadata key. */
#include "cli.h"
#include "seer/gguf.h"
#include "seer/hooks.h"

#include <string.h>

static void help(void) {
    printf("usage: seer info MODEL [-z TOKENIZER] [--json] [--tensors] [--metadata] [--hooks]\n"
           "  --hooks lists every hook point with its shape ([batch, pos, ...])\n"
           "  prints architecture, shapes, parameter count; --tensors lists every tensor,\n"
           "  --metadata every GGUF key (both on by default in --json)\n");
}

int cmd_info(int argc, char **argv) {
    const char *cmd = "info", *path = NULL, *tok_path = NULL;
    int json = 0, tensors = 0, metadata = 0, hooks = 0;
    const cli_opt opts[] = {CLI_OPT_STR(NULL, &path), CLI_OPT_STR("-z", &tok_path), CLI_OPT_SWITCH("--json", &json, 1),
                            CLI_OPT_SWITCH("--tensors", &tensors, 1), CLI_OPT_SWITCH("--metadata", &metadata, 1),
                            CLI_OPT_SWITCH("--hooks", &hooks, 1), {0}};
    int prc = cli_parse(cmd, argc, argv, opts, help, NULL); /* an unknown option, or a second MODEL: an error */
    if (prc >= 0) return prc;
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
    if (hooks) {
        /* one line per hook: name and shape, with symbolic batch and position sizes */
        if (json) printf("[");
        for (int l = -1; l < c->n_layers; l++) {
            for (int p = 0; p < SEER_HP_COUNT; p++) {
                seer_hook_point hp = (seer_hook_point)p;
                if (seer_hook_point_is_global(hp) != (l < 0) || !seer_hook_point_exists(c->arch, hp)) continue;
                if (l < 0 && (hp == SEER_HP_LN_FINAL || hp == SEER_HP_LOGITS)) continue;
                char name[128];
                int64_t shape[4];
                int nd = seer_hook_shape(m, hp, 1, 1, shape);
                seer_hook_format(hp, l, name, sizeof(name));
                if (json) printf("%s{\"name\": \"%s\", \"shape\": [\"batch\", ", l >= 0 || p ? ", " : "", name);
                else printf("%-34s [batch, ", name);
                if (hp == SEER_HP_ATTN_SCORES || hp == SEER_HP_PATTERN) printf(json ? "%lld, \"query_pos\", \"key_pos\"]}" : "%lld, query_pos, key_pos]\n", (long long)shape[1]);
                else if (nd == 4) printf(json ? "\"pos\", %lld, %lld]}" : "pos, %lld, %lld]\n", (long long)shape[2], (long long)shape[3]);
                else printf(json ? "\"pos\", %lld]}" : "pos, %lld]\n", (long long)shape[2]);
            }
        }
        for (int p = SEER_HP_LN_FINAL; p <= SEER_HP_LOGITS; p++) {
            int64_t shape[4];
            seer_hook_shape(m, (seer_hook_point)p, 1, 1, shape);
            printf(json ? ", {\"name\": \"%s\", \"shape\": [\"batch\", \"pos\", %lld]}" : "%-34s [batch, pos, %lld]\n",
                   seer_hook_point_name((seer_hook_point)p), (long long)shape[2]);
        }
        if (json) printf("]\n");
        seer_model_free(m);
        return 0;
    }
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
