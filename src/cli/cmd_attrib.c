/* seer attrib: attribution patching (grad · (clean − corrupt)) per layer and position, the
 * one-pass estimate of what `seer patch` measures with a forward per cell. */
#include "cli.h"
#include "seer/analysis.h"
#include "seer/attrib.h"
#include "seer/hooks.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void help(void) {
    printf("usage: seer attrib -m MODEL [-z TOKENIZER] --clean TEXT --corrupt TEXT --tokens A B\n"
           "                   [--metric logit_diff|logit] [--what resid_pre,attn_out,mlp_out,z] [-t THREADS] [--json]\n"
           "  estimates, for every layer and position, how much patching the clean activation into the corrupted\n"
           "  run would move the metric at the last position: grad(metric on corrupt) . (clean - corrupt), one\n"
           "  forward and backward in all. Tables show it as a fraction of (clean - corrupt), as seer patch does;\n"
           "  --json gives the raw estimates too. The prompts must encode to the same number of tokens.\n");
}

int cmd_attrib(int argc, char **argv) {
    const char *cmd = "attrib", *model = NULL, *tokp = NULL, *clean = NULL, *corrupt = NULL, *ta = NULL, *tb = NULL;
    const char *what = "resid_pre,attn_out,mlp_out", *metric = "logit_diff";
    long long threads = 0;
    int json = 0;
    const char *pair[2] = {NULL, NULL};
    const cli_opt opts[] = {CLI_OPT_STR("-m", &model), CLI_OPT_STR("-z", &tokp), CLI_OPT_STR("--clean", &clean),
                            CLI_OPT_STR("--corrupt", &corrupt), CLI_OPT_PAIR("--tokens", pair),
                            CLI_OPT_STR("--what", &what), CLI_OPT_STR("--metric", &metric), CLI_OPT_THREADS(&threads),
                            CLI_OPT_SWITCH("--json", &json, 1), {0}};
    int prc = cli_parse(cmd, argc, argv, opts, help, NULL);
    if (prc >= 0) return prc;
    ta = pair[0], tb = pair[1];
    if (!model || !clean || !corrupt || !ta || !tb) {
        fprintf(stderr, "seer attrib: -m MODEL, --clean, --corrupt and --tokens A B are required\n");
        return 2;
    }
    if (strcmp(metric, "logit_diff") != 0 && strcmp(metric, "logit") != 0) {
        fprintf(stderr, "seer attrib: --metric: expected logit_diff or logit, got '%s'\n", metric);
        return 2;
    }
    seer_err err = {0};
    seer_model *m = NULL;
    int32_t *ci = NULL, *xi = NULL;
    int32_t nc = 0, nx = 0;
    char **hooks = NULL;
    int n_hooks = 0, rc = 1;
    seer_attrib_result r = {0};
    if (seer_model_load(model, tokp, &m, &err)) goto fail;
    const seer_tok *tok = seer_model_tok(m);
    if (!tok) {
        fprintf(stderr, "seer attrib: the model has no tokenizer; give one with -z\n");
        goto out;
    }
    seer_metric mt = {.kind = strcmp(metric, "logit") != 0 ? SEER_METRIC_LOGIT_DIFF : SEER_METRIC_LOGIT};
    if (seer_analysis_encode(m, clean, &ci, &nc, &err) || seer_analysis_encode(m, corrupt, &xi, &nx, &err) ||
        seer_analysis_parse_token(m, ta, &mt.token, &err) || seer_analysis_parse_token(m, tb, &mt.token2, &err))
        goto fail;
    if (nc != nx) {
        fprintf(stderr, "seer attrib: the clean prompt has %d tokens and the corrupted one %d; they must match\n", nc, nx);
        goto out;
    }
    int L = seer_model_get_config(m)->n_layers;
    int n_what = 1;
    for (const char *p = what; *p; p++) n_what += *p == ',';
    hooks = calloc((size_t)n_what * (size_t)L, sizeof(char *));
    if (!hooks) goto out;
    for (const char *p = what; *p;) {
        size_t len = strcspn(p, ",");
        for (int l = 0; l < L; l++) {
            char name[128];
            const char *pre = !strncmp(p, "z", len) || !strncmp(p, "q", len) || !strncmp(p, "k", len) || !strncmp(p, "v", len) ? "attn." : "";
            snprintf(name, sizeof(name), "blocks.%d.%shook_%.*s", l, len == 1 ? pre : "", (int)len, p);
            hooks[n_hooks++] = strdup(name);
        }
        p += len + (p[len] == ',');
    }
    if (seer_attrib_run(m, ci, xi, nc, &mt, nc - 1, (const char *const *)hooks, n_hooks, (int)threads, &r, &err))
        goto fail;
    double span = r.metric_clean - r.metric_corrupt;
    if (json) {
        printf("{\"metric_clean\": %.6g, \"metric_corrupt\": %.6g, \"tokens\": %d, \"grids\": [", r.metric_clean, r.metric_corrupt, nc);
        for (int32_t g = 0; g < r.n_grids; g++) {
            const seer_attrib_grid *G = &r.grids[g];
            printf("%s{\"hook\": \"%s\", \"heads\": %d, \"estimate\": [", g ? ", " : "", G->hook, G->n_heads);
            for (int64_t i = 0; i < (int64_t)r.n_pos * G->n_heads; i++) printf("%s%.6g", i ? ", " : "", (double)G->scores[i]);
            printf("]}");
        }
        printf("]}\n");
    } else {
        printf("metric: clean %.4f, corrupt %.4f; estimated (patched - corrupt) / (clean - corrupt), positions 0..%d\n",
               r.metric_clean, r.metric_corrupt, nc - 1);
        for (int32_t g = 0; g < r.n_grids; g++) {
            const seer_attrib_grid *G = &r.grids[g];
            printf("%-28s", G->hook);
            for (int32_t p = 0; p < r.n_pos; p++) {
                double s = 0;
                for (int32_t k = 0; k < G->n_heads; k++) s += G->scores[(int64_t)p * G->n_heads + k];
                printf(" %7.3f", span != 0 ? s / span : 0.0);
            }
            printf("\n");
        }
    }
    rc = 0;
    goto out;
fail:
    cli_error(cmd, &err);
out:
    seer_attrib_result_free(&r);
    for (int i = 0; i < n_hooks; i++) free(hooks[i]);
    free(hooks), free(ci), free(xi);
    seer_model_free(m);
    return rc;
}
