/* Shared by the libFuzzer harnesses (fuzz/fuzz_<name>.c) and by tests/test_fuzz_regress.c, which
 * includes every harness with SEER_FUZZ_REPLAY defined and replays kept inputs through the same
 * fuzz_<name>_one() entry points, so a fixed crash stays fixed under `make test`. */
#ifndef SEER_FUZZ_H
#define SEER_FUZZ_H

#include <dirent.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "seer/gguf.h"
#include "seer/model.h"
#include "seer/tok.h"

/* A property every input must keep. Aborting is what libFuzzer (and the replay test, which then
 * fails) records as a finding; library code itself never aborts on input. */
#define FUZZ_CHECK(cond)                                                                        \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, #cond);    \
            abort();                                                                            \
        }                                                                                       \
    } while (0)

/* Every failure must come with a message (the user is told what is wrong). */
#define FUZZ_CHECK_ERR(st, err) FUZZ_CHECK((st) != SEER_OK && (err).code == (st) && (err).msg[0] != 0)

#ifdef SEER_FUZZ_REPLAY
#define FUZZ_ENTRY(fn)
#else
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#define FUZZ_ENTRY(fn)                                                                          \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {                              \
        fn(data, size);                                                                         \
        return 0;                                                                               \
    }
#endif

/* Makes a private folder for a harness's files, in RAM (/dev/shm) when it can; aborts when no
 * folder can be made, since the harness cannot run at all then. */
static inline void fuzz_private_dir(char *dir, size_t cap, const char *name) {
    snprintf(dir, cap, "/dev/shm/seer-fuzz-%s-XXXXXX", name);
    if (mkdtemp(dir)) return;
    snprintf(dir, cap, "/tmp/seer-fuzz-%s-XXXXXX", name);
    if (!mkdtemp(dir)) abort();
}

