/* A patching sweep as an SVG heatmap: one panel per hook point (layers down, positions or
 * heads across), one diverging colour scale shared by all panels (blue below 0, white at 0,
 * red toward 1 = fully restored), token labels, a colour bar and a tooltip per cell. Written
 * by hand: the format needs nothing more than text. */
#include "analysis_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (k > 0) sb_put(b, tmp, (size_t)k < sizeof(tmp) ? (size_t)k : sizeof(tmp) - 1);
}

/* Text content or attribute value, XML-escaped. */
static void sb_esc(sbuf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': sb_put(b, "&amp;", 5); break;
        case '<': sb_put(b, "&lt;", 4); break;
        case '>': sb_put(b, "&gt;", 4); break;
        case '"': sb_put(b, "&quot;", 6); break;
        case '\'': sb_put(b, "&apos;", 6); break;
        default: sb_put(b, s, 1);
        }
    }
}

/* t in [-1, 1] -> white blended toward red (t > 0) or blue (t < 0). */
static void colour(double t, int rgb[3]) {
    static const int red[3] = {178, 24, 43}, blue[3] = {33, 102, 172};
    const int *to = t >= 0 ? red : blue;
    double a = fmin(1.0, fabs(t));
    if (a != a) a = 0; /* NaN: white */
    for (int i = 0; i < 3; i++) rgb[i] = (int)lround(255.0 + (to[i] - 255.0) * a);
}

enum { CELL_W = 44, CELL_H = 22, LEFT = 64, TOP = 70, PANEL_HEAD = 84, GAP = 28, RIGHT = 24 };

seer_status seer_patch_result_write_svg(const seer_patch_result *r, const seer_tok *tok, const char *path, seer_err *err) {
    double vmax = 1;
    int32_t max_cols = 1;
    for (int32_t g = 0; g < r->n_grids; g++) {
        const seer_patch_grid *G = &r->grids[g];
        max_cols = G->n_cols > max_cols ? G->n_cols : max_cols;
        for (int64_t i = 0; i < (int64_t)G->n_rows * G->n_cols; i++)
            if (isfinite(G->normalised[i])) vmax = fmax(vmax, fabs(G->normalised[i]));
    }
    int width = LEFT + max_cols * CELL_W + RIGHT;
    if (width < 520) width = 520;
    int height = TOP;
    for (int32_t g = 0; g < r->n_grids; g++) height += PANEL_HEAD + r->grids[g].n_rows * CELL_H + GAP;
    height += 60; /* colour bar */

    sbuf b = {0};
    char label[64], la[64], lb[64];
    sb_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                  "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
                  "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
              width, height, width, height);
    seer_analysis_token_label(tok, -1, r->tok_a, la, sizeof(la));
    seer_analysis_token_label(tok, -1, r->tok_b, lb, sizeof(lb));
    sb_printf(&b, "<text x=\"12\" y=\"24\" font-size=\"15\" font-weight=\"bold\">Activation patching: ");
    if (r->metric == SEER_PATCH_LOGIT_DIFF) {
        sb_printf(&b, "logit('");
        sb_esc(&b, la);
        sb_printf(&b, "') - logit('");
        sb_esc(&b, lb);
        sb_printf(&b, "')");
    } else {
        sb_printf(&b, "p('");
        sb_esc(&b, la);
        sb_printf(&b, "')");
    }
    sb_printf(&b, "</text>\n<text x=\"12\" y=\"44\" font-size=\"12\">clean %.4g, corrupt %.4g; cell = (patched - corrupt) / "
                  "(clean - corrupt): 1 = restores the clean answer, 0 = no effect</text>\n",
              r->clean, r->corrupt);

    int y = TOP;
    for (int32_t g = 0; g < r->n_grids; g++) {
        const seer_patch_grid *G = &r->grids[g];
        char hook[96];
        snprintf(hook, sizeof(hook), "blocks.L.%s%s", seer_hook_point_name(G->point), G->per_head ? " (per head, all positions)" : "");
        sb_printf(&b, "<text x=\"12\" y=\"%d\" font-size=\"13\" font-weight=\"bold\">", y + 16);
        sb_esc(&b, hook);
        sb_printf(&b, "</text>\n");
        int top = y + PANEL_HEAD;
        /* column labels, rotated so token pieces of any length fit */
        for (int32_t c = 0; c < G->n_cols; c++) {
            int cx = LEFT + c * CELL_W + CELL_W / 2;
            if (G->per_head) snprintf(label, sizeof(label), "H%d", c);
            else {
                char piece[48];
                seer_analysis_token_label(tok, c ? r->clean_tokens[c - 1] : -1, r->clean_tokens[c], piece, sizeof(piece));
                snprintf(label, sizeof(label), "%d %s", c, piece);
            }
            sb_printf(&b, "<text x=\"%d\" y=\"%d\" font-size=\"11\" transform=\"rotate(-45 %d %d)\"%s>", cx, top - 6, cx,
                      top - 6, !G->per_head && r->clean_tokens[c] != r->corrupt_tokens[c] ? " font-weight=\"bold\"" : "");
            sb_esc(&b, label);
            sb_printf(&b, "</text>\n");
        }
        for (int32_t l = 0; l < G->n_rows; l++) {
            int cy = top + l * CELL_H;
            sb_printf(&b, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">L%d</text>\n", LEFT - 6,
                      cy + CELL_H / 2 + 4, l);
            for (int32_t c = 0; c < G->n_cols; c++) {
                double v = G->normalised[(int64_t)l * G->n_cols + c];
                int rgb[3];
                colour(v / vmax, rgb);
                int cx = LEFT + c * CELL_W;
                sb_printf(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,%d)\" stroke=\"#ddd\">"
                              "<title>L%d %s%d: %.4f (metric %.4g)</title></rect>\n",
                          cx, cy, CELL_W, CELL_H, rgb[0], rgb[1], rgb[2], l, G->per_head ? "head " : "pos ", c, v,
                          G->raw[(int64_t)l * G->n_cols + c]);
                sb_printf(&b, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\" fill=\"%s\">%.2f</text>\n",
                          cx + CELL_W / 2, cy + CELL_H / 2 + 4, fabs(v / vmax) > 0.6 ? "white" : "black",
                          fabs(v) < 0.005 ? 0.0 : v); /* no "-0.00" */
            }
        }
        y = top + G->n_rows * CELL_H + GAP;
    }
    /* colour bar from -vmax to vmax */
    int bar_w = width - LEFT - RIGHT - 40, bx = LEFT;
    sb_printf(&b, "<defs><linearGradient id=\"scale\" x1=\"0\" x2=\"1\" y1=\"0\" y2=\"0\">\n");
    for (int i = 0; i <= 10; i++) {
        int rgb[3];
        colour(-1.0 + i / 5.0, rgb);
        sb_printf(&b, "<stop offset=\"%d%%\" stop-color=\"rgb(%d,%d,%d)\"/>\n", i * 10, rgb[0], rgb[1], rgb[2]);
    }
    sb_printf(&b, "</linearGradient></defs>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"14\" fill=\"url(#scale)\" stroke=\"#999\"/>\n",
              bx, y, bar_w);
    for (int i = 0; i <= 4; i++) {
        int tx = bx + bar_w * i / 4;
        sb_printf(&b, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%.2g</text>\n", tx, y + 30,
                  -vmax + vmax * i / 2.0);
    }
    sb_printf(&b, "</svg>\n");
    seer_status st = b.oom ? seer_err_set(err, SEER_ERR_NOMEM, "patch: out of memory writing the SVG")
                           : seer_write_file_atomic(path, b.p, b.n, err);
    free(b.p);
    return st;
}
