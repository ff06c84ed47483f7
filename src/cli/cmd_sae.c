/* seer sae: train sparse autoencoders and transcoders on a model's activations (or on a
 * safetensors file of them), with checkpoints and --resume; evaluate one on held-out text
 * (reconstruction statistics and the loss of splicing it into the forward pass). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seer/sae.h"

static void help(void) {
    printf("usage: seer sae train (-m MODEL --hook HOOK (--corpus PATH | --corpus-sample N) | --activations FILE)\n"
           "                      --arch ARCH --latents N --out DIR [options]\n"
           "       seer sae eval --sae DIR|params.npz -m MODEL (--corpus PATH | --corpus-sample N) [--hook HOOK]\n"
           "                     [--tokens T] [--ctx N] [--json]\n\n"
           "--corpus-sample N: text of N tokens sampled from the model itself (stories from BOS at temperature\n"
           "  --sample-temp (1), seeded by --sample-seed: 1 for train and 2 for eval by default, so evaluation\n"
           "  text is held out); --save-corpus FILE keeps it.\n\n"
           "train options:\n"
           "  --arch topk|batchtopk|relu|jumprelu   --latents N   --k K (topk, batchtopk)\n"
           "  --hook-out HOOK     train a transcoder from --hook to HOOK; --skip adds W_skip\n"
           "  --tokens T (default 16M)  --batch B (4096)  --lr LR (2e-4, scaled by 1/sqrt(N/2^14))\n"
           "  --no-lr-scale  --seed S  --l1 C (relu, 5)  --l0 C (jumprelu, 1e-3)  --bandwidth E (1e-3)\n"
           "  --dead-tokens N (min(10M, T/10))  --auxk-coeff C (1/32)  --ctx N  --buffer ROWS (262144)\n"
           "  --b-dec-init median|mean|zero (median: the geometric median of the first batch)\n"
           "  --format saelens|sparsify (saelens)  --checkpoint-every STEPS  --resume  -t THREADS\n");
}

/* The text to run the model on: a file, or --corpus-sample tokens sampled from the model. */
typedef struct corpus_opts {
    long long tokens, seed;
    double temp;
    const char *save;
} corpus_opts;

/* 1 when o is a corpus option, 0 when it is not, -1 on a bad value. */
static int corpus_opt(const char *cmd, const char *o, const char *s, corpus_opts *co) {
    if (!strcmp(o, "--corpus-sample")) return cli_int(cmd, o, s, 1, (long long)1 << 40, &co->tokens) ? -1 : 1;
    if (!strcmp(o, "--sample-seed")) return cli_int(cmd, o, s, 0, (long long)(~0ull >> 1), &co->seed) ? -1 : 1;
    if (!strcmp(o, "--sample-temp")) return cli_float(cmd, o, s, 0, 100, &co->temp) ? -1 : 1;
    if (!strcmp(o, "--save-corpus")) return co->save = s, 1;
    return 0;
}

static int corpus_text(const seer_model *m, const char *path, const corpus_opts *co, int threads, char **text, size_t *len,
                       seer_err *err) {
    if (path) return seer_read_file(path, text, len, err) != SEER_OK;
    double t0 = seer_time_sec();
    if (seer_sae_sample_text(m, co->tokens, (uint64_t)co->seed, co->temp, threads, text, len, err)) return 1;
    fprintf(stderr, "sampled %lld tokens from the model (seed %lld, temperature %g) in %.1f s\n", co->tokens, co->seed,
            co->temp, seer_time_sec() - t0);
    return co->save && seer_write_file_atomic(co->save, *text, *len, err) != SEER_OK;
}

static int save_output(const seer_sae_trainer *t, seer_sae_format fmt, const char *out, seer_err *err) {
    seer_sae *s = NULL;
    if (seer_sae_trainer_export(t, &s, err)) return 1;
    int rc = seer_sae_save(s, fmt, out, err) != SEER_OK;
    seer_sae_free(s);
    return rc;
}

