/* seer trace: run an intervention graph (a JSON file, or the quick form built from flags) and
 * write saved values to a safetensors file, with a JSON summary on stdout. */
#include "cli.h"
#include "seer/hooks.h"

#include <cJSON.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

static void help(void) {
    printf("usage: seer trace -m MODEL [-z TOKENIZER] (--graph G.json | -p PROMPT [-p PROMPT ...] QUICK...)\n"
           "                  [--out RESULT.safetensors] [-t THREADS] [--max-save-mb N]\n"
           "quick form (each repeatable; HOOK is a name such as blocks.2.hook_resid_post):\n"
           "  --save HOOK                    save the activation (stored under the hook's name)\n"
           "  --add HOOK=FILE[#NAME]:COEF    add COEF x a [width] vector from a safetensors file\n"
           "  --scale HOOK=FACTOR  --zero HOOK  --noise HOOK=SCALE[:SEED]  --patch HOOK=FROM_PROMPT\n"
           "  --pos P                        restrict the quick interventions to position P (negative: from the end)\n"
           "see docs/intervention-graph.md for the graph format\n");
}

static int split_eq(const char *s, char *hook, size_t cap, const char **rest) {
    const char *eq = strchr(s, '=');
    if (!eq || (size_t)(eq - s) >= cap) return -1;
    memcpy(hook, s, (size_t)(eq - s));
    hook[eq - s] = 0;
    *rest = eq + 1;
    return 0;
}

/* Adds one quick-form node; returns 0, or prints an error and returns 2. */
static int quick_node(cJSON *nodes, cJSON *tensors, const char *flag, const char *arg, int n, long long pos, int has_pos) {
    char hook[256], id[300];
    const char *rest = ""; /* --save and --zero take no value */
    cJSON *node = cJSON_CreateObject();
    if (!strcmp(flag, "--save") || !strcmp(flag, "--zero")) {
        snprintf(hook, sizeof(hook), "%s", arg);
    } else if (split_eq(arg, hook, sizeof(hook), &rest) != 0) {
        fprintf(stderr, "seer trace: %s expects HOOK=VALUE, got '%s'\n", flag, arg);
        cJSON_Delete(node);
        return 2;
    }
    if (!strcmp(flag, "--save")) snprintf(id, sizeof(id), "%s", hook); /* saved under the hook's name */
    else snprintf(id, sizeof(id), "%s#%d", flag + 2, n);
    cJSON_AddStringToObject(node, "id", id);
    cJSON_AddStringToObject(node, "hook", hook);
    char *end = NULL;
    if (!strcmp(flag, "--save")) {
        cJSON_AddStringToObject(node, "op", "save");
    } else if (!strcmp(flag, "--zero")) {
        cJSON_AddStringToObject(node, "op", "zero");
    } else if (!strcmp(flag, "--scale")) {
        double f = strtod(rest, &end);
        if (end == rest || *end) goto bad;
        cJSON_AddStringToObject(node, "op", "scale");
        cJSON_AddNumberToObject(node, "factor", f);
    } else if (!strcmp(flag, "--noise")) {
        double sc = strtod(rest, &end);
        if (end == rest || (*end && *end != ':')) goto bad;
        cJSON_AddStringToObject(node, "op", "noise");
        cJSON_AddNumberToObject(node, "scale", sc);
        if (*end == ':') {
            char *e2;
            long long seed = strtoll(end + 1, &e2, 10);
            if (e2 == end + 1 || *e2 || seed < 0) goto bad;
            cJSON_AddNumberToObject(node, "seed", (double)seed);
        }
    } else if (!strcmp(flag, "--patch")) {
        long long from = strtoll(rest, &end, 10);
        if (end == rest || *end || from < 0) goto bad;
        cJSON_AddStringToObject(node, "op", "patch");
        cJSON_AddNumberToObject(node, "from_batch", (double)from);
    } else if (!strcmp(flag, "--add")) {
        const char *colon = strrchr(rest, ':');
        if (!colon) goto bad;
        double coef = strtod(colon + 1, &end);
        if (end == colon + 1 || *end) goto bad;
        char file[1024], tname[300];
        size_t fl = (size_t)(colon - rest);
        if (fl >= sizeof(file)) goto bad;
        memcpy(file, rest, fl);
        file[fl] = 0;
        cJSON *spec = cJSON_CreateObject();
        char *hash = strchr(file, '#');
        if (hash) {
            *hash = 0;
            cJSON_AddStringToObject(spec, "tensor", hash + 1);
        }
        cJSON_AddStringToObject(spec, "file", file);
        snprintf(tname, sizeof(tname), "add#%d", n);
        cJSON_AddItemToObject(tensors, tname, spec);
        cJSON_AddStringToObject(node, "op", "add");
        cJSON_AddStringToObject(node, "tensor", tname);
        cJSON_AddNumberToObject(node, "coef", coef);
    }
    if (has_pos && strcmp(flag, "--save") != 0) {
        cJSON *sel = cJSON_CreateObject();
        cJSON_AddNumberToObject(sel, "pos", (double)pos);
        cJSON_AddItemToObject(node, "select", sel);
    }
    cJSON_AddItemToArray(nodes, node);
    return 0;
bad:
    fprintf(stderr, "seer trace: cannot read %s '%s'\n", flag, arg);
    cJSON_Delete(node);
    return 2;
}

