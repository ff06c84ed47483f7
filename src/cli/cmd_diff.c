/* seer diff: two models on the same prompts, every hook point they share compared (cosine
 * similarity, relative L2 distance), as a table or JSON. */
#include "cli.h"
#include "seer/analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void help(void) {
    printf("usage: seer diff -m MODEL_A [-z TOKENIZER] --m2 MODEL_B [--z2 TOKENIZER] -p PROMPT [-p PROMPT ...]\n"
           "                 [-t THREADS] [--json]\n"
           "  runs both models on the prompts (encoded with A's tokenizer; B must have the same vocabulary) and\n"
           "  compares every hook point the two share (same name, same width): cosine similarity averaged over\n"
           "  positions, relative L2 distance ||a - b|| / ||a|| and the largest absolute difference\n");
}

static void json_num(double v) {
    if (isfinite(v)) printf("%.9g", v);
    else printf("null");
}

typedef struct prompt_list {
    const char **v; /* room for every argument */
    int32_t n;
} prompt_list;

static int add_prompt(void *ud, const char *value) {
    prompt_list *l = ud;
    l->v[l->n++] = value;
    return 0;
}

int cmd_diff(int argc, char **argv) {
    const char *cmd = "diff", *pa = NULL, *pb = NULL, *za = NULL, *zb = NULL;
    long long threads = 0;
    int json = 0, rc = 1;
    const char **prompts = calloc((size_t)argc + 1, sizeof(char *));
    int32_t n_prompts = 0;
    if (!prompts) {
        fprintf(stderr, "seer diff: out of memory\n");
        return 1;
    }
    prompt_list pl = {prompts, 0};
    const cli_opt opts[] = {CLI_OPT_STR("-m", &pa), CLI_OPT_STR("-z", &za), CLI_OPT_STR("--m2", &pb),
                            CLI_OPT_STR("--z2", &zb), CLI_OPT_CALL("-p", add_prompt), CLI_OPT_THREADS(&threads),
                            CLI_OPT_SWITCH("--json", &json, 1), {0}};
    int prc = cli_parse(cmd, argc, argv, opts, help, &pl);
    if (prc >= 0) {
        free(prompts);
        return prc;
    }
    n_prompts = pl.n;
    if (!pa || !pb || !n_prompts) {
        fprintf(stderr, "seer diff: -m MODEL_A, --m2 MODEL_B and at least one -p PROMPT are required\n");
        goto usage;
    }
    seer_err err = {0};
    seer_model *ma = NULL, *mb = NULL;
    seer_diff_result *r = NULL;
    int32_t **ids = calloc((size_t)n_prompts, sizeof(int32_t *)), *lens = calloc((size_t)n_prompts, sizeof(int32_t));
    if (!ids || !lens) {
        seer_err_set(&err, SEER_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (seer_model_load(pa, za, &ma, &err)) goto fail;
    if (seer_model_load(pb, zb, &mb, &err)) {
        seer_err_wrap(&err, "--m2 %s: ", pb);
        goto fail;
    }
    for (int32_t i = 0; i < n_prompts; i++)
        if (seer_analysis_encode(ma, prompts[i], &ids[i], &lens[i], &err)) goto fail;
    if (seer_diff_run(ma, mb, n_prompts, (const int32_t *const *)ids, lens, (int)threads, &r, &err)) goto fail;
    if (json) {
        printf("{\"model_a\": ");
        cli_json_str(stdout, pa, strlen(pa));
        printf(", \"model_b\": ");
        cli_json_str(stdout, pb, strlen(pb));
        printf(", \"prompts\": %d, \"tokens\": %d, \"hooks\": [", n_prompts, r->n_tokens);
        for (int32_t i = 0; i < r->n; i++) {
            const seer_diff_entry *e = &r->e[i];
            printf("%s\n  {\"hook\": \"%s\", \"width\": %lld, \"cosine\": ", i ? "," : "", e->hook, (long long)e->width);
            json_num(e->cosine);
            printf(", \"rel_l2\": ");
            json_num(e->rel_l2);
            printf(", \"max_abs\": ");
            json_num(e->max_abs);
            printf("}");
        }
        printf("\n]}\n");
    } else {
        int32_t first = -1;
        printf("%-36s %12s %12s %12s\n", "hook", "cosine", "rel_l2", "max_abs");
        for (int32_t i = 0; i < r->n; i++) {
            const seer_diff_entry *e = &r->e[i];
            if (first < 0 && e->max_abs > 0) first = i;
            printf("%-36s %12.6f %12.4g %12.4g\n", e->hook, e->cosine, e->rel_l2, e->max_abs);
        }
        if (first < 0) printf("%d hooks compared over %d tokens: identical\n", r->n, r->n_tokens);
        else printf("%d hooks compared over %d tokens: first difference at %s\n", r->n, r->n_tokens, r->e[first].hook);
    }
    rc = 0;
    goto out;
fail:
    cli_error(cmd, &err);
out:
    for (int32_t i = 0; ids && i < n_prompts; i++) free(ids[i]);
    free(ids);
    free(lens);
    seer_diff_result_free(r);
    seer_model_free(ma);
    seer_model_free(mb);
    free(prompts);
    return rc;
usage:
    free(prompts);
    return 2;
}
