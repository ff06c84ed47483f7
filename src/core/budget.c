/* The memory budget: one number every loader and context checks a size declared by a file
 * against before allocating it, so a small file claiming a huge vocabulary, context or tensor is
 * refused with a message instead of exhausting the machine. */
#include "seer/core.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/* Physical RAM in bytes, or 0 when the system does not say. */
static size_t phys_ram(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t total;
    if (pages <= 0 || page <= 0 || seer_mul_size((size_t)pages, (size_t)page, &total)) return 0;
    return total;
}

/* Digits, then an optional K, M, G or T (binary units, an optional B after it): "4096", "512M",
 * "2GiB" is refused. Returns 0 for anything else, which the caller treats as "not set". */
static size_t parse_bytes(const char *s) {
    if (!s || !isdigit((unsigned char)*s)) return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || v == 0) return 0;
    int shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 0: break;
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    default: return 0;
    }
    if (*end && end[1] != 0 && !((end[1] == 'B' || end[1] == 'b') && end[2] == 0)) return 0;
    if (v > (unsigned long long)(SIZE_MAX >> shift)) return SIZE_MAX;
    return (size_t)v << shift;
}

size_t seer_mem_budget(void) {
    size_t env = parse_bytes(getenv("SEER_MEM_BUDGET"));
    if (env) return env;
    size_t ram = phys_ram();
    /* Unknown RAM: no limit beyond what malloc itself refuses. */
    return ram ? ram / 4 * 3 : SIZE_MAX;
}

/* "512 B", "3.0 KiB", ... "1.5 GiB" into buf. */
static const char *human(size_t n, char *buf, size_t cap) {
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (n < 1024) {
        snprintf(buf, cap, "%zu B", n);
        return buf;
    }
    double v = (double)n / 1024.0;
    int u = 0;
    while (v >= 1024.0 && u < 5) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, cap, "%.1f %s", v, unit[u]);
    return buf;
}

seer_status seer_mem_check(size_t bytes, const char *what, seer_err *err) {
    size_t budget = seer_mem_budget();
    if (bytes <= budget) return SEER_OK;
    char need[32], have[32];
    return seer_err_set(err, SEER_ERR_NOMEM, "%s needs %s, more than the memory budget (%s; set SEER_MEM_BUDGET to change it)",
                        what, human(bytes, need, sizeof(need)), human(budget, have, sizeof(have)));
}
