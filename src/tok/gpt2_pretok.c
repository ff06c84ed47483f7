/* GPT-2's pre-tokenizer, the pattern
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * matched by hand: at each position the first alternative that matches wins, as the regex
 * engine's leftmost-first alternation does. Bytes that are not well-formed UTF-8 count as one
 * "other" character each (neither \s, \p{L} nor \p{N}). */
#include "tok/tok_impl.h"

/* Class and byte length of the character at s[i]. */
static int class_at(const uint8_t *s, size_t len, size_t i, size_t *n) {
    uint32_t cp;
    int k = tok_utf8_decode(s + i, len - i, &cp);
    if (k == 0) {
        *n = 1;
        return TOK_UC_OTHER;
    }
    *n = (size_t)k;
    return tok_unicode_class(cp);
}

size_t tok_gpt2_pretok_next(const uint8_t *s, size_t len, size_t i) {
    if (i >= len) return len;
    if (s[i] == '\'' && i + 1 < len) {
        uint8_t a = s[i + 1];
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if (i + 2 < len) {
            uint8_t b = s[i + 2];
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
        }
    }
    size_t n;
    int cls = class_at(s, len, i, &n);
    size_t j = i;
    /* " ?X+": a single plain space may lead a run of letters, numbers or others. */
    if (s[i] == ' ' && i + 1 < len) {
        int next = class_at(s, len, i + 1, &n);
        if (next != TOK_UC_SPACE) {
            j = i + 1;
            cls = next;
        }
    }
    if (cls != TOK_UC_SPACE) {
        size_t e = j;
        while (e < len && class_at(s, len, e, &n) == cls) e += n;
        return e;
    }
    /* \s+(?!\S) takes the whole run at the end of the text, else all of it but the last
     * character (which then leads the next word); a lone space falls to \s+. */
    size_t e = i, last = i, count = 0;
    while (e < len && class_at(s, len, e, &n) == TOK_UC_SPACE) {
        last = e;
        e += n;
        count++;
    }
    return e == len || count == 1 ? e : last;
}