int cmd_trace(int argc, char **argv) {
    const char *cmd = "trace", *model_path = NULL, *tok_path = NULL, *graph_path = NULL, *out_path = NULL;
    long long threads = 0, max_save_mb = 0, pos = 0;
    int has_pos = 0, n_quick = 0, rc = 1;
    cJSON *quick = cJSON_CreateObject(), *inputs = cJSON_CreateObject(), *prompts = cJSON_CreateArray();
    cJSON *tensors = cJSON_CreateObject(), *nodes = cJSON_CreateArray();
    cJSON_AddNumberToObject(quick, "version", SEER_GRAPH_VERSION);
    cli_args a = {argc, argv, 1};
    /* --pos applies to every quick intervention, so read it first */
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--pos")) {
            if (cli_int(cmd, "--pos", argv[i + 1], -(1LL << 30), 1LL << 30, &pos)) goto out_json;
            has_pos = 1;
        }
    for (; a.i < argc; a.i++) {
        const char *o = argv[a.i], *v;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            help();
            rc = 0;
            goto out_json;
        } else if (!strcmp(o, "-m") || !strcmp(o, "-z") || !strcmp(o, "--graph") || !strcmp(o, "--out") || !strcmp(o, "-t") ||
                   !strcmp(o, "-p") || !strcmp(o, "--max-save-mb") || !strcmp(o, "--pos")) {
            if (!(v = cli_value(cmd, &a))) goto out_usage;
            if (!strcmp(o, "-m")) model_path = v;
            else if (!strcmp(o, "-z")) tok_path = v;
            else if (!strcmp(o, "--graph")) graph_path = v;
            else if (!strcmp(o, "--out")) out_path = v;
            else if (!strcmp(o, "-p")) cJSON_AddItemToArray(prompts, cJSON_CreateString(v));
            else if (!strcmp(o, "-t")) {
                if (cli_int(cmd, o, v, 1, 1024, &threads)) goto out_usage;
            } else if (!strcmp(o, "--max-save-mb")) {
                if (cli_int(cmd, o, v, 1, 1 << 30, &max_save_mb)) goto out_usage;
            }
        } else if (!strcmp(o, "--save") || !strcmp(o, "--add") || !strcmp(o, "--scale") || !strcmp(o, "--zero") ||
                   !strcmp(o, "--noise") || !strcmp(o, "--patch")) {
            if (!(v = cli_value(cmd, &a))) goto out_usage;
            if (quick_node(nodes, tensors, o, v, n_quick++, pos, has_pos)) goto out_usage;
        } else {
            rc = cli_unknown(cmd, o);
            goto out_json;
        }
    }
    if (!model_path) {
        fprintf(stderr, "seer trace: -m MODEL is required\n");
        goto out_usage;
    }
    if (!!graph_path == (cJSON_GetArraySize(prompts) > 0)) {
        fprintf(stderr, "seer trace: give either --graph FILE or -p PROMPT with quick-form flags\n");
        goto out_usage;
    }
    if (graph_path && n_quick) {
        fprintf(stderr, "seer trace: quick-form flags cannot be combined with --graph\n");
        goto out_usage;
    }
    seer_err err = {0};
    seer_model *m = NULL;
    seer_graph *g = NULL;
    seer_trace_result *res = NULL;
    char *text = NULL, *dir = NULL;
    size_t len = 0;
    if (graph_path) {
        if (seer_read_file(graph_path, &text, &len, &err)) goto fail;
        char *copy = strdup(graph_path);
        dir = copy ? strdup(dirname(copy)) : NULL;
        free(copy);
    } else {
        cJSON_AddItemToObject(inputs, "prompts", prompts);
        prompts = NULL;
        cJSON_AddItemToObject(inputs, "tensors", tensors);
        tensors = NULL;
        cJSON_AddItemToObject(quick, "inputs", inputs);
        inputs = NULL;
        cJSON_AddItemToObject(quick, "nodes", nodes);
        nodes = NULL;
        text = cJSON_PrintUnformatted(quick);
        len = text ? strlen(text) : 0;
    }
    if (seer_model_load(model_path, tok_path, &m, &err)) goto fail;
    seer_graph_limits lim = seer_graph_default_limits();
    if (max_save_mb) lim.max_save_bytes = max_save_mb << 20;
    if (seer_graph_load(m, text, len, dir, &lim, &g, &err)) goto fail;
    if (seer_trace_run(m, g, (int)threads, &res, &err)) goto fail;
    if (out_path && seer_trace_result_save(res, out_path, &err)) goto fail;
    seer_trace_result_print_json(res, stdout);
    rc = 0;
    goto done;
fail:
    cli_error(cmd, &err);
done:
    seer_trace_result_free(res);
    seer_graph_free(g);
    seer_model_free(m);
    free(text);
    free(dir);
    goto out_json;
out_usage:
    rc = 2;
out_json:
    cJSON_Delete(quick);
    cJSON_Delete(inputs);
    cJSON_Delete(prompts);
    cJSON_Delete(tensors);
    cJSON_Delete(nodes);
    return rc;
}
