/* Sets of safetensors files seen as one: a single file, a Hugging Face shard index
 * (model.safetensors.index.json, whose weight_map names the shard of every tensor), or a folder
 * holding either. Every shard is opened and validated; tensor names must be unique across them. */
#include "seer/safetensors.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

typedef struct st_set_entry {
    const seer_tensor *t;
    int64_t file;
} st_set_entry;

struct seer_st_set {
    int64_t n_files, n_alloc;
    seer_st **files;     /* shards in name order */
    char **paths;        /* their paths, for messages */
    int64_t n;
    st_set_entry *order;   /* shard by shard, each in data-offset order */
    st_set_entry *by_name; /* the same, sorted by name for find */
};

void seer_st_set_free(seer_st_set *s) {
    if (!s) return;
    for (int64_t i = 0; i < s->n_alloc; i++) {
        seer_st_free(s->files[i]);
        free(s->paths[i]);
    }
    free(s->files);
    free(s->paths);
    free(s->order);
    free(s->by_name);
    free(s);
}

static int st_entry_by_name(const void *a, const void *b) {
    return strcmp(((const st_set_entry *)a)->t->name, ((const st_set_entry *)b)->t->name);
}

static int st_str_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static int st_str_cmp_json(const void *a, const void *b) {
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* Allocates room for n files (n >= 1). */
static seer_status st_set_alloc(seer_st_set **out, int64_t n, const char *what, seer_err *err) {
    SEER_ASSERT(n >= 1);
    seer_st_set *s = calloc(1, sizeof(*s));
    if (s) {
        s->files = calloc((size_t)n, sizeof(*s->files));
        s->paths = calloc((size_t)n, sizeof(*s->paths));
    }
    if (!s || !s->files || !s->paths) {
        seer_st_set_free(s);
        return seer_err_set(err, SEER_ERR_NOMEM, "%s: out of memory", what);
    }
    s->n_alloc = n;
    *out = s;
    return SEER_OK;
}

/* Opens path as file i of s. */
static seer_status st_set_open_file(seer_st_set *s, int64_t i, const char *path, seer_err *err) {
    s->paths[i] = strdup(path);
    if (!s->paths[i]) return seer_err_set(err, SEER_ERR_NOMEM, "%s: out of memory", path);
    seer_status st = seer_st_open_file(path, &s->files[i], err);
    if (st) return st;
    s->n_files = i + 1;
    return SEER_OK;
}

/* Lists every tensor of every file and refuses a name held by two shards. */
static seer_status st_set_index(seer_st_set *s, const char *what, seer_err *err) {
    int64_t n = 0;
    for (int64_t f = 0; f < s->n_files; f++) n += seer_st_n_tensors(s->files[f]);
    s->order = calloc((size_t)n + 1, sizeof(*s->order));
    s->by_name = calloc((size_t)n + 1, sizeof(*s->by_name));
    if (!s->order || !s->by_name) return seer_err_set(err, SEER_ERR_NOMEM, "%s: out of memory", what);
    int64_t k = 0;
    for (int64_t f = 0; f < s->n_files; f++) {
        for (int64_t i = 0; i < seer_st_n_tensors(s->files[f]); i++)
            s->order[k++] = (st_set_entry){seer_st_tensor(s->files[f], i), f};
    }
    s->n = n;
    memcpy(s->by_name, s->order, (size_t)n * sizeof(*s->order));
    qsort(s->by_name, (size_t)n, sizeof(*s->by_name), st_entry_by_name);
    for (int64_t i = 1; i < n; i++) {
        const st_set_entry *a = &s->by_name[i - 1], *b = &s->by_name[i];
        if (strcmp(a->t->name, b->t->name) == 0)
            return seer_err_set(err, SEER_ERR_FORMAT, "%s: tensor '%.200s' is in both %s and %s", what, b->t->name,
                                s->paths[a->file], s->paths[b->file]);
    }
    return SEER_OK;
}

/* Shard names come from a file someone downloaded: keep them inside the index's folder. */
static int st_shard_name_ok(const char *name) {
    if (!*name || name[0] == '/') return 0;
    for (const char *p = name; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') return 0;
        p += len + (slash != NULL);
    }
    return 1;
}

/* The folder part of path ("." when there is none), malloc'd. */
static char *st_dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, path, n);
    d[n] = 0;
    return d;
}

