/* Files: read-only mappings for model weights (used in place), whole-file reads for small
 * texts, and atomic writes (temp file + rename) so a killed job never leaves half a file. */
#include "seer/core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

seer_status seer_map_open(const char *path, seer_map *out, seer_err *err) {
    memset(out, 0, sizeof(*out));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return seer_err_set(err, SEER_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        (void)close(fd); /* read-only: a failing close loses nothing */
        return seer_err_set(err, SEER_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        (void)close(fd);
        return seer_err_set(err, SEER_ERR_IO, "%s: is a directory, expected a file", path);
    }
    if (st.st_size == 0) {
        (void)close(fd);
        out->data = (const uint8_t *)"";
        return SEER_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    (void)close(fd); /* the mapping keeps its own reference to the file */
    if (p == MAP_FAILED) return seer_err_set(err, SEER_ERR_IO, "%s: cannot map: %s", path, strerror(e));
    out->data = p;
    out->size = (size_t)st.st_size;
    out->mapped = 1;
    return SEER_OK;
}

void seer_map_close(seer_map *m) {
    /* munmap fails only for a range that is not a mapping, which would be a bug here */
    if (m->mapped) (void)munmap((void *)m->data, m->size);
    memset(m, 0, sizeof(*m));
}

seer_status seer_read_file(const char *path, char **out, size_t *len, seer_err *err) {
    *out = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return seer_err_set(err, SEER_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || S_ISDIR(st.st_mode)) {
        (void)fclose(f); /* opened for reading: nothing to flush */
        return seer_err_set(err, SEER_ERR_IO, "%s: not a readable file", path);
    }
    size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        (void)fclose(f);
        return seer_err_set(err, SEER_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, cap);
    }
    for (;;) {
        if (n + 1 >= cap) { /* file grew, or a pipe: double */
            if (cap > SIZE_MAX / 2) break;
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                (void)fclose(f);
                return seer_err_set(err, SEER_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    (void)fclose(f);
    if (bad) {
        free(buf);
        return seer_err_set(err, SEER_ERR_IO, "%s: read error", path);
    }
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return SEER_OK;
}

seer_status seer_awriter_open(seer_awriter *w, const char *path, seer_err *err) {
    memset(w, 0, sizeof(*w));
    size_t n = strlen(path) + 32;
    w->path = strdup(path);
    w->tmp = malloc(n);
    if (!w->path || !w->tmp) {
        free(w->path);
        free(w->tmp);
        w->path = w->tmp = NULL;
        return seer_err_set(err, SEER_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(w->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        seer_err_set(err, SEER_ERR_IO, "%s: cannot create: %s", w->tmp, strerror(errno));
        free(w->path);
        free(w->tmp);
        w->path = w->tmp = NULL; /* so a later seer_awriter_abort frees nothing twice */
        return SEER_ERR_IO;
    }
    return SEER_OK;
}

void seer_awriter_write(seer_awriter *w, const void *data, size_t len) {
    if (w->failed || len == 0) return;
    if (fwrite(data, 1, len, w->f) != len) w->failed = 1;
    w->written += len;
}

void seer_awriter_pad(seer_awriter *w, size_t alignment) {
    static const uint8_t zeros[64];
    if (alignment == 0) return;
    size_t pad = (size_t)((alignment - w->written % alignment) % alignment);
    while (pad > 0) {
        size_t k = pad < sizeof(zeros) ? pad : sizeof(zeros);
        seer_awriter_write(w, zeros, k);
        pad -= k;
    }
}

seer_status seer_awriter_commit(seer_awriter *w, seer_err *err) {
    int bad = w->failed;
    if (fclose(w->f) != 0) bad = 1;
    w->f = NULL;
    seer_status st = SEER_OK;
    if (bad) {
        st = seer_err_set(err, SEER_ERR_IO, "%s: write failed: %s", w->tmp, strerror(errno));
        unlink(w->tmp);
    } else if (rename(w->tmp, w->path) != 0) {
        st = seer_err_set(err, SEER_ERR_IO, "%s: cannot rename into place: %s", w->path, strerror(errno));
        unlink(w->tmp);
    }
    free(w->path);
    free(w->tmp);
    w->path = w->tmp = NULL;
    return st;
}

void seer_awriter_abort(seer_awriter *w) {
    if (w->f) (void)fclose(w->f); /* the temp file is being thrown away */
    if (w->tmp) unlink(w->tmp);
    free(w->path);
    free(w->tmp);
    memset(w, 0, sizeof(*w));
}

seer_status seer_write_file_atomic(const char *path, const void *data, size_t len, seer_err *err) {
    seer_awriter w;
    seer_status st = seer_awriter_open(&w, path, err);
    if (st) return st;
    seer_awriter_write(&w, data, len);
    return seer_awriter_commit(&w, err);
}

int seer_path_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int seer_path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

char *seer_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (!s) return NULL;
    snprintf(s, a + b + 2, "%s%s%s", dir, a > 0 && dir[a - 1] != '/' ? "/" : "", name);
    return s;
}
