/* The intervention graph's JSON: parsed strictly (unknown fields, wrong types and bad values are
 * errors naming the node and field) and validated against the model before anything runs.
 * Input tensors are read here, from the files the graph declares and nowhere else. */
#include "graph_internal.h"
#include "seer/safetensors.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {"save", "set", "add", "scale", "zero", "mean_ablate", "patch",
                                       "project_out", "project_onto", "clamp", "noise", "sae", "grad"};
_Static_assert(OP_COUNT == sizeof(op_names) / sizeof(op_names[0]), "op_names covers graph_op");

const char *graph_op_name(graph_op op) { return (unsigned)op < OP_COUNT ? op_names[op] : "unknown"; }

static const seer_hook_codec *g_codec;
void seer_graph_set_codec(const seer_hook_codec *codec) { g_codec = codec; }

seer_graph_limits seer_graph_default_limits(void) {
    seer_graph_limits l = {.max_prompts = 256, .max_tokens = 4096, .max_nodes = 4096, .max_save_bytes = (int64_t)4 << 30,
                           .max_input_bytes = (int64_t)4 << 30, .max_steps = 4096, .allow_any_path = 1};
    return l;
}

int graph_hook_order(const seer_model *m, seer_hook_point p, int layer) {
    int n_layers = seer_model_get_config(m)->n_layers;
    if (p == SEER_HP_EMBED || p == SEER_HP_POS_EMBED) return (int)p;
    if (p == SEER_HP_LN_FINAL || p == SEER_HP_LOGITS) return SEER_HP_COUNT * (n_layers + 1) + (int)p;
    return SEER_HP_COUNT * (layer + 1) + (int)p;
}

/* ---- strict JSON helpers ---- */

typedef struct pctx {
    const seer_model *m;
    seer_graph *g;
    seer_err *err;
    const char *base_dir;
} pctx;

/* Every key of obj must be in allowed (NULL-terminated). */
static seer_status only_fields(const cJSON *obj, const char *what, const char *const *allowed, seer_err *err) {
    for (const cJSON *c = obj->child; c; c = c->next) {
        int ok = 0;
        for (int i = 0; allowed[i] && !ok; i++) ok = !strcmp(c->string, allowed[i]);
        if (!ok) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: unknown field '%s'", what, c->string);
    }
    return SEER_OK;
}

/* dst = a b c, truncated to cap: the labels in error messages are built for every node, and
 * snprintf was a third of the cost of parsing one. */
static void label(char *dst, size_t cap, const char *a, const char *b, const char *c) {
    size_t n = 0;
    for (const char *part[3] = {a, b, c}, **p = part; p < part + 3; p++)
        for (const char *q = *p; *q && n + 1 < cap; q++) dst[n++] = *q;
    dst[n] = 0;
}

static int is_int(const cJSON *v, double lo, double hi) {
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && v->valuedouble >= lo && v->valuedouble <= hi;
}

/* An int or a list of ints into a malloc'd array. */
static seer_status int_list(const cJSON *v, const char *what, double lo, double hi, int32_t **out, int32_t *n,
                            seer_err *err) {
    *out = NULL;
    *n = 0;
    if (!v) return SEER_OK;
    int single = !cJSON_IsArray(v);
    int cnt = single ? 1 : cJSON_GetArraySize(v);
    if (cnt > 1 << 20) return seer_err_set(err, SEER_ERR_RANGE, "graph: %s: list of %d is too long", what, cnt);
    if (cnt == 0) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: empty list", what);
    int32_t *a = malloc((size_t)cnt * sizeof(int32_t));
    if (!a) return seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
    int i = 0;
    for (const cJSON *e = single ? v : v->child; e && i < cnt; e = single ? NULL : e->next, i++) {
        if (!is_int(e, lo, hi)) {
            free(a);
            return seer_err_set(err, SEER_ERR_RANGE, "graph: %s: expected integers in [%.0f, %.0f]", what, lo, hi);
        }
        a[i] = (int32_t)e->valuedouble;
    }
    *out = a;
    *n = cnt;
    return SEER_OK;
}

static seer_status get_float(const cJSON *o, const char *key, const char *what, float dflt, float *out, seer_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        *out = dflt;
        return SEER_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > 3.4e38)
        return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: '%s' must be a finite number", what, key);
    *out = (float)v->valuedouble;
    return SEER_OK;
}

/* ---- inputs ---- */

static int path_is_safe(const char *p) {
    if (p[0] == '/') return 0;
    for (const char *s = p; *s; s++)
        if (s[0] == '.' && s[1] == '.' && (s == p || s[-1] == '/') && (s[2] == '/' || s[2] == 0)) return 0;
    return 1;
}

