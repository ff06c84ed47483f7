/* The training loss of one batch and its backward, written out by hand:
 *   L = (1/n) Σ_b ||ŷ_b - y_b||²                                  reconstruction
 *     + relu:     (λ1/n) Σ_bj f_bj ||W_dec_j||                       norm-weighted L1
 *     + jumprelu: (λ0/n) Σ_bj H(pre_bj - θ_j)                        L0, straight-through
 *     + topk/batchtopk: (α/n) Σ_b ||ê_b - e_b||²                     AuxK on dead latents
 * with e = y - ŷ held constant and ê built from the auxk largest dead pre-activations through
 * W_dec alone (no b_dec: e already has it removed). JumpReLU's θ = exp(log θ) gets the
 * pseudo-derivatives of Rajamanoharan et al. (2024) with a rectangle kernel of width ε:
 *   ∂f/∂θ = -(θ/ε)·K((pre-θ)/ε),  ∂H/∂θ = -(1/ε)·K((pre-θ)/ε).
 * Only active latents touch the decoder and encoder gradients (accumulated by rows of W_encᵀ). */
#include "sae_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Encoder gradient for one code: row j of W_encᵀ += dpre · xc_b; b_enc_j += dpre. */
static void enc_grad(sae_grads *g, const sae_work *w, int64_t di, int64_t b, int32_t j, float dpre) {
    seer_vec_axpy_f32(g->W_encT + (int64_t)j * di, dpre, w->xc + b * di, di);
    g->b_enc[j] += dpre;
}

