/* GPT-2 byte-level BPE: every case of golden/encode_cases.json from all four sources (OpenAI
 * encoder.json + vocab.bpe, Hugging Face vocab.json + merges.txt and tokenizer.json, both merge
 * spellings, and a GGUF "gpt2"), the pre-tokenizer's splits across scripts, BOS/EOS, decoding,
 * and one corrupt vocabulary / merges / tokenizer.json / GGUF per check, each with its message. */
#include <cJSON.h>

#include "seer/gguf.h"
#include "seer/tok.h"
#include "test.h"
#include "tok/tok_impl.h"

#define GPT2 "models/gpt2-tokenizer"

typedef struct gcase {
    char *text;
    int32_t *ids;
    size_t n;
} gcase;

static gcase *g_cases;
static size_t g_n_cases;

static int load_cases(void) {
    char *js;
    size_t len;
    seer_err err;
    if (seer_read_file(test_data(GPT2 "/golden/encode_cases.json"), &js, &len, &err) != SEER_OK) return 0;
    cJSON *root = cJSON_ParseWithLength(js, len);
    free(js);
    CHECK(cJSON_IsArray(root));
    if (!root) return 0;
    g_n_cases = (size_t)cJSON_GetArraySize(root);
    g_cases = calloc(g_n_cases, sizeof(*g_cases));
    size_t k = 0;
    for (const cJSON *c = root->child; c; c = c->next, k++) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(c, "text");
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(c, "ids");
        CHECK(cJSON_IsString(text) && cJSON_IsArray(ids));
        g_cases[k].text = strdup(text->valuestring);
        g_cases[k].n = (size_t)cJSON_GetArraySize(ids);
        g_cases[k].ids = malloc((g_cases[k].n + 1) * sizeof(int32_t));
        size_t i = 0;
        for (const cJSON *x = ids->child; x; x = x->next) g_cases[k].ids[i++] = (int32_t)x->valueint;
    }
    cJSON_Delete(root);
    return 1;
}

/* Every golden case, printing each failing one; decoding gives the text back. */
static void check_cases(const seer_tok *t, const char *what) {
    CHECK_MSG(seer_tok_get_kind(t) == SEER_TOK_GPT2 && seer_tok_n_vocab(t) == 50257, "%s: kind/vocab", what);
    CHECK_MSG(seer_tok_bos(t) == 50256 && seer_tok_eos(t) == 50256, "%s: bos %d eos %d", what, seer_tok_bos(t),
              seer_tok_eos(t));
    for (size_t k = 0; k < g_n_cases; k++) {
        const gcase *c = &g_cases[k];
        int32_t *ids;
        size_t n;
        seer_err err;
        CHECK_OK(seer_tok_encode(t, c->text, strlen(c->text), 0, &ids, &n, &err), &err);
        size_t i = 0;
        while (i < n && i < c->n && ids[i] == c->ids[i]) i++;
        CHECK_MSG(i == n && n == c->n, "%s: case %zu \"%.50s\": %zu ids, want %zu; first difference at %zu (%d vs %d)",
                  what, k, c->text, n, c->n, i, i < n ? (int)ids[i] : -1, i < c->n ? (int)c->ids[i] : -1);
        char *back;
        CHECK_OK(seer_tok_decode(t, ids, n, &back, &err), &err);
        CHECK_MSG(strcmp(back, c->text) == 0, "%s: case %zu does not decode back", what, k);
        free(back);
        free(ids);
    }
}

static void load_and_check(const char *path, const char *what) {
    seer_tok *t;
    seer_err err;
    CHECK_OK(seer_tok_load(path, &t, &err), &err);
    if (!t) return;
    check_cases(t, what);
    seer_tok_free(t);
}

static int copy_file(const char *from, const char *to) {
    char *s;
    size_t n;
    seer_err err;
    if (seer_read_file(from, &s, &n, &err) != SEER_OK) return 0;
    seer_status st = seer_write_file_atomic(to, s, n, &err);
    free(s);
    return st == SEER_OK;
}

