/* id_set.h - a bounded, thread-safe set of ids (study ids and the like,
 * shorter than CS_ID_MAX) that answers "seen before?" without the store.
 *
 * It is a cache of facts that never change once true, such as "this study
 * is a clinical study" (a study's purpose is set at creation and studies
 * are never deleted): a miss only means "ask the store". Memory is fixed
 * at cs_id_set_new; when the set is full it forgets everything and starts
 * again, which costs store reads, never a wrong answer.
 *
 * Threads: every call may come from any thread (one mutex). Errors:
 * cs_id_set_new returns NULL when out of memory; an id of CS_ID_MAX bytes
 * or more is never added and never found. */
#ifndef CS_SERVER_CORE_ID_SET_H
#define CS_SERVER_CORE_ID_SET_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cs_id_set cs_id_set;

/* A set with room for at least `capacity` ids before it forgets (slots
 * are a power of two, twice that at least). NULL when out of memory. */
cs_id_set *cs_id_set_new(size_t capacity);
void cs_id_set_free(cs_id_set *s);

/* Whether `id` was added (since the set last forgot). NULL set: false. */
bool cs_id_set_has(cs_id_set *s, const char *id);
/* Add `id` (a no-op if present, too long, or s is NULL). */
void cs_id_set_add(cs_id_set *s, const char *id);
/* How many ids it holds now (for tests and metrics). */
size_t cs_id_set_count(cs_id_set *s);

#endif