static seer_status load_tensor(pctx *x, const cJSON *spec, const char *name, graph_tensor *t, int64_t *input_bytes) {
    seer_err *err = x->err;
    char what[300];
    snprintf(what, sizeof(what), "input tensor '%s'", name);
    static const char *const fields[] = {"file", "tensor", "shape", "data", NULL};
    if (!cJSON_IsObject(spec)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: expected an object", what);
    seer_status st = only_fields(spec, what, fields, err);
    if (st) return st;
    t->name = strdup(name);
    if (!t->name) return seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(spec, "file"), *data = cJSON_GetObjectItemCaseSensitive(spec, "data");
    if (!!file == !!data) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: give exactly one of 'file' or 'data'", what);
    if (data) {
        if (!cJSON_IsArray(data)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: 'data' must be a list of numbers", what);
        int n = cJSON_GetArraySize(data);
        if (n <= 0 || n > 65536)
            return seer_err_set(err, SEER_ERR_RANGE,
                                "graph: %s: inline data holds 1..65536 numbers (%d given); larger tensors go in a safetensors file",
                                what, n);
        t->data = malloc((size_t)n * sizeof(float));
        if (!t->data) return seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
        int i = 0;
        for (const cJSON *e = data->child; e; e = e->next, i++) {
            if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble))
                return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: data[%d] is not a finite number", what, i);
            t->data[i] = (float)e->valuedouble;
        }
        t->n = n;
        t->n_dims = 1;
        t->shape[0] = n;
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(spec, "shape");
        if (shape) {
            int32_t *sh, ns;
            if ((st = int_list(shape, what, 1, 1 << 30, &sh, &ns, err))) return st;
            int64_t prod = 1;
            for (int k = 0; k < ns && k < SEER_MAX_DIMS; k++) prod *= sh[k], t->shape[k] = sh[k];
            t->n_dims = ns;
            free(sh);
            if (ns > SEER_MAX_DIMS || prod != n)
                return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: shape does not match its %d numbers", what, n);
        }
        *input_bytes += (int64_t)n * 4;
        if (*input_bytes > x->g->limits.max_input_bytes)
            return seer_err_set(err, SEER_ERR_RANGE, "graph: %s: inputs exceed the limit of %lld bytes", what,
                                (long long)x->g->limits.max_input_bytes);
        return SEER_OK;
    }
    if (!cJSON_IsString(file)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: 'file' must be a string", what);
    if (!x->g->limits.allow_any_path && !path_is_safe(file->valuestring))
        return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: file '%s' must be a relative path inside the graph's folder",
                            what, file->valuestring);
    char *path = (x->base_dir && file->valuestring[0] != '/') ? seer_path_join(x->base_dir, file->valuestring)
                                                              : strdup(file->valuestring);
    if (!path) return seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
    seer_st *sf = NULL;
    st = seer_st_open_file(path, &sf, err);
    free(path);
    if (st) return seer_err_wrap(err, "graph: %s: ", what);
    const cJSON *tn = cJSON_GetObjectItemCaseSensitive(spec, "tensor");
    const seer_tensor *src = NULL;
    if (tn && !cJSON_IsString(tn)) st = seer_err_set(err, SEER_ERR_INVALID, "graph: %s: 'tensor' must be a string", what);
    else if (tn) src = seer_st_find(sf, tn->valuestring);
    else if (seer_st_n_tensors(sf) == 1) src = seer_st_tensor(sf, 0);
    if (!st && !src)
        st = seer_err_set(err, SEER_ERR_INVALID, "graph: %s: %s", what,
                          tn ? "no such tensor in the file" : "the file holds several tensors: name one with 'tensor'");
    if (!st) {
        int64_t n = seer_tensor_nelem(src);
        *input_bytes += (int64_t)n * 4;
        if (*input_bytes > x->g->limits.max_input_bytes)
            st = seer_err_set(err, SEER_ERR_RANGE, "graph: %s: inputs exceed the limit of %lld bytes", what,
                              (long long)x->g->limits.max_input_bytes);
        else if (!(t->data = seer_alloc_aligned((size_t)(n > 0 ? n : 1), sizeof(float))))
            st = seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
        else if ((st = seer_convert_to_f32(src->type, src->data, t->data, n, err)))
            seer_err_wrap(err, "graph: %s: ", what);
        t->n = n;
        t->n_dims = src->n_dims;
        memcpy(t->shape, src->shape, sizeof(t->shape));
    }
    seer_st_free(sf);
    return st;
}

