/* One metadata entry as a line of text for `seer info`: "llama.block_count = 5", strings
 * quoted and escaped, arrays summarised as "[string x 512] "<unk>", "<s>", "</s>", ...".
 * Works from the entry's raw encoding, which the reader has already validated. */
#include "seer/gguf.h"

#include <stdarg.h>
#include <string.h>

#define FORMAT_ARRAY_ITEMS 3 /* array items shown before "..." */
#define FORMAT_STR_MAX 200   /* bytes of a string value shown */
#define FORMAT_ITEM_STR_MAX 40

/* Appends to a fixed buffer, remembering whether anything was cut. */
typedef struct text {
    char *buf;
    size_t cap, len;
    int cut;
} text;

__attribute__((format(printf, 2, 3))) static void put(text *t, const char *fmt, ...) {
    if (t->cut) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->cap - t->len) {
        t->len = t->cap - 1;
        t->cut = 1;
    } else {
        t->len += (size_t)n;
    }
}

static uint64_t le(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_str(text *t, const uint8_t *s, uint64_t len, size_t max) {
    put(t, "\"");
    uint64_t shown = len < max ? len : max;
    for (uint64_t i = 0; i < shown && !t->cut; i++) {
        uint8_t ch = s[i];
        if (ch == '"' || ch == '\\') put(t, "\\%c", ch);
        else if (ch == '\n') put(t, "\\n");
        else if (ch == '\t') put(t, "\\t");
        else if (ch == '\r') put(t, "\\r");
        else if (ch < 0x20 || ch == 0x7f) put(t, "\\x%02x", ch);
        else put(t, "%c", ch);
    }
    if (shown < len) put(t, "...\" (%llu bytes)", (unsigned long long)len);
    else put(t, "\"");
}

/* A fixed-size value of type ty at p. */
static void put_scalar(text *t, seer_gguf_type ty, const uint8_t *p) {
    uint64_t v = le(p, seer_gguf_type_size(ty));
    switch (ty) {
    case SEER_GGUF_TYPE_UINT8:
    case SEER_GGUF_TYPE_UINT16:
    case SEER_GGUF_TYPE_UINT32:
    case SEER_GGUF_TYPE_UINT64: put(t, "%llu", (unsigned long long)v); break;
    case SEER_GGUF_TYPE_INT8: put(t, "%d", (int8_t)v); break;
    case SEER_GGUF_TYPE_INT16: put(t, "%d", (int16_t)v); break;
    case SEER_GGUF_TYPE_INT32: put(t, "%d", (int32_t)v); break;
    case SEER_GGUF_TYPE_INT64: put(t, "%lld", (long long)(int64_t)v); break;
    case SEER_GGUF_TYPE_FLOAT32: {
        uint32_t b = (uint32_t)v;
        float f;
        memcpy(&f, &b, 4);
        put(t, "%g", (double)f);
        break;
    }
    case SEER_GGUF_TYPE_FLOAT64: {
        double d;
        memcpy(&d, &v, 8);
        put(t, "%g", d);
        break;
    }
    case SEER_GGUF_TYPE_BOOL: put(t, "%s", v ? "true" : "false"); break;
    default: put(t, "?"); break;
    }
}

void seer_gguf_kv_format(const seer_gguf *g, int64_t i, char *buf, size_t cap) {
    if (cap == 0) return;
    text t = {buf, cap, 0, 0};
    buf[0] = 0;
    size_t raw_len;
    const uint8_t *raw = seer_gguf_kv_raw(g, i, &raw_len);
    if (!raw) return;
    seer_gguf_type ty = seer_gguf_kv_type(g, i);
    put(&t, "%s = ", seer_gguf_key(g, i));
    if (ty == SEER_GGUF_TYPE_STRING) {
        put_str(&t, raw + 8, le(raw, 8), FORMAT_STR_MAX);
    } else if (ty == SEER_GGUF_TYPE_ARRAY) {
        seer_gguf_type et = (seer_gguf_type)le(raw, 4);
        uint64_t n = le(raw + 4, 8);
        const uint8_t *p = raw + 12;
        put(&t, "[%s x %llu]", seer_gguf_type_name(et), (unsigned long long)n);
        for (uint64_t j = 0; j < n && j < FORMAT_ARRAY_ITEMS; j++) {
            put(&t, j ? ", " : " ");
            if (et == SEER_GGUF_TYPE_STRING) {
                uint64_t len = le(p, 8);
                put_str(&t, p + 8, len, FORMAT_ITEM_STR_MAX);
                p += 8 + len;
            } else {
                put_scalar(&t, et, p);
                p += seer_gguf_type_size(et);
            }
        }
        if (n > FORMAT_ARRAY_ITEMS) put(&t, ", ...");
    } else {
        put_scalar(&t, ty, raw);
    }
    if (t.cut && cap >= 4) memcpy(buf + cap - 4, "...", 4); /* show that the line was cut */
}
