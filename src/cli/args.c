/* Argument parsing helpers: every bad value becomes a one-line message naming the flag. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int cli_int(const char *cmd, const char *flag, const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "seer %s: %s expects an integer in [%lld, %lld], got '%s'\n", cmd, flag, lo, hi, s);
        return 1;
    }
    *out = v;
    return 0;
}

int cli_float(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "seer %s: %s expects a number in [%g, %g], got '%s'\n", cmd, flag, lo, hi, s);
        return 1;
    }
    *out = v;
    return 0;
}

const char *cli_value(const char *cmd, cli_args *a) {
    if (a->i + 1 >= a->argc) {
        fprintf(stderr, "seer %s: %s needs a value\n", cmd, a->argv[a->i]);
        return NULL;
    }
    a->i++;
    return a->argv[a->i];
}

int cli_unknown(const char *cmd, const char *arg) {
    fprintf(stderr, "seer %s: unknown option '%s' (see seer %s --help)\n", cmd, arg, cmd);
    return 2;
}

void cli_error(const char *cmd, const seer_err *err) { fprintf(stderr, "seer %s: %s\n", cmd, err->msg); }

void cli_json_str(FILE *f, const char *s, size_t len) {
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (ch < 0x20) fprintf(f, "\\u%04x", ch);
            else fputc(ch, f);
        }
    }
    fputc('"', f);
}

void cli_json_tok(const seer_tok *t, int32_t id) {
    size_t n = 0;
    const char *p = t ? seer_tok_piece(t, id, &n) : NULL;
    printf("{\"id\": %d, \"piece\": ", id);
    cli_json_str(stdout, p ? p : "", p ? n : 0);
    printf("}");
}
