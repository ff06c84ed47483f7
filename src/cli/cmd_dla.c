/* seer dla: direct logit attribution of logit(A) - logit(B) at one position to the embeddings,
 * every attention head, attention biases and MLPs, as a table or JSON. */
#include "cli.h"
#include "seer/analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void help(void) {
    printf("usage: seer dla -m MODEL [-z TOKENIZER] -p PROMPT --tokens A B [--pos P] [--top N] [-t THREADS] [--json]\n"
           "  splits logit(A) - logit(B) at position P (default -1: the last) into the embedding (and GPT-2's\n"
           "  position embedding), each attention head (hook_z times its columns of W_O), each layer's attention\n"
           "  output bias (GPT-2, apart from the heads), each MLP (hook_mlp_out), and ln_final's bias (GPT-2),\n"
           "  through the final norm linearised at the scale computed on the real residual\n"
           "  A, B: token ids, or text that encodes to one token without BOS, or raw pieces\n"
           "  --top N   print only the N largest components by magnitude (text output; default all)\n");
}

static int by_magnitude(const void *x, const void *y) {
    double a = fabs(((const seer_dla_component *)x)->value), b = fabs(((const seer_dla_component *)y)->value);
    return a < b ? 1 : a > b ? -1 : 0;
}

int cmd_dla(int argc, char **argv) {
    const char *cmd = "dla", *model_path = NULL, *tok_path = NULL, *prompt = NULL, *ta = NULL, *tb = NULL;
    long long pos = -1, threads = 0, top = 0;
    int json = 0;
    const char *pair[2] = {NULL, NULL};
    const cli_opt opts[] = {CLI_OPT_STR("-m", &model_path), CLI_OPT_STR("-z", &tok_path), CLI_OPT_STR("-p", &prompt),
                            CLI_OPT_PAIR("--tokens", pair), CLI_OPT_INT("--pos", &pos, -(1LL << 30), 1LL << 30),
                            CLI_OPT_INT("--top", &top, 1, 1LL << 30), CLI_OPT_THREADS(&threads),
                            CLI_OPT_SWITCH("--json", &json, 1), {0}};
    int prc = cli_parse(cmd, argc, argv, opts, help, NULL);
    if (prc >= 0) return prc;
    ta = pair[0], tb = pair[1];
    if (!model_path || !prompt || !ta) {
        fprintf(stderr, "seer dla: -m MODEL, -p PROMPT and --tokens A B are required\n");
        return 2;
    }
    seer_err err = {0};
    seer_model *m = NULL;
    seer_dla_result *r = NULL;
    int32_t *ids = NULL, n = 0;
    int rc = 1;
    if (seer_model_load(model_path, tok_path, &m, &err)) goto fail;
    const seer_tok *tok = seer_model_tok(m);
    seer_dla_params dp = {.pos = (int32_t)pos, .n_threads = (int)threads};
    if (seer_analysis_parse_token(m, ta, &dp.tok_a, &err) || seer_analysis_parse_token(m, tb, &dp.tok_b, &err)) goto fail;
    if (seer_analysis_encode(m, prompt, &ids, &n, &err)) goto fail;
    if (seer_dla_run(m, ids, n, &dp, &r, &err)) goto fail;

    char la[64], lb[64], lp[64];
    seer_analysis_token_label(tok, -1, r->tok_a, la, sizeof(la));
    seer_analysis_token_label(tok, -1, r->tok_b, lb, sizeof(lb));
    if (json) {
        printf("{\"prompt\": ");
        cli_json_str(stdout, prompt, strlen(prompt));
        printf(", \"pos\": %d, \"token\": ", r->pos);
        cli_json_tok(tok, ids[r->pos]);
        printf(", \"a\": ");
        cli_json_tok(tok, r->tok_a);
        printf(", \"b\": ");
        cli_json_tok(tok, r->tok_b);
        printf(", \"logit_diff\": %.8g, \"total\": %.8g, \"scale\": %.8g, \"components\": [", r->logit_diff, r->total, r->scale);
        for (int32_t i = 0; i < r->n; i++) {
            const seer_dla_component *c = &r->c[i];
            printf("%s\n  {\"name\": \"%s\", \"kind\": \"%s\", \"layer\": %d, \"head\": %d, \"value\": %.8g}", i ? "," : "",
                   c->name, seer_dla_kind_name(c->kind), c->layer, c->head, c->value);
        }
        printf("\n]}\n");
    } else {
        printf("logit('%s') - logit('%s') at position %d ('%s'): %.5f; components sum to %.5f (final norm scale %.5g)\n",
               la, lb, r->pos, seer_analysis_token_label(tok, r->pos ? ids[r->pos - 1] : -1, ids[r->pos], lp, sizeof(lp)),
               r->logit_diff, r->total, r->scale);
        seer_dla_component *sorted = malloc((size_t)r->n * sizeof(*sorted));
        if (!sorted) {
            seer_err_set(&err, SEER_ERR_NOMEM, "out of memory");
            goto fail;
        }
        memcpy(sorted, r->c, (size_t)r->n * sizeof(*sorted));
        if (top) qsort(sorted, (size_t)r->n, sizeof(*sorted), by_magnitude);
        int32_t shown = top && top < r->n ? (int32_t)top : r->n;
        for (int32_t i = 0; i < shown; i++) printf("%-16s %+10.5f\n", sorted[i].name, sorted[i].value);
        if (shown < r->n) printf("(%d smaller components not shown)\n", r->n - shown);
        free(sorted);
    }
    rc = 0;
    goto out;
fail:
    cli_error(cmd, &err);
out:
    seer_dla_result_free(r);
    free(ids);
    seer_model_free(m);
    return rc;
}