static void progress(const seer_sae_stats *s, int64_t total, double t0, int final) {
    double el = seer_time_sec() - t0, rate = el > 0 ? (double)s->tokens / el : 0;
    double frac = total > 0 ? (double)s->step / (double)total : 1;
    double eta = frac > 0 ? el * (1 - frac) / frac : 0;
    char bar[21];
    int fill = (int)(frac * 20);
    for (int i = 0; i < 20; i++) bar[i] = i < fill ? '#' : '.';
    bar[20] = 0;
    fprintf(stderr, "\r[%s] %lld/%lld loss %.4f FVU %.4f L0 %.1f dead %.3f %.0f tok/s ETA %.0fs  %s", bar, (long long)s->step,
            (long long)total, s->loss, s->fvu, s->l0, s->dead_frac, rate, eta, final ? "\n" : "");
}

static int sae_train(int argc, char **argv) {
    const char *cmd = "sae train", *model = NULL, *hook = NULL, *hook_out = NULL, *corpus = NULL, *acts = NULL, *out = NULL;
    corpus_opts co = {.seed = 1, .temp = 1.0};
    seer_sae_config c = {.arch = SEER_SAE_TOPK, .apply_b_dec_to_input = 1};
    seer_sae_train_params p = seer_sae_train_default_params();
    seer_sae_format fmt = SEER_SAE_FORMAT_SAELENS;
    long long v, latents = 0, k = 0, ctx = 0, buffer = 1 << 18, every = 0, threads = 0;
    double d;
    int resume = 0, have_arch = 0;
    cli_args a = {argc, argv, 1};
    for (int r; a.i < argc; a.i++) {
        const char *o = argv[a.i], *s;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            help();
            return 0;
        } else if (!strcmp(o, "--resume")) resume = 1;
        else if (!strcmp(o, "--skip")) c.skip = 1;
        else if (!strcmp(o, "--no-lr-scale")) p.lr_scale = 0;
        else if (!(s = cli_value(cmd, &a))) return 2;
        else if (!strcmp(o, "-m")) model = s;
        else if (!strcmp(o, "--hook")) hook = s;
        else if (!strcmp(o, "--hook-out")) hook_out = s;
        else if (!strcmp(o, "--corpus")) corpus = s;
        else if ((r = corpus_opt(cmd, o, s, &co))) {
            if (r < 0) return 2;
        }
        else if (!strcmp(o, "--activations")) acts = s;
        else if (!strcmp(o, "--out")) out = s;
        else if (!strcmp(o, "--arch")) {
            if (seer_sae_arch_from_name(s, &c.arch)) {
                fprintf(stderr, "seer %s: --arch expects topk, batchtopk, relu or jumprelu, got '%s'\n", cmd, s);
                return 2;
            }
            have_arch = 1;
        } else if (!strcmp(o, "--b-dec-init")) {
            if (seer_sae_bdec_init_from_name(s, &p.b_dec_init)) {
                fprintf(stderr, "seer %s: --b-dec-init expects median, mean or zero, got '%s'\n", cmd, s);
                return 2;
            }
        } else if (!strcmp(o, "--format")) {
            if (seer_sae_format_from_name(s, &fmt)) {
                fprintf(stderr, "seer %s: --format expects saelens or sparsify, got '%s'\n", cmd, s);
                return 2;
            }
        } else if (!strcmp(o, "--latents")) {
            if (cli_int(cmd, o, s, 1, 1 << 24, &latents)) return 2;
        } else if (!strcmp(o, "--k")) {
            if (cli_int(cmd, o, s, 1, 1 << 24, &k)) return 2;
        } else if (!strcmp(o, "--tokens")) {
            if (cli_int(cmd, o, s, 1, (long long)1 << 50, &v)) return 2;
            p.tokens = v;
        } else if (!strcmp(o, "--batch")) {
            if (cli_int(cmd, o, s, 1, 1 << 20, &v)) return 2;
            p.batch = v;
        } else if (!strcmp(o, "--seed")) {
            if (cli_int(cmd, o, s, 0, (long long)(~0ull >> 1), &v)) return 2;
            p.seed = (uint64_t)v;
        } else if (!strcmp(o, "--dead-tokens")) {
            if (cli_int(cmd, o, s, 1, (long long)1 << 50, &v)) return 2;
            p.dead_tokens = v;
        } else if (!strcmp(o, "--ctx")) {
            if (cli_int(cmd, o, s, 2, 1 << 20, &ctx)) return 2;
        } else if (!strcmp(o, "--buffer")) {
            if (cli_int(cmd, o, s, 1, (long long)1 << 32, &buffer)) return 2;
        } else if (!strcmp(o, "--checkpoint-every")) {
            if (cli_int(cmd, o, s, 1, (long long)1 << 40, &every)) return 2;
        } else if (!strcmp(o, "-t")) {
            if (cli_int(cmd, o, s, 1, 1024, &threads)) return 2;
        } else if (!strcmp(o, "--lr") || !strcmp(o, "--l1") || !strcmp(o, "--l0") || !strcmp(o, "--bandwidth") ||
                   !strcmp(o, "--auxk-coeff")) {
            if (cli_float(cmd, o, s, 0, 1e6, &d)) return 2;
            if (!strcmp(o, "--lr")) p.lr = d;
            else if (!strcmp(o, "--l1")) p.l1_coeff = d;
            else if (!strcmp(o, "--l0")) p.l0_coeff = d;
            else if (!strcmp(o, "--bandwidth")) p.jump_bandwidth = d;
            else p.auxk_coeff = d;
        } else return cli_unknown(cmd, o);
    }
    if (!out || (!acts && !(model && hook && (corpus || co.tokens))) || (acts && (model || corpus || co.tokens)) ||
        (corpus && co.tokens)) {
        fprintf(stderr,
                "seer %s: needs --out DIR and either --activations FILE or -m MODEL --hook HOOK with one of --corpus PATH "
                "and --corpus-sample N\n",
                cmd);
        return 2;
    }
    if (!resume && (!have_arch || !latents)) {
        fprintf(stderr, "seer %s: needs --arch and --latents\n", cmd);
        return 2;
    }
    if (!resume && (c.arch == SEER_SAE_TOPK || c.arch == SEER_SAE_BATCHTOPK) && !k) {
        fprintf(stderr, "seer %s: --arch %s needs --k\n", cmd, seer_sae_arch_name(c.arch));
        return 2;
    }
    seer_err err = {0};
    seer_model *m = NULL;
    seer_sae_data *data = NULL;
    seer_sae_trainer *t = NULL;
    char *text = NULL, *state = seer_path_join(out, "state.safetensors");
    size_t len = 0;
    int rc = 1;
    if (!state) goto fail;
    if (mkdir(out, 0755) && !seer_path_is_dir(out)) {
        seer_err_set(&err, SEER_ERR_IO, "cannot create folder %s", out);
        goto fail;
    }
    if (acts) {
        if (seer_sae_data_open_file(acts, NULL, &data, &err)) goto fail;
    } else {
        if (seer_model_load(model, NULL, &m, &err) || corpus_text(m, corpus, &co, (int)threads, &text, &len, &err)) goto fail;
        if (seer_sae_data_open_model(m, hook, hook_out, text, len, (int32_t)ctx, buffer, (int)threads, &data, &err)) goto fail;
    }
    if (resume) {
        if (!seer_path_exists(state)) {
            seer_err_set(&err, SEER_ERR_IO, "--resume: no %s to resume from", state);
            goto fail;
        }
        if (seer_sae_trainer_resume(state, data, (int)threads, &t, &err)) goto fail;
    } else {
        c.d_in = seer_sae_data_d_in(data), c.d_out = seer_sae_data_d_out(data), c.d_sae = latents, c.k = (int32_t)k;
        if (hook_out && hook && strcmp(hook, hook_out) != 0) c.apply_b_dec_to_input = 0;
        if (c.skip && !hook_out) {
            seer_err_set(&err, SEER_ERR_INVALID, "--skip needs --hook-out (a transcoder)");
            goto fail;
        }
        snprintf(c.hook_in, sizeof(c.hook_in), "%s", hook ? hook : "");
        snprintf(c.hook_out, sizeof(c.hook_out), "%s", hook_out ? hook_out : c.hook_in);
        if (model) {
            const char *base = strrchr(model, '/');
            snprintf(c.model_name, sizeof(c.model_name), "%s", base ? base + 1 : model);
        }
        p.n_threads = (int)threads;
        if (seer_sae_trainer_init(&c, &p, data, &t, &err)) goto fail;
    }
    int64_t total = seer_sae_trainer_steps_total(t);
    if (!every) every = total / 10 > 0 ? total / 10 : 1;
    int tty = isatty(2);
    double t0 = seer_time_sec(), last = 0;
    seer_sae_stats s = {0};
    while (seer_sae_trainer_step_index(t) < total) {
        if (seer_sae_trainer_step(t, &s, &err)) goto fail;
        if (tty && seer_time_sec() - last > 0.2) progress(&s, total, t0, 0), last = seer_time_sec();
        if (s.step % every == 0 && s.step < total && seer_sae_trainer_save_state(t, state, &err)) goto fail;
    }
    if (tty) progress(&s, total, t0, 1);
    if (seer_sae_trainer_save_state(t, state, &err)) goto fail;
    if (save_output(t, fmt, out, &err)) goto fail;
    printf("trained %lld steps (%lld tokens): loss %.5f FVU %.5f L0 %.2f dead %.4f -> %s (%s)\n", (long long)s.step,
           (long long)s.tokens, s.loss, s.fvu, s.l0, s.dead_frac, out, seer_sae_format_name(fmt));
    rc = 0;
