/* `seer sae train` and `seer sae eval` end to end, through the built binary (SEER_BIN): a short
 * run on text sampled from stories260K and its JSON evaluation, a run from an activation file
 * saved in the sparsify layout, and bad input of each kind (corrupt or mismatched SAE files, k
 * above the latent count, hooks that do not exist, conflicting options) giving one clear line
 * on stderr and exit 1 or 2, never a signal. */
#include <cJSON.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zip.h>

#include "seer/sae.h"
#include "seer/safetensors.h"
#include "test.h"

static const char *bin(void) {
    const char *b = getenv("SEER_BIN");
    return b && *b ? b : "./seer";
}

/* Runs "seer <args>" with stdout and stderr to files; the exit code, or 1000 + signal. */
static int run(const char *args, const char *out_path, const char *err_path) {
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "%s %s >%s 2>%s", bin(), args, out_path, err_path);
    int st = system(cmd);
    if (st == -1) return -1;
    if (WIFSIGNALED(st)) return 1000 + WTERMSIG(st);
    int code = WEXITSTATUS(st);
    return code >= 128 ? 1000 + code - 128 : code;
}

static char *slurp(const char *path, size_t *len) {
    seer_err err;
    char *s = NULL;
    size_t n = 0;
    if (seer_read_file(path, &s, &n, &err)) return calloc(1, 1);
    if (len) *len = n;
    return s;
}

static char out_path[1024], err_path[1024];

/* Must fail with exit 1 or 2 and one line on stderr that contains needle. */
static void expect_error(const char *args, const char *needle) {
    int code = run(args, out_path, err_path);
    char *msg = slurp(err_path, NULL);
    size_t lines = 0;
    for (char *p = msg; *p; p++) lines += *p == '\n';
    CHECK_MSG((code == 1 || code == 2) && lines == 1 && strstr(msg, needle),
              "seer %s: exit %d, stderr '%s' (expected one line with '%s')", args, code, msg, needle);
    free(msg);
}

static void write_text(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    if (f) fwrite(text, 1, len, f), fclose(f);
}

static int copy_file(const char *src, const char *dst, size_t keep) {
    size_t len = 0;
    char *d = slurp(src, &len);
    if (!len) {
        free(d);
        return -1;
    }
    write_text(dst, d, keep && keep < len ? keep : len);
    free(d);
    return 0;
}

/* A copy of SAE folder src at dst whose cfg.json has `from` replaced by `to`. */
static void edited_copy(const char *src, const char *dst, const char *from, const char *to) {
    char a[1024], b[1024];
    mkdir(dst, 0755);
    snprintf(a, sizeof(a), "%s/sae_weights.safetensors", src);
    snprintf(b, sizeof(b), "%s/sae_weights.safetensors", dst);
    copy_file(a, b, 0);
    snprintf(a, sizeof(a), "%s/cfg.json", src);
    snprintf(b, sizeof(b), "%s/cfg.json", dst);
    char *cfg = slurp(a, NULL), *at = strstr(cfg, from);
    CHECK_MSG(at != NULL, "cfg.json lacks '%s'", from);
    if (at) {
        size_t n = strlen(cfg) + strlen(to) + 1;
        char *out = malloc(n);
        snprintf(out, n, "%.*s%s%s", (int)(at - cfg), cfg, to, at + strlen(from));
        write_text(b, out, strlen(out));
        free(out);
    }
    free(cfg);
}

