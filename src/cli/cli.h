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

/* A command's options as a table, parsed by cli_parse: each entry names a flag and where its
 * value goes; values are checked against their range with one-line errors naming the flag. */
typedef enum cli_kind {
    CLI_END = 0, /* ends the table */
    CLI_SWITCH,  /* no value: *(int *)out = (int)ilo */
    CLI_STR,     /* *(const char **)out = value; name NULL: the next positional argument ("-" is one) */
    CLI_INT,     /* *(long long *)out, an integer in [ilo, ihi] */
    CLI_NUM,     /* *(double *)out, a number in [lo, hi] */
    CLI_PAIR,    /* two values: ((const char **)out)[0], [1] */
    CLI_CALL,    /* call(ud, value) for each use (repeatable options); non-zero: error, already printed */
} cli_kind;

typedef struct cli_opt {
    const char *name;
    cli_kind kind;
    void *out;
    long long ilo, ihi;
    double lo, hi;
    int (*call)(void *ud, const char *value);
} cli_opt;

#define CLI_OPT_SWITCH(n, p, v) {(n), CLI_SWITCH, (p), (v), 0, 0, 0, NULL}
#define CLI_OPT_STR(n, p) {(n), CLI_STR, (p), 0, 0, 0, 0, NULL}
#define CLI_OPT_INT(n, p, lo, hi) {(n), CLI_INT, (p), (lo), (hi), 0, 0, NULL}
#define CLI_OPT_NUM(n, p, lo, hi) {(n), CLI_NUM, (p), 0, 0, (lo), (hi), NULL}
#define CLI_OPT_PAIR(n, p) {(n), CLI_PAIR, (p), 0, 0, 0, 0, NULL}
#define CLI_OPT_CALL(n, fn) {(n), CLI_CALL, NULL, 0, 0, 0, 0, (fn)}
#define CLI_OPT_THREADS(p) CLI_OPT_INT("-t", (p), 1, 1024)

/* Parses argv[1..] against opts; -h/--help calls help(). Returns -1 when the command should go
 * on, or the exit code to return now: 0 after help, 2 after a message about a bad option,
 * value or extra argument. */
int cli_parse(const char *cmd, int argc, char **argv, const cli_opt *opts, void (*help)(void), void *ud);

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
