/* reference.h - the reference of a training case imported from a file
 * (docs/training.md, "Importing a case"): the known answer as JSON,
 * checked before it is stored, so a case never carries a reference the
 * scoring cannot read.
 *
 * Pure; any thread. */
#ifndef CS_SERVER_TRAINING_REFERENCE_H
#define CS_SERVER_TRAINING_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Check `ref`: an object with "findings" (a list of {"type": a finding
 * type, "seq_from": N >= 0, "seq_to": M >= N (optional)}, other keys such
 * as "segment" or "note" kept), "landmarks" ({landmark: frame >= 0}) and
 * "cleansing" ({cleansing segment: CC-CLEAR 0..3}); each optional, nothing
 * else allowed. false with the reason, naming the place, in why. */
bool cs_training_reference_check(json_t *ref, char *why, size_t cap);

#endif
