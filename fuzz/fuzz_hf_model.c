/* Fuzzes loading a Hugging Face folder: the input is config.json, a NUL byte, then
 * model.safetensors. Both are written into a private folder under /dev/shm (the loader takes a
 * folder path), then the folder is loaded as a model, which maps names, permutes Llama q/k rows
 * and transposes GPT-2 Conv1D weights. */
#include "fuzz.h"

#include <fcntl.h>

static char fuzz_hf_dir[64];

static int fuzz_hf_put(const char *name, const uint8_t *data, size_t size) {
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", fuzz_hf_dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) break;
        done += (size_t)w;
    }
    close(fd);
    return done == size ? 0 : -1;
}

static void fuzz_hf_cleanup(void) {
    char path[128];
    if (!fuzz_hf_dir[0]) return;
    snprintf(path, sizeof(path), "%s/config.json", fuzz_hf_dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/model.safetensors", fuzz_hf_dir);
    unlink(path);
    rmdir(fuzz_hf_dir);
    fuzz_hf_dir[0] = 0;
}

static void fuzz_hf_model_one(const uint8_t *data, size_t size) {
    if (!fuzz_hf_dir[0]) {
        fuzz_private_dir(fuzz_hf_dir, sizeof(fuzz_hf_dir), "hf");
        atexit(fuzz_hf_cleanup);
    }
    const uint8_t *nul = memchr(data, 0, size);
    size_t clen = nul ? (size_t)(nul - data) : size;
    const uint8_t *st_bytes = nul ? nul + 1 : data + size;
    if (fuzz_hf_put("config.json", data, clen) != 0 ||
        fuzz_hf_put("model.safetensors", st_bytes, (size_t)(data + size - st_bytes)) != 0)
        abort();
    seer_model *m = NULL;
    seer_err err;
    seer_status st = seer_model_load(fuzz_hf_dir, NULL, &m, &err);
    if (st != SEER_OK) {
        FUZZ_CHECK_ERR(st, err);
        return;
    }
    for (int64_t i = 0; i < seer_model_n_tensors(m); i++) {
        const seer_tensor *t = seer_model_tensor(m, i);
        fuzz_touch(t->data, t->nbytes);
    }
    seer_model_free(m);
}

FUZZ_ENTRY(fuzz_hf_model_one)
