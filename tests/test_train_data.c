/* Training data and checkpoints: corpus encoding and splits, the batch sampler's determinism and
 * exact save/restore, JSONL prompt/completion masks and batches, checkpoint round trips, bad
 * inputs with their messages, and a toy training run that resumes from a checkpoint with the
 * same loss curve bit for bit. */
#include "seer/checkpoint.h"
#include "seer/optim.h"
#include "seer/safetensors.h"
#include "seer/train_data.h"
#include "test.h"

#include <unistd.h>

static seer_tok *load_tok(void) {
    seer_err err = {0};
    seer_tok *t = NULL;
    if (seer_tok_load(test_data("models/stories260K/tok512.bin"), &t, &err) != SEER_OK) {
        fprintf(stderr, "skip: %s\n", err.msg);
        return NULL;
    }
    return t;
}

static void test_corpus(const seer_tok *tok) {
    seer_err err = {0};
    const char *texts[2] = {"Once upon a time", "The end."};
    size_t lens[2] = {strlen(texts[0]), strlen(texts[1])};
    seer_corpus *c = NULL;
    CHECK_OK(seer_corpus_from_texts(tok, texts, lens, NULL, 2, &c, &err), &err);
    if (!c) return;
    int32_t *a, *b;
    size_t na, nb;
    CHECK_OK(seer_tok_encode(tok, texts[0], lens[0], 1, &a, &na, &err), &err);
    CHECK_OK(seer_tok_encode(tok, texts[1], lens[1], 1, &b, &nb, &err), &err);
    CHECK(c->n_ids == na + nb && c->n_train == c->n_ids && c->n_vocab == 512);
    CHECK(memcmp(c->ids, a, na * 4) == 0 && memcmp(c->ids + na, b, nb * 4) == 0);
    CHECK(c->ids[0] == 1 && c->ids[na] == 1); /* each document starts with BOS */
    free(a);
    free(b);
    CHECK_OK(seer_corpus_split(c, 0.25, &err), &err);
    size_t nv, nt;
    const int32_t *v = seer_corpus_tokens(c, SEER_SPLIT_VAL, &nv);
    seer_corpus_tokens(c, SEER_SPLIT_TRAIN, &nt);
    CHECK(nv == (size_t)(c->n_ids * 0.25) && nt + nv == c->n_ids && v == c->ids + nt);
    CHECK_FAILS(seer_corpus_split(c, 0.6, &err), &err, "validation fraction 0.6");
    seer_corpus_free(c);

    /* Bad inputs. */
    const char *empty[2] = {"abc", ""};
    size_t elens[2] = {3, 0};
    const char *names[2] = {"a.txt", "b.txt"};
    CHECK_FAILS(seer_corpus_from_texts(tok, empty, elens, names, 2, &c, &err), &err, "'b.txt' is empty");
    CHECK(c == NULL);
    CHECK_FAILS(seer_corpus_from_files(tok, NULL, 0, &c, &err), &err, "no text files");
    const char *missing = "/nonexistent/corpus.txt";
    CHECK_FAILS(seer_corpus_from_files(tok, &missing, 1, &c, &err), &err, "/nonexistent/corpus.txt");
    const char *ep = test_tmp("empty_corpus.txt");
    FILE *f = fopen(ep, "wb");
    if (f) fclose(f);
    CHECK_FAILS(seer_corpus_from_files(tok, &ep, 1, &c, &err), &err, "empty_corpus.txt' is empty");
}

/* Is w[0..n) a contiguous run of ids[0..len)? */
static int is_window(const int32_t *ids, size_t len, const int32_t *w, size_t n) {
    for (size_t s = 0; s + n <= len; s++)
        if (memcmp(ids + s, w, n * sizeof(*w)) == 0) return 1;
    return 0;
}

