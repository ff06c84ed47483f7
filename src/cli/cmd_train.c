/* seer train (a model from scratch, or onward from one, on text files) and seer finetune (full or
 * LoRA on prompt/completion records): the shared options, the loop with a progress line,
 * validation, periodic checkpoints, --resume, and a log of every step in DIR/log.jsonl. */
#include "cli.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seer/trainer.h"

static void help_common(void) {
    printf("training options:\n"
           "  --batch B (8)  --seq T (256)  --accum N (1)  --steps N (1000)  --lr LR (1e-3)  --min-lr LR (lr/10)\n"
           "  --warmup N (steps/10)  --schedule cosine|constant  --wd W (0.1)  --beta2 B (0.95)  --clip C (1; 0 off)\n"
           "  --eval-every N (100)  --eval-batches N (8)  --ckpt-every N (200)  --seed S (1)  -t THREADS\n"
           "  --resume (continue from OUT/checkpoint.safetensors)  --stop-at N (stop after step N, as if\n"
           "  interrupted: the checkpoint lets --resume continue exactly)  --json (final summary as JSON)\n"
           "Writes OUT/model.gguf at the end, OUT/checkpoint.safetensors every --ckpt-every steps and on\n"
           "Ctrl-C, and one JSON line per step (and per evaluation) to OUT/log.jsonl.\n");
}

typedef struct loop_opts {
    seer_train_opts o;
    long long eval_every, ckpt_every, stop_at;
    double lr, min_lr;
    long long warmup;
    int schedule_cosine, resume, json, min_lr_set, warmup_set;
    const char *out;
} loop_opts;

static void loop_defaults(loop_opts *l) {
    memset(l, 0, sizeof(*l));
    l->o = seer_train_default_opts();
    l->eval_every = 100;
    l->ckpt_every = 200;
    l->lr = 1e-3;
    l->schedule_cosine = 1;
}

/* 1 when o is a training option (its value taken), 0 when not, -1 on a bad value. */
static int loop_opt(const char *cmd, cli_args *a, const char *o, loop_opts *l) {
    long long v;
    double f;
    const char *s;
#define VAL() (s = cli_value(cmd, a))
    if (!strcmp(o, "--resume")) return l->resume = 1, 1;
    if (!strcmp(o, "--json")) return l->json = 1, 1;
    if (!strcmp(o, "--out")) return VAL() ? (l->out = s, 1) : -1;
    if (!strcmp(o, "--schedule")) {
        if (!VAL()) return -1;
        if (strcmp(s, "cosine") != 0 && strcmp(s, "constant") != 0) {
            fprintf(stderr, "seer %s: --schedule: expected cosine or constant, got '%s'\n", cmd, s);
            return -1;
        }
        return l->schedule_cosine = !strcmp(s, "cosine"), 1;
    }
    struct { const char *flag; long long lo, hi; } ints[] = {
        {"--batch", 1, 4096}, {"--seq", 2, 1 << 20}, {"--accum", 1, 1 << 16}, {"--steps", 1, (long long)1 << 40},
        {"--warmup", 0, (long long)1 << 40}, {"--eval-every", 0, (long long)1 << 40}, {"--eval-batches", 1, 1 << 20},
        {"--ckpt-every", 0, (long long)1 << 40}, {"--seed", 0, (long long)(~0ull >> 1)}, {"-t", 1, 1024},
        {"--stop-at", 1, (long long)1 << 40}};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        if (strcmp(o, ints[i].flag) != 0) continue;
        if (!VAL() || cli_int(cmd, o, s, ints[i].lo, ints[i].hi, &v)) return -1;
        if (i == 0) l->o.batch = (int32_t)v;
        else if (i == 1) l->o.seq = (int32_t)v;
        else if (i == 2) l->o.accum = (int32_t)v;
        else if (i == 3) l->o.steps = v;
        else if (i == 4) l->warmup = v, l->warmup_set = 1;
        else if (i == 5) l->eval_every = v;
        else if (i == 6) l->o.eval_batches = (int32_t)v;
        else if (i == 7) l->ckpt_every = v;
        else if (i == 8) l->o.seed = (uint64_t)v;
        else if (i == 9) l->o.n_threads = (int)v;
        else l->stop_at = v;
        return 1;
    }
    struct { const char *flag; double lo, hi; } flts[] = {{"--lr", 1e-12, 10}, {"--min-lr", 0, 10}, {"--wd", 0, 10},
                                                          {"--beta2", 0, 0.999999}, {"--clip", 0, 1e9}};
    for (size_t i = 0; i < sizeof(flts) / sizeof(flts[0]); i++) {
        if (strcmp(o, flts[i].flag) != 0) continue;
        if (!VAL() || cli_float(cmd, o, s, flts[i].lo, flts[i].hi, &f)) return -1;
        if (i == 0) l->lr = f;
        else if (i == 1) l->min_lr = f, l->min_lr_set = 1;
        else if (i == 2) l->o.adamw.weight_decay = f;
        else if (i == 3) l->o.adamw.beta2 = f;
        else l->o.clip = (float)f;
        return 1;
    }
