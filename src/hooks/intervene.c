/* The operations of the intervention graph, applied to one visit of a hook: a set of rows
 * (tokens), each a block of heads x head_width values, of which a selector picks some rows and
 * some elements. Every operation works on the selected elements of a row in place. */
#include "intervene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Offsets (within a row) of the selected elements; returns their count. */
int64_t iv_select_elems(const graph_node *n, const seer_tap_event *ev, int64_t *offs) {
    int64_t k = 0;
    int32_t nh = n->sel.n_head ? n->sel.n_head : ev->n_heads;
    for (int32_t hi = 0; hi < nh; hi++) {
        int64_t h = n->sel.n_head ? n->sel.head[hi] : hi;
        if (h >= ev->n_heads) continue;
        if (n->sel.n_index) {
            for (int32_t ii = 0; ii < n->sel.n_index; ii++)
                if (n->sel.index[ii] < ev->head_width) offs[k++] = h * ev->head_width + n->sel.index[ii];
        } else {
            for (int64_t j = 0; j < ev->head_width; j++) offs[k++] = h * ev->head_width + j;
        }
    }
    return k;
}

int iv_row_selected(const graph_node *n, int32_t b, int32_t pos, int32_t len_b) {
    if (n->sel.n_batch) {
        int ok = 0;
        for (int32_t i = 0; i < n->sel.n_batch && !ok; i++) ok = n->sel.batch[i] == b;
        if (!ok) return 0;
    }
    if (n->sel.n_pos) {
        int ok = 0;
        for (int32_t i = 0; i < n->sel.n_pos && !ok; i++) {
            int32_t p = n->sel.pos[i] < 0 ? len_b + n->sel.pos[i] : n->sel.pos[i];
            ok = p == pos;
        }
        if (!ok) return 0;
    }
    return 1;
}

static const float *node_value(const graph_node *n) { return n->tensor ? n->tensor->data : n->inline_v; }

/* splitmix-style mixing of the coordinates, so noise depends on (seed, node, prompt, position,
 * step) only: the same whatever the batching or threads. */
static uint64_t mix(uint64_t a, uint64_t b) {
    uint64_t z = a ^ (b + 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2));
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void iv_apply_row(const graph_node *n, int node_index, float *row, const int64_t *offs, int64_t ne, int32_t b, int32_t pos,
                  int32_t step, const float *src_row) {
    const float *val = node_value(n);
    switch (n->op) {
    case OP_SET:
        if (src_row) { /* from a saved node, or a patch source: the same elements */
            for (int64_t k = 0; k < ne; k++) row[offs[k]] = src_row[offs[k]];
        } else {
            for (int64_t k = 0; k < ne; k++) row[offs[k]] = val[k];
        }
        break;
    case OP_PATCH:
        if (src_row)
            for (int64_t k = 0; k < ne; k++) row[offs[k]] = src_row[offs[k]];
        break;
    case OP_ADD:
        for (int64_t k = 0; k < ne; k++) row[offs[k]] += n->coef * val[k];
        break;
    case OP_SCALE:
        for (int64_t k = 0; k < ne; k++) row[offs[k]] *= n->factor;
        break;
    case OP_ZERO:
        for (int64_t k = 0; k < ne; k++) row[offs[k]] = 0;
        break;
    case OP_MEAN_ABLATE: /* src_row: the batch mean at this position, when no mean was given */
        for (int64_t k = 0; k < ne; k++) row[offs[k]] = val ? val[k] : src_row[offs[k]];
        break;
    case OP_PROJECT_OUT:
    case OP_PROJECT_ONTO: {
        double dot = 0, uu = 0;
        for (int64_t k = 0; k < ne; k++) {
            dot += (double)row[offs[k]] * val[k];
            uu += (double)val[k] * val[k];
        }
        if (uu == 0) break;
        double c = dot / uu;
        for (int64_t k = 0; k < ne; k++) {
            float proj = (float)(c * val[k]);
            row[offs[k]] = n->op == OP_PROJECT_OUT ? row[offs[k]] - proj : proj;
        }
        break;
    }
    case OP_CLAMP:
        for (int64_t k = 0; k < ne; k++) row[offs[k]] = fminf(fmaxf(row[offs[k]], n->lo), n->hi);
        break;
    case OP_NOISE: {
        double s = n->scale;
        /* Masked attention scores are -inf: they stay so, and a relative scale is taken over
         * the finite values only (the keys the query sees). */
        if (n->relative) { /* relative to the RMS of the selected values */
            double ss = 0;
            int64_t nf = 0;
            for (int64_t k = 0; k < ne; k++)
                if (isfinite(row[offs[k]])) ss += (double)row[offs[k]] * row[offs[k]], nf++;
            s *= nf ? sqrt(ss / (double)nf) : 0;
        }
        seer_rng r;
        seer_rng_seed(&r, mix(mix(mix(mix(n->seed, (uint64_t)node_index), (uint64_t)b), (uint64_t)pos), (uint64_t)step));
        for (int64_t k = 0; k < ne; k++) {
            float e = n->uniform ? 2.0f * seer_rng_uniform(&r) - 1.0f : seer_rng_normal(&r);
            if (isfinite(row[offs[k]])) row[offs[k]] += (float)s * e;
        }
        break;
    }
    default: break;
    }
}
