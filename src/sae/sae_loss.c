/* The training loss of one batch and its backward, written out by hand:
 *   L = (1/n) Σ_b ||ŷ_b - y_b||²                                  reconstruction
 *     + relu:     (λ1/n) Σ_bj f_bj ||W_dec_j||                       norm-weighted L1
 *     + jumprelu: (λ0/n) Σ_bj H(pre_bj - θ_j)                        L0, straight-through
 *     + topk/batchtopk: (α/n) Σ_b ||ê_b - e_b||²                     AuxK on dead latents
 * with e = y - ŷ held constant and ê built from the auxk largest dead pre-activations through
 * W_dec alone (no b_dec: e already has it removed). JumpReLU's θ = exp(log θ) gets the
 * pseudo-derivatives of Rajamanoharan et al. (2024) with a rectangle kernel of width ε:
 *   ∂f/∂θ = -(θ/ε)·K((pre-θ)/ε),  ∂H/∂θ = -(1/ε)·K((pre-θ)/ε).
 * Only active latents touch the decoder and encoder gradients (accumulated by rows of W_encᵀ,
 * each latent's rows by one thread). */
#include "sae_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct bwd_task {
    const seer_sae *s;
    sae_work *w;
    const float *y;     /* [n, d_out] */
    int64_t n, ka;      /* rows; AuxK latents (0: no AuxK) */
    const uint8_t *dead;
    const double *norm; /* relu: decoder row norms [d_sae] */
    float two_n, l1, coef;
    int stage; /* 0: dy and the codes' dpre; 1: AuxK codes; 2: gradient scatter by latent */
} bwd_task;

/* Rows: dy = (2/n)(ŷ - y), each code's dL/dpre = dy · W_dec_j (+ the L1 term). */
static void bwd_rows(bwd_task *t, int64_t b0, int64_t b1) {
    const seer_sae *s = t->s;
    sae_work *w = t->w;
    int64_t dout = s->cfg.d_out, st = w->codes.stride;
    for (int64_t b = b0; b < b1; b++) {
        float *dyb = w->dy + b * dout;
        const float *r = w->recon + b * dout, *yb = t->y + b * dout;
        double sse = 0;
        for (int64_t i = 0; i < dout; i++) {
            double d = (double)r[i] - yb[i];
            sse += d * d;
            dyb[i] = t->two_n * (float)d;
        }
        w->row_sse[b] = sse;
        for (int32_t e = 0; e < w->codes.n[b]; e++) {
            int32_t j = w->codes.idx[b * st + e];
            float dv = seer_vec_dot_f32(dyb, s->W_dec + (int64_t)j * dout, dout);
            if (t->norm) dv += t->l1 * (float)t->norm[j];
            w->codes.dpre[b * st + e] = dv;
        }
    }
}

/* Rows: the ka largest dead pre-activations reconstruct the residual e = y - ŷ (held
 * constant) through W_dec alone; aux_recon becomes dL/dê = coef (ê - e). */
static void bwd_aux_rows(bwd_task *t, int ith, int64_t b0, int64_t b1) {
    const seer_sae *s = t->s;
    sae_work *w = t->w;
    int64_t dl = s->cfg.d_sae, dout = s->cfg.d_out, st = w->aux.stride;
    float *row = w->scratch + (int64_t)ith * dl;
    for (int64_t b = b0; b < b1; b++) {
        const float *pre = w->pre + b * dl;
        for (int64_t j = 0; j < dl; j++) row[j] = t->dead[j] ? pre[j] : 0.0f;
        int32_t *idx = w->aux.idx + b * st;
        float *val = w->aux.val + b * st, *dp = w->aux.dpre + b * st;
        int32_t m = (int32_t)sae_topk_row(row, dl, t->ka, idx, val);
        w->aux.n[b] = m;
        float *ar = w->aux_recon + b * dout;
        memset(ar, 0, (size_t)dout * sizeof(float));
        for (int32_t q = 0; q < m; q++) seer_vec_axpy_f32(ar, val[q], s->W_dec + (int64_t)idx[q] * dout, dout);
        double asse = 0;
        for (int64_t i = 0; i < dout; i++) {
            double r = (double)ar[i] - ((double)t->y[b * dout + i] - w->recon[b * dout + i]);
            asse += r * r;
            ar[i] = t->coef * (float)r;
        }
        w->row_asse[b] = asse;
        for (int32_t q = 0; q < m; q++) dp[q] = seer_vec_dot_f32(ar, s->W_dec + (int64_t)idx[q] * dout, dout);
    }
}