/* Removes a harness's private folder and everything in it (at exit). */
static inline void fuzz_rm_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[1024];
        int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof(path)) continue; /* never: the harnesses' names are short */
        if (unlink(path) != 0) fuzz_rm_tree(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Loaders that take a path get the input through an in-memory file (memfd) named
 * /proc/self/fd/N, so no disk is touched per run. Returns the fd (close it after), or -1. */
static inline int fuzz_memfile(const uint8_t *data, size_t size, char *path, size_t cap) {
    int fd = memfd_create("seer-fuzz", MFD_CLOEXEC);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

/* Reads byte 0 and byte n-1 of a view so ASan sees any view that reaches outside its buffer. */
static inline unsigned fuzz_touch(const void *p, size_t n) {
    if (!p || n == 0) return 0;
    const volatile uint8_t *b = p;
    return (unsigned)b[0] + (unsigned)b[n - 1];
}

/* Runs a loaded tokenizer over texts and over every id: whatever a file said, encoding gives ids
 * inside the vocabulary, and decoding any id (in range or not) stays within its buffers. */
static inline void fuzz_exercise_tok(const seer_tok *t) {
    static const char *const texts[] = {
        "", " ", "Once upon a time, there was a little dog.", "  two  spaces\tand\ttabs\n\nnewlines",
        "h\xC3\xA9llo w\xC3\xB6rld \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x99\x82", "bad \xFF\xFE utf8 \xC3",
        "<s></s><unk><|endoftext|>", "don't we'll I'm 12345 ...!!",
    };
    int32_t n_vocab = seer_tok_n_vocab(t);
    FUZZ_CHECK(n_vocab > 0);
    FUZZ_CHECK(seer_tok_bos(t) >= -1 && seer_tok_bos(t) < n_vocab);
    FUZZ_CHECK(seer_tok_eos(t) >= -1 && seer_tok_eos(t) < n_vocab);
    seer_err err;
    for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
        int32_t *ids = NULL;
        size_t n = 0;
        seer_status st = seer_tok_encode(t, texts[k], strlen(texts[k]), (int)(k & 1), &ids, &n, &err);
        if (st != SEER_OK) {
            FUZZ_CHECK_ERR(st, err);
            continue;
        }
        for (size_t i = 0; i < n; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < n_vocab);
        char *text = NULL;
        if (seer_tok_decode(t, ids, n, &text, &err) == SEER_OK) free(text);
        free(ids);
    }
    /* Every id (a large vocabulary only in part), plus ids outside it. */
    int32_t lim = n_vocab < 4096 ? n_vocab : 4096;
    seer_tok_stream s;
    seer_tok_stream_init(&s, t);
    char buf[80], small[3];
    for (int32_t id = -2; id < lim + 2; id++) {
        size_t len = 0;
        const char *p = seer_tok_piece(t, id, &len);
        if (p) {
            fuzz_touch(p, len);
            int32_t f = seer_tok_find_piece(t, p, len);
            FUZZ_CHECK(f >= 0 && f < n_vocab); /* some id has this piece (the first one wins) */
        }
        (void)seer_tok_score(t, id);
        FUZZ_CHECK((unsigned)seer_tok_get_type(t, id) < SEER_TOK_TYPE_COUNT);
        size_t full = seer_tok_decode_piece(t, seer_tok_bos(t), id, buf, sizeof(buf));
        size_t part = seer_tok_decode_piece(t, -1, id, small, sizeof(small));
        (void)full;
        (void)part;
        size_t out = seer_tok_stream_push(&s, id, buf, sizeof(buf));
        FUZZ_CHECK(out <= sizeof(buf));
    }
    FUZZ_CHECK(seer_tok_stream_flush(&s, buf, sizeof(buf)) <= sizeof(buf));
}

/* A tokenizer written out as GGUF metadata (as `seer convert` does) reads back as the same
 * tokenizer: same size, specials and ids for every text. */
static inline void fuzz_tok_export_roundtrip(const seer_tok *t) {
    static const char *const texts[] = {"Once upon a time, there was a little dog.", " a  b\t\nc",
                                        "h\xC3\xA9llo \xE6\x97\xA5\xF0\x9F\x99\x82 \xFF"};
    seer_gguf_writer *w = seer_gguf_writer_init();
    if (!w) return;
    seer_err err;
    void *buf = NULL;
    size_t size = 0;
    seer_status st = seer_tok_write_gguf(t, w, &err);
    if (st == SEER_OK) st = seer_gguf_writer_write_buffer(w, &buf, &size, &err);
    seer_gguf_writer_free(w);
    if (st != SEER_OK) {
        FUZZ_CHECK_ERR(st, err);
        return;
    }
    seer_gguf *g = NULL;
    seer_tok *u = NULL;
    FUZZ_CHECK(seer_gguf_open_buffer(buf, size, &g, &err) == SEER_OK);
    st = seer_tok_from_gguf(g, &u, &err);
    if (st != SEER_OK) fprintf(stderr, "exported tokenizer does not read back: %s\n", err.msg);
    FUZZ_CHECK(st == SEER_OK);
    FUZZ_CHECK(seer_tok_n_vocab(u) == seer_tok_n_vocab(t) && seer_tok_get_kind(u) == seer_tok_get_kind(t));
    FUZZ_CHECK(seer_tok_bos(u) == seer_tok_bos(t) && seer_tok_eos(u) == seer_tok_eos(t));
    for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
        int32_t *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        seer_status sa = seer_tok_encode(t, texts[k], strlen(texts[k]), 1, &a, &na, &err);
        seer_status sb = seer_tok_encode(u, texts[k], strlen(texts[k]), 1, &b, &nb, &err);
        FUZZ_CHECK(sa == sb);
        FUZZ_CHECK(sa != SEER_OK || (na == nb && memcmp(a, b, na * sizeof(*a)) == 0));
        free(a);
        free(b);
    }
    seer_tok_free(u);
    seer_gguf_free(g);
    free(buf);
}

#endif