seer_status sae_loss_backward(const seer_sae *s, sae_work *w, const float *x, const float *y, int64_t n,
                              const sae_loss_params *lp, sae_grads *g, sae_loss *out, seer_err *err) {
    const seer_sae_config *c = &s->cfg;
    int64_t di = c->d_in, dl = c->d_sae, dout = c->d_out;
    if (n < 1 || n > w->B) return seer_err_set(err, SEER_ERR_RANGE, "sae: batch of %lld rows (workspace %lld)", (long long)n, (long long)w->B);
    memset(out, 0, sizeof(*out));
    out->batch_min = sae_forward_batch(s, w, x, n, 1);

    /* Zero every gradient before accumulating. */
    memset(g->W_encT, 0, (size_t)(dl * di) * sizeof(float));
    memset(g->b_enc, 0, (size_t)dl * sizeof(float));
    memset(g->W_dec, 0, (size_t)(dl * dout) * sizeof(float));
    memset(g->b_dec, 0, (size_t)dout * sizeof(float));
    if (g->log_threshold) memset(g->log_threshold, 0, (size_t)dl * sizeof(float));

    /* Reconstruction: dy = (2/n)(ŷ - y). */
    double sse = 0, var = 0;
    for (int64_t i = 0; i < dout; i++) {
        double mean = 0;
        for (int64_t b = 0; b < n; b++) mean += y[b * dout + i];
        mean /= (double)n;
        for (int64_t b = 0; b < n; b++) {
            double d = y[b * dout + i] - mean;
            var += d * d;
        }
    }
    float two_n = 2.0f / (float)n;
    for (int64_t t = 0; t < n * dout; t++) {
        double d = (double)w->recon[t] - y[t];
        sse += d * d;
        w->dy[t] = two_n * (float)d;
    }
    out->mse = sse / (double)n;
    out->fvu = var > 0 ? sse / var : 0;
    int64_t nnz = w->codes.ptr[n];
    out->l0 = (double)nnz / (double)n;

    /* Decoder norms for the weighted L1. */
    double *norm = NULL, *fsum = NULL;
    if (c->arch == SEER_SAE_RELU) {
        norm = calloc((size_t)dl, sizeof(*norm));
        fsum = calloc((size_t)dl, sizeof(*fsum));
        if (!norm || !fsum) {
            free(norm), free(fsum);
            return seer_err_set(err, SEER_ERR_NOMEM, "sae: out of memory");
        }
        for (int64_t j = 0; j < dl; j++) {
            const float *r = s->W_dec + j * dout;
            norm[j] = sqrt((double)seer_vec_dot_f32(r, r, dout));
        }
    }
    float l1 = (float)(lp->l1_coeff / (double)n);
    double sp = 0;

    /* Active codes: decoder rows, then the encoder through dpre. */
    for (int64_t b = 0; b < n; b++) {
        const float *dyb = w->dy + b * dout;
        for (int64_t e = w->codes.ptr[b]; e < w->codes.ptr[b + 1]; e++) {
            int32_t j = w->codes.idx[e];
            float v = w->codes.val[e];
            const float *wd = s->W_dec + (int64_t)j * dout;
            seer_vec_axpy_f32(g->W_dec + (int64_t)j * dout, v, dyb, dout);
            float dv = seer_vec_dot_f32(dyb, wd, dout);
            if (norm) {
                dv += l1 * (float)norm[j];
                fsum[j] += v;
                sp += v * norm[j];
            }
            enc_grad(g, w, di, b, j, dv);
        }
    }
    if (norm) {
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

    /* AuxK: dead latents reconstruct the residual. */
    if ((c->arch == SEER_SAE_TOPK || c->arch == SEER_SAE_BATCHTOPK) && lp->dead && lp->auxk_coeff > 0) {
        int64_t n_dead = 0;
        for (int64_t j = 0; j < dl; j++) n_dead += lp->dead[j] != 0;
        int64_t ka = lp->auxk < n_dead ? lp->auxk : n_dead;
        if (ka > 0) {
            double asse = 0;
            float coef = (float)(2.0 * lp->auxk_coeff / (double)n);
            int64_t e = 0;
            for (int64_t b = 0; b < n; b++) {
                float *row = w->sel; /* dead latents' pre-activations, the rest masked out */
                for (int64_t j = 0; j < dl; j++) row[j] = lp->dead[j] ? w->pre[b * dl + j] : 0.0f;
                w->aux.ptr[b] = e;
                e += sae_topk_row(row, dl, ka, w->aux.idx + e, w->aux.val + e);
                float *ar = w->aux_recon + b * dout;
                memset(ar, 0, (size_t)dout * sizeof(float));
                for (int64_t q = w->aux.ptr[b]; q < e; q++)
                    seer_vec_axpy_f32(ar, w->aux.val[q], s->W_dec + (int64_t)w->aux.idx[q] * dout, dout);
                /* ar becomes dL/dê = coef (ê - e), e = y - ŷ */
                for (int64_t i = 0; i < dout; i++) {
                    double r = (double)ar[i] - ((double)y[b * dout + i] - w->recon[b * dout + i]);
                    asse += r * r;
                    ar[i] = coef * (float)r;
                }
                for (int64_t q = w->aux.ptr[b]; q < e; q++) {
                    int32_t j = w->aux.idx[q];
                    seer_vec_axpy_f32(g->W_dec + (int64_t)j * dout, w->aux.val[q], ar, dout);
                    enc_grad(g, w, di, b, j, seer_vec_dot_f32(ar, s->W_dec + (int64_t)j * dout, dout));
                }
            }
            w->aux.ptr[n] = e;
            out->aux = lp->auxk_coeff * asse / (double)n;
        }
    }

    /* Encoder gradient back to [d_in, d_sae]; b_dec also enters through the encoder input. */
    for (int64_t j = 0; j < dl; j++)
        for (int64_t i = 0; i < di; i++) g->W_enc[i * dl + j] = g->W_encT[j * di + i];
    for (int64_t b = 0; b < n; b++)
        for (int64_t i = 0; i < dout; i++) g->b_dec[i] += w->dy[b * dout + i];
    if (c->apply_b_dec_to_input)
        for (int64_t i = 0; i < di; i++) g->b_dec[i] -= seer_vec_dot_f32(s->W_enc + i * dl, g->b_enc, dl);
    if (c->skip)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)dout, (int)di, (int)n, 1.0f, w->dy, (int)dout, x,
                    (int)di, 0.0f, g->W_skip, (int)di);
    out->loss = out->mse + out->sparsity + out->aux;
    return SEER_OK;
}
