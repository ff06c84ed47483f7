/* A tiny test harness: CHECK macros that count failures and print where, plus helpers to find
 * the shared data folder and a scratch folder. Each tests/test_*.c is one ctest executable;
 * exit 77 means "skipped" (ctest shows it as such). */
#ifndef SEER_TEST_H
#define SEER_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "seer/core.h"

static int test_failures = 0;
static int test_checks = 0;

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        test_checks++;                                                                         \
        if (!(cond)) {                                                                         \
            test_failures++;                                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);           \
        }                                                                                      \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                   \
    do {                                                                                       \
        test_checks++;                                                                         \
        if (!(cond)) {                                                                         \
            test_failures++;                                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fputc('\n', stderr);                                                               \
        }                                                                                      \
    } while (0)

/* A call returning seer_status must succeed; prints the message otherwise. */
#define CHECK_OK(call, errp)                                                                   \
    do {                                                                                       \
        test_checks++;                                                                         \
        seer_status st_ = (call);                                                              \
        if (st_ != SEER_OK) {                                                                  \
            test_failures++;                                                                   \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, (errp)->msg); \
        }                                                                                      \
    } while (0)

/* A call must fail and its message must contain `needle`. */
#define CHECK_FAILS(call, errp, needle)                                                        \
    do {                                                                                       \
        test_checks++;                                                                         \
        (errp)->msg[0] = 0;                                                                    \
        seer_status st_ = (call);                                                              \
        if (st_ == SEER_OK || !strstr((errp)->msg, (needle))) {                                \
            test_failures++;                                                                   \
            fprintf(stderr, "%s:%d: %s: expected failure containing '%s', got status %d '%s'\n", \
                    __FILE__, __LINE__, #call, (needle), (int)st_, (errp)->msg);              \
        }                                                                                      \
    } while (0)

/* Compares two float arrays; prints the worst difference and where it is. */
static inline int check_close(const float *a, const float *b, size_t n, float tol, const char *what) {
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > worst || d != d) {
            worst = d;
            at = i;
            if (d != d) break;
        }
    }
    test_checks++;
    if (!(worst <= tol)) {
        test_failures++;
        fprintf(stderr, "%s: max abs diff %.3g at %zu (%g vs %g) > tol %g\n", what, worst, at,
                (double)a[at], (double)b[at], (double)tol);
        return 0;
    }
    return 1;
}

static inline const char *test_data_dir(void) {
    const char *d = getenv("SEER_DATA");
    return d && *d ? d : "../shared";
}

/* "<SEER_DATA>/<rel>" in a static buffer (rotating, so two can be live at once). */
static inline const char *test_data(const char *rel) {
    static char bufs[4][1024];
    static int k = 0;
    char *b = bufs[k++ & 3];
    snprintf(b, sizeof(bufs[0]), "%s/%s", test_data_dir(), rel);
    return b;
}

/* A scratch path "<SEER_TMP or /tmp>/<name>"; the folder is created. */
static inline const char *test_tmp(const char *name) {
    static char bufs[4][1024];
    static int k = 0;
    const char *d = getenv("SEER_TMP");
    if (!d || !*d) d = "/tmp/seer-test";
    mkdir(d, 0755);
    char *b = bufs[k++ & 3];
    snprintf(b, sizeof(bufs[0]), "%s/%s", d, name);
    return b;
}

static inline int test_done(const char *name) {
    if (test_failures) {
        fprintf(stderr, "%s: %d of %d checks failed\n", name, test_failures, test_checks);
        return 1;
    }
    printf("%s: all %d checks passed\n", name, test_checks);
    return 0;
}

#endif
