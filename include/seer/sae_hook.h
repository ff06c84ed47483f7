/* SAEs inside intervention graphs: the codec the graph's "sae" operation runs through (see
 * seer_hook_codec in seer/hooks.h). Programs that run graphs install it once:
 *   seer_graph_set_codec(seer_sae_hook_codec()); */
#ifndef SEER_SAE_HOOK_H
#define SEER_SAE_HOOK_H

#include "seer/hooks.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opens SAELens or sparsify folders (seer_sae_load); refuses transcoders and SAEs recorded for
 * another hook or width, naming both. */
const seer_hook_codec *seer_sae_hook_codec(void);

#ifdef __cplusplus
}
#endif
#endif