#undef VAL
    return 0;
}

static void loop_finish_opts(loop_opts *l) {
    l->o.lr = (seer_lr_sched){.kind = l->schedule_cosine ? SEER_LR_COSINE : SEER_LR_CONSTANT,
                              .lr_max = (float)l->lr,
                              .lr_min = (float)(l->min_lr_set ? l->min_lr : l->lr / 10),
                              .warmup_steps = l->warmup_set ? l->warmup : l->o.steps / 10,
                              .total_steps = l->o.steps};
    if (l->o.lr.warmup_steps >= l->o.steps) l->o.lr.warmup_steps = l->o.steps - 1;
}

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static void progress(const seer_train_report *r, int64_t total, float val, double el, int64_t tok0, int64_t step0) {
    double rate = el > 0 ? (double)(r->tokens - tok0) / el : 0;
    double done = (double)(r->step - step0), left = (double)(total - r->step);
    double eta = done > 0 ? el * left / done : 0;
    char bar[21];
    int fill = (int)(20.0 * (double)r->step / (double)total);
    for (int i = 0; i < 20; i++) bar[i] = i < fill ? '#' : '.';
    bar[20] = 0;
    fprintf(stderr, "\r[%s] %lld/%lld loss %.4f val %.4f lr %.2e %.0f tok/s ETA %.0fs ", bar, (long long)r->step,
            (long long)total, (double)r->loss, (double)val, (double)r->lr, rate, eta);
}

/* Keeps the log lines of steps <= step (a resumed run rewrites what came after). */
static int log_truncate(const char *path, int64_t step, seer_err *err) {
    char *text = NULL;
    size_t len = 0;
    if (access(path, F_OK) != 0) return 0;
    if (seer_read_file(path, &text, &len, err)) return 1;
    size_t keep = 0;
    for (size_t i = 0; i < len;) {
        char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) + 1 : len;
        const char *p = strstr(text + i, "\"step\": ");
        long long s = p && p < text + end ? strtoll(p + 8, NULL, 10) : 0;
        if (s > step) break;
        keep = end;
        i = end;
    }
    int rc = seer_write_file_atomic(path, text, keep, err) != SEER_OK;
    free(text);
    return rc;
}

