/* Shared pieces of the seer command line: the command table, argument parsing helpers that
 * turn bad values into one-line errors, and JSON/terminal output helpers. */
#ifndef SEER_CLI_H
#define SEER_CLI_H

#include "seer/core.h"
#include "seer/model.h"

typedef struct cli_args {
    int argc;
    char **argv;
    int i; /* next index */
} cli_args;

/* All parse helpers print "seer <cmd>: ..." and return non-zero on a bad value. */
int cli_int(const char *cmd, const char *flag, const char *s, long long lo, long long hi, long long *out);
int cli_float(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out);
/* Takes the value of a flag: argv[i+1]; error if missing. */
const char *cli_value(const char *cmd, cli_args *a);
int cli_unknown(const char *cmd, const char *arg);
void cli_error(const char *cmd, const seer_err *err);

/* Prints a JSON string literal (escaped) to f. */
void cli_json_str(FILE *f, const char *s, size_t len);
/* Prints {"id": N, "piece": "..."} for a token to stdout (piece "" without a tokenizer). */
void cli_json_tok(const seer_tok *t, int32_t id);

int cmd_generate(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_tokenizer(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_lens(int argc, char **argv);
int cmd_dla(int argc, char **argv);
int cmd_patch(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_sae(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_finetune(int argc, char **argv);
int cmd_attrib(int argc, char **argv);

#endif