/* The merge lines of vocab.bpe (after the #version line), as pointers into text. */
static size_t merge_lines(char *text, char ***out) {
    size_t cap = 64 * 1024, n = 0;
    char **lines = malloc(cap * sizeof(*lines));
    char *p = strchr(text, '\n');
    p = p ? p + 1 : text + strlen(text);
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        if (*p) lines[n++] = p;
        if (!nl) break;
        p = nl + 1;
    }
    *out = lines;
    return n;
}

/* tokenizer.json with t's vocabulary and the merges, as "a b" strings or [a, b] pairs. */
static char *make_tokenizer_json(const seer_tok *t, char **lines, size_t n_lines, int as_pairs) {
    cJSON *root = cJSON_CreateObject();
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    cJSON *eot = cJSON_CreateObject();
    cJSON_AddNumberToObject(eot, "id", 50256);
    cJSON_AddStringToObject(eot, "content", "<|endoftext|>");
    cJSON_AddTrueToObject(eot, "special");
    cJSON_AddItemToArray(added, eot);
    cJSON_AddNullToObject(root, "normalizer");
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "ByteLevel");
    cJSON_AddFalseToObject(pre, "add_prefix_space");
    cJSON_AddTrueToObject(pre, "use_regex");
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    for (int32_t id = 0; id < seer_tok_n_vocab(t); id++) {
        size_t len;
        const char *p = seer_tok_piece(t, id, &len);
        cJSON_AddNumberToObject(vocab, p, id);
    }
    cJSON *merges = cJSON_AddArrayToObject(model, "merges");
    for (size_t i = 0; i < n_lines; i++) {
        if (!as_pairs) {
            cJSON_AddItemToArray(merges, cJSON_CreateString(lines[i]));
            continue;
        }
        char *sp = strchr(lines[i], ' ');
        *sp = 0;
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(lines[i]));
        cJSON_AddItemToArray(pair, cJSON_CreateString(sp + 1));
        cJSON_AddItemToArray(merges, pair);
        *sp = ' ';
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* A GGUF "gpt2" tokenizer with t's pieces and the merges. */
static void *make_gguf(const seer_tok *t, char **lines, size_t n_lines, const char *pre, int with_merges,
                       size_t *size) {
    int32_t n = seer_tok_n_vocab(t);
    const char **strs = malloc((size_t)n * sizeof(*strs));
    uint64_t *lens = malloc((size_t)n * sizeof(*lens));
    int32_t *types = malloc((size_t)n * sizeof(*types));
    for (int32_t i = 0; i < n; i++) {
        size_t len;
        strs[i] = seer_tok_piece(t, i, &len);
        lens[i] = len;
        types[i] = (int32_t)seer_tok_get_type(t, i);
    }
    seer_gguf_writer *w = seer_gguf_writer_init();
    seer_gguf_writer_set_str(w, "general.architecture", "gpt2");
    seer_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    if (pre) seer_gguf_writer_set_str(w, "tokenizer.ggml.pre", pre);
    seer_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", strs, lens, (uint64_t)n);
    seer_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", SEER_GGUF_TYPE_INT32, types, (uint64_t)n);
    if (with_merges)
        seer_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)lines, NULL, (uint64_t)n_lines);
    seer_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 50256);
    seer_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 50256);
    void *buf = NULL;
    seer_err err;
    CHECK_OK(seer_gguf_writer_write_buffer(w, &buf, size, &err), &err);
    seer_gguf_writer_free(w);
    free(strs);
    free(lens);
    free(types);
    return buf;
}

