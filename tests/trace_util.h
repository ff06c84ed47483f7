/* Helpers shared by the tests that run intervention graphs: run one (it must load and run),
 * expect one to be refused with a given message, and read a metric from a run's JSON summary
 * (what `seer trace` prints). */
#ifndef SEER_TEST_TRACE_UTIL_H
#define SEER_TEST_TRACE_UTIL_H

#include "seer/hooks.h"
#include "test.h"

#include <math.h>

/* Loads and runs the graph on 2 threads; NULL (with a failed check) if either step fails. */
static inline seer_trace_result *trace_run_json(const seer_model *m, const char *json) {
    seer_err err;
    seer_graph *g = NULL;
    seer_trace_result *r = NULL;
    CHECK_OK(seer_graph_load(m, json, strlen(json), NULL, NULL, &g, &err), &err);
    if (!g) return NULL;
    CHECK_OK(seer_trace_run(m, g, 2, &r, &err), &err);
    seer_graph_free(g);
    return r;
}

/* The graph is refused at load with a message containing needle. */
static inline void trace_expect_bad(const seer_model *m, const char *json, const char *needle) {
    seer_err err;
    seer_graph *g = NULL;
    err.msg[0] = 0;
    seer_status st = seer_graph_load(m, json, strlen(json), NULL, NULL, &g, &err);
    CHECK_MSG(st != SEER_OK && strstr(err.msg, needle), "graph %s: expected error with '%s', got '%s'", json, needle, err.msg);
    seer_graph_free(g);
}

/* Metric `name` of prompt 0, as the run's JSON summary prints it (NAN on any failure). */
static inline double trace_metric(const seer_model *m, const char *json, const char *name) {
    seer_trace_result *r = trace_run_json(m, json);
    double out = NAN;
    if (r) {
        char *buf = NULL, key[128];
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        seer_trace_result_print_json(r, f);
        fclose(f);
        snprintf(key, sizeof(key), "\"%s\": [", name);
        const char *p = strstr(buf, key);
        if (p) out = strtod(p + strlen(key), NULL);
        free(buf);
    }
    seer_trace_result_free(r);
    return out;
}

#endif
