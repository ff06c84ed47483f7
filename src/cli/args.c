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

static const cli_opt *find_opt(const cli_opt *opts, const char *name) {
    for (const cli_opt *o = opts; o->kind != CLI_END; o++)
        if (o->name && !strcmp(o->name, name)) return o;
    return NULL;
}

int cli_parse(const char *cmd, int argc, char **argv, const cli_opt *opts, void (*help)(void), void *ud) {
    cli_args a = {argc, argv, 1};
    for (; a.i < argc; a.i++) {
        const char *arg = argv[a.i], *v;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            help();
            return 0;
        }
        const cli_opt *o = arg[0] == '-' && arg[1] ? find_opt(opts, arg) : NULL;
        if (!o) {
            /* not an option: the next free positional slot, if the command takes one */
            const cli_opt *p = NULL;
            for (const cli_opt *q = opts; (arg[0] != '-' || !arg[1]) && q->kind != CLI_END && !p; q++)
                if (!q->name && q->kind == CLI_STR && !*(const char **)q->out) p = q;
            if (!p) return cli_unknown(cmd, arg);
            *(const char **)p->out = arg;
            continue;
        }
        if (o->kind == CLI_SWITCH) {
            *(int *)o->out = (int)o->ilo;
            continue;
        }
        if (o->kind == CLI_PAIR && a.i + 2 >= argc) {
            fprintf(stderr, "seer %s: %s needs two values\n", cmd, arg);
            return 2;
        }
        if (!(v = cli_value(cmd, &a))) return 2;
        switch (o->kind) {
        case CLI_STR: *(const char **)o->out = v; break;
        case CLI_INT:
            if (cli_int(cmd, arg, v, o->ilo, o->ihi, (long long *)o->out)) return 2;
            break;
        case CLI_NUM:
            if (cli_float(cmd, arg, v, o->lo, o->hi, (double *)o->out)) return 2;
            break;
        case CLI_PAIR:
            ((const char **)o->out)[0] = v;
            ((const char **)o->out)[1] = argv[++a.i];
            break;
        case CLI_CALL:
            if (o->call(ud, v)) return 2;
            break;
        default: SEER_ASSERT(!"cli_parse: bad option kind"); return 2;
        }
    }
    return -1;
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