static void test_sources(const seer_tok *openai) {
    seer_err err;
    seer_tok *t;
    load_and_check(test_data(GPT2), "gpt2-tokenizer folder (encoder.json + vocab.bpe)");

    /* Hugging Face names: vocab.json + merges.txt, by folder and by file */
    const char *hf_dir = test_tmp("gpt2-hf");
    mkdir(hf_dir, 0755);
    char *vj = seer_path_join(hf_dir, "vocab.json"), *mt = seer_path_join(hf_dir, "merges.txt");
    CHECK(copy_file(test_data(GPT2 "/encoder.json"), vj) && copy_file(test_data(GPT2 "/vocab.bpe"), mt));
    load_and_check(hf_dir, "vocab.json + merges.txt folder");
    load_and_check(vj, "vocab.json");
    free(vj);
    free(mt);

    char *bpe;
    size_t bpe_len;
    if (seer_read_file(test_data(GPT2 "/vocab.bpe"), &bpe, &bpe_len, &err) != SEER_OK) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
    char **lines;
    size_t n_lines = merge_lines(bpe, &lines);
    CHECK(n_lines == 50000);

    /* tokenizer.json: "a b" merges through a file and the folder, [a, b] pairs from memory */
    const char *tj_dir = test_tmp("gpt2-tokjson");
    mkdir(tj_dir, 0755);
    char *tj_path = seer_path_join(tj_dir, "tokenizer.json");
    char *js = make_tokenizer_json(openai, lines, n_lines, 0);
    CHECK_OK(seer_write_file_atomic(tj_path, js, strlen(js), &err), &err);
    load_and_check(tj_path, "tokenizer.json (string merges)");
    load_and_check(tj_dir, "tokenizer.json folder");
    free(js);
    free(tj_path);
    js = make_tokenizer_json(openai, lines, n_lines, 1);
    CHECK_OK(seer_tok_load_hf_buffer(js, strlen(js), &t, &err), &err);
    if (t) {
        check_cases(t, "tokenizer.json (pair merges)");
        CHECK(seer_tok_get_type(t, 50256) == SEER_TOK_TYPE_CONTROL);
        seer_tok_free(t);
    }
    free(js);

    /* GGUF "gpt2", written to a file and loaded by path */
    size_t size;
    void *buf = make_gguf(openai, lines, n_lines, "gpt-2", 1, &size);
    const char *gguf_path = test_tmp("gpt2-tok.gguf");
    if (buf) {
        CHECK_OK(seer_write_file_atomic(gguf_path, buf, size, &err), &err);
        load_and_check(gguf_path, "gpt2 gguf");
        free(buf);
    }
    /* GGUF refusals: no merges, a pre-tokenizer other than GPT-2's */
    for (int k = 0; k < 2; k++) {
        buf = make_gguf(openai, lines, n_lines, k ? "llama-bpe" : NULL, k, &size);
        seer_gguf *g = NULL;
        if (buf) CHECK_OK(seer_gguf_open_buffer(buf, size, &g, &err), &err);
        if (g) {
            CHECK_FAILS(seer_tok_from_gguf(g, &t, &err), &err,
                        k ? "pre-tokenizer 'llama-bpe' is not supported" : "tokenizer.ggml.merges");
            seer_gguf_free(g);
        }
        free(buf);
    }
    free(lines);
    free(bpe);
}