/* Writes arrays as a stored zip of version-1 .npy members (as numpy.savez). */
static int write_npz(const char *path, const char *const *names, const float *const *data, const int64_t (*shapes)[2],
                     const int *nd, int n) {
    int zerr = 0;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    char *imgs[8] = {0};
    if (!za || n > 8) return -1;
    for (int i = 0; i < n; i++) {
        char dict[128], shape[64];
        if (nd[i] == 1) snprintf(shape, sizeof(shape), "(%lld,)", (long long)shapes[i][0]);
        else snprintf(shape, sizeof(shape), "(%lld, %lld)", (long long)shapes[i][0], (long long)shapes[i][1]);
        int dl = snprintf(dict, sizeof(dict), "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape);
        size_t head = 128, bytes = (size_t)shapes[i][0] * (size_t)(nd[i] == 2 ? shapes[i][1] : 1) * 4;
        imgs[i] = malloc(head + bytes);
        memcpy(imgs[i], "\x93NUMPY\x01\x00", 8);
        imgs[i][8] = (char)(head - 10), imgs[i][9] = 0;
        memset(imgs[i] + 10, ' ', head - 10);
        memcpy(imgs[i] + 10, dict, (size_t)dl);
        imgs[i][head - 1] = '\n';
        memcpy(imgs[i] + head, data[i], bytes);
        char file[32];
        snprintf(file, sizeof(file), "%s.npy", names[i]);
        zip_source_t *src = zip_source_buffer(za, imgs[i], head + bytes, 0);
        zip_int64_t idx = src ? zip_file_add(za, file, src, ZIP_FL_OVERWRITE) : -1;
        if (idx >= 0) zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
    }
    int rc = zip_close(za);
    for (int i = 0; i < n; i++) free(imgs[i]);
    return rc;
}

static double json_num(const cJSON *j, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

int main(void) {
    if (access(bin(), X_OK) != 0) {
        fprintf(stderr, "seer binary %s not found: skipping\n", bin());
        return 77;
    }
    char model[1024], story[1024], dir[1024], args[8192];
    snprintf(model, sizeof(model), "%s", test_data("models/stories260K/stories260K.bin"));
    snprintf(story, sizeof(story), "%s", test_data("models/stories260K/golden/prompt_story.txt"));
    if (access(model, R_OK) != 0 || access(story, R_OK) != 0) {
        fprintf(stderr, "stories260K not found: skipping\n");
        return 77;
    }
    snprintf(out_path, sizeof(out_path), "%s", test_tmp("sae_cli_out.txt"));
    snprintf(err_path, sizeof(err_path), "%s", test_tmp("sae_cli_err.txt"));
    snprintf(dir, sizeof(dir), "%s", test_tmp("sae_cli_topk"));
    char corpus[1024];
    snprintf(corpus, sizeof(corpus), "%s", test_tmp("sae_cli_corpus.txt"));

    /* Train on text sampled from the model (kept with --save-corpus), then evaluate on other
     * sampled text. */
    snprintf(args, sizeof(args),
             "sae train -m %s --hook blocks.2.hook_resid_post --corpus-sample 12000 --save-corpus %s --arch topk "
             "--latents 128 --k 8 --tokens 16384 --batch 512 --ctx 128 --buffer 4096 -t 2 --out %s",
             model, corpus, dir);
    int code = run(args, out_path, err_path);
    char *o = slurp(out_path, NULL);
    CHECK_MSG(code == 0 && strstr(o, "trained 32 steps (16384 tokens)"), "train: exit %d, stdout '%s'", code, o);
    free(o);
    size_t clen = 0;
    char *ctext = slurp(corpus, &clen);
    CHECK_MSG(clen > 20000 && strstr(ctext, "Once upon a time"), "sampled corpus of %zu bytes", clen);
    free(ctext);
    snprintf(args, sizeof(args), "sae eval --sae %s -m %s --corpus-sample 4000 --ctx 128 --tokens 3000 --json", dir, model);
    code = run(args, out_path, err_path);
    o = slurp(out_path, NULL);
    cJSON *j = cJSON_Parse(o);
    CHECK_MSG(code == 0 && j, "eval: exit %d, stdout '%s'", code, o);
    if (j) {
        double l0 = json_num(j, "l0"), fvu = json_num(j, "fvu"), clean = json_num(j, "ce_clean");
        double spliced = json_num(j, "ce_spliced"), zero = json_num(j, "ce_zero"), rec = json_num(j, "frac_recovered");
        printf("sae eval: L0 %.2f FVU %.4f CE clean %.4f spliced %.4f zero %.4f recovered %.3f\n", l0, fvu, clean, spliced,
               zero, rec);
        CHECK(l0 > 7.9 && l0 <= 8.0);
        CHECK(fvu > 0 && fvu < 0.6);
        /* In distribution, splicing costs loss, and far less than removing the stream. */
        CHECK(clean < spliced && spliced < zero && rec > 0.5 && rec < 1);
        CHECK(json_num(j, "tokens") >= 2900);
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "density_hist");
        CHECK(cJSON_IsArray(h) && cJSON_GetArraySize(h) == 12);
    }
    cJSON_Delete(j);
    free(o);
    /* A sampled corpus on disk reads the same as --corpus. */
    snprintf(args, sizeof(args), "sae eval --sae %s -m %s --corpus %s --ctx 128 --tokens 1000", dir, model, corpus);
    code = run(args, out_path, err_path);
    o = slurp(out_path, NULL);
    CHECK_MSG(code == 0 && strstr(o, "CE clean") && strstr(o, "loss recovered"), "eval text: exit %d, '%s'", code, o);
    free(o);

    /* The trained SAE's arrays as a Gemma Scope params.npz (zero thresholds): it needs --hook. */
    {
        seer_sae *s = NULL;
        seer_err err = {0};
        char npz[1024];
        snprintf(npz, sizeof(npz), "%s", test_tmp("sae_cli_params.npz"));
        CHECK_OK(seer_sae_load(dir, &s, NULL, &err), &err);
        if (s) {
            float *thr = calloc(128, sizeof(float));
            const char *names[5] = {"W_enc", "W_dec", "b_enc", "b_dec", "threshold"};
            const float *data[5] = {s->W_enc, s->W_dec, s->b_enc, s->b_dec, thr};
            const int64_t shapes[5][2] = {{64, 128}, {128, 64}, {128, 0}, {64, 0}, {128, 0}};
            const int nd[5] = {2, 2, 1, 1, 1};
            CHECK(write_npz(npz, names, data, shapes, nd, 5) == 0);
            free(thr);
            seer_sae_free(s);
            snprintf(args, sizeof(args), "sae eval --sae %s -m %s --corpus %s --ctx 128 --tokens 1000 --json", npz, model, corpus);
            expect_error(args, "no hook name recorded for d_in");
            snprintf(args, sizeof(args),
                     "sae eval --sae %s -m %s --corpus %s --ctx 128 --tokens 1000 --json --hook blocks.2.hook_resid_post", npz,
                     model, corpus);
            code = run(args, out_path, err_path);
            o = slurp(out_path, NULL);
            CHECK_MSG(code == 0 && strstr(o, "\"format\": \"gemmascope\", \"architecture\": \"jumprelu\""),
                      "npz eval: exit %d, '%s'", code, o);
            free(o);
        }
    }

    /* From an activation file, saved as sparsify. */
    char acts[1024], sdir[1024];
    snprintf(acts, sizeof(acts), "%s", test_tmp("sae_cli_acts.safetensors"));
    snprintf(sdir, sizeof(sdir), "%s", test_tmp("sae_cli_sparsify"));
    {
        enum { N = 3000, D = 16 };
        float *x = malloc(sizeof(float) * N * D);
        seer_rng r;
        seer_rng_seed(&r, 4);
        for (int i = 0; i < N * D; i++) x[i] = seer_rng_normal(&r);
        seer_st_writer *w = seer_st_writer_init();
        int64_t shape[2] = {N, D};
        seer_st_writer_add(w, "acts", SEER_DTYPE_F32, 2, shape, x);
        seer_err err = {0};
        CHECK_OK(seer_st_writer_write(w, acts, &err), &err);
        seer_st_writer_free(w);
        free(x);
    }
    snprintf(args, sizeof(args),
             "sae train --activations %s --arch topk --latents 32 --k 4 --tokens 4096 --batch 256 --b-dec-init mean "
             "--format sparsify --out %s",
             acts, sdir);
    code = run(args, out_path, err_path);
    char cfg_path[1200];
    snprintf(cfg_path, sizeof(cfg_path), "%s/cfg.json", sdir);
    char *cfg = slurp(cfg_path, NULL);
    CHECK_MSG(code == 0 && strstr(cfg, "\"num_latents\":\t32"), "activations run: exit %d, cfg '%s'", code, cfg);
    free(cfg);

    /* ---- bad input ---- */
    char bad[1024], p1[1200], p2[1200];
    /* Truncated weights. */
    snprintf(bad, sizeof(bad), "%s", test_tmp("sae_cli_trunc"));
    mkdir(bad, 0755);
    snprintf(p1, sizeof(p1), "%s/sae_weights.safetensors", dir);
    snprintf(p2, sizeof(p2), "%s/sae_weights.safetensors", bad);
    CHECK(copy_file(p1, p2, 300) == 0);
    snprintf(p1, sizeof(p1), "%s/cfg.json", dir);
    snprintf(p2, sizeof(p2), "%s/cfg.json", bad);
    CHECK(copy_file(p1, p2, 0) == 0);
    snprintf(args, sizeof(args), "sae eval --sae %s -m %s --corpus %s", bad, model, story);
    expect_error(args, "sae_cli_trunc: sae: weights:");
    /* cfg.json that is not JSON. */
    write_text(p2, "{\"d_in\": 64,", 12);
    expect_error(args, "cfg.json is not a JSON object");
    /* A config that disagrees with the weights: the tensor and both shapes named. */
    snprintf(bad, sizeof(bad), "%s", test_tmp("sae_cli_mismatch"));
    edited_copy(dir, bad, "\"d_sae\":\t128", "\"d_sae\":\t256");
    snprintf(args, sizeof(args), "sae eval --sae %s -m %s --corpus %s", bad, model, story);
    expect_error(args, "tensor 'W_enc' has shape [64, 128], expected [64, 256] from cfg.json");
    /* k above the latent count, in the file and on the command line. */
    snprintf(bad, sizeof(bad), "%s", test_tmp("sae_cli_bigk"));
    edited_copy(dir, bad, "\"k\":\t8", "\"k\":\t500");
    snprintf(args, sizeof(args), "sae eval --sae %s -m %s --corpus %s", bad, model, story);
    expect_error(args, "k 500 must be in [1, 128] (the number of latents)");
    snprintf(args, sizeof(args),
             "sae train -m %s --hook blocks.2.hook_resid_post --corpus %s --arch topk --latents 16 --k 32 --tokens 1024 "
             "--batch 64 --ctx 32 --out %s",
             model, story, test_tmp("sae_cli_never"));
    expect_error(args, "k 32 must be in [1, 16] (the number of latents)");
    /* Hooks that do not exist: at training, and recorded in an SAE file. */
    snprintf(args, sizeof(args),
             "sae train -m %s --hook blocks.2.hook_nonsense --corpus %s --arch topk --latents 16 --k 4 --tokens 1024 "
             "--batch 64 --ctx 32 --out %s",
             model, story, test_tmp("sae_cli_never"));
    expect_error(args, "blocks.2.hook_nonsense");
    snprintf(args, sizeof(args),
             "sae train -m %s --hook blocks.9.hook_resid_post --corpus %s --arch topk --latents 16 --k 4 --tokens 1024 "
             "--batch 64 --ctx 32 --out %s",
             model, story, test_tmp("sae_cli_never"));
    expect_error(args, "blocks.9.hook_resid_post");
    snprintf(bad, sizeof(bad), "%s", test_tmp("sae_cli_badhook"));
    edited_copy(dir, bad, "blocks.2.hook_resid_post", "blocks.2.hook_nonsense");
    snprintf(args, sizeof(args), "sae eval --sae %s -m %s --corpus %s", bad, model, story);
    expect_error(args, "hook 'blocks.2.hook_nonsense'");
    /* A hook whose width differs from the SAE's. */
    snprintf(bad, sizeof(bad), "%s", test_tmp("sae_cli_width"));
    edited_copy(dir, bad, "blocks.2.hook_resid_post", "blocks.2.mlp.hook_post");
    snprintf(args, sizeof(args), "sae eval --sae %s -m %s --corpus %s", bad, model, story);
    expect_error(args, "d_in is 64 but the model's hook 'blocks.2.mlp.hook_post' has width 172");
    /* Options. */
    snprintf(args, sizeof(args), "sae eval --sae %s -m %s --corpus %s --corpus-sample 100", dir, model, story);
    expect_error(args, "one of --corpus PATH and --corpus-sample N");
    snprintf(args, sizeof(args), "sae eval --sae %s -m %s --corpus %s", test_tmp("sae_cli_absent"), model, story);
    expect_error(args, "sae_cli_absent");
    snprintf(args, sizeof(args), "sae train --activations %s --arch topk --latents 8 --k 2 --b-dec-init middle --out %s", acts,
             test_tmp("sae_cli_never"));
    expect_error(args, "--b-dec-init expects median, mean or zero, got 'middle'");
    snprintf(args, sizeof(args), "sae train --activations %s --arch topkk --latents 8 --k 2 --out %s", acts,
             test_tmp("sae_cli_never"));
    expect_error(args, "--arch expects topk, batchtopk, relu or jumprelu, got 'topkk'");
    snprintf(args, sizeof(args), "sae train --activations %s --arch topk --latents 8 --out %s", acts, test_tmp("sae_cli_never"));
    expect_error(args, "--arch topk needs --k");
    snprintf(args, sizeof(args), "sae train --activations %s --arch topk --latents 8 --k 2 --tokens 100 --batch 256 --out %s",
             acts, test_tmp("sae_cli_never"));
    expect_error(args, "100 training tokens is less than one batch of 256");
    snprintf(args, sizeof(args), "sae train --activations %s --arch topk --latents 8 --k 2 --out %s", story,
             test_tmp("sae_cli_never"));
    expect_error(args, "prompt_story.txt");
    snprintf(args, sizeof(args), "sae frobnicate");
    expect_error(args, "unknown subcommand 'frobnicate'");
    return test_done("test_sae_cli");
}
