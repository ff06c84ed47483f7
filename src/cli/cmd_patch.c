/* seer patch: an activation-patching sweep from a clean into a corrupted prompt, as tables
 * (layers x positions with the tokens as headers, or layers x heads), JSON, and an SVG
 * heatmap. */
#include "cli.h"
#include "seer/analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void help(void) {
    printf("usage: seer patch -m MODEL [-z TOKENIZER] --clean TEXT --corrupt TEXT --tokens A B\n"
           "                  [--metric logit_diff|prob] [--what resid_pre,attn_out,mlp_out,z] [--svg OUT.svg]\n"
           "                  [-t THREADS] [--batch N] [--json]\n"
           "  runs the corrupted prompt once per patch with one activation taken from the clean run and reports\n"
           "  (patched - corrupt) / (clean - corrupt) of the metric at the last position (1 = the clean answer\n"
           "  restored, 0 = no effect); the prompts must encode to the same number of tokens\n"
           "  --metric    logit_diff: logit(A) - logit(B) (default); prob: p(A) (B is then unused)\n"
           "  --what      block hook points to sweep, comma-separated (default resid_pre,attn_out,mlp_out,z):\n"
           "              resid_pre, resid_mid, resid_post, attn_out, mlp_out and others per position (layer x\n"
           "              position); z, q, k, v per head (layer x head, each head patched at every position)\n"
           "  --svg FILE  also write a heatmap\n"
           "  --batch N   corrupted copies per forward (default: as many as ~64 MiB of scratch allows)\n");
}

static void json_num(double v) {
    if (isfinite(v)) printf("%.6g", v);
    else printf("null");
}

/* "resid_pre", "hook_resid_pre", "z", "attn.hook_z" -> the point. */
static int parse_point(const char *s, size_t len, seer_hook_point *out) {
    char name[64];
    if (len == 0 || len >= 40) return -1;
    const char *prefixes[] = {"", "hook_", "attn.hook_", "mlp.hook_"};
    for (size_t k = 0; k < sizeof(prefixes) / sizeof(prefixes[0]); k++) {
        snprintf(name, sizeof(name), "%s%.*s", prefixes[k], (int)len, s);
        for (int p = 0; p < SEER_HP_COUNT; p++)
            if (!strcmp(name, seer_hook_point_name((seer_hook_point)p))) {
                *out = (seer_hook_point)p;
                return 0;
            }
    }
    return -1;
}

static void print_table(const seer_patch_result *r, const seer_tok *tok) {
    char lab[64];
    for (int32_t g = 0; g < r->n_grids; g++) {
        const seer_patch_grid *G = &r->grids[g];
        printf("\nblocks.L.%s%s: (patched - corrupt) / (clean - corrupt)\n", seer_hook_point_name(G->point),
               G->per_head ? ", each head at every position" : "");
        printf("%-5s", "");
        for (int32_t c = 0; c < G->n_cols; c++) {
            if (G->per_head) snprintf(lab, sizeof(lab), "H%d", c);
            else snprintf(lab, sizeof(lab), "%d%s", c, r->clean_tokens[c] != r->corrupt_tokens[c] ? "*" : "");
            printf(" %8s", lab);
        }
        printf("\n");
        if (!G->per_head) {
            printf("%-5s", "");
            for (int32_t c = 0; c < G->n_cols; c++) {
                seer_analysis_token_label(tok, c ? r->clean_tokens[c - 1] : -1, r->clean_tokens[c], lab, sizeof(lab));
                printf(" %8.8s", lab);
            }
            printf("\n");
        }
        for (int32_t l = 0; l < G->n_rows; l++) {
            printf("L%-4d", l);
            for (int32_t c = 0; c < G->n_cols; c++) {
                double v = G->normalised[(int64_t)l * G->n_cols + c];
                printf(" %8.3f", fabs(v) < 5e-4 ? 0.0 : v); /* no "-0.000" */
            }
            printf("\n");
        }
    }
}