/* The loop both commands share. save_final writes the model (and adapters) at the end. */
static int run_loop(const char *cmd, seer_tmodel *tm, const seer_train_data *d, loop_opts *l,
                    int (*save_final)(seer_tmodel *tm, const char *out, void *ud, seer_err *err), void *ud) {
    seer_err err = {0};
    seer_trainer *t = NULL;
    FILE *log = NULL;
    int rc = 1;
    char ckpt[4096], logp[4096];
    snprintf(ckpt, sizeof(ckpt), "%s/checkpoint.safetensors", l->out);
    snprintf(logp, sizeof(logp), "%s/log.jsonl", l->out);
    if (mkdir(l->out, 0755) != 0 && access(l->out, W_OK) != 0) {
        fprintf(stderr, "seer %s: cannot create the output folder %s\n", cmd, l->out);
        return 1;
    }
    if (seer_trainer_init(tm, d, &l->o, &t, &err)) goto fail;
    if (l->resume) {
        if (access(ckpt, R_OK) != 0) {
            fprintf(stderr, "seer %s: --resume: no checkpoint at %s\n", cmd, ckpt);
            goto out;
        }
        if (seer_trainer_resume(t, ckpt, &err) || log_truncate(logp, seer_trainer_step_index(t), &err)) goto fail;
        fprintf(stderr, "resumed at step %lld from %s\n", (long long)seer_trainer_step_index(t), ckpt);
    }
    log = fopen(logp, l->resume ? "a" : "w");
    if (!log) {
        fprintf(stderr, "seer %s: cannot write %s\n", cmd, logp);
        goto out;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int tty = isatty(2);
    double t0 = seer_time_sec(), last = 0;
    int64_t step0 = seer_trainer_step_index(t), tok0 = seer_trainer_tokens(t);
    float val = NAN;
    seer_train_report r = {.step = step0};
    int has_val = d->corpus || d->sft_val;
    while (seer_trainer_step_index(t) < l->o.steps && !g_stop) {
        if (seer_trainer_step(t, &r, &err)) goto fail;
        fprintf(log, "{\"step\": %lld, \"loss\": %.9g, \"lr\": %.9g, \"grad_norm\": %.9g, \"tokens\": %lld}\n",
                (long long)r.step, (double)r.loss, (double)r.lr, (double)r.grad_norm, (long long)r.tokens);
        int last_step = r.step == l->o.steps || (l->stop_at && r.step >= l->stop_at);
        /* evaluations at fixed steps only, so a stopped and resumed run logs what an
         * uninterrupted one does */
        if (has_val && ((l->eval_every && r.step % l->eval_every == 0) || r.step == l->o.steps)) {
            if (seer_trainer_eval(t, &val, &err)) goto fail;
            fprintf(log, "{\"step\": %lld, \"val_loss\": %.9g}\n", (long long)r.step, (double)val);
        }
        (void)fflush(log); /* the log is a convenience; a full disk shows up at the checkpoint */
        if ((l->ckpt_every && r.step % l->ckpt_every == 0) || last_step || g_stop) {
            if (seer_trainer_save(t, ckpt, &err)) goto fail;
        }
        if (tty && (seer_time_sec() - last > 0.2 || last_step)) {
            progress(&r, l->o.steps, val, seer_time_sec() - t0, tok0, step0);
            last = seer_time_sec();
        }
        if (l->stop_at && r.step >= l->stop_at) break;
    }
    if (tty) fprintf(stderr, "\n");
    double el = seer_time_sec() - t0;
    if (g_stop) {
        if (seer_trainer_save(t, ckpt, &err)) goto fail;
        fprintf(stderr, "seer %s: interrupted at step %lld; checkpoint written, continue with --resume\n", cmd,
                (long long)seer_trainer_step_index(t));
        rc = 130;
        goto out;
    }
    int finished = seer_trainer_step_index(t) >= l->o.steps;
    if (finished && save_final(tm, l->out, ud, &err)) goto fail;
    double rate = el > 0 ? (double)(r.tokens - tok0) / el : 0;
    if (l->json)
        printf("{\"steps\": %lld, \"tokens\": %lld, \"loss\": %.6g, \"val_loss\": %.6g, \"tok_s\": %.1f, \"seconds\": %.2f, "
               "\"finished\": %s}\n",
               (long long)r.step, (long long)r.tokens, (double)r.loss, (double)val, rate, el, finished ? "true" : "false");
    else
        printf("%s %lld steps, %lld tokens: loss %.4f, validation loss %.4f, %.0f tok/s, %.1f s%s\n",
               finished ? "finished" : "stopped at", (long long)r.step, (long long)r.tokens, (double)r.loss, (double)val,
               rate, el, finished ? "" : " (--resume continues)");
    rc = 0;
    goto out;
fail:
    cli_error(cmd, &err);
out:
    if (log) (void)fclose(log);
    seer_trainer_free(t);
    return rc;
}

/* ---- seer train ---- */

static void train_help(void) {
    printf("usage: seer train --corpus FILE [--corpus FILE...] (-z TOKENIZER | -m MODEL) --out DIR [shape] [options]\n\n"
           "Trains a model from scratch on text files (or onward from -m MODEL, whose shape and tokenizer it\n"
           "keeps). --val-frac F (0.05) of the tokens are held out for the validation loss.\n"
           "shape (from scratch): --arch llama|gpt2 (llama)  --dim D (256)  --layers L (6)  --heads H (8)\n"
           "  --kv-heads K (H)  --hidden N (3*D)  --ctx N (--seq)  --init-seed S (--seed)\n\n");
    help_common();
}

typedef struct train_save {
    const seer_tok *tok;
} train_save;

static int train_save_final(seer_tmodel *tm, const char *out, void *ud, seer_err *err) {
    const train_save *s = ud;
    char path[4096];
    snprintf(path, sizeof(path), "%s/model.gguf", out);
    return seer_tmodel_save(tm, s->tok, SEER_FORMAT_GGUF, path, err) != SEER_OK;
}

int cmd_train(int argc, char **argv) {
    const char *cmd = "train", *tok_path = NULL, *model_path = NULL;
    const char *corpus[64];
    int n_corpus = 0;
    loop_opts l;
    loop_defaults(&l);
    seer_model_config c = {.arch = SEER_ARCH_LLAMA, .d_model = 256, .n_layers = 6, .n_heads = 8, .norm_eps = 1e-5f,
                           .rope_theta = 10000.0f, .tied_embeddings = 1};
    long long kv = 0, hidden = 0, ctx = 0, init_seed = -1, v;
    double val_frac = 0.05;
    cli_args a = {argc, argv, 1};
    for (; a.i < argc; a.i++) {
        const char *o = argv[a.i], *s;
        int r = loop_opt(cmd, &a, o, &l);
        if (r < 0) return 2;
        if (r) continue;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            train_help();
            return 0;
        } else if (!strcmp(o, "--corpus")) {
            if (!(s = cli_value(cmd, &a))) return 2;
            if (n_corpus == 64) {
                fprintf(stderr, "seer train: at most 64 --corpus files\n");
                return 2;
            }
            corpus[n_corpus++] = s;
        } else if (!strcmp(o, "-z") || !strcmp(o, "-m") || !strcmp(o, "--arch")) {
            if (!(s = cli_value(cmd, &a))) return 2;
            if (!strcmp(o, "-z")) tok_path = s;
            else if (!strcmp(o, "-m")) model_path = s;
            else if (seer_arch_from_name(s, &c.arch)) {
                fprintf(stderr, "seer train: --arch: expected llama or gpt2, got '%s'\n", s);
                return 2;
            }
        } else if (!strcmp(o, "--val-frac")) {
            if (!(s = cli_value(cmd, &a)) || cli_float(cmd, o, s, 0, 0.9, &val_frac)) return 2;
        } else if (!strcmp(o, "--dim") || !strcmp(o, "--layers") || !strcmp(o, "--heads") || !strcmp(o, "--kv-heads") ||
                   !strcmp(o, "--hidden") || !strcmp(o, "--ctx") || !strcmp(o, "--init-seed")) {
            if (!(s = cli_value(cmd, &a)) || cli_int(cmd, o, s, 1, (long long)1 << 40, &v)) return 2;
            if (!strcmp(o, "--dim")) c.d_model = (int32_t)(v < (1 << 20) ? v : 1 << 20);
            else if (!strcmp(o, "--layers")) c.n_layers = (int32_t)(v < 4096 ? v : 4096);
            else if (!strcmp(o, "--heads")) c.n_heads = (int32_t)(v < 4096 ? v : 4096);
            else if (!strcmp(o, "--kv-heads")) kv = v;
            else if (!strcmp(o, "--hidden")) hidden = v;
            else if (!strcmp(o, "--ctx")) ctx = v;
            else init_seed = v;
        } else return cli_unknown(cmd, o);
    }
    if (!n_corpus || !l.out || (!tok_path && !model_path)) {
        fprintf(stderr, "seer train: --corpus FILE, --out DIR and a tokenizer (-z TOKENIZER or -m MODEL) are required\n");
        return 2;
    }
    loop_finish_opts(&l);
    seer_err err = {0};
    seer_model *base = NULL;
    seer_tok *tok = NULL;
    seer_tmodel *tm = NULL;
    seer_corpus *cp = NULL;
    int rc = 1;
    if (model_path) {
        if (seer_model_load(model_path, tok_path, &base, &err)) goto fail;
        if (!seer_model_tok(base)) {
            fprintf(stderr, "seer train: %s has no tokenizer; give one with -z\n", model_path);
            goto out;
        }
        if (seer_tmodel_from_model(base, &tm, &err)) goto fail;
    } else {
        if (seer_tok_load(tok_path, &tok, &err)) goto fail;
        c.n_vocab = seer_tok_n_vocab(tok);
        c.n_kv_heads = (int32_t)(kv ? (kv < 4096 ? kv : 4096) : c.n_heads);
        c.d_head = c.n_heads ? c.d_model / c.n_heads : 0;
        c.d_mlp = (int32_t)(hidden ? (hidden < (1 << 22) ? hidden : 1 << 22) : 3 * (long long)c.d_model);
        c.n_ctx = (int32_t)(ctx ? (ctx < (1 << 22) ? ctx : 1 << 22) : l.o.seq);
        if (c.arch == SEER_ARCH_GPT2) c.tied_embeddings = 1;
        if (c.n_heads && c.d_model % c.n_heads) {
            fprintf(stderr, "seer train: --dim %d is not a multiple of --heads %d\n", c.d_model, c.n_heads);
            goto out;
        }
        if (seer_model_config_check(&c, &err)) goto fail;
        if (seer_tmodel_random(&c, init_seed >= 0 ? (uint64_t)init_seed : l.o.seed, &tm, &err)) goto fail;
    }
    const seer_tok *tk = base ? seer_model_tok(base) : tok;
    double t0 = seer_time_sec();
    if (seer_corpus_from_files(tk, corpus, (size_t)n_corpus, &cp, &err) || seer_corpus_split(cp, val_frac, &err)) goto fail;
    size_t n_params;
    seer_tmodel_params(tm, &n_params);
    fprintf(stderr, "%zu tokens (%zu train) from %d file%s in %.1f s; model %.2f M parameters\n", cp->n_ids, cp->n_train,
            n_corpus, n_corpus > 1 ? "s" : "", seer_time_sec() - t0, (double)n_params / 1e6);
    seer_train_data d = {.corpus = cp};
    train_save ts = {tk};
    rc = run_loop(cmd, tm, &d, &l, train_save_final, &ts);
    goto out;
fail:
    cli_error(cmd, &err);
out:
    seer_corpus_free(cp);
    seer_tmodel_free(tm);
    seer_tok_free(tok);
    seer_model_free(base);
    return rc;
}

