/* seer lens: the logit lens at one position of a prompt, as a table (one row per layer's
 * residual stream) or JSON. */
#include "cli.h"
#include "seer/analysis.h"

#include <stdlib.h>
#include <string.h>

static void help(void) {
    printf("usage: seer lens -m MODEL [-z TOKENIZER] -p PROMPT [--pos P] [-k K] [--target TOKEN] [-t THREADS] [--json]\n"
           "  every block's hook_resid_pre and the last block's hook_resid_post, at position P, through the\n"
           "  model's final norm and unembedding: the top K tokens per layer (default 5)\n"
           "  --pos P         position (default -1: the last; negative counts from the end)\n"
           "  --target TOKEN  also report this token's rank and probability at every layer: a token id, or\n"
           "                  text that encodes to one token without BOS (\"Lily\"), or a raw piece (\"▁Lily\")\n");
}

int cmd_lens(int argc, char **argv) {
    const char *cmd = "lens", *model_path = NULL, *tok_path = NULL, *prompt = NULL, *target = NULL;
    long long pos = -1, k = 5, threads = 0;
    int json = 0;
    const cli_opt opts[] = {CLI_OPT_STR("-m", &model_path), CLI_OPT_STR("-z", &tok_path), CLI_OPT_STR("-p", &prompt),
                            CLI_OPT_STR("--target", &target), CLI_OPT_INT("--pos", &pos, -(1LL << 30), 1LL << 30),
                            CLI_OPT_INT("-k", &k, 1, 1 << 20), CLI_OPT_THREADS(&threads), CLI_OPT_SWITCH("--json", &json, 1),
                            {0}};
    int prc = cli_parse(cmd, argc, argv, opts, help, NULL);
    if (prc >= 0) return prc;
    if (!model_path || !prompt) {
        fprintf(stderr, "seer lens: -m MODEL and -p PROMPT are required\n");
        return 2;
    }
    seer_err err = {0};
    seer_model *m = NULL;
    seer_lens_result *r = NULL;
    int32_t *ids = NULL, n = 0;
    int rc = 1;
    if (seer_model_load(model_path, tok_path, &m, &err)) goto fail;
    const seer_tok *tok = seer_model_tok(m);
    seer_lens_params lp = seer_lens_default_params();
    lp.pos = (int32_t)pos;
    lp.top_k = (int32_t)k;
    lp.n_threads = (int)threads;
    if (target && seer_analysis_parse_token(m, target, &lp.target, &err)) goto fail;
    if (seer_analysis_encode(m, prompt, &ids, &n, &err)) goto fail;
    if (lp.top_k > seer_model_get_config(m)->n_vocab) lp.top_k = seer_model_get_config(m)->n_vocab;
    if (seer_lens_run(m, ids, n, &lp, &r, &err)) goto fail;

    char lab[64];
    if (json) {
        printf("{\"prompt\": ");
        cli_json_str(stdout, prompt, strlen(prompt));
        printf(", \"tokens\": [");
        for (int32_t i = 0; i < n; i++) {
            fputs(i ? ", " : "", stdout);
            cli_json_tok(tok, ids[i]);
        }
        printf("], \"pos\": %d, \"token\": ", r->pos);
        cli_json_tok(tok, r->token);
        printf(", \"target\": ");
        if (r->target >= 0) cli_json_tok(tok, r->target);
        else printf("null");
        printf(", \"layers\": [");
        for (int32_t i = 0; i < r->n_rows; i++) {
            const seer_lens_row *row = &r->rows[i];
            printf("%s\n  {\"hook\": \"%s\", \"layer\": %d, \"top\": [", i ? "," : "", row->hook, row->layer);
            for (int32_t j = 0; j < r->top_k; j++) {
                size_t pl = 0;
                const char *p = tok ? seer_tok_piece(tok, row->top_ids[j], &pl) : NULL;
                printf("%s{\"id\": %d, \"piece\": ", j ? ", " : "", row->top_ids[j]);
                cli_json_str(stdout, p ? p : "", p ? pl : 0);
                printf(", \"prob\": %.6g}", (double)row->top_probs[j]);
            }
            printf("]");
            if (r->target >= 0)
                printf(", \"target_rank\": %d, \"target_prob\": %.6g, \"target_logit\": %.6g", row->target_rank,
                       (double)row->target_prob, (double)row->target_logit);
            printf("}");
        }
        printf("\n]}\n");
    } else {
        printf("position %d of %d: '%s' (id %d)\n", r->pos, n,
               seer_analysis_token_label(tok, r->pos ? ids[r->pos - 1] : -1, r->token, lab, sizeof(lab)), r->token);
        printf("%-28s top %d", "layer", r->top_k);
        if (r->target >= 0) printf("   | target '%s' (id %d): rank, prob", seer_analysis_token_label(tok, -1, r->target, lab, sizeof(lab)), r->target);
        printf("\n");
        for (int32_t i = 0; i < r->n_rows; i++) {
            const seer_lens_row *row = &r->rows[i];
            printf("%-28s", row->hook);
            for (int32_t j = 0; j < r->top_k; j++) {
                char q[72];
                snprintf(q, sizeof(q), "'%s'", seer_analysis_token_label(tok, -1, row->top_ids[j], lab, sizeof(lab)));
                printf(" %12s %.3f", q, (double)row->top_probs[j]);
            }
            if (r->target >= 0) printf("   | %5d %.4f", row->target_rank, (double)row->target_prob);
            printf("\n");
        }
    }
    rc = 0;
    goto out;
fail:
    cli_error(cmd, &err);
out:
    seer_lens_result_free(r);
    free(ids);
    seer_model_free(m);
    return rc;
}
