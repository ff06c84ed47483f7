/* The thread pool: persistent workers that run one function per seer_pool_run call.
 * Hand-off is a generation counter; workers spin on it for a short while (decode calls the
 * pool ~50 times per token, microseconds apart) and then sleep on a condition variable so an
 * idle pool costs no CPU. The indices i of a call are claimed, not assigned: a worker that the
 * OS has not scheduled yet (the machine may be busy) cannot hold the call up, since the caller
 * claims and runs whatever no worker has started. */
#include "seer/ops.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define POOL_MAX_THREADS 1024
/* How long a worker spins for the next task, and the caller for running indices to finish,
 * before sleeping: longer than the gap between two matmuls of a decode step, short enough that
 * an idle pool goes quiet at once. */
#define POOL_SPIN_SEC 100e-6
/* Pause-spins before a spinning thread starts yielding (a pause is ~10-60 ns). */
#define POOL_SPIN_YIELD 256

struct seer_pool {
    int n;
    pthread_t *threads; /* [n - 1] */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* workers sleeping for the next generation */
    pthread_cond_t done; /* the caller sleeping for running indices to finish */
    /* The task; written by the caller before it publishes a new generation. */
    seer_task_fn fn;
    void *ctx;
    atomic_int stop; /* atomic: a worker still waking for an earlier call may read it meanwhile */
    atomic_int busy; /* catches a task calling seer_pool_run on its own pool */
    /* Separate cache lines: the caller writes gen, every thread claims and finishes. */
    _Alignas(64) atomic_uint gen;
    atomic_int sleepers;
    /* (generation << 32) | next unclaimed index: a claim only succeeds in the generation the
     * claimer woke for, so a late worker can never run a finished call's task. */
    _Alignas(64) atomic_ullong claim;
    _Alignas(64) atomic_int finished; /* indices 1..n-1 completed in this generation */
    atomic_int caller_waiting;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Spins until *gen differs from seen or POOL_SPIN_SEC pass; returns the last value read.
 * After the first few microseconds the spin also yields, so on an oversubscribed machine the
 * thread that has work gets the core. */
static unsigned spin_for_gen(const atomic_uint *gen, unsigned seen) {
    double until = 0;
    for (unsigned i = 1;; i++) {
        unsigned g = atomic_load_explicit(gen, memory_order_acquire);
        if (g != seen) return g;
        cpu_relax();
        if ((i & 63) == 0) {
            double now = seer_time_sec();
            if (until == 0) until = now + POOL_SPIN_SEC;
            else if (now > until) return g;
            if (i >= POOL_SPIN_YIELD) sched_yield();
        }
    }
}

/* Claims and runs indices of generation g until none are left. A successful claim happens
 * before the call can complete, so fn and ctx read after it are still this call's. */
static void run_claims(seer_pool *p, unsigned g) {
    for (;;) {
        unsigned long long c = atomic_load(&p->claim);
        if ((unsigned)(c >> 32) != g || (int)(c & 0xffffffffu) >= p->n) return;
        if (!atomic_compare_exchange_weak(&p->claim, &c, c + 1)) continue;
        p->fn(p->ctx, (int)(c & 0xffffffffu), p->n);
        /* finished rises before caller_waiting is read (both seq_cst), and the caller raises
         * caller_waiting before reading finished: one of us sees the other. */
        if (atomic_fetch_add(&p->finished, 1) + 1 == p->n - 1 && atomic_load(&p->caller_waiting)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static void *pool_main(void *arg) {
    seer_pool *p = arg;
    unsigned seen = 0;
    for (;;) {
        unsigned g = spin_for_gen(&p->gen, seen);
        if (g == seen) {
            /* Sleep. sleepers is raised before gen is read again (both seq_cst) and the caller
             * bumps gen before reading sleepers, so one of us sees the other: no lost wake-up. */
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while ((g = atomic_load(&p->gen)) == seen) pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        seen = g;
        if (atomic_load(&p->stop)) break;
        run_claims(p, g);
    }
    return NULL;
}

/* Publishes generation gen + 1 (fn and ctx, or stop, already written) and wakes sleepers. */
static unsigned pool_publish(seer_pool *p) {
    unsigned g = atomic_load(&p->gen) + 1;
    atomic_store(&p->finished, 0);
    atomic_store(&p->claim, ((unsigned long long)g << 32) | 1u); /* index 0 is the caller's */
    atomic_store(&p->gen, g);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    return g;
}

/* Waits until every index but 0 has finished; all are claimed by now, so only indices that
 * are running are waited for. */
static void pool_wait(seer_pool *p) {
    double until = 0;
    for (unsigned i = 1; atomic_load(&p->finished) != p->n - 1; i++) {
        cpu_relax();
        if ((i & 63) == 0) {
            double now = seer_time_sec();
            if (i >= POOL_SPIN_YIELD) sched_yield();
            if (until == 0) {
                until = now + POOL_SPIN_SEC;
            } else if (now > until) {
                atomic_store(&p->caller_waiting, 1);
                pthread_mutex_lock(&p->mu);
                while (atomic_load(&p->finished) != p->n - 1) pthread_cond_wait(&p->done, &p->mu);
                pthread_mutex_unlock(&p->mu);
                atomic_store(&p->caller_waiting, 0);
                break;
            }
        }
    }
}

/* Stops and joins the first `started` workers, then frees the pool. */
static void pool_stop(seer_pool *p, int started) {
    if (started > 0) {
        atomic_store(&p->stop, 1);
        pool_publish(p);
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < started; i++) (void)pthread_join(p->threads[i], NULL);
    }
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

seer_status seer_pool_init(int n_threads, seer_pool **out, seer_err *err) {
    *out = NULL;
    if (n_threads <= 0) n_threads = seer_n_cores();
    if (n_threads > POOL_MAX_THREADS)
        return seer_err_set(err, SEER_ERR_RANGE, "thread pool: %d threads requested, at most %d supported", n_threads,
                            POOL_MAX_THREADS);
    seer_pool *p = calloc(1, sizeof(*p));
    if (!p) return seer_err_set(err, SEER_ERR_NOMEM, "thread pool: out of memory");
    p->n = n_threads;
    atomic_init(&p->gen, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->claim, 0);
    atomic_init(&p->finished, 0);
    atomic_init(&p->caller_waiting, 0);
    atomic_init(&p->busy, 0);
    atomic_init(&p->stop, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    int nw = n_threads - 1;
    if (nw > 0 && !(p->threads = calloc((size_t)nw, sizeof(*p->threads)))) {
        pool_stop(p, 0);
        return seer_err_set(err, SEER_ERR_NOMEM, "thread pool: out of memory for %d threads", n_threads);
    }
    for (int i = 0; i < nw; i++) {
        int rc = pthread_create(&p->threads[i], NULL, pool_main, p);
        if (rc != 0) {
            pool_stop(p, i);
            return seer_err_set(err, rc == EAGAIN ? SEER_ERR_NOMEM : SEER_ERR_IO,
                                "thread pool: cannot start thread %d of %d: %s", i + 1, n_threads, strerror(rc));
        }
    }
    *out = p;
    return SEER_OK;
}

void seer_pool_free(seer_pool *p) {
    if (p) pool_stop(p, p->n - 1);
}

int seer_pool_size(const seer_pool *p) { return p ? p->n : 1; }

void seer_pool_run(seer_pool *p, seer_task_fn fn, void *ctx) {
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    SEER_ASSERT(atomic_exchange(&p->busy, 1) == 0); /* not reentrant */
    p->fn = fn;
    p->ctx = ctx;
    unsigned g = pool_publish(p);
    fn(ctx, 0, p->n);
    run_claims(p, g); /* indices no worker has started yet */
    pool_wait(p);
    atomic_store(&p->busy, 0);
}