static seer_status parse_prompts(pctx *x, const cJSON *prompts) {
    seer_graph *g = x->g;
    seer_err *err = x->err;
    const seer_tok *tok = seer_model_tok(x->m);
    if (!cJSON_IsArray(prompts) || cJSON_GetArraySize(prompts) == 0)
        return seer_err_set(err, SEER_ERR_INVALID, "graph: inputs.prompts must be a non-empty list");
    int n = cJSON_GetArraySize(prompts);
    if (n > g->limits.max_prompts)
        return seer_err_set(err, SEER_ERR_RANGE, "graph: %d prompts exceed the limit of %d", n, g->limits.max_prompts);
    g->prompt_ids = calloc((size_t)n, sizeof(int32_t *));
    g->prompt_len = calloc((size_t)n, sizeof(int32_t));
    g->prompt_text = calloc((size_t)n, sizeof(char *));
    if (!g->prompt_ids || !g->prompt_len || !g->prompt_text) return seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
    g->n_prompts = n;
    int i = 0;
    for (const cJSON *p = prompts->child; p; p = p->next, i++) {
        char what[64];
        snprintf(what, sizeof(what), "inputs.prompts[%d]", i);
        const cJSON *text = p, *ids = NULL, *bos = NULL;
        if (cJSON_IsObject(p)) {
            static const char *const fields[] = {"text", "ids", "bos", NULL};
            seer_status st = only_fields(p, what, fields, err);
            if (st) return st;
            text = cJSON_GetObjectItemCaseSensitive(p, "text");
            ids = cJSON_GetObjectItemCaseSensitive(p, "ids");
            bos = cJSON_GetObjectItemCaseSensitive(p, "bos");
            if (!!text == !!ids) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: give exactly one of 'text' or 'ids'", what);
            if (bos && !cJSON_IsBool(bos)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: 'bos' must be true or false", what);
        }
        if (ids) {
            int32_t *a, na;
            seer_status st = int_list(ids, what, 0, seer_model_get_config(x->m)->n_vocab - 1, &a, &na, err);
            if (st) return st;
            g->prompt_ids[i] = a;
            g->prompt_len[i] = na;
            g->prompt_text[i] = strdup("");
        } else {
            if (!cJSON_IsString(text)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: expected a string", what);
            if (!tok) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: the model has no tokenizer (give ids)", what);
            size_t nn;
            seer_status st = seer_tok_encode(tok, text->valuestring, strlen(text->valuestring), bos ? cJSON_IsTrue(bos) : 1,
                                             &g->prompt_ids[i], &nn, err);
            if (st) return st;
            g->prompt_len[i] = (int32_t)nn;
            g->prompt_text[i] = strdup(text->valuestring);
        }
        if (!g->prompt_text[i]) return seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
        if (g->prompt_len[i] == 0) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: empty prompt", what);
        if (g->prompt_len[i] > g->limits.max_tokens)
            return seer_err_set(err, SEER_ERR_RANGE, "graph: %s: %d tokens exceed the limit of %d", what, g->prompt_len[i],
                                g->limits.max_tokens);
    }
    return SEER_OK;
}

static const graph_tensor *find_input(const seer_graph *g, const char *name) {
    for (int32_t i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

/* Width of one head block of a hook row, and the number of heads (1 when not per head). */
static void point_layout(const seer_model *m, const seer_graph *g, seer_hook_point p, int64_t *heads, int64_t *hw) {
    const seer_model_config *c = seer_model_get_config(m);
    int64_t shape[4];
    int32_t tmax = 0;
    for (int32_t i = 0; i < g->n_prompts; i++) tmax = g->prompt_len[i] > tmax ? g->prompt_len[i] : tmax;
    int nd = seer_hook_shape(m, p, 1, tmax + g->gen.steps, shape);
    if (p == SEER_HP_ATTN_SCORES || p == SEER_HP_PATTERN) {
        *heads = c->n_heads;
        *hw = shape[3];
    } else if (nd == 4) {
        *heads = shape[2];
        *hw = shape[3];
    } else {
        *heads = 1;
        *hw = shape[2];
    }
}

/* inputs.saes: name -> {"path": DIR}. Opened when the first node names them (the codec needs
 * the hook). */
static seer_status parse_saes(pctx *x, const cJSON *saes) {
    seer_graph *g = x->g;
    seer_err *err = x->err;
    if (!cJSON_IsObject(saes)) return seer_err_set(err, SEER_ERR_INVALID, "graph: inputs.saes must be an object of name: {\"path\": DIR}");
    SEER_ASSERT(g->saes == NULL && g->n_saes == 0); /* one inputs.saes per graph */
    g->saes = calloc((size_t)cJSON_GetArraySize(saes) + 1, sizeof(graph_sae));
    if (!g->saes) return seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
    for (const cJSON *e = saes->child; e; e = e->next) {
        char what[200];
        snprintf(what, sizeof(what), "input sae '%.100s'", e->string);
        static const char *const fields[] = {"path", NULL};
        if (!cJSON_IsObject(e)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: expected an object", what);
        seer_status st = only_fields(e, what, fields, err);
        if (st) return st;
        for (int32_t k = 0; k < g->n_saes; k++)
            if (!strcmp(g->saes[k].name, e->string)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s declared twice", what);
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(e, "path");
        if (!cJSON_IsString(path) || !path->valuestring[0])
            return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: 'path' must be a folder name", what);
        if (!g->limits.allow_any_path && !path_is_safe(path->valuestring))
            return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: path '%s' must be a relative path inside the graph's folder",
                                what, path->valuestring);
        graph_sae *d = &g->saes[g->n_saes++];
        d->name = strdup(e->string);
        d->path = (x->base_dir && path->valuestring[0] != '/') ? seer_path_join(x->base_dir, path->valuestring)
                                                               : strdup(path->valuestring);
        if (!d->name || !d->path) return seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
    }
    return SEER_OK;
}

static seer_status parse_sae_node(pctx *x, const cJSON *n, graph_node *node, const char *what, int64_t width) {
    seer_graph *g = x->g;
    seer_err *err = x->err;
    seer_status st;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(n, "sae");
    if (!cJSON_IsString(name)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: 'sae' must name an entry of inputs.saes", what);
    graph_sae *d = NULL;
    for (int32_t k = 0; k < g->n_saes && !d; k++)
        if (!strcmp(g->saes[k].name, name->valuestring)) d = &g->saes[k];
    if (!d)
        return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: sae '%.100s' is not declared in inputs.saes", what, name->valuestring);
    if (!d->state) {
        if (!g_codec)
            return seer_err_set(err, SEER_ERR_UNSUPPORTED, "graph: %s: this program has no SAE support installed (seer_graph_set_codec)", what);
        if (g_codec->open(d->path, x->m, node->hook, width, &d->state, &d->n_latents, err) != SEER_OK)
            return seer_err_wrap(err, "graph: %s: ", what);
        d->codec = g_codec;
        if (!(d->hook = strdup(node->hook))) return seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
    } else if (strcmp(d->hook, node->hook) != 0) {
        return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: sae '%s' belongs to %s, not %s", what, d->name, d->hook, node->hook);
    }
    node->sae = d;
    const cJSON *ke = cJSON_GetObjectItemCaseSensitive(n, "keep_error"), *sl = cJSON_GetObjectItemCaseSensitive(n, "save_latents");
    if ((ke && !cJSON_IsBool(ke)) || (sl && !cJSON_IsBool(sl)))
        return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: keep_error and save_latents must be true or false", what);
    node->keep_error = cJSON_IsTrue(ke);
    node->save_latents = cJSON_IsTrue(sl);
    const cJSON *edit = cJSON_GetObjectItemCaseSensitive(n, "edit");
    if (!edit) return SEER_OK;
    char ew[200];
    snprintf(ew, sizeof(ew), "%s edit", what);
    static const char *const fields[] = {"op", "latents", "value", NULL};
    if (!cJSON_IsObject(edit)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: expected an object", ew);
    if ((st = only_fields(edit, ew, fields, err))) return st;
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(edit, "op");
    static const char *const ops[] = {"zero", "set", "add", "scale"};
    for (int k = 0; k < 4 && cJSON_IsString(op); k++)
        if (!strcmp(op->valuestring, ops[k])) node->edit = (graph_sae_edit)(SAE_EDIT_ZERO + k);
    if (node->edit == SAE_EDIT_NONE) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: 'op' must be zero, set, add or scale", ew);
    if ((st = int_list(cJSON_GetObjectItemCaseSensitive(edit, "latents"), ew, 0, (double)d->n_latents - 1, &node->latents,
                       &node->n_latents, err)))
        return st;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(edit, "value");
    if ((node->edit == SAE_EDIT_ZERO) != !v)
        return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: %s", ew, v ? "zero takes no value" : "set, add and scale need 'value'");
    return get_float(edit, "value", ew, 0, &node->edit_value, err);
}

static seer_status parse_node(pctx *x, const cJSON *n, int idx) {
    seer_graph *g = x->g;
    seer_err *err = x->err;
    graph_node *node = &g->nodes[idx];
    node->from_node = node->from_batch = -1;
    node->coef = 1;
    char what[160];
    if (!cJSON_IsObject(n)) return seer_err_set(err, SEER_ERR_INVALID, "graph: nodes[%d]: expected an object", idx);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(n, "id");
    if (!cJSON_IsString(id) || !id->valuestring[0])
        return seer_err_set(err, SEER_ERR_INVALID, "graph: nodes[%d]: 'id' must be a non-empty string", idx);
    char idc[101];
    label(idc, sizeof(idc), id->valuestring, "", "");
    label(what, sizeof(what), "node '", idc, "'");
    node->id = strdup(id->valuestring);
    if (!node->id) return seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
    for (int k = 0; k < idx; k++)
        if (!strcmp(g->nodes[k].id, node->id)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: id used twice", what);
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(n, "op"), *hook = cJSON_GetObjectItemCaseSensitive(n, "hook");
    if (!cJSON_IsString(op)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: 'op' must be a string", what);
    node->op = OP_COUNT;
    for (int k = 0; k < OP_COUNT && node->op == OP_COUNT; k++)
        if (!strcmp(op->valuestring, op_names[k])) node->op = (graph_op)k;
    if (node->op == OP_COUNT)
        return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: unknown op '%.60s' (save, set, add, scale, zero, mean_ablate, "
                            "patch, project_out, project_onto, clamp, noise, sae, grad)", what, op->valuestring);
    static const char *const common[] = {"id", "op", "hook", "select", "steps"};
    static const char *const extra[OP_COUNT][5] = {
        [OP_SAVE] = {NULL},
        [OP_SET] = {"tensor", "value", "from", NULL},
        [OP_ADD] = {"tensor", "value", "coef", NULL},
        [OP_SCALE] = {"factor", NULL},
        [OP_ZERO] = {NULL},
        [OP_MEAN_ABLATE] = {"tensor", "value", NULL},
        [OP_PATCH] = {"from_batch", "tensor", NULL},
        [OP_PROJECT_OUT] = {"tensor", "value", NULL},
        [OP_PROJECT_ONTO] = {"tensor", "value", NULL},
        [OP_CLAMP] = {"min", "max", NULL},
        [OP_NOISE] = {"scale", "dist", "relative", "seed", NULL},
        [OP_SAE] = {"sae", "edit", "keep_error", "save_latents", NULL},
        [OP_GRAD] = {"metric", NULL},
    };
    const char *allowed[12];
    int na = 0;
    for (int k = 0; k < 5; k++) allowed[na++] = common[k];
    for (int k = 0; k < 5 && extra[node->op][k]; k++) allowed[na++] = extra[node->op][k];
    allowed[na] = NULL;
    seer_status st = only_fields(n, what, allowed, err);
    if (st) {
        char msg[SEER_ERR_MSG_MAX];
        memcpy(msg, err->msg, sizeof(msg));
        return seer_err_set(err, SEER_ERR_INVALID, "%.400s (not an argument of %s)", msg, op_names[node->op]);
    }
    if (!cJSON_IsString(hook)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: 'hook' must be a string", what);
    node->hook = strdup(hook->valuestring);
    if (!node->hook) return seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
    if (seer_hook_parse(x->m, hook->valuestring, &node->point, &node->layer, err) != SEER_OK) return seer_err_wrap(err, "graph: %s: ", what);
    node->order = graph_hook_order(x->m, node->point, node->layer);

    int64_t heads, hw;
    point_layout(x->m, g, node->point, &heads, &hw);
    int per_head = heads > 1 || node->point == SEER_HP_Q || node->point == SEER_HP_K || node->point == SEER_HP_V ||
                   node->point == SEER_HP_ROT_Q || node->point == SEER_HP_ROT_K || node->point == SEER_HP_Z ||
                   node->point == SEER_HP_ATTN_SCORES || node->point == SEER_HP_PATTERN;
    int32_t tmax = 0, tmin = INT32_MAX;
    for (int32_t i = 0; i < g->n_prompts; i++) {
        tmax = g->prompt_len[i] > tmax ? g->prompt_len[i] : tmax;
        tmin = g->prompt_len[i] < tmin ? g->prompt_len[i] : tmin;
    }
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(n, "select");
    if (sel) {
        static const char *const sf[] = {"batch", "pos", "head", "index", NULL};
        char sw[200];
        label(sw, sizeof(sw), what, " select", "");
        if (!cJSON_IsObject(sel)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: expected an object", sw);
        if ((st = only_fields(sel, sw, sf, err))) return st;
        if (node->op == OP_SAVE) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: save takes no selector (it saves the whole hook)", what);
        if (node->op == OP_SAE && (cJSON_GetObjectItemCaseSensitive(sel, "head") || cJSON_GetObjectItemCaseSensitive(sel, "index")))
            return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: sae encodes whole rows: select batch and pos only", what);
        label(sw, sizeof(sw), what, " select.batch", "");
        if ((st = int_list(cJSON_GetObjectItemCaseSensitive(sel, "batch"), sw, 0, g->n_prompts - 1, &node->sel.batch,
                           &node->sel.n_batch, err)))
            return st;
        label(sw, sizeof(sw), what, " select.pos", "");
        if ((st = int_list(cJSON_GetObjectItemCaseSensitive(sel, "pos"), sw, -(double)tmin, tmax + g->gen.steps - 1,
                           &node->sel.pos, &node->sel.n_pos, err)))
            return st;
        const cJSON *hsel = cJSON_GetObjectItemCaseSensitive(sel, "head");
        if (hsel && !per_head) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: hook %s has no heads to select", what, node->hook);
        label(sw, sizeof(sw), what, " select.head", "");
        if ((st = int_list(hsel, sw, 0, (double)heads - 1, &node->sel.head, &node->sel.n_head, err))) return st;
        label(sw, sizeof(sw), what, " select.index", "");
        if ((st = int_list(cJSON_GetObjectItemCaseSensitive(sel, "index"), sw, 0, (double)hw - 1, &node->sel.index,
                           &node->sel.n_index, err)))
            return st;
    }
    node->per_row = (node->sel.n_head ? node->sel.n_head : heads) * (node->sel.n_index ? node->sel.n_index : hw);
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(n, "steps");
    char sw[200];
    label(sw, sizeof(sw), what, " steps", "");
    if ((st = int_list(steps, sw, 0, g->gen.steps, &node->steps, &node->n_steps, err))) return st;

    /* arguments */
    const cJSON *tn = cJSON_GetObjectItemCaseSensitive(n, "tensor"), *val = cJSON_GetObjectItemCaseSensitive(n, "value");
    if (tn && val) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: give 'tensor' or 'value', not both", what);
    if (tn) {
        if (!cJSON_IsString(tn)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: 'tensor' must name an input tensor", what);
        node->tensor = find_input(g, tn->valuestring);
        if (!node->tensor)
            return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: tensor '%.100s' is not declared in inputs.tensors", what,
                                tn->valuestring);
    }
    if (val) {
        if (!cJSON_IsArray(val) || cJSON_GetArraySize(val) == 0 || cJSON_GetArraySize(val) > 65536)
            return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: 'value' must be a list of 1..65536 numbers", what);
        node->inline_n = cJSON_GetArraySize(val);
        node->inline_buf = malloc((size_t)node->inline_n * sizeof(float));
        if (!node->inline_buf) return seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
        int k = 0;
        for (const cJSON *e = val->child; e; e = e->next, k++) {
            if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble))
                return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: value[%d] is not a finite number", what, k);
            node->inline_buf[k] = (float)e->valuedouble;
        }
        node->inline_v = node->inline_buf;
    }
    int64_t vlen = node->tensor ? node->tensor->n : node->inline_n;
    int has_v = node->tensor || node->inline_v;
    int is_scores = node->point == SEER_HP_ATTN_SCORES || node->point == SEER_HP_PATTERN;
    switch (node->op) {
    case OP_SET: {
        const cJSON *from = cJSON_GetObjectItemCaseSensitive(n, "from");
        if (!!from + has_v != 1) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: set needs one of 'tensor', 'value' or 'from'", what);
        if (from) {
            if (!cJSON_IsString(from)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: 'from' must be a node id", what);
            for (int k = 0; k < g->n_nodes; k++)
                if (g->nodes[k].id && !strcmp(g->nodes[k].id, from->valuestring)) node->from_node = k;
            if (node->from_node < 0) {
                /* a later node, or none at all */
                return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: 'from' refers to undefined node '%.100s' (nodes can only read nodes listed before them)",
                                    what, from->valuestring);
            }
            const graph_node *src = &g->nodes[node->from_node];
            if (src->op != OP_SAVE) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: 'from' node '%s' is not a save", what, src->id);
            if (src->order > node->order)
                return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: reads node '%s' at %s, which the forward reaches later (a cycle)",
                                    what, src->id, src->hook);
            int64_t sh, sw2;
            point_layout(x->m, g, src->point, &sh, &sw2);
            if (sh * sw2 != heads * hw || is_scores != (src->point == SEER_HP_ATTN_SCORES || src->point == SEER_HP_PATTERN))
                return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: shape mismatch: %s rows hold %lld values, %s rows %lld", what,
                                    node->hook, (long long)(heads * hw), src->hook, (long long)(sh * sw2));
            if (node->sel.n_head || node->sel.n_index)
                return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: set from a node copies whole rows (no head/index selection)", what);
            break;
        }
    } /* fall through: tensor/value checks */
    /* fallthrough */
    case OP_ADD:
    case OP_PROJECT_OUT:
    case OP_PROJECT_ONTO:
        if (!has_v) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: %s needs 'tensor' or 'value'", what, op_names[node->op]);
        if (is_scores && !node->sel.n_index)
            return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: %s on attention scores/patterns needs select.index (key positions)", what,
                                op_names[node->op]);
        if (vlen != node->per_row)
            return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: shape mismatch: the value has %lld elements, the selection %lld per row",
                                what, (long long)vlen, (long long)node->per_row);
        if ((st = get_float(n, "coef", what, 1, &node->coef, err))) return st;
        break;
    case OP_MEAN_ABLATE:
        if (has_v && vlen != node->per_row)
            return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: shape mismatch: the mean has %lld elements, the selection %lld per row",
                                what, (long long)vlen, (long long)node->per_row);
        break;
    case OP_SCALE: {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(n, "factor");
        if (!f) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: scale needs 'factor'", what);
        if ((st = get_float(n, "factor", what, 1, &node->factor, err))) return st;
        break;
    }
    case OP_CLAMP:
        if (!cJSON_GetObjectItemCaseSensitive(n, "min") && !cJSON_GetObjectItemCaseSensitive(n, "max"))
            return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: clamp needs 'min' and/or 'max'", what);
        if ((st = get_float(n, "min", what, -INFINITY, &node->lo, err)) || (st = get_float(n, "max", what, INFINITY, &node->hi, err)))
            return st;
        if (node->lo > node->hi) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: clamp min %g > max %g", what, (double)node->lo, (double)node->hi);
        break;
    case OP_PATCH: {
        const cJSON *fb = cJSON_GetObjectItemCaseSensitive(n, "from_batch");
        if (!!fb == !!node->tensor || val)
            return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: patch needs one of 'from_batch' or 'tensor'", what);
        if (fb) {
            if (!is_int(fb, 0, g->n_prompts - 1))
                return seer_err_set(err, SEER_ERR_RANGE, "graph: %s: from_batch must be a prompt index in [0, %d]", what, g->n_prompts - 1);
            node->from_batch = (int)fb->valuedouble;
        } else {
            int64_t shape[4];
            int nd = seer_hook_shape(x->m, node->point, g->n_prompts, tmax, shape);
            int ok = node->tensor->n_dims == nd;
            for (int k = 0; ok && k < nd; k++) ok = node->tensor->shape[k] == shape[k];
            if (!ok) {
                char a[96], b[96];
                return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: shape mismatch: patch tensor is %s, hook %s is %s", what,
                                    seer_shape_str(node->tensor->shape, node->tensor->n_dims, a, sizeof(a)), node->hook,
                                    seer_shape_str(shape, nd, b, sizeof(b)));
            }
        }
        break;
    }
    case OP_NOISE: {
        const cJSON *dist = cJSON_GetObjectItemCaseSensitive(n, "dist"), *rel = cJSON_GetObjectItemCaseSensitive(n, "relative");
        const cJSON *seed = cJSON_GetObjectItemCaseSensitive(n, "seed");
        if (!cJSON_GetObjectItemCaseSensitive(n, "scale")) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: noise needs 'scale'", what);
        if ((st = get_float(n, "scale", what, 0, &node->scale, err))) return st;
        if (node->scale < 0) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: noise scale must be >= 0", what);
        if (dist && !(cJSON_IsString(dist) && (!strcmp(dist->valuestring, "gaussian") || !strcmp(dist->valuestring, "uniform"))))
            return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: dist must be \"gaussian\" or \"uniform\"", what);
        node->uniform = dist && !strcmp(dist->valuestring, "uniform");
        if (rel && !cJSON_IsBool(rel)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: relative must be true or false", what);
        node->relative = cJSON_IsTrue(rel);
        if (seed && !is_int(seed, 0, 9007199254740991.0)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: seed must be a non-negative integer", what);
        node->seed = seed ? (uint64_t)seed->valuedouble : 0;
        break;
    }
    case OP_SAE:
        /* a score or pattern row grows with the query's keys: no fixed width to encode */
        if (is_scores)
            return seer_err_set(err, SEER_ERR_UNSUPPORTED, "graph: %s: sae needs a hook of fixed width, not attention scores or patterns (%s)",
                                what, node->hook);
        if ((st = parse_sae_node(x, n, node, what, heads * hw))) return st;
        break;
    case OP_GRAD: {
        const cJSON *mn = cJSON_GetObjectItemCaseSensitive(n, "metric");
        if (!cJSON_IsString(mn)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: grad needs 'metric', the name of an outputs.metrics entry", what);
        if (sel || steps) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: grad takes no selector or steps (it returns the whole hook's gradient)", what);
        if (!(node->metric_name = strdup(mn->valuestring))) return seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
        break;
    }
    default: break;
    }
    return SEER_OK;
}

static seer_status parse_token(pctx *x, const cJSON *v, const char *what, int32_t *out) {
    int32_t V = seer_model_get_config(x->m)->n_vocab;
    if (is_int(v, 0, V - 1)) {
        *out = (int32_t)v->valuedouble;
        return SEER_OK;
    }
    if (!cJSON_IsString(v)) return seer_err_set(x->err, SEER_ERR_INVALID, "graph: %s: tokens are ids in [0, %d) or strings", what, V);
    const seer_tok *tok = seer_model_tok(x->m);
    if (!tok) return seer_err_set(x->err, SEER_ERR_INVALID, "graph: %s: the model has no tokenizer (give token ids)", what);
    int32_t *ids;
    size_t n;
    seer_status st = seer_tok_encode(tok, v->valuestring, strlen(v->valuestring), 0, &ids, &n, x->err);
    if (st) return st;
    /* SPM adds a dummy space before text: " Paris" and "Paris" both name the piece "▁Paris" */
    if (n != 1) {
        free(ids);
        return seer_err_set(x->err, SEER_ERR_INVALID, "graph: %s: '%.60s' is %zu tokens, not one", what, v->valuestring, n);
    }
    *out = ids[0];
    free(ids);
    return SEER_OK;
}

static seer_status parse_outputs(pctx *x, const cJSON *o) {
    seer_graph *g = x->g;
    seer_err *err = x->err;
    static const char *const fields[] = {"save", "metrics", NULL};
    if (!cJSON_IsObject(o)) return seer_err_set(err, SEER_ERR_INVALID, "graph: outputs must be an object");
    seer_status st = only_fields(o, "outputs", fields, err);
    if (st) return st;
    const cJSON *save = cJSON_GetObjectItemCaseSensitive(o, "save"), *metrics = cJSON_GetObjectItemCaseSensitive(o, "metrics");
    if (save) {
        if (!cJSON_IsArray(save)) return seer_err_set(err, SEER_ERR_INVALID, "graph: outputs.save must be a list of node ids");
        g->save_outputs = calloc((size_t)cJSON_GetArraySize(save) + 1, sizeof(int32_t));
        if (!g->save_outputs) return seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
        for (const cJSON *e = save->child; e; e = e->next) {
            int found = -1;
            for (int k = 0; cJSON_IsString(e) && k < g->n_nodes; k++)
                if (!strcmp(g->nodes[k].id, e->valuestring)) found = k;
            if (found < 0 || g->nodes[found].op != OP_SAVE)
                return seer_err_set(err, SEER_ERR_INVALID, "graph: outputs.save: '%.100s' is not a save node",
                                    cJSON_IsString(e) ? e->valuestring : "(not a string)");
            g->save_outputs[g->n_save_outputs++] = found;
        }
    }
    if (metrics) {
        if (!cJSON_IsArray(metrics)) return seer_err_set(err, SEER_ERR_INVALID, "graph: outputs.metrics must be a list");
        int nm = cJSON_GetArraySize(metrics);
        g->metrics = calloc((size_t)nm + 1, sizeof(graph_metric));
        if (!g->metrics) return seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
        int32_t tmin = INT32_MAX;
        for (int32_t i = 0; i < g->n_prompts; i++) tmin = g->prompt_len[i] < tmin ? g->prompt_len[i] : tmin;
        for (const cJSON *e = metrics->child; e; e = e->next) {
            /* counted before it is filled, so seer_graph_free releases a half-parsed entry's name */
            graph_metric *mt = &g->metrics[g->n_metrics++];
            char what[64];
            snprintf(what, sizeof(what), "outputs.metrics[%d]", g->n_metrics - 1);
            static const char *const mf[] = {"name", "type", "pos", "tokens", NULL};
            if (!cJSON_IsObject(e)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: expected an object", what);
            if ((st = only_fields(e, what, mf, err))) return st;
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name"), *type = cJSON_GetObjectItemCaseSensitive(e, "type");
            const cJSON *pos = cJSON_GetObjectItemCaseSensitive(e, "pos"), *toks = cJSON_GetObjectItemCaseSensitive(e, "tokens");
            if (!cJSON_IsString(type)) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: 'type' must be a string", what);
            static const char *const kinds[] = {"logit_diff", "prob", "logit", "loss"};
            mt->kind = -1;
            for (int k = 0; k < 4; k++)
                if (!strcmp(type->valuestring, kinds[k])) mt->kind = k;
            if (mt->kind < 0) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: unknown metric type '%.40s' (logit_diff, prob, logit, loss)", what, type->valuestring);
            mt->name = strdup(cJSON_IsString(name) ? name->valuestring : type->valuestring);
            if (!mt->name) return seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
            if (pos && !is_int(pos, -(double)tmin, (double)tmin - 1))
                return seer_err_set(err, SEER_ERR_RANGE, "graph: %s: pos must be in [-%d, %d)", what, tmin, tmin);
            mt->pos = pos ? (int32_t)pos->valuedouble : -1;
            int need = mt->kind == 0 ? 2 : mt->kind == 3 ? 0 : 1;
            if (need == 0 && toks) return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: loss takes no tokens", what);
            if (need > 0) {
                if (!cJSON_IsArray(toks) || cJSON_GetArraySize(toks) != need)
                    return seer_err_set(err, SEER_ERR_INVALID, "graph: %s: %s needs 'tokens' with %d entr%s", what, kinds[mt->kind], need,
                                        need == 1 ? "y" : "ies");
                if ((st = parse_token(x, toks->child, what, &mt->tok_a))) return st;
                if (need == 2 && (st = parse_token(x, toks->child->next, what, &mt->tok_b))) return st;
            }
        }
    }
    return SEER_OK;
}

/* grad nodes: their metric exists and is differentiable; the rest of the graph only observes
 * (gradients come from a second, unmodified forward pass, so interventions would not be in
 * them). */
static seer_status check_grads(pctx *x) {
    seer_graph *g = x->g;
    int any = 0;
    for (int32_t k = 0; k < g->n_nodes; k++) {
        graph_node *n = &g->nodes[k];
        if (n->op != OP_GRAD) continue;
        any = 1;
        n->metric = -1;
        for (int32_t i = 0; i < g->n_metrics; i++)
            if (!strcmp(g->metrics[i].name, n->metric_name)) n->metric = i;
        if (n->metric < 0)
            return seer_err_set(x->err, SEER_ERR_INVALID, "graph: node '%s': metric '%.100s' is not in outputs.metrics", n->id, n->metric_name);
        if (g->metrics[n->metric].kind == 1)
            return seer_err_set(x->err, SEER_ERR_INVALID, "graph: node '%s': gradients are of logit, logit_diff or loss metrics, not prob", n->id);
    }
    if (!any) return SEER_OK;
    if (g->gen.steps) return seer_err_set(x->err, SEER_ERR_INVALID, "graph: grad nodes and generation cannot be combined");
    for (int32_t k = 0; k < g->n_nodes; k++)
        if (g->nodes[k].op != OP_GRAD && g->nodes[k].op != OP_SAVE)
            return seer_err_set(x->err, SEER_ERR_INVALID, "graph: node '%s': a graph with grad nodes may only save (gradients are of the unmodified model)",
                                g->nodes[k].id);
    return SEER_OK;
}

static seer_status parse_generate(pctx *x, const cJSON *o) {
    seer_graph *g = x->g;
    static const char *const fields[] = {"steps", "temp", "top_k", "top_p", "seed", NULL};
    if (!cJSON_IsObject(o)) return seer_err_set(x->err, SEER_ERR_INVALID, "graph: generate must be an object");
    seer_status st = only_fields(o, "generate", fields, x->err);
    if (st) return st;
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(o, "steps"), *k = cJSON_GetObjectItemCaseSensitive(o, "top_k");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(o, "seed");
    if (!is_int(steps, 1, g->limits.max_steps))
        return seer_err_set(x->err, SEER_ERR_RANGE, "graph: generate.steps must be an integer in [1, %d]", g->limits.max_steps);
    g->gen.steps = (int32_t)steps->valuedouble;
    if (k && !is_int(k, 0, 1 << 30)) return seer_err_set(x->err, SEER_ERR_INVALID, "graph: generate.top_k must be >= 0");
    g->gen.top_k = k ? (int32_t)k->valuedouble : 0;
    if (seed && !is_int(seed, 0, 9007199254740991.0)) return seer_err_set(x->err, SEER_ERR_INVALID, "graph: generate.seed must be >= 0");
    g->gen.seed = seed ? (uint64_t)seed->valuedouble : 42;
    if ((st = get_float(o, "temp", "generate", 0, &g->gen.temp, x->err)) || (st = get_float(o, "top_p", "generate", 1, &g->gen.top_p, x->err)))
        return st;
    /* the sampler's own bounds, checked here so a graph that loads also runs */
    if (!(g->gen.temp >= 0 && g->gen.temp <= SEER_SAMPLER_MAX_TEMP) || !(g->gen.top_p > 0 && g->gen.top_p <= 1))
        return seer_err_set(x->err, SEER_ERR_INVALID, "graph: generate: temp must be in [0, %g] and top_p in (0, 1]",
                            SEER_SAMPLER_MAX_TEMP);
    for (int32_t i = 0; i < g->n_prompts; i++)
        if (g->prompt_len[i] + g->gen.steps > g->limits.max_tokens)
            return seer_err_set(x->err, SEER_ERR_RANGE, "graph: prompt %d plus %d steps exceeds the limit of %d tokens", i, g->gen.steps,
                                g->limits.max_tokens);
    return SEER_OK;
}

seer_status seer_graph_load(const seer_model *m, const char *json, size_t len, const char *base_dir,
                            const seer_graph_limits *limits, seer_graph **out, seer_err *err) {
    *out = NULL;
    seer_graph *g = calloc(1, sizeof(*g));
    if (!g) return seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
    g->limits = limits ? *limits : seer_graph_default_limits();
    pctx x = {m, g, err, base_dir};
    seer_status st = SEER_OK;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    /* cJSON stops after the first value: anything but whitespace after it (a NUL too) is an error */
    while (root && end && end < json + len && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t')) end++;
    if (root && end && end < json + len) {
        st = seer_err_set(err, SEER_ERR_FORMAT, "graph: malformed JSON: unexpected bytes after the object at byte %ld", (long)(end - json));
        goto out;
    }
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= json && at <= json + len ? (long)(at - json) : -1;
        st = seer_err_set(err, SEER_ERR_FORMAT, "graph: malformed JSON near byte %ld", off);
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        st = seer_err_set(err, SEER_ERR_FORMAT, "graph: the top level must be a JSON object");
        goto out;
    }
    static const char *const top[] = {"version", "inputs", "nodes", "outputs", "generate", NULL};
    if ((st = only_fields(root, "top level", top, err))) goto out;
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!is_int(ver, 1, 1e9)) {
        st = seer_err_set(err, SEER_ERR_INVALID, "graph: 'version' must be a positive integer (this seer writes %d)", SEER_GRAPH_VERSION);
        goto out;
    }
    g->version = (int)ver->valuedouble;
    if (g->version > SEER_GRAPH_VERSION) {
        st = seer_err_set(err, SEER_ERR_UNSUPPORTED, "graph: version %d is newer than this seer understands (%d): upgrade seer",
                          g->version, SEER_GRAPH_VERSION);
        goto out;
    }
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs"), *nodes = cJSON_GetObjectItemCaseSensitive(root, "nodes");
    if (!cJSON_IsObject(inputs)) {
        st = seer_err_set(err, SEER_ERR_INVALID, "graph: 'inputs' (an object with 'prompts') is required");
        goto out;
    }
    static const char *const inf[] = {"prompts", "tensors", "saes", NULL};
    if ((st = only_fields(inputs, "inputs", inf, err))) goto out;
    if ((st = parse_prompts(&x, cJSON_GetObjectItemCaseSensitive(inputs, "prompts")))) goto out;
    const cJSON *gen = cJSON_GetObjectItemCaseSensitive(root, "generate");
    if (gen && (st = parse_generate(&x, gen))) goto out;
    /* Learned position embeddings (GPT-2) end at n_ctx; rotary ones run past it. */
    const seer_model_config *mc = seer_model_get_config(m);
    for (int32_t i = 0; mc->arch == SEER_ARCH_GPT2 && i < g->n_prompts; i++)
        if (g->prompt_len[i] + g->gen.steps > mc->n_ctx) {
            st = seer_err_set(err, SEER_ERR_RANGE, "graph: prompt %d needs %d positions (%d tokens + %d steps), more than the model's %d learned positions",
                              i, g->prompt_len[i] + g->gen.steps, g->prompt_len[i], g->gen.steps, mc->n_ctx);
            goto out;
        }
    const cJSON *tensors = cJSON_GetObjectItemCaseSensitive(inputs, "tensors");
    if (tensors) {
        if (!cJSON_IsObject(tensors)) {
            st = seer_err_set(err, SEER_ERR_INVALID, "graph: inputs.tensors must be an object of name: {file|data}");
            goto out;
        }
        int nt = cJSON_GetArraySize(tensors);
        g->tensors = calloc((size_t)nt + 1, sizeof(graph_tensor));
        if (!g->tensors) {
            st = seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
            goto out;
        }
        int64_t bytes = 0;
        for (const cJSON *t = tensors->child; t; t = t->next) {
            for (int32_t k = 0; k < g->n_tensors; k++)
                if (!strcmp(g->tensors[k].name, t->string)) {
                    st = seer_err_set(err, SEER_ERR_INVALID, "graph: input tensor '%s' declared twice", t->string);
                    goto out;
                }
            st = load_tensor(&x, t, t->string, &g->tensors[g->n_tensors], &bytes);
            g->n_tensors++;
            if (st) goto out;
        }
    }
    const cJSON *saes = cJSON_GetObjectItemCaseSensitive(inputs, "saes");
    if (saes && (st = parse_saes(&x, saes))) goto out;
    if (nodes && !cJSON_IsArray(nodes)) {
        st = seer_err_set(err, SEER_ERR_INVALID, "graph: 'nodes' must be a list");
        goto out;
    }
    int nn = nodes ? cJSON_GetArraySize(nodes) : 0;
    if (nn > g->limits.max_nodes) {
        st = seer_err_set(err, SEER_ERR_RANGE, "graph: %d nodes exceed the limit of %d", nn, g->limits.max_nodes);
        goto out;
    }
    g->nodes = calloc((size_t)nn + 1, sizeof(graph_node));
    if (!g->nodes) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
        goto out;
    }
    int idx = 0;
    for (const cJSON *n = nodes ? nodes->child : NULL; n; n = n->next, idx++) {
        g->n_nodes = idx + 1;
        if ((st = parse_node(&x, n, idx))) goto out;
    }
    const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    if (outputs && (st = parse_outputs(&x, outputs))) goto out;
    if ((st = check_grads(&x))) goto out;
    if (!outputs || !cJSON_GetObjectItemCaseSensitive(outputs, "save")) { /* default: every save node */
        free(g->save_outputs);
        g->save_outputs = calloc((size_t)g->n_nodes + 1, sizeof(int32_t));
        if (!g->save_outputs) {
            st = seer_err_set(err, SEER_ERR_NOMEM, "graph: out of memory");
            goto out;
        }
        g->n_save_outputs = 0;
        for (int k = 0; k < g->n_nodes; k++)
            if (g->nodes[k].op == OP_SAVE) g->save_outputs[g->n_save_outputs++] = k;
    }
    /* saved bytes: every save is kept in full, per step */
    int32_t tmax = 0;
    for (int32_t i = 0; i < g->n_prompts; i++) tmax = g->prompt_len[i] > tmax ? g->prompt_len[i] : tmax;
    double bytes = 0;
    for (int k = 0; k < g->n_nodes; k++) {
        if (g->nodes[k].op == OP_SAE && g->nodes[k].save_latents) {
            bytes += 4.0 * g->n_prompts * (tmax + g->gen.steps) * (double)g->nodes[k].sae->n_latents * (g->gen.steps ? 2 : 1);
            continue;
        }
        if (g->nodes[k].op != OP_SAVE && g->nodes[k].op != OP_GRAD) continue;
        int64_t shape[4];
        int nd = seer_hook_shape(m, g->nodes[k].point, g->n_prompts, tmax + g->gen.steps, shape);
        double b = 4;
        for (int d = 0; d < nd; d++) b *= (double)shape[d];
        bytes += b * (g->gen.steps ? 2 : 1);
    }
    if (bytes > (double)g->limits.max_save_bytes) {
        st = seer_err_set(err, SEER_ERR_RANGE, "graph: saved values would take %.0f bytes, over the limit of %lld", bytes,
                          (long long)g->limits.max_save_bytes);
        goto out;
    }
out:
    cJSON_Delete(root);
    if (st) {
        seer_graph_free(g);
        return st;
    }
    *out = g;
    return SEER_OK;
}

void seer_graph_free(seer_graph *g) {
    if (!g) return;
    for (int32_t i = 0; i < g->n_prompts; i++) {
        if (g->prompt_ids) free(g->prompt_ids[i]);
        if (g->prompt_text) free(g->prompt_text[i]);
    }
    free(g->prompt_ids);
    free(g->prompt_len);
    free(g->prompt_text);
    for (int32_t i = 0; i < g->n_tensors; i++) free(g->tensors[i].name), free(g->tensors[i].data);
    free(g->tensors);
    for (int32_t i = 0; i < g->n_nodes; i++) {
        graph_node *n = &g->nodes[i];
        free(n->id), free(n->hook), free(n->inline_buf), free(n->steps);
        free(n->sel.batch), free(n->sel.pos), free(n->sel.head), free(n->sel.index);
        free(n->latents);
        free(n->metric_name);
    }
    for (int32_t i = 0; i < g->n_saes; i++) {
        graph_sae *d = &g->saes[i];
        if (d->state) d->codec->close(d->state);
        free(d->name), free(d->path), free(d->hook);
    }
    free(g->saes);
    free(g->nodes);
    free(g->save_outputs);
    for (int32_t i = 0; i < g->n_metrics; i++) free(g->metrics[i].name);
    free(g->metrics);
    free(g);
}

int32_t seer_graph_n_prompts(const seer_graph *g) { return g->n_prompts; }
