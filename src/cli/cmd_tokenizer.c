/* seer tokenizer train: learn a SentencePiece-style BPE tokenizer from text files and write it
 * as a llama2.c tokenizer.bin or a tokenizer-only GGUF, both of which seer_tok_load reads. */
#include "cli.h"
#include "seer/gguf.h"
#include "seer/tok_train.h"

#include <stdlib.h>
#include <string.h>

static void help(void) {
    printf("usage: seer tokenizer train -f FILE [-f FILE ...] --vocab N --out OUT [options]\n"
           "  OUT ending in .gguf: GGUF with tokenizer.ggml.* keys; otherwise llama2.c tokenizer.bin\n"
           "  --vocab N          total ids, including <unk> <s> </s> and the 256 byte pieces (260..1048576)\n"
           "  --coverage X       fraction of characters kept as pieces, the rest byte fallback (0.9995)\n"
           "  --max-piece N      longest piece in bytes (16)\n"
           "  --min-count N      stop when the most frequent pair occurs fewer times (2)\n");
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static seer_status write_out(const seer_tok *t, const char *out, seer_err *err) {
    if (!ends_with(out, ".gguf")) return seer_tok_save_llama2c(t, out, err);
    seer_gguf_writer *w = seer_gguf_writer_init();
    if (!w) return seer_err_set(err, SEER_ERR_NOMEM, "out of memory");
    seer_status st = seer_tok_write_gguf(t, w, err);
    if (st == SEER_OK) st = seer_gguf_writer_write(w, out, err);
    seer_gguf_writer_free(w);
    return st;
}

static int cmd_tokenizer_train(int argc, char **argv) {
    const char *cmd = "tokenizer train", *out = NULL;
    const char **files = calloc((size_t)argc, sizeof(*files));
    size_t n_files = 0;
    long long vocab = 0, v;
    double d;
    seer_tok_train_opts o = seer_tok_train_default(0);
    int rc = 2;
    if (!files) {
        fprintf(stderr, "seer %s: out of memory\n", cmd);
        return 1;
    }
    cli_args a = {argc, argv, 1};
    for (; a.i < argc; a.i++) {
        const char *opt = argv[a.i], *val;
        if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
            help();
            rc = 0;
            goto out_free;
        } else if (!strcmp(opt, "-f")) {
            if (!(val = cli_value(cmd, &a))) goto out_free;
            files[n_files++] = val;
        } else if (!strcmp(opt, "--out") || !strcmp(opt, "-o")) {
            if (!(out = cli_value(cmd, &a))) goto out_free;
        } else if (!strcmp(opt, "--vocab")) {
            if (!(val = cli_value(cmd, &a)) || cli_int(cmd, opt, val, SEER_TOK_TRAIN_FIXED + 1, 1 << 20, &vocab))
                goto out_free;
        } else if (!strcmp(opt, "--coverage")) {
            if (!(val = cli_value(cmd, &a)) || cli_float(cmd, opt, val, 1e-6, 1, &d)) goto out_free;
            o.char_coverage = d;
        } else if (!strcmp(opt, "--max-piece")) {
            if (!(val = cli_value(cmd, &a)) || cli_int(cmd, opt, val, 2, 1024, &v)) goto out_free;
            o.max_piece_bytes = (int32_t)v;
        } else if (!strcmp(opt, "--min-count")) {
            if (!(val = cli_value(cmd, &a)) || cli_int(cmd, opt, val, 1, INT32_MAX, &v)) goto out_free;
            o.min_pair_count = (int32_t)v;
        } else {
            rc = cli_unknown("tokenizer", opt);
            goto out_free;
        }
    }
    if (n_files == 0 || vocab == 0 || !out) {
        fprintf(stderr, "seer %s: needs -f FILE (one or more), --vocab N and --out OUT\n", cmd);
        goto out_free;
    }
    o.vocab_size = (int32_t)vocab;
    seer_err err = {0};
    seer_tok *t = NULL;
    seer_tok_train_stats s = {0};
    double t0 = seer_time_sec();
    if (seer_tok_train_files(files, n_files, &o, &t, &s, &err) != SEER_OK || write_out(t, out, &err) != SEER_OK) {
        cli_error(cmd, &err);
        seer_tok_free(t);
        rc = 1;
        goto out_free;
    }
    printf("%s: %d tokens (%d merged pieces, %d characters, 259 fixed) from %lld characters, %lld words "
           "(%lld distinct) in %.2f s\n",
           out, (int)s.n_vocab, (int)s.n_merges, (int)s.n_char_pieces, (long long)s.n_chars_total,
           (long long)s.n_words, (long long)s.n_unique, seer_time_sec() - t0);
    if (s.n_vocab < o.vocab_size)
        printf("note: pairs occurring %d+ times ran out before %d tokens\n", (int)o.min_pair_count, (int)o.vocab_size);
    seer_tok_free(t);
    rc = 0;
out_free:
    free(files);
    return rc;
}

int cmd_tokenizer(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "train")) return cmd_tokenizer_train(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        help();
        return 0;
    }
    fprintf(stderr, "seer tokenizer: expected a subcommand: train (see seer tokenizer --help)\n");
    return 2;
}