/* Splits of the pre-tokenizer; each case lists its pieces, the text is their concatenation. */
static void test_pretok(void) {
    static const char *const cases[][12] = {
        {"Hello", " world", "!"},
        {"don", "'t", " we", "'ll", "'ve"},
        {"I", "'", "LL", " it", "'", "S"}, /* contractions are lower case only */
        {"a", " ", " b"},
        {"a", " \n", " b"},
        {"x", "   "},
        {"\t", "\t", "x"},
        {"3", ".", "14", " 123", "abc"},
        {"?!?", " ok", " ...", " \"", "q"},
        {"\xce\x9a\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1", " \xce\xba\xcf\x8c\xcf\x83\xce\xbc\xce\xb5"},
        {"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", ",", " \xd0\xbc\xd0\xb8\xd1\x80"},
        {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88",
         "\xe3\x80\x82"}, /* 日本語のテキスト then 。 */
        {"\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7", " \xd8\xa8\xd8\xa7\xd9\x84\xd8\xb9\xd8\xa7\xd9\x84\xd9\x85",
         " \xd9\xa1\xd9\xa2\xd9\xa3"}, /* Arabic words, Arabic-Indic digits */
        {"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", " \xd7\xa2\xd7\x95\xd7\x9c\xd7\x9d"},
        /* नमस्ते दुनिया: virama and vowel signs are marks, not letters */
        {"\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8", "\xe0\xa5\x8d", "\xe0\xa4\xa4", "\xe0\xa5\x87", " \xe0\xa4\xa6",
         "\xe0\xa5\x81", "\xe0\xa4\xa8", "\xe0\xa4\xbf", "\xe0\xa4\xaf", "\xe0\xa4\xbe"},
        {"\xef\xbc\x91\xef\xbc\x92\xe2\x85\xab\xc2\xbd", "x"}, /* fullwidth digits, Ⅻ, ½ are numbers */
        {"a", "\xc2\xa0", "b", "\xe3\x80\x80", "c"},           /* NBSP, ideographic space */
        {"\xf0\x9f\xa4\x96\xf0\x9f\x8e\x89", " \xf0\x9f\x99\x82"},
        {"a", "\xff\xfe", "b", "\xc3(", " \x80"}, /* invalid bytes are "other" */
        {"e", "\xcc\x81", "t\xc3\xa9"},            /* combining acute vs precomposed */
        {"<|", "endoftext", "|>", " is"},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char text[256];
        size_t len = 0, n_pieces = 0;
        for (; n_pieces < 12 && cases[c][n_pieces]; n_pieces++) {
            size_t l = strlen(cases[c][n_pieces]);
            memcpy(text + len, cases[c][n_pieces], l);
            len += l;
        }
        size_t i = 0, k = 0;
        int ok = 1;
        while (i < len && ok) {
            size_t e = tok_gpt2_pretok_next((const uint8_t *)text, len, i);
            ok = k < n_pieces && e - i == strlen(cases[c][k]);
            if (!ok)
                fprintf(stderr, "pretok case %zu: piece %zu is '%.*s', want '%s'\n", c, k, (int)(e - i), text + i,
                        k < n_pieces ? cases[c][k] : "(none)");
            i = e;
            k++;
        }
        CHECK_MSG(ok && k == n_pieces, "pre-tokenizer case %zu", c);
    }
    /* a NUL is an ordinary "other" character */
    CHECK(tok_gpt2_pretok_next((const uint8_t *)"a\0b", 3, 0) == 1);
    CHECK(tok_gpt2_pretok_next((const uint8_t *)"a\0b", 3, 1) == 2);
}

static void test_basics(const seer_tok *t) {
    seer_err err;
    int32_t *ids;
    size_t n;
    char *s;
    CHECK(seer_tok_find_piece(t, "<|endoftext|>", 13) == 50256);
    CHECK(seer_tok_get_type(t, 50256) == SEER_TOK_TYPE_CONTROL && seer_tok_get_add_bos(t) == 0);
    CHECK(seer_tok_find_piece(t, "\xc4\xa0the", 5) == 262); /* "Ġthe" */
    CHECK_OK(seer_tok_encode(t, "Hello", 5, 1, &ids, &n, &err), &err);
    CHECK(n == 2 && ids[0] == 50256 && ids[1] == 15496);
    CHECK_OK(seer_tok_decode(t, ids, n, &s, &err), &err);
    CHECK(strcmp(s, "Hello") == 0); /* control tokens decode to nothing */
    free(s);
    free(ids);
    char buf[16];
    CHECK(seer_tok_decode_piece(t, -1, 262, buf, sizeof(buf)) == 4 && memcmp(buf, " the", 4) == 0);
    CHECK(seer_tok_decode_piece(t, -1, 198, buf, sizeof(buf)) == 1 && buf[0] == '\n');
    CHECK(seer_tok_decode_piece(t, 50256, 262, buf, sizeof(buf)) == 4); /* no SPM-style stripping */
    CHECK(seer_tok_decode_piece(t, -1, 50257, buf, sizeof(buf)) == 0);
    /* invalid UTF-8 and NULs go through the byte alphabet and back exactly */
    static const char odd[] = "a\0b\xff\xc3( \xe2\x82\x80\x80\x80\x80\x80z\xf0\x9f";
    CHECK_OK(seer_tok_encode(t, odd, sizeof(odd) - 1, 0, &ids, &n, &err), &err);
    CHECK_OK(seer_tok_decode(t, ids, n, &s, &err), &err);
    CHECK(memcmp(s, odd, sizeof(odd) - 1) == 0);
    free(s);
    free(ids);
}

