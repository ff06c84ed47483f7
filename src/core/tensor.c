/* Tensor views: element counts and shape printing shared by every layer's messages. */
#include "seer/core.h"

int64_t seer_tensor_nelem(const seer_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->n_dims; i++) {
        if (t->shape[i] < 0 || __builtin_mul_overflow(n, t->shape[i], &n)) return -1;
    }
    return n;
}

char *seer_shape_str(const int64_t *shape, int n_dims, char *buf, size_t cap) {
    size_t k = 0;
    if (cap == 0) return buf;
    k += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < n_dims && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
    return buf;
}