fail:
    if (rc) cli_error(cmd, &err);
    seer_sae_trainer_free(t);
    seer_sae_data_free(data);
    seer_model_free(m);
    free(text), free(state);
    return rc;
}

static int sae_eval(int argc, char **argv) {
    const char *cmd = "sae eval", *dir = NULL, *model = NULL, *corpus = NULL, *hook = NULL;
    corpus_opts co = {.seed = 2, .temp = 1.0};
    long long tokens = 100000, ctx = 0, threads = 0;
    int json = 0;
    cli_args a = {argc, argv, 1};
    for (int r; a.i < argc; a.i++) {
        const char *o = argv[a.i], *s;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            help();
            return 0;
        } else if (!strcmp(o, "--json")) json = 1;
        else if (!(s = cli_value(cmd, &a))) return 2;
        else if (!strcmp(o, "--sae")) dir = s;
        else if (!strcmp(o, "--hook")) hook = s;
        else if (!strcmp(o, "-m")) model = s;
        else if (!strcmp(o, "--corpus")) corpus = s;
        else if ((r = corpus_opt(cmd, o, s, &co))) {
            if (r < 0) return 2;
        }
        else if (!strcmp(o, "--tokens")) {
            if (cli_int(cmd, o, s, 1, (long long)1 << 40, &tokens)) return 2;
        } else if (!strcmp(o, "--ctx")) {
            if (cli_int(cmd, o, s, 2, 1 << 20, &ctx)) return 2;
        } else if (!strcmp(o, "-t")) {
            if (cli_int(cmd, o, s, 1, 1024, &threads)) return 2;
        } else return cli_unknown(cmd, o);
    }
    if (!dir || !model || !corpus == !co.tokens) {
        fprintf(stderr, "seer %s: needs --sae DIR -m MODEL and one of --corpus PATH and --corpus-sample N\n", cmd);
        return 2;
    }
    seer_err err = {0};
    seer_model *m = NULL;
    seer_sae *s = NULL;
    char *text = NULL;
    size_t len = 0;
    seer_sae_eval_result r;
    int rc = 1;
    seer_sae_format fmt;
    if (seer_sae_load(dir, &s, &fmt, &err)) goto fail;
    /* Files without hook names (Gemma Scope) or read at another point: --hook names it. */
    if (hook) {
        if (strlen(hook) >= sizeof(s->cfg.hook_in)) {
            seer_err_set(&err, SEER_ERR_RANGE, "--hook '%s' is too long", hook);
            goto fail;
        }
        if (!strcmp(s->cfg.hook_out, s->cfg.hook_in) || !s->cfg.hook_out[0])
            snprintf(s->cfg.hook_out, sizeof(s->cfg.hook_out), "%s", hook);
        snprintf(s->cfg.hook_in, sizeof(s->cfg.hook_in), "%s", hook); /* length checked above */
    }
    if (seer_model_load(model, NULL, &m, &err) ||
        corpus_text(m, corpus, &co, (int)threads, &text, &len, &err) ||
        seer_sae_evaluate(s, m, text, len, (int32_t)ctx, tokens, (int)threads, &r, &err))
        goto fail;
    if (json) {
        printf("{\"sae\": ");
        cli_json_str(stdout, dir, strlen(dir));
        printf(", \"format\": \"%s\", \"architecture\": \"%s\", \"d_in\": %lld, \"d_sae\": %lld, \"hook\": ",
               seer_sae_format_name(fmt), seer_sae_arch_name(s->cfg.arch), (long long)s->cfg.d_in, (long long)s->cfg.d_sae);
        cli_json_str(stdout, s->cfg.hook_out, strlen(s->cfg.hook_out));
        printf(", \"tokens\": %lld, \"l0\": %.6g, \"mse\": %.6g, \"fvu\": %.6g, \"dead_frac\": %.6g, \"dense_frac\": %.6g, "
               "\"ce_clean\": %.6g, \"ce_spliced\": %.6g, \"ce_zero\": %.6g, \"ce_increase\": %.6g, \"frac_recovered\": %.6g, "
               "\"density_hist\": [",
               (long long)r.tokens, r.l0, r.mse, r.fvu, r.dead_frac, r.dense_frac, r.ce_clean, r.ce_spliced, r.ce_zero,
               r.ce_increase, r.frac_recovered);
        for (int i = 0; i < SEER_SAE_HIST_BINS; i++) printf("%s%lld", i ? ", " : "", (long long)r.hist[i]);
        printf("]}\n");
    } else {
        printf("%s (%s %s, %lld -> %lld latents at %s) on %lld tokens\n", dir, seer_sae_format_name(fmt),
               seer_sae_arch_name(s->cfg.arch), (long long)s->cfg.d_in, (long long)s->cfg.d_sae, s->cfg.hook_out,
               (long long)r.tokens);
        printf("  L0 %.3f  MSE %.6g  FVU %.5f  dead %.4f  dense %.4f\n", r.l0, r.mse, r.fvu, r.dead_frac, r.dense_frac);
        printf("  CE clean %.5f  spliced %.5f (+%.5f)  zero-ablated %.5f  loss recovered %.4f\n", r.ce_clean, r.ce_spliced,
               r.ce_increase, r.ce_zero, r.frac_recovered);
        printf("  firing density histogram (never, <1e-10, ... [0.1, 1]):");
        for (int i = 0; i < SEER_SAE_HIST_BINS; i++) printf(" %lld", (long long)r.hist[i]);
        printf("\n");
    }
    rc = 0;
fail:
    if (rc) cli_error(cmd, &err);
    seer_sae_free(s);
    seer_model_free(m);
    free(text);
    return rc;
}

int cmd_sae(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        help();
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "train")) return sae_train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "eval")) return sae_eval(argc - 1, argv + 1);
    fprintf(stderr, "seer sae: unknown subcommand '%s' (train, eval)\n", argv[1]);
    return 2;
}