/* A small byte-level vocabulary: the 256 byte characters, then extras, as JSON. */
static char *byte_vocab_json(const char *const *extra, size_t n_extra, int skip_byte) {
    cJSON *v = cJSON_CreateObject();
    int id = 0;
    for (int b = 0; b < 256; b++) {
        if (b == skip_byte) continue;
        char u[5] = {0};
        tok_utf8_encode(tok_gpt2_byte_to_cp((uint8_t)b), u);
        cJSON_AddNumberToObject(v, u, id++);
    }
    for (size_t i = 0; i < n_extra; i++) cJSON_AddNumberToObject(v, extra[i], id++);
    char *s = cJSON_PrintUnformatted(v);
    cJSON_Delete(v);
    return s;
}

static void test_corrupt(void) {
    seer_err err;
    seer_tok *t;
    static const char *const ab[] = {"ab"};
    char *good = byte_vocab_json(ab, 1, -1);
    char *no_nul = byte_vocab_json(ab, 1, 0);
    const char *m_ok = "#version: 0.2\na b\n";
    /* the small vocabulary works, and merges */
    CHECK_OK(seer_tok_load_gpt2_buffers(good, strlen(good), m_ok, strlen(m_ok), &t, &err), &err);
    if (t) {
        int32_t *ids;
        size_t n;
        CHECK_OK(seer_tok_encode(t, "abab", 4, 0, &ids, &n, &err), &err);
        CHECK(n == 2 && ids[0] == 256 && ids[1] == 256);
        CHECK(seer_tok_bos(t) == -1); /* no <|endoftext|> here */
        free(ids);
        seer_tok_free(t);
    }
    struct {
        const char *vocab, *merges, *needle;
    } cases[] = {
        {"{\"a\": 0,", m_ok, "vocabulary json: malformed JSON near byte"},
        {"[1, 2]", m_ok, "vocabulary json: vocabulary is not a JSON object"},
        {"{}", m_ok, "vocabulary json: vocabulary is empty"},
        {"{\"a\": \"x\"}", m_ok, "piece 'a' has an id that is not a number"},
        {"{\"a\": -1}", m_ok, "piece 'a' has id -1, expected an integer in 0..16777215"},
        {"{\"a\": 1.5}", m_ok, "piece 'a' has id 1.5, expected"},
        {"{\"a\": 99999999999}", m_ok, "piece 'a' has id 1e+11, expected"},
        {"{\"a\": 0, \"b\": 2}", m_ok, "ids are not contiguous: no token has id 1 (largest id 2)"},
        {"{\"a\": 0, \"b\": 0}", m_ok, "id 0 is given to both 'a' and 'b'"},
        {no_nul, m_ok, "has no token for byte 0x00"},
        {good, "#version: 0.2\na zz\n", "merges line 2: merge names piece 'zz', which is not in the vocabulary"},
        {good, "a b\nabc\n", "merges line 2: expected two pieces separated by one space, got 'abc'"},
        {good, "a  b\n", "merges line 1: expected two pieces"},
        {good, "a b\nb a\n", "merges line 2: merge 'b' + 'a' gives a piece that is not in the vocabulary"},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
        CHECK_FAILS(seer_tok_load_gpt2_buffers(cases[c].vocab, strlen(cases[c].vocab), cases[c].merges,
                                               strlen(cases[c].merges), &t, &err),
                    &err, cases[c].needle);

    /* tokenizer.json refusals */
    char tj[16384];
    struct {
        const char *model, *pre, *added, *needle;
    } hf[] = {
        {NULL, "{\"type\":\"ByteLevel\"}", "[]", "tokenizer.json: no \"model\" object"},
        {"{\"type\":\"Unigram\",\"vocab\":[]}", "{\"type\":\"ByteLevel\"}", "[]", "model type 'Unigram' is not supported"},
        {"{\"type\":\"BPE\",\"byte_fallback\":true,\"vocab\":%s,\"merges\":[]}", "{\"type\":\"Metaspace\"}", "[]",
         "byte_fallback"},
        {"{\"type\":\"BPE\",\"vocab\":%s,\"merges\":[]}", "{\"type\":\"Metaspace\"}", "[]",
         "pre_tokenizer 'Metaspace' is not supported"},
        {"{\"type\":\"BPE\",\"vocab\":%s,\"merges\":[]}", "null", "[]", "pre_tokenizer 'none' is not supported"},
        {"{\"type\":\"BPE\",\"vocab\":%s,\"merges\":[]}", "{\"type\":\"ByteLevel\",\"add_prefix_space\":true}", "[]",
         "add_prefix_space is not supported"},
        {"{\"type\":\"BPE\",\"vocab\":%s}", "{\"type\":\"ByteLevel\"}", "[]", "\"model.merges\" is missing"},
        {"{\"type\":\"BPE\",\"vocab\":%s,\"merges\":[7]}", "{\"type\":\"ByteLevel\"}", "[]",
         "tokenizer.json: merge 0: expected \"a b\" or [\"a\", \"b\"]"},
        {"{\"type\":\"BPE\",\"vocab\":%s,\"merges\":[[\"a\",\"q q\"]]}", "{\"type\":\"ByteLevel\"}", "[]",
         "tokenizer.json: merge 0: merge names piece 'q q'"},
        {"{\"type\":\"BPE\",\"vocab\":%s,\"merges\":[]}", "{\"type\":\"ByteLevel\"}",
         "[{\"id\":256,\"content\":\"<x>\",\"special\":true}]", "added token '<x>' has id 256, which belongs to 'ab'"},
        {"{\"type\":\"BPE\",\"vocab\":%s,\"merges\":[]}", "{\"type\":\"ByteLevel\"}", "[{\"id\":\"7\"}]",
         "added token without a valid \"id\" and \"content\""},
    };
    for (size_t c = 0; c < sizeof(hf) / sizeof(hf[0]); c++) {
        char model[8192];
        if (hf[c].model) snprintf(model, sizeof(model), hf[c].model, good);
        snprintf(tj, sizeof(tj), "{\"added_tokens\":%s,\"pre_tokenizer\":%s%s%s}", hf[c].added, hf[c].pre,
                 hf[c].model ? ",\"model\":" : "", hf[c].model ? model : "");
        CHECK_FAILS(seer_tok_load_hf_buffer(tj, strlen(tj), &t, &err), &err, hf[c].needle);
    }
    CHECK_FAILS(seer_tok_load_hf_buffer("{\"model\": {", 11, &t, &err), &err, "tokenizer.json: malformed JSON");

    /* an added token extends the vocabulary and decodes as written */
    snprintf(tj, sizeof(tj),
             "{\"added_tokens\":[{\"id\":257,\"content\":\"<|x|>\",\"special\":false}],\"pre_tokenizer\":{\"type\":"
             "\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":%s,\"merges\":[\"a b\"]}}",
             good);
    CHECK_OK(seer_tok_load_hf_buffer(tj, strlen(tj), &t, &err), &err);
    if (t) {
        char buf[16];
        CHECK(seer_tok_n_vocab(t) == 258 && seer_tok_get_type(t, 257) == SEER_TOK_TYPE_USER_DEFINED);
        CHECK(seer_tok_decode_piece(t, -1, 257, buf, sizeof(buf)) == 5 && memcmp(buf, "<|x|>", 5) == 0);
        seer_tok_free(t);
    }

    /* an encoder.json without merges beside it */
    const char *dir = test_tmp("gpt2-lonely");
    mkdir(dir, 0755);
    char *p = seer_path_join(dir, "encoder.json");
    CHECK_OK(seer_write_file_atomic(p, good, strlen(good), &err), &err);
    CHECK_FAILS(seer_tok_load(p, &t, &err), &err, "needs its merges beside it");
    free(p);
    free(good);
    free(no_nul);
}

int main(void) {
    if (!load_cases()) {
        fprintf(stderr, "skipped: no %s\n", test_data(GPT2));
        return 77;
    }
    seer_tok *t;
    seer_err err;
    CHECK_OK(seer_tok_load(test_data(GPT2 "/encoder.json"), &t, &err), &err);
    if (t) {
        check_cases(t, "encoder.json + vocab.bpe");
        test_basics(t);
        test_sources(t);
        seer_tok_free(t);
    }
    test_pretok();
    test_corrupt();
    for (size_t k = 0; k < g_n_cases; k++) {
        free(g_cases[k].text);
        free(g_cases[k].ids);
    }
    free(g_cases);
    return test_done("test_tok_gpt2");
}