/* First latent of thread ith's share when the codes are split evenly by count. */
static int64_t latent_bound(const sae_work *w, int64_t dl, int ith, int nth) {
    if (ith <= 0) return 0;
    if (ith >= nth) return dl;
    int64_t want = w->csc_ptr[dl] * ith / nth, lo = 0, hi = dl;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (w->csc_ptr[mid] < want) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Latents: each row of the decoder and encoder gradients is written by one thread, from its
 * codes in row order (main codes, then AuxK codes): the sums do not depend on the split. */
static void bwd_scatter(bwd_task *t, sae_grads *g, int64_t j0, int64_t j1) {
    const seer_sae *s = t->s;
    sae_work *w = t->w;
    int64_t di = s->cfg.d_in, dout = s->cfg.d_out, st = w->codes.stride, ast = w->aux.stride;
    int64_t off = w->B * st;
    for (int64_t j = j0; j < j1; j++) {
        float *gd = g->W_dec + j * dout, *ge = g->W_encT + j * di;
        memset(gd, 0, (size_t)dout * sizeof(float));
        memset(ge, 0, (size_t)di * sizeof(float));
        float gb = 0;
        for (int64_t q = w->csc_ptr[j]; q < w->csc_ptr[j + 1]; q++) {
            int64_t ent = w->csc_ent[q], b;
            float v, dp;
            const float *src;
            if (ent < off) {
                b = ent / st, v = w->codes.val[ent], dp = w->codes.dpre[ent], src = w->dy + b * dout;
            } else {
                ent -= off;
                b = ent / ast, v = w->aux.val[ent], dp = w->aux.dpre[ent], src = w->aux_recon + b * dout;
            }
            seer_vec_axpy_f32(gd, v, src, dout);
            seer_vec_axpy_f32(ge, dp, w->xc + b * di, di);
            gb += dp;
        }
        g->b_enc[j] = gb;
    }
}

typedef struct bwd_job {
    bwd_task *t;
    sae_grads *g;
} bwd_job;

static void bwd_run(void *ctx, int ith, int nth) {
    bwd_job *job = ctx;
    bwd_task *t = job->t;
    int64_t lo, hi;
    if (t->stage == 2) {
        int64_t dl = t->s->cfg.d_sae;
        bwd_scatter(t, job->g, latent_bound(t->w, dl, ith, nth), latent_bound(t->w, dl, ith + 1, nth));
        return;
    }
    sae_split(t->n, ith, nth, &lo, &hi);
    if (t->stage == 0) bwd_rows(t, lo, hi);
    else bwd_aux_rows(t, ith, lo, hi);
}

/* Groups the codes by latent (a counting sort): main codes first, then AuxK codes, each in
 * row order. */
static void build_csc(sae_work *w, int64_t n, int64_t dl, int with_aux) {
    int64_t *ptr = w->csc_ptr, st = w->codes.stride, ast = w->aux.stride, off = w->B * st;
    memset(ptr, 0, (size_t)(dl + 1) * sizeof(*ptr));
    for (int64_t b = 0; b < n; b++) {
        for (int32_t e = 0; e < w->codes.n[b]; e++) ptr[w->codes.idx[b * st + e] + 1]++;
        if (with_aux)
            for (int32_t e = 0; e < w->aux.n[b]; e++) ptr[w->aux.idx[b * ast + e] + 1]++;
    }
    for (int64_t j = 0; j < dl; j++) ptr[j + 1] += ptr[j];
    /* Fill with a moving cursor per latent (ptr shifted down one slot, then restored). */
    for (int64_t j = dl; j > 0; j--) ptr[j] = ptr[j - 1];
    ptr[0] = 0;
    for (int64_t b = 0; b < n; b++)
        for (int32_t e = 0; e < w->codes.n[b]; e++) w->csc_ent[ptr[w->codes.idx[b * st + e] + 1]++] = b * st + e;
    if (with_aux)
        for (int64_t b = 0; b < n; b++)
            for (int32_t e = 0; e < w->aux.n[b]; e++) w->csc_ent[ptr[w->aux.idx[b * ast + e] + 1]++] = off + b * ast + e;
}

seer_status sae_loss_backward(const seer_sae *s, sae_work *w, const float *x, const float *y, int64_t n,
                              const sae_loss_params *lp, sae_grads *g, sae_loss *out, seer_err *err) {
    const seer_sae_config *c = &s->cfg;
    int64_t di = c->d_in, dl = c->d_sae, dout = c->d_out;
    if (n < 1 || n > w->B || !w->dy)
        return seer_err_set(err, SEER_ERR_RANGE, "sae: batch of %lld rows (training workspace %lld)", (long long)n,
                            (long long)w->B);
    memset(out, 0, sizeof(*out));
    out->batch_min = sae_forward_batch(s, w, x, n, 1);
    memset(g->b_dec, 0, (size_t)dout * sizeof(float));
    if (g->log_threshold) memset(g->log_threshold, 0, (size_t)dl * sizeof(float));

    /* Variance of the targets about their mean (FVU's denominator). */
    double var = 0;
    for (int64_t i = 0; i < dout; i++) {
        double mean = 0;
        for (int64_t b = 0; b < n; b++) mean += y[b * dout + i];
        mean /= (double)n;
        for (int64_t b = 0; b < n; b++) {
            double d = y[b * dout + i] - mean;
            var += d * d;
        }
    }
    /* Decoder norms for the weighted L1. */
    double *norm = NULL;
    if (c->arch == SEER_SAE_RELU) {
        if (!(norm = calloc((size_t)dl, sizeof(*norm)))) return seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory");
        for (int64_t j = 0; j < dl; j++) {
            const float *r = s->W_dec + j * dout;
            norm[j] = sqrt((double)seer_vec_dot_f32(r, r, dout));
        }
    }
    bwd_task t = {.s = s, .w = w, .y = y, .n = n, .dead = lp->dead, .norm = norm, .two_n = 2.0f / (float)n,
                  .l1 = (float)(lp->l1_coeff / (double)n), .coef = (float)(2.0 * lp->auxk_coeff / (double)n)};
    bwd_job job = {&t, g};
    sae_parallel(w, bwd_run, &job);
    double sse = 0;
    int64_t nnz = 0;
    for (int64_t b = 0; b < n; b++) sse += w->row_sse[b], nnz += w->codes.n[b];
    out->mse = sse / (double)n;
    out->fvu = var > 0 ? sse / var : 0;
    out->l0 = (double)nnz / (double)n;

    /* AuxK: dead latents reconstruct the residual. */
    if ((c->arch == SEER_SAE_TOPK || c->arch == SEER_SAE_BATCHTOPK) && lp->dead && lp->auxk_coeff > 0) {
        int64_t n_dead = 0;
        for (int64_t j = 0; j < dl; j++) n_dead += lp->dead[j] != 0;
        t.ka = lp->auxk < n_dead ? lp->auxk : n_dead;
        if (t.ka > w->aux.stride) t.ka = w->aux.stride;
        if (t.ka > 0) {
            t.stage = 1;
            sae_parallel(w, bwd_run, &job);
            double asse = 0;
            for (int64_t b = 0; b < n; b++) asse += w->row_asse[b];
            out->aux = lp->auxk_coeff * asse / (double)n;
        }
    }

    /* Decoder and encoder gradients by latent, from the active codes only. */
    build_csc(w, n, dl, t.ka > 0);
    t.stage = 2;
    sae_parallel(w, bwd_run, &job);

    double sp = 0;
    if (norm) {
        int64_t st = w->codes.stride;
        double *fsum = calloc((size_t)dl, sizeof(*fsum));
        if (!fsum) {
            free(norm);
            return seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory");
        }
        for (int64_t b = 0; b < n; b++)
            for (int32_t e = 0; e < w->codes.n[b]; e++) {
                int32_t j = w->codes.idx[b * st + e];
                float v = w->codes.val[b * st + e];
                fsum[j] += v;
                sp += v * norm[j];
            }
        sp *= lp->l1_coeff / (double)n;
        for (int64_t j = 0; j < dl; j++)
            if (norm[j] > 0 && fsum[j] > 0)
                seer_vec_axpy_f32(g->W_dec + j * dout, (float)(lp->l1_coeff / (double)n * fsum[j] / norm[j]),
                                  s->W_dec + j * dout, dout);
        free(norm), free(fsum);
    }

    /* JumpReLU: the threshold's pseudo-gradient over the window |pre - θ| < ε/2. */
    if (c->arch == SEER_SAE_JUMPRELU) {
        double eps = lp->bandwidth;
        sp = lp->l0_coeff * (double)nnz / (double)n;
        double *dth = calloc((size_t)dl, sizeof(*dth));
        if (!dth) return seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory");
        for (int64_t b = 0; b < n; b++)
            for (int64_t j = 0; j < dl; j++) {
                double th = s->threshold[j], z = w->pre[b * dl + j];
                if (!(fabs(z - th) < eps / 2)) continue;
                double dv = seer_vec_dot_f32(w->dy + b * dout, s->W_dec + j * dout, dout);
                dth[j] += -(th / eps) * dv - lp->l0_coeff / (double)n / eps;
            }
        for (int64_t j = 0; j < dl; j++) g->log_threshold[j] = (float)(dth[j] * s->threshold[j]);
        free(dth);
    }
    out->sparsity = sp;

    /* b_dec: through the output, and through the encoder input when it is subtracted there
     * (-W_enc · Σ_b dpre_b: only latents that fired contribute). */
    for (int64_t b = 0; b < n; b++)
        for (int64_t i = 0; i < dout; i++) g->b_dec[i] += w->dy[b * dout + i];
    if (c->apply_b_dec_to_input) {
        if (w->encT) {
            for (int64_t j = 0; j < dl; j++)
                if (g->b_enc[j] != 0) seer_vec_axpy_f32(g->b_dec, -g->b_enc[j], w->encT + j * di, di);
        } else
            for (int64_t i = 0; i < di; i++) g->b_dec[i] -= seer_vec_dot_f32(s->W_enc + i * dl, g->b_enc, dl);
    }
    if (g->W_enc)
        for (int64_t j = 0; j < dl; j++)
            for (int64_t i = 0; i < di; i++) g->W_enc[i * dl + j] = g->W_encT[j * di + i];
    if (c->skip)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)dout, (int)di, (int)n, 1.0f, w->dy, (int)dout, x,
                    (int)di, 0.0f, g->W_skip, (int)di);
    out->loss = out->mse + out->sparsity + out->aux;
    return SEER_OK;
}
