/* Small process-wide helpers: clock, core count, and the seeded PRNG every random choice uses. */
#include "seer/core.h"

#include <malloc.h>
#include <math.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

double seer_time_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int seer_n_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void seer_rng_seed(seer_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t seer_rng_u64(seer_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float seer_rng_uniform(seer_rng *r) { return (float)(seer_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

float seer_rng_normal(seer_rng *r) {
    float u1 = ((float)(seer_rng_u64(r) >> 40) + 1.0f) * (1.0f / 16777217.0f); /* (0, 1) */
    float u2 = seer_rng_uniform(r);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853071795864f * u2);
}

void seer_malloc_tune(void) {
    /* A fresh 3 MB mapping per trace cost ~70% of a small forward in page faults and TLB
     * shootdowns on this VM; with these settings the same memory is handed out again. */
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_TOP_PAD, 64 << 20);
}