static void test_sampler(const seer_tok *tok) {
    seer_err err = {0};
    const char *path = test_data("data/tinyshakespeare.txt");
    seer_corpus *c = NULL;
    CHECK_OK(seer_corpus_from_files(tok, &path, 1, &c, &err), &err);
    if (!c) return;
    CHECK(c->n_ids > 200000 && c->ids[0] == 1);
    CHECK_OK(seer_corpus_split(c, 0.1, &err), &err);
    enum { B = 4, T = 32, W = T + 1 };
    seer_batcher s1, s2, s3;
    CHECK_OK(seer_batcher_init(&s1, c, SEER_SPLIT_TRAIN, B, T, 1234, &err), &err);
    CHECK_OK(seer_batcher_init(&s2, c, SEER_SPLIT_TRAIN, B, T, 1234, &err), &err);
    CHECK_OK(seer_batcher_init(&s3, c, SEER_SPLIT_TRAIN, B, T, 1235, &err), &err);
    int32_t b1[B * W], b2[B * W], b3[B * W];
    int same_as_other_seed = 1;
    for (int k = 0; k < 5; k++) {
        seer_batcher_next(&s1, b1);
        seer_batcher_next(&s2, b2);
        seer_batcher_next(&s3, b3);
        CHECK(memcmp(b1, b2, sizeof(b1)) == 0);
        same_as_other_seed &= memcmp(b1, b3, sizeof(b1)) == 0;
    }
    CHECK(!same_as_other_seed);
    CHECK(s1.state.counter == 5 * B);
    /* Rows are real windows of the train split. */
    size_t nt;
    const int32_t *tr = seer_corpus_tokens(c, SEER_SPLIT_TRAIN, &nt);
    for (int b = 0; b < B; b++) CHECK(is_window(tr, nt, b1 + b * W, W));

    /* Save the state as text, draw on, then restore into a fresh sampler: the same batches. */
    char st[64];
    seer_batcher_state_format(&s1.state, st, sizeof(st));
    CHECK(!strcmp(st, "1234:20"));
    enum { K = 7 };
    static int32_t later[K][B * W];
    for (int k = 0; k < K; k++) seer_batcher_next(&s1, later[k]);
    seer_batcher r;
    CHECK_OK(seer_batcher_init(&r, c, SEER_SPLIT_TRAIN, B, T, 999, &err), &err);
    CHECK_OK(seer_batcher_state_parse(st, &r.state, &err), &err);
    for (int k = 0; k < K; k++) {
        seer_batcher_next(&r, b1);
        CHECK(memcmp(b1, later[k], sizeof(b1)) == 0);
    }
    seer_batcher_state big = {UINT64_MAX, 18446744073709551000ull}, back;
    seer_batcher_state_format(&big, st, sizeof(st));
    CHECK_OK(seer_batcher_state_parse(st, &back, &err), &err);
    CHECK(back.seed == big.seed && back.counter == big.counter);
    CHECK_FAILS(seer_batcher_state_parse("12", &back, &err), &err, "'12' is not of the form");
    CHECK_FAILS(seer_batcher_state_parse("1:2x", &back, &err), &err, "'1:2x'");
    CHECK_FAILS(seer_batcher_state_parse("-1:2", &back, &err), &err, "'-1:2'");
    CHECK_FAILS(seer_batcher_state_parse("1:99999999999999999999999", &back, &err), &err, "not of the form");

    /* Offsets spread over the whole split: mean near the middle, both ends reached. A corpus
     * whose token i is i makes each window name its own start. */
    seer_batcher u;
    double sum = 0;
    size_t lo = SIZE_MAX, hi = 0, n_draw = 20000;
    seer_corpus ramp = {0};
    enum { RN = 10000 };
    static int32_t ramp_ids[RN];
    for (int i = 0; i < RN; i++) ramp_ids[i] = i;
    ramp.ids = ramp_ids;
    ramp.n_ids = ramp.n_train = RN;
    CHECK_OK(seer_batcher_init(&u, &ramp, SEER_SPLIT_TRAIN, 1, 8, 5, &err), &err);
    for (size_t k = 0; k < n_draw; k++) {
        int32_t w9[9];
        seer_batcher_next(&u, w9);
        size_t start = (size_t)w9[0];
        sum += (double)start;
        if (start < lo) lo = start;
        if (start > hi) hi = start;
    }
    double mean = sum / (double)n_draw, mid = (RN - 8 - 1) / 2.0;
    CHECK_MSG(fabs(mean - mid) < 0.02 * RN, "mean start %g, middle %g", mean, mid);
    CHECK_MSG(lo < 10 && hi > RN - 20 && hi <= RN - 9, "starts span %zu..%zu", lo, hi);

    /* The validation sampler only reads validation tokens. */
    size_t nv;
    const int32_t *va = seer_corpus_tokens(c, SEER_SPLIT_VAL, &nv);
    seer_batcher vs;
    CHECK_OK(seer_batcher_init(&vs, c, SEER_SPLIT_VAL, B, T, 1, &err), &err);
    CHECK(vs.ids == va && vs.n == nv);
    seer_batcher_next(&vs, b1);
    for (int b = 0; b < B; b++) CHECK(is_window(va, nv, b1 + b * W, W));

    /* Fixed validation windows at stride T. */
    size_t nw = seer_corpus_n_windows(c, SEER_SPLIT_VAL, T);
    CHECK(nw == (nv - 1) / T);
    int32_t win[W];
    CHECK_OK(seer_corpus_window(c, SEER_SPLIT_VAL, T, nw - 1, win, &err), &err);
    CHECK(memcmp(win, va + (nw - 1) * T, sizeof(win)) == 0);
    CHECK_FAILS(seer_corpus_window(c, SEER_SPLIT_VAL, T, nw, win, &err), &err, "validation window");

    /* Too short for T + 1. */
    seer_corpus tiny = {0};
    int32_t tids[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    tiny.ids = tids;
    tiny.n_ids = tiny.n_train = 10;
    CHECK_FAILS(seer_batcher_init(&vs, &tiny, SEER_SPLIT_TRAIN, 2, 16, 1, &err), &err,
                "train split has 10 tokens, fewer than sequence length + 1 = 17");
    CHECK_FAILS(seer_batcher_init(&vs, &tiny, SEER_SPLIT_VAL, 2, 4, 1, &err), &err, "validation split has 0 tokens");
    CHECK_FAILS(seer_batcher_init(&vs, &tiny, SEER_SPLIT_TRAIN, 0, 4, 1, &err), &err, "batch size 0");
    CHECK_OK(seer_batcher_init(&vs, &tiny, SEER_SPLIT_TRAIN, 3, 9, 1, &err), &err); /* exactly T + 1 */
    int32_t whole[30];
    seer_batcher_next(&vs, whole);
    CHECK(memcmp(whole, tids, sizeof(tids)) == 0 && memcmp(whole + 20, tids, sizeof(tids)) == 0);
    seer_corpus_free(c);
}

static void test_sft(const seer_tok *tok) {
    seer_err err = {0};
    const char *jl = "{\"prompt\": \"Once upon a time\", \"completion\": \"there was a cat.\"}\n"
                     "\n"
                     "  \r\n"
                     "{\"completion\": \"Bye\", \"prompt\": \"Hi\", \"extra\": 3}\n"
                     "{\"prompt\": \"\", \"completion\": \"Lily\"}";
    seer_sft_opts o = {1, 0};
    seer_sft_set *s = NULL;
    CHECK_OK(seer_sft_parse_jsonl(tok, jl, strlen(jl), "mem.jsonl", &o, &s, &err), &err);
    if (!s) return;
    CHECK(s->n == 3);
    CHECK(s->ex[0].line == 1 && s->ex[1].line == 4 && s->ex[2].line == 5);
    int32_t *p, *c;
    size_t np, nc;
    CHECK_OK(seer_tok_encode(tok, "Once upon a time", 16, 1, &p, &np, &err), &err);
    CHECK_OK(seer_tok_encode(tok, "there was a cat.", 16, 0, &c, &nc, &err), &err);
    const seer_sft_example *e = &s->ex[0];
    CHECK(e->n == (int32_t)(np + nc + 1) && e->n_prompt == (int32_t)np);
    CHECK(memcmp(e->ids, p, np * 4) == 0 && memcmp(e->ids + np, c, nc * 4) == 0 && e->ids[e->n - 1] == 2);
    int mask_ok = 1;
    for (int32_t i = 0; i < e->n; i++) mask_ok &= e->mask[i] == (i >= (int32_t)np);
    CHECK(mask_ok);
    CHECK(s->ex[2].n_prompt == 1 && s->ex[2].ids[0] == 1 && s->ex[2].mask[0] == 0 && s->ex[2].mask[1] == 1);
    int32_t longest = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->ex[i].n > longest) longest = s->ex[i].n;
    CHECK(s->max_len == longest && longest == e->n);

    /* A batch of records 1 and 0: padded to record 0's length, mask 0 on padding. */
    size_t idx[2] = {1, 0};
    int32_t *bt = malloc((size_t)2 * s->max_len * sizeof(int32_t));
    uint8_t *bm = malloc((size_t)2 * s->max_len);
    int32_t L = 0;
    CHECK_OK(seer_sft_batch(s, idx, 2, -7, bt, bm, &L, &err), &err);
    CHECK(L == e->n);
    const seer_sft_example *e1 = &s->ex[1];
    CHECK(memcmp(bt, e1->ids, (size_t)e1->n * 4) == 0 && memcmp(bm, e1->mask, (size_t)e1->n) == 0);
    int pad_ok = 1;
    for (int32_t i = e1->n; i < L; i++) pad_ok &= bt[i] == -7 && bm[i] == 0;
    CHECK(pad_ok && e1->n < L);
    CHECK(memcmp(bt + L, e->ids, (size_t)L * 4) == 0 && memcmp(bm + L, e->mask, (size_t)L) == 0);
    idx[0] = 3;
    CHECK_FAILS(seer_sft_batch(s, idx, 2, 0, bt, bm, &L, &err), &err, "batch row 0 asks for record 3 of 3");
    free(bt);
    free(bm);
    seer_sft_free(s);

    /* Truncation: the end of the completion goes; EOS with it. */
    o.max_tokens = (int32_t)np + 2;
    CHECK_OK(seer_sft_parse_jsonl(tok, jl, 66, "mem.jsonl", &o, &s, &err), &err);
    if (s) {
        CHECK(s->n == 1 && s->ex[0].n == (int32_t)np + 2 && s->ex[0].ids[np + 1] == c[1] && s->ex[0].mask[np + 1] == 1);
        seer_sft_free(s);
    }
    o.max_tokens = (int32_t)np;
    CHECK_FAILS(seer_sft_parse_jsonl(tok, jl, 66, "mem.jsonl", &o, &s, &err), &err,
                "line 1: the prompt takes");
    free(p);
    free(c);

    /* Bad records, each naming its line. */
    o = (seer_sft_opts){0, 0};
    struct {
        const char *text, *needle;
    } bad[] = {
        {"{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": \"a\"}\n", "line 2: field \"completion\" is missing"},
        {"{\"completion\": \"b\"}", "line 1: field \"prompt\" is missing"},
        {"\n\n{\"prompt\": 3, \"completion\": \"b\"}", "line 3: field \"prompt\" is a number, expected a string"},
        {"{\"prompt\": \"a\", \"completion\": null}", "line 1: field \"completion\" is null"},
        {"{\"prompt\": \"a\", \"completion\": [\"b\"]}", "field \"completion\" is an array"},
        {"{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": \"a\", \"completion\": \"b\"\n", "line 2: not valid JSON"},
        {"{\"prompt\": \"a\", \"completion\": \"b\"} trailing", "line 1: not valid JSON"},
        {"[1, 2]", "line 1: a record must be an object"},
        {"{\"prompt\": \"a\", \"completion\": \"\"}", "line 1: the completion is empty"},
        {"\n  \n", "no records (2 lines, all blank)"},
        {"", "no records (0 lines"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_FAILS(seer_sft_parse_jsonl(tok, bad[i].text, strlen(bad[i].text), "bad.jsonl", &o, &s, &err), &err,
                    bad[i].needle);
        CHECK(s == NULL);
        CHECK(strstr(err.msg, "bad.jsonl") != NULL);
    }
    /* With EOS an empty completion still teaches the model to stop. */
    o.add_eos = 1;
    CHECK_OK(seer_sft_parse_jsonl(tok, bad[8].text, strlen(bad[8].text), "e.jsonl", &o, &s, &err), &err);
    if (s) CHECK(s->ex[0].n == s->ex[0].n_prompt + 1 && s->ex[0].ids[s->ex[0].n - 1] == 2);
    seer_sft_free(s);
    const char *jp = test_tmp("sft.jsonl");
    CHECK_OK(seer_write_file_atomic(jp, jl, strlen(jl), &err), &err);
    CHECK_OK(seer_sft_load_jsonl(tok, jp, &o, &s, &err), &err);
    if (s) CHECK(s->n == 3);
    seer_sft_free(s);
    CHECK_FAILS(seer_sft_load_jsonl(tok, "/nonexistent/x.jsonl", &o, &s, &err), &err, "/nonexistent/x.jsonl");

    /* Shuffles: permutations, fixed by (seed, epoch). */
    enum { N = 100 };
    size_t a[N], b[N], d[N];
    seer_sft_shuffle(N, 42, 0, a);
    seer_sft_shuffle(N, 42, 0, b);
    seer_sft_shuffle(N, 42, 1, d);
    CHECK(memcmp(a, b, sizeof(a)) == 0 && memcmp(a, d, sizeof(a)) != 0);
    int seen[N] = {0}, perm_ok = 1;
    for (int i = 0; i < N; i++) seen[a[i]]++;
    for (int i = 0; i < N; i++) perm_ok &= seen[i] == 1;
    CHECK(perm_ok);
}

static void test_checkpoint(void) {
    seer_err err = {0};
    enum { R = 64, C = 32 };
    static float w[R * C], m[R * C], v[R * C], g[C], w2[R * C], m2[R * C], v2[R * C], g2[C];
    seer_rng r;
    seer_rng_seed(&r, 9);
    for (int i = 0; i < R * C; i++) {
        w[i] = seer_rng_normal(&r);
        m[i] = seer_rng_normal(&r) * 1e-3f;
        v[i] = seer_rng_uniform(&r) * 1e-6f;
    }
    for (int i = 0; i < C; i++) g[i] = 1 + seer_rng_normal(&r);
    w[5] = -0.0f;
    w[6] = 1e-45f; /* subnormal */
    seer_ckpt_tensor ts[4] = {
        {"param.blk.0.attn_q.weight", 2, {R, C}, w},
        {"param.norm", 1, {C}, g},
        {"adam_m.blk.0.attn_q.weight", 2, {R, C}, m},
        {"adam_v.blk.0.attn_q.weight", 2, {R, C}, v},
    };
    seer_ckpt_kv kv[3] = {{"step", "1200"}, {"sampler", "7:4800"}, {"config", "{\"dim\": 64}"}};
    const char *path = test_tmp("ckpt.safetensors");
    CHECK_OK(seer_ckpt_save(path, ts, 4, kv, 3, &err), &err);
    CHECK_OK(seer_ckpt_save(path, ts, 4, kv, 3, &err), &err); /* overwriting is fine */
    seer_ckpt *ck = NULL;
    CHECK_OK(seer_ckpt_open(path, &ck, &err), &err);
    if (!ck) return;
    seer_ckpt_tensor back[4] = {ts[3], ts[1], ts[0], ts[2]}; /* any order */
    back[0].data = v2, back[1].data = g2, back[2].data = w2, back[3].data = m2;
    CHECK_OK(seer_ckpt_load(ck, back, 4, &err), &err);
    CHECK(memcmp(w, w2, sizeof(w)) == 0 && memcmp(m, m2, sizeof(m)) == 0 && memcmp(v, v2, sizeof(v)) == 0 &&
          memcmp(g, g2, sizeof(g)) == 0);
    int64_t step = 0;
    CHECK_OK(seer_ckpt_meta_i64(ck, "step", &step, &err), &err);
    CHECK(step == 1200);
    CHECK(!strcmp(seer_ckpt_meta(ck, "config"), "{\"dim\": 64}") && seer_ckpt_meta(ck, "nope") == NULL);
    uint64_t u;
    CHECK_FAILS(seer_ckpt_meta_u64(ck, "sampler", &u, &err), &err, "metadata 'sampler' = '7:4800' is not an unsigned");
    CHECK_FAILS(seer_ckpt_meta_i64(ck, "missing", &step, &err), &err, "metadata 'missing' is missing");

    /* A model of another shape: nothing is copied. */
    memset(w2, 0, sizeof(w2));
    seer_ckpt_tensor other[4] = {
        {"param.blk.0.attn_q.weight", 2, {R, C / 2}, w2},
        {"param.norm", 1, {C}, g2},
        {"adam_m.blk.0.attn_q.weight", 2, {R, C}, m2},
        {"adam_v.blk.0.attn_q.weight", 2, {R, C}, v2},
    };
    CHECK_FAILS(seer_ckpt_load(ck, other, 4, &err), &err,
                "tensor 'param.blk.0.attn_q.weight' has shape [64, 32], model wants [64, 16]");
    CHECK(w2[0] == 0 && w2[R * C - 1] == 0);
    other[0].n_dims = 3, other[0].shape[1] = C, other[0].shape[2] = 1;
    CHECK_FAILS(seer_ckpt_load(ck, other, 4, &err), &err, "has shape [64, 32], model wants [64, 32, 1]");
    other[0].n_dims = 2;
    other[0].name = "param.blk.1.attn_q.weight";
    CHECK_FAILS(seer_ckpt_load(ck, other, 4, &err), &err, "tensor 'param.blk.1.attn_q.weight' is missing");
    CHECK_FAILS(seer_ckpt_load(ck, back, 3, &err), &err, "holds tensor 'adam_m.blk.0.attn_q.weight', which the model");
    seer_ckpt_tensor dup[4] = {back[0], back[1], back[2], back[2]};
    CHECK_FAILS(seer_ckpt_load(ck, dup, 4, &err), &err, "name 'param.blk.0.attn_q.weight' twice");
    seer_ckpt_close(ck);

    /* Saving mistakes. */
    seer_ckpt_kv reserved = {SEER_CKPT_KEY_FORMAT, "2"};
    CHECK_FAILS(seer_ckpt_save(path, ts, 4, &reserved, 1, &err), &err, "metadata key 'seer.checkpoint' is reserved");
    seer_ckpt_kv twice[2] = {{"step", "1"}, {"step", "2"}};
    CHECK_FAILS(seer_ckpt_save(path, ts, 4, twice, 2, &err), &err, "metadata key 'step' given twice");
    seer_ckpt_tensor same[2] = {ts[1], ts[1]};
    CHECK_FAILS(seer_ckpt_save(path, same, 2, NULL, 0, &err), &err, "param.norm");
    seer_ckpt_tensor neg = ts[1];
    neg.shape[0] = -4;
    CHECK_FAILS(seer_ckpt_save(path, &neg, 1, NULL, 0, &err), &err, "tensor 'param.norm' has negative dimension -4");
    CHECK_FAILS(seer_ckpt_save("/nonexistent/dir/ck.safetensors", ts, 4, kv, 3, &err), &err, "/nonexistent/dir");
    /* The failed saves left the good checkpoint in place. */
    CHECK_OK(seer_ckpt_open(path, &ck, &err), &err);
    seer_ckpt_close(ck);

    /* Not a checkpoint: a plain safetensors file, garbage, a missing file. */
    seer_st_writer *sw = seer_st_writer_init();
    seer_st_writer_add(sw, "w", SEER_DTYPE_F32, 1, (int64_t[]){C}, g);
    void *buf = NULL;
    size_t size = 0;
    CHECK_OK(seer_st_writer_write_buffer(sw, &buf, &size, &err), &err);
    seer_st_writer_free(sw);
    CHECK_FAILS(seer_ckpt_open_buffer(buf, size, "plain.safetensors", &ck, &err), &err,
                "'plain.safetensors': a safetensors file without 'seer.checkpoint' metadata");
    free(buf);
    CHECK_FAILS(seer_ckpt_open_buffer("garbage!", 8, "junk", &ck, &err), &err, "checkpoint 'junk': ");
    CHECK_FAILS(seer_ckpt_open("/nonexistent/ck.safetensors", &ck, &err), &err, "/nonexistent/ck.safetensors");
    CHECK(ck == NULL);
    /* A checkpoint holding f16 where f32 is expected. */
    sw = seer_st_writer_init();
    seer_st_writer_set_metadata(sw, SEER_CKPT_KEY_FORMAT, "1");
    uint16_t h[C] = {0};
    seer_st_writer_add(sw, "param.norm", SEER_DTYPE_F16, 1, (int64_t[]){C}, h);
    CHECK_OK(seer_st_writer_write_buffer(sw, &buf, &size, &err), &err);
    seer_st_writer_free(sw);
    CHECK_OK(seer_ckpt_open_buffer(buf, size, "half", &ck, &err), &err);
    if (ck) CHECK_FAILS(seer_ckpt_load(ck, &ts[1], 1, &err), &err, "tensor 'param.norm' is f16, expected f32");
    seer_ckpt_close(ck);
    free(buf);
}

/* A toy language model trained with the real sampler, clipping, schedule and AdamW: logits
 * = emb[prev] (a bigram table, V x V) and cross-entropy loss. 2*N steps straight must give the
 * same loss at every step as N steps, a checkpoint, a fresh process state loaded from it and N
 * more steps. */
enum { TV = 512, TB = 4, TT = 16, TSTEPS = 12 };

typedef struct toy {
    float *w, *g, *m, *v; /* [TV, TV] */
    seer_batcher s;
    int64_t step;
} toy;

static float toy_step(toy *t, const seer_lr_sched *sch, const seer_adamw_cfg *cfg) {
    seer_err err = {0};
    int32_t batch[TB * (TT + 1)];
    seer_optim_span sp = {"bigram", t->w, t->g, t->m, t->v, (size_t)TV * TV, 1};
    seer_optim_zero_grads(&sp, 1);
    double loss = 0;
    /* Two micro-batches accumulated. */
    for (int micro = 0; micro < 2; micro++) {
        seer_batcher_next(&t->s, batch);
        for (int b = 0; b < TB; b++)
            for (int i = 0; i < TT; i++) {
                int32_t x = batch[b * (TT + 1) + i], y = batch[b * (TT + 1) + i + 1];
                const float *row = t->w + (size_t)x * TV;
                float mx = row[0];
                for (int k = 1; k < TV; k++) mx = row[k] > mx ? row[k] : mx;
                double z = 0;
                for (int k = 0; k < TV; k++) z += exp((double)row[k] - mx);
                loss += log(z) + mx - row[y];
                float *gr = t->g + (size_t)x * TV;
                for (int k = 0; k < TV; k++) gr[k] += (float)(exp((double)row[k] - mx) / z) / (TB * TT);
                gr[y] -= 1.0f / (TB * TT);
            }
    }
    seer_optim_scale_grads(NULL, &sp, 1, 0.5f);
    float nrm;
    CHECK_OK(seer_optim_clip_grad_norm(NULL, &sp, 1, 0.5f, &nrm, &err), &err);
    float lr = seer_optim_lr_at(sch, t->step);
    CHECK_OK(seer_optim_adamw_step(NULL, cfg, lr, t->step + 1, &sp, 1, &err), &err);
    t->step++;
    return (float)(loss / (2 * TB * TT));
}

static int toy_init(toy *t, const seer_corpus *c) {
    seer_err err = {0};
    size_t n = (size_t)TV * TV;
    t->w = calloc(n, sizeof(float)), t->g = calloc(n, sizeof(float));
    t->m = calloc(n, sizeof(float)), t->v = calloc(n, sizeof(float));
    t->step = 0;
    seer_rng r;
    seer_rng_seed(&r, 1);
    for (size_t i = 0; t->w && i < n; i++) t->w[i] = 0.02f * seer_rng_normal(&r);
    return t->w && t->g && t->m && t->v && seer_batcher_init(&t->s, c, SEER_SPLIT_TRAIN, TB, TT, 77, &err) == SEER_OK;
}

static void toy_free(toy *t) { free(t->w), free(t->g), free(t->m), free(t->v); }

static void test_resume(const seer_tok *tok) {
    seer_err err = {0};
    const char *path = test_data("data/tinyshakespeare.txt");
    seer_corpus *c = NULL;
    CHECK_OK(seer_corpus_from_files(tok, &path, 1, &c, &err), &err);
    if (!c) return;
    seer_lr_sched sch = {SEER_LR_COSINE, 1e-1f, 1e-2f, 3, 2 * TSTEPS};
    seer_adamw_cfg cfg = {0.9, 0.95, 1e-8, 0.1};
    toy a, b;
    float straight[2 * TSTEPS], resumed[2 * TSTEPS];
    CHECK(toy_init(&a, c));
    for (int i = 0; i < 2 * TSTEPS; i++) straight[i] = toy_step(&a, &sch, &cfg);
    CHECK_MSG(straight[2 * TSTEPS - 1] < straight[0] - 0.5f, "loss %g -> %g", (double)straight[0],
              (double)straight[2 * TSTEPS - 1]);
    toy_free(&a);

    CHECK(toy_init(&a, c));
    for (int i = 0; i < TSTEPS; i++) resumed[i] = toy_step(&a, &sch, &cfg);
    char st[64], stepbuf[32];
    seer_batcher_state_format(&a.s.state, st, sizeof(st));
    snprintf(stepbuf, sizeof(stepbuf), "%lld", (long long)a.step);
    seer_ckpt_tensor ts[3] = {{"param.bigram", 2, {TV, TV}, a.w}, {"adam_m.bigram", 2, {TV, TV}, a.m},
                              {"adam_v.bigram", 2, {TV, TV}, a.v}};
    seer_ckpt_kv kv[2] = {{"step", stepbuf}, {"sampler", st}};
    const char *ck_path = test_tmp("toy_ckpt.safetensors");
    CHECK_OK(seer_ckpt_save(ck_path, ts, 3, kv, 2, &err), &err);
    toy_free(&a);

    /* A fresh start that differs in everything the checkpoint restores. */
    CHECK(toy_init(&b, c));
    for (size_t i = 0; i < (size_t)TV * TV; i++) b.w[i] = 1, b.m[i] = 1, b.v[i] = 1;
    b.s.state.seed = 1;
    seer_ckpt *ck = NULL;
    CHECK_OK(seer_ckpt_open(ck_path, &ck, &err), &err);
    if (ck) {
        seer_ckpt_tensor want[3] = {{"param.bigram", 2, {TV, TV}, b.w}, {"adam_m.bigram", 2, {TV, TV}, b.m},
                                    {"adam_v.bigram", 2, {TV, TV}, b.v}};
        CHECK_OK(seer_ckpt_load(ck, want, 3, &err), &err);
        CHECK_OK(seer_ckpt_meta_i64(ck, "step", &b.step, &err), &err);
        CHECK_OK(seer_batcher_state_parse(seer_ckpt_meta(ck, "sampler"), &b.s.state, &err), &err);
        seer_ckpt_close(ck);
    }
    for (int i = TSTEPS; i < 2 * TSTEPS; i++) resumed[i] = toy_step(&b, &sch, &cfg);
    toy_free(&b);
    CHECK_MSG(memcmp(straight, resumed, sizeof(straight)) == 0, "resumed loss %.9g vs %.9g at the last step",
              (double)resumed[2 * TSTEPS - 1], (double)straight[2 * TSTEPS - 1]);
    seer_corpus_free(c);
}

int main(void) {
    seer_tok *tok = load_tok();
    if (!tok) return 77;
    test_corpus(tok);
    test_sampler(tok);
    test_sft(tok);
    test_checkpoint();
    test_resume(tok);
    seer_tok_free(tok);
    return test_done("test_train_data");
}
