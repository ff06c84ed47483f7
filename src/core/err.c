/* Status codes and error messages: the one channel for failures a user or a file can cause. */
#define SEER_ERR_IMPL 1 /* defines the functions core.h wraps for the analyzer */
#include "seer/core.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {
    "ok", "io error", "format error", "out of memory", "invalid argument", "out of range", "unsupported",
};
static_assert(SEER_STATUS_COUNT == sizeof(status_names) / sizeof(status_names[0]),
              "status_names must cover every seer_status");

const char *seer_status_name(seer_status s) {
    return (unsigned)s < SEER_STATUS_COUNT ? status_names[s] : "unknown status";
}

seer_status seer_err_set(seer_err *err, seer_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

seer_status seer_err_wrap(seer_err *err, const char *fmt, ...) {
    if (!err) return SEER_ERR_INVALID;
    char prefix[SEER_ERR_MSG_MAX], old[SEER_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    size_t k = strnlen(prefix, sizeof(err->msg) - 1);
    memcpy(err->msg, prefix, k);
    size_t rest = strnlen(old, sizeof(err->msg) - 1 - k);
    memcpy(err->msg + k, old, rest);
    err->msg[k + rest] = 0;
    return err->code;
}

void seer_assert_fail(const char *file, int line, const char *expr) {
    fprintf(stderr, "seer: internal error at %s:%d: assertion '%s' failed\n", file, line, expr);
    abort();
}