int cmd_patch(int argc, char **argv) {
    const char *cmd = "patch", *model_path = NULL, *tok_path = NULL, *clean = NULL, *corrupt = NULL, *ta = NULL,
               *tb = NULL, *what = "resid_pre,attn_out,mlp_out,z", *svg = NULL, *metric = "logit_diff";
    long long threads = 0, batch = 0;
    int json = 0;
    const char *pair[2] = {NULL, NULL};
    const cli_opt opts[] = {CLI_OPT_STR("-m", &model_path), CLI_OPT_STR("-z", &tok_path), CLI_OPT_STR("--clean", &clean),
                            CLI_OPT_STR("--corrupt", &corrupt), CLI_OPT_PAIR("--tokens", pair),
                            CLI_OPT_STR("--metric", &metric), CLI_OPT_STR("--what", &what), CLI_OPT_STR("--svg", &svg),
                            CLI_OPT_THREADS(&threads), CLI_OPT_INT("--batch", &batch, 1, 1 << 20),
                            CLI_OPT_SWITCH("--json", &json, 1), {0}};
    int prc = cli_parse(cmd, argc, argv, opts, help, NULL);
    if (prc >= 0) return prc;
    ta = pair[0], tb = pair[1];
    if (!model_path || !clean || !corrupt || !ta) {
        fprintf(stderr, "seer patch: -m MODEL, --clean TEXT, --corrupt TEXT and --tokens A B are required\n");
        return 2;
    }
    seer_patch_params pp = {.n_threads = (int)threads, .max_seqs = (int32_t)batch};
    if (seer_patch_metric_from_name(metric, &pp.metric)) {
        fprintf(stderr, "seer patch: --metric expects logit_diff or prob, got '%s'\n", metric);
        return 2;
    }
    seer_hook_point points[SEER_HP_COUNT];
    int32_t n_points = 0;
    for (const char *s = what; *s;) {
        size_t len = strcspn(s, ",");
        if (n_points == SEER_HP_COUNT || parse_point(s, len, &points[n_points])) {
            fprintf(stderr, "seer patch: --what: unknown hook point '%.*s' (e.g. resid_pre, attn_out, mlp_out, z)\n",
                    (int)len, s);
            return 2;
        }
        n_points++;
        s += len + (s[len] == ',');
    }
    seer_err err = {0};
    seer_model *m = NULL;
    seer_patch_result *r = NULL;
    int32_t *ic = NULL, *ix = NULL, nc = 0, nx = 0;
    int rc = 1;
    if (seer_model_load(model_path, tok_path, &m, &err)) goto fail;
    const seer_tok *tok = seer_model_tok(m);
    if (seer_analysis_parse_token(m, ta, &pp.tok_a, &err) || seer_analysis_parse_token(m, tb, &pp.tok_b, &err)) goto fail;
    if (seer_analysis_encode(m, clean, &ic, &nc, &err) || seer_analysis_encode(m, corrupt, &ix, &nx, &err)) goto fail;
    if (seer_patch_sweep(m, ic, nc, ix, nx, &pp, points, n_points, &r, &err)) goto fail;
    if (svg && seer_patch_result_write_svg(r, tok, svg, &err)) goto fail;

    if (json) {
        printf("{\"clean\": {\"text\": ");
        cli_json_str(stdout, clean, strlen(clean));
        printf(", \"tokens\": [");
        for (int32_t i = 0; i < nc; i++) fputs(i ? ", " : "", stdout), cli_json_tok(tok, ic[i]);
        printf("]}, \"corrupt\": {\"text\": ");
        cli_json_str(stdout, corrupt, strlen(corrupt));
        printf(", \"tokens\": [");
        for (int32_t i = 0; i < nx; i++) fputs(i ? ", " : "", stdout), cli_json_tok(tok, ix[i]);
        printf("]}, \"metric\": \"%s\", \"a\": ", seer_patch_metric_name(r->metric));
        cli_json_tok(tok, r->tok_a);
        printf(", \"b\": ");
        if (r->metric == SEER_PATCH_LOGIT_DIFF) cli_json_tok(tok, r->tok_b);
        else printf("null");
        printf(", \"clean_metric\": ");
        json_num(r->clean);
        printf(", \"corrupt_metric\": ");
        json_num(r->corrupt);
        printf(", \"runs\": %lld, \"seconds\": %.4f, \"grids\": [", (long long)r->n_runs, r->seconds);
        for (int32_t g = 0; g < r->n_grids; g++) {
            const seer_patch_grid *G = &r->grids[g];
            printf("%s\n {\"hook\": \"blocks.L.%s\", \"rows\": \"layer\", \"cols\": \"%s\", \"normalised\": [", g ? "," : "",
                   seer_hook_point_name(G->point), G->per_head ? "head" : "pos");
            for (int pass = 0; pass < 2; pass++) {
                const double *v = pass ? G->raw : G->normalised;
                if (pass) printf("], \"raw\": [");
                for (int32_t l = 0; l < G->n_rows; l++) {
                    printf("%s[", l ? ", " : "");
                    for (int32_t c = 0; c < G->n_cols; c++) {
                        fputs(c ? ", " : "", stdout);
                        json_num(v[(int64_t)l * G->n_cols + c]);
                    }
                    printf("]");
                }
            }
            printf("]}");
        }
        printf("\n]}\n");
    } else {
        char la[64], lb[64];
        seer_analysis_token_label(tok, -1, r->tok_a, la, sizeof(la));
        seer_analysis_token_label(tok, -1, r->tok_b, lb, sizeof(lb));
        if (r->metric == SEER_PATCH_LOGIT_DIFF) printf("metric logit('%s') - logit('%s')", la, lb);
        else printf("metric p('%s')", la);
        printf(" at the last position: clean %.5f, corrupt %.5f (* = positions where the prompts differ)\n", r->clean, r->corrupt);
        print_table(r, tok);
        fprintf(stderr, "seer: %lld patched runs in %.3f s\n", (long long)r->n_runs, r->seconds);
    }
    rc = 0;
    goto out;
fail:
    cli_error(cmd, &err);
out:
    seer_patch_result_free(r);
    free(ic);
    free(ix);
    seer_model_free(m);
    return rc;
}