/* ---- seer finetune ---- */

static void finetune_help(void) {
    printf("usage: seer finetune -m MODEL --data TRAIN.jsonl [--val VAL.jsonl] --out DIR [options]\n\n"
           "Fine-tunes on records {\"prompt\": ..., \"completion\": ...}: BOS + prompt + completion, the loss on the\n"
           "completion tokens only. --eos ends each completion with EOS; --seq cuts longer records.\n"
           "  --lora-rank R (0: full fine-tuning)  --lora-alpha A (16)  --lora-targets q,k,v,o,gate,up,down,qkv (q,v)\n"
           "  --lora-layers all|L,L,... (all)\n"
           "Writes OUT/model.gguf (adapters merged) and, with LoRA, OUT/adapter.safetensors.\n"
           "Defaults differ from train: --lr 1e-4 (LoRA: 1e-3), --steps 100, --batch 4, --eval-every 20.\n\n");
    help_common();
}

typedef struct ft_save {
    const seer_tok *tok;
    int lora;
} ft_save;

static int ft_save_final(seer_tmodel *tm, const char *out, void *ud, seer_err *err) {
    const ft_save *s = ud;
    char path[4096];
    if (s->lora) {
        snprintf(path, sizeof(path), "%s/adapter.safetensors", out);
        if (seer_tmodel_lora_save(tm, path, err) || seer_tmodel_lora_merge(tm, err)) return 1;
    }
    snprintf(path, sizeof(path), "%s/model.gguf", out);
    return seer_tmodel_save(tm, s->tok, SEER_FORMAT_GGUF, path, err) != SEER_OK;
}

