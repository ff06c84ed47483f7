/* seer tokenize: text -> ids (and pieces) with any tokenizer source. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static void help(void) {
    printf("usage: seer tokenize -z TOKENIZER (-p TEXT | -f FILE) [--no-bos] [--json]\n"
           "  TOKENIZER: tokenizer.bin, a .gguf, encoder.json/vocab.json/tokenizer.json, or a folder\n");
}

int cmd_tokenize(int argc, char **argv) {
    const char *cmd = "tokenize", *tok_path = NULL, *text = NULL, *file = NULL;
    int json = 0, add_bos = 1;
    const cli_opt opts[] = {CLI_OPT_STR("-z", &tok_path), CLI_OPT_STR("-m", &tok_path), CLI_OPT_STR("-p", &text),
                            CLI_OPT_STR("-f", &file), CLI_OPT_SWITCH("--json", &json, 1),
                            CLI_OPT_SWITCH("--no-bos", &add_bos, 0), {0}};
    int prc = cli_parse(cmd, argc, argv, opts, help, NULL);
    if (prc >= 0) return prc;
    if (!tok_path || (!text && !file) || (text && file)) {
        fprintf(stderr, "seer tokenize: needs -z TOKENIZER and one of -p TEXT or -f FILE\n");
        return 2;
    }
    seer_err err = {0};
    char *buf = NULL;
    size_t len = text ? strlen(text) : 0;
    if (file && seer_read_file(file, &buf, &len, &err)) {
        cli_error(cmd, &err);
        return 1;
    }
    seer_tok *t;
    if (seer_tok_load(tok_path, &t, &err)) {
        free(buf);
        cli_error(cmd, &err);
        return 1;
    }
    int32_t *ids;
    size_t n;
    if (seer_tok_encode(t, buf ? buf : text, len, add_bos, &ids, &n, &err)) {
        cli_error(cmd, &err);
        seer_tok_free(t);
        free(buf);
        return 1;
    }
    if (json) {
        printf("{\"ids\": [");
        for (size_t i = 0; i < n; i++) printf("%s%d", i ? ", " : "", ids[i]);
        printf("], \"pieces\": [");
        for (size_t i = 0; i < n; i++) {
            size_t pl;
            const char *p = seer_tok_piece(t, ids[i], &pl);
            if (i) printf(", ");
            cli_json_str(stdout, p ? p : "", p ? pl : 0);
        }
        printf("]}\n");
    } else {
        for (size_t i = 0; i < n; i++) {
            size_t pl;
            const char *p = seer_tok_piece(t, ids[i], &pl);
            printf("%6d  ", ids[i]);
            cli_json_str(stdout, p ? p : "", p ? pl : 0);
            printf("\n");
        }
    }
    free(ids);
    free(buf);
    seer_tok_free(t);
    return 0;
}
