/* Private to src/hooks: row selection and the per-row operations (intervene.c). */
#ifndef SEER_INTERVENE_H
#define SEER_INTERVENE_H

#include "graph_internal.h"

/* Offsets within a row of the elements node n selects in this visit; offs needs room for
 * ev->width entries. */
int64_t iv_select_elems(const graph_node *n, const seer_tap_event *ev, int64_t *offs);
/* Whether the row of prompt b at pos is selected (len_b: the prompt's current length, for
 * negative positions). */
int iv_row_selected(const graph_node *n, int32_t b, int32_t pos, int32_t len_b);
/* Applies n's operation to the selected elements of row. src_row: the row to copy from for set
 * (from a node), patch, or a batch mean for mean_ablate; NULL otherwise. */
void iv_apply_row(const graph_node *n, int node_index, float *row, const int64_t *offs, int64_t ne, int32_t b, int32_t pos,
                  int32_t step, const float *src_row);

#endif