static seer_status st_set_open_index(const char *path, seer_st_set **out, seer_err *err) {
    char *text = NULL, *dir = NULL;
    const char **shards = NULL;
    const cJSON **keys = NULL;
    cJSON *root = NULL;
    seer_st_set *s = NULL;
    size_t len;
    seer_status st = seer_read_file(path, &text, &len, err);
    if (st) return st;
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        st = seer_err_set(err, SEER_ERR_FORMAT, "%s: not valid JSON (error near byte %zu)", path,
                          end ? (size_t)(end - text) : (size_t)0);
        goto out_free;
    }
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(root) || !cJSON_IsObject(map)) {
        st = seer_err_set(err, SEER_ERR_FORMAT, "%s: expected a JSON object with a \"weight_map\" object", path);
        goto out_free;
    }
    size_t n = (size_t)cJSON_GetArraySize(map);
    if (n == 0) {
        st = seer_err_set(err, SEER_ERR_FORMAT, "%s: weight_map is empty", path);
        goto out_free;
    }
    shards = malloc(n * sizeof(*shards));
    keys = malloc(n * sizeof(*keys));
    dir = st_dirname(path);
    if (!shards || !keys || !dir) {
        st = seer_err_set(err, SEER_ERR_NOMEM, "%s: out of memory", path);
        goto out_free;
    }
    size_t k = 0;
    for (const cJSON *e = map->child; e; e = e->next, k++) {
        if (!cJSON_IsString(e) || !st_shard_name_ok(e->valuestring)) {
            st = seer_err_set(err, SEER_ERR_FORMAT,
                              "%s: weight_map: tensor '%.200s': shard must be a file name inside the index's folder",
                              path, e->string);
            goto out_free;
        }
        keys[k] = e;
        shards[k] = e->valuestring;
    }
    /* cJSON keeps repeated keys; a tensor mapped twice is ambiguous. */
    qsort(keys, n, sizeof(*keys), st_str_cmp_json);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(keys[i - 1]->string, keys[i]->string) == 0) {
            st = seer_err_set(err, SEER_ERR_FORMAT, "%s: weight_map lists tensor '%.200s' twice", path,
                              keys[i]->string);
            goto out_free;
        }
    }
    qsort(shards, n, sizeof(*shards), st_str_cmp);
    size_t n_shards = 0;
    for (size_t i = 0; i < n; i++) {
        if (n_shards == 0 || strcmp(shards[n_shards - 1], shards[i]) != 0) shards[n_shards++] = shards[i];
    }
    st = st_set_alloc(&s, (int64_t)n_shards, path, err);
    if (st) goto out_free;
    for (size_t i = 0; i < n_shards; i++) {
        char *p = seer_path_join(dir, shards[i]);
        if (!p) {
            st = seer_err_set(err, SEER_ERR_NOMEM, "%s: out of memory", path);
            goto out_free;
        }
        st = st_set_open_file(s, (int64_t)i, p, err);
        free(p);
        if (st) {
            seer_err_wrap(err, "%s: shard '%.200s': ", path, shards[i]);
            goto out_free;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char **hit = bsearch(&keys[i]->valuestring, shards, n_shards, sizeof(*shards), st_str_cmp);
        SEER_ASSERT(hit); /* every shard named in weight_map was collected above */
        /* cppcheck-suppress nullPointerArithmeticRedundantCheck ; SEER_ASSERT does not return on NULL */
        if (!seer_st_find(s->files[hit - shards], keys[i]->string)) {
            st = seer_err_set(err, SEER_ERR_FORMAT,
                              "%s: weight_map puts tensor '%.200s' in %s, which has no such tensor", path,
                              keys[i]->string, *hit);
            goto out_free;
        }
    }
    st = st_set_index(s, path, err);

out_free:
    if (st) {
        seer_st_set_free(s);
        s = NULL;
    }
    free(keys);
    free(shards);
    free(dir);
    cJSON_Delete(root);
    free(text);
    *out = s;
    return st;
}

static seer_status st_set_open_single(const char *path, seer_st_set **out, seer_err *err) {
    seer_st_set *s = NULL;
    seer_status st = st_set_alloc(&s, 1, path, err);
    if (st) return st;
    st = st_set_open_file(s, 0, path, err);
    if (!st) st = st_set_index(s, path, err);
    if (st) {
        seer_st_set_free(s);
        return st;
    }
    *out = s;
    return SEER_OK;
}

static int st_ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

seer_status seer_st_set_open(const char *path, seer_st_set **out, seer_err *err) {
    *out = NULL;
    if (!seer_path_is_dir(path)) {
        if (st_ends_with(path, ".json")) return st_set_open_index(path, out, err);
        return st_set_open_single(path, out, err);
    }
    /* The order Hugging Face's loaders look in: one whole file first, then an index. */
    static const char *const names[] = {"model.safetensors", "model.safetensors.index.json"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *p = seer_path_join(path, names[i]);
        if (!p) return seer_err_set(err, SEER_ERR_NOMEM, "%s: out of memory", path);
        seer_status st = SEER_ERR_IO;
        int found = seer_path_exists(p);
        if (found) st = i == 0 ? st_set_open_single(p, out, err) : st_set_open_index(p, out, err);
        free(p);
        if (found) return st;
    }
    return seer_err_set(err, SEER_ERR_IO, "%s: folder holds neither model.safetensors nor model.safetensors.index.json",
                        path);
}

int64_t seer_st_set_n_tensors(const seer_st_set *s) { return s->n; }

const seer_tensor *seer_st_set_tensor(const seer_st_set *s, int64_t i) {
    return i >= 0 && i < s->n ? s->order[i].t : NULL;
}

const seer_tensor *seer_st_set_find(const seer_st_set *s, const char *name) {
    seer_tensor key_t = {.name = name};
    st_set_entry key = {&key_t, 0};
    const st_set_entry *hit = bsearch(&key, s->by_name, (size_t)s->n, sizeof(*s->by_name), st_entry_by_name);
    return hit ? hit->t : NULL;
}

int64_t seer_st_set_n_files(const seer_st_set *s) { return s->n_files; }

const seer_st *seer_st_set_file(const seer_st_set *s, int64_t i) {
    return i >= 0 && i < s->n_files ? s->files[i] : NULL;
}

const char *seer_st_set_file_path(const seer_st_set *s, int64_t i) {
    return i >= 0 && i < s->n_files ? s->paths[i] : NULL;
}