static int parse_targets(const char *s, uint32_t *mask) {
    static const struct { const char *name; uint32_t bit; } t[] = {
        {"q", SEER_LORA_Q}, {"k", SEER_LORA_K}, {"v", SEER_LORA_V}, {"o", SEER_LORA_O},
        {"gate", SEER_LORA_GATE}, {"up", SEER_LORA_UP}, {"down", SEER_LORA_DOWN}, {"qkv", SEER_LORA_QKV}};
    *mask = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        int found = 0;
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
            if (strlen(t[i].name) == n && !strncmp(s, t[i].name, n)) *mask |= t[i].bit, found = 1;
        if (!found) return -1;
        s += n + (s[n] == ',');
    }
    return *mask ? 0 : -1;
}

int cmd_finetune(int argc, char **argv) {
    const char *cmd = "finetune", *model_path = NULL, *tok_path = NULL, *data = NULL, *val = NULL, *s;
    loop_opts l;
    loop_defaults(&l);
    l.o.batch = 4;
    l.o.steps = 100;
    l.eval_every = 20;
    l.ckpt_every = 50;
    int lr_set = 0, eos = 0;
    long long rank = 0;
    double alpha = 16;
    uint32_t targets = SEER_LORA_Q | SEER_LORA_V;
    uint64_t layers = ~0ull;
    cli_args a = {argc, argv, 1};
    for (; a.i < argc; a.i++) {
        const char *o = argv[a.i];
        if (!strcmp(o, "--lr")) lr_set = 1;
        int r = loop_opt(cmd, &a, o, &l);
        if (r < 0) return 2;
        if (r) continue;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            finetune_help();
            return 0;
        } else if (!strcmp(o, "--eos")) {
            eos = 1;
        } else if (!strcmp(o, "-m") || !strcmp(o, "-z") || !strcmp(o, "--data") || !strcmp(o, "--val")) {
            if (!(s = cli_value(cmd, &a))) return 2;
            if (!strcmp(o, "-m")) model_path = s;
            else if (!strcmp(o, "-z")) tok_path = s;
            else if (!strcmp(o, "--data")) data = s;
            else val = s;
        } else if (!strcmp(o, "--lora-rank")) {
            if (!(s = cli_value(cmd, &a)) || cli_int(cmd, o, s, 0, 4096, &rank)) return 2;
        } else if (!strcmp(o, "--lora-alpha")) {
            if (!(s = cli_value(cmd, &a)) || cli_float(cmd, o, s, 1e-6, 1e6, &alpha)) return 2;
        } else if (!strcmp(o, "--lora-targets")) {
            if (!(s = cli_value(cmd, &a))) return 2;
            if (parse_targets(s, &targets)) {
                fprintf(stderr, "seer finetune: --lora-targets: expected a list of q,k,v,o,gate,up,down,qkv, got '%s'\n", s);
                return 2;
            }
        } else if (!strcmp(o, "--lora-layers")) {
            if (!(s = cli_value(cmd, &a))) return 2;
            if (strcmp(s, "all") != 0) {
                layers = 0;
                for (const char *p = s; *p;) {
                    char *end;
                    long v = strtol(p, &end, 10);
                    if (end == p || v < 0 || v > 63 || (*end && *end != ',')) {
                        fprintf(stderr, "seer finetune: --lora-layers: expected all or layer numbers 0..63 separated by commas, got '%s'\n", s);
                        return 2;
                    }
                    layers |= 1ull << v;
                    p = *end ? end + 1 : end;
                }
            }
        } else return cli_unknown(cmd, o);
    }
    if (!model_path || !data || !l.out) {
        fprintf(stderr, "seer finetune: -m MODEL, --data FILE.jsonl and --out DIR are required\n");
        return 2;
    }
    if (!lr_set) l.lr = rank ? 1e-3 : 1e-4;
    loop_finish_opts(&l);
    seer_err err = {0};
    seer_model *m = NULL;
    seer_tmodel *tm = NULL;
    seer_sft_set *tr = NULL, *va = NULL;
    int rc = 1;
    if (seer_model_load(model_path, tok_path, &m, &err)) goto fail;
    const seer_tok *tk = seer_model_tok(m);
    if (!tk) {
        fprintf(stderr, "seer finetune: %s has no tokenizer; give one with -z\n", model_path);
        goto out;
    }
    seer_sft_opts so = {.add_eos = eos, .max_tokens = l.o.seq};
    if (seer_sft_load_jsonl(tk, data, &so, &tr, &err) || (val && seer_sft_load_jsonl(tk, val, &so, &va, &err))) goto fail;
    if (seer_tmodel_from_model(m, &tm, &err)) goto fail;
    if (rank && seer_tmodel_lora_add(tm, (int)rank, (float)alpha, targets, layers, l.o.seed, &err)) goto fail;
    size_t n_params = 0, n_train = 0;
    seer_tmodel_params(tm, &n_params);
    for (int64_t i = 0; i < seer_tmodel_n_spans(tm); i++)
        if (seer_tmodel_span(tm, i)->trainable) n_train += seer_tmodel_span(tm, i)->count;
    fprintf(stderr, "%zu training records%s; %zu of %zu parameters trained%s\n", tr->n, va ? " + validation" : "", n_train,
            n_params, rank ? " (LoRA)" : "");
    seer_train_data d = {.sft = tr, .sft_val = va};
    ft_save fs = {tk, rank > 0};
    rc = run_loop(cmd, tm, &d, &l, ft_save_final, &fs);
    goto out;
fail:
    cli_error(cmd, &err);
out:
    seer_sft_free(tr);
    seer_sft_free(va);
    seer_tmodel_free(tm);
    seer_model_free(m);
    return rc;
}
