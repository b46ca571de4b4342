/* repeat.h - which list answer each viewer was last audited for, so that a
 * polled list (the worklist refreshes every 2 s) is audited when what it
 * shows changes, not on every poll: 1,800 identical patient.read rows an
 * hour per open worklist would bury the reads that matter
 * (docs/workstation.md, "Audit").
 *
 * A viewer is a string (a session's id hash, or who and from where for a
 * token); a list answer is a 64-bit digest of what it showed. A pair is
 * "seen" when the same viewer was recorded with the same digest less than
 * the window ago. Memory is fixed: `slots` viewers; a full table evicts the
 * viewer recorded longest ago, who is simply audited again next time, so
 * the table can only add rows, never lose a change.
 *
 * Time is passed in (unix milliseconds), so the rule is testable.
 * Threads: none of its own; the caller serialises (the audit log calls it
 * under its lock). Errors: _new returns NULL when out of memory. */
#ifndef CS_SERVER_REPEAT_H
#define CS_SERVER_REPEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CS_REPEAT_VIEWER_MAX 320

typedef struct cs_repeat_table cs_repeat_table;

cs_repeat_table *cs_repeat_new(size_t slots);
void cs_repeat_free(cs_repeat_table *t); /* accepts NULL */

/* True when `viewer` was recorded with `digest` less than window_ms before
 * now_ms (the caller skips its entry). Otherwise records (viewer, digest,
 * now_ms) and returns false (the caller writes its entry). A viewer longer
 * than CS_REPEAT_VIEWER_MAX - 1 is never seen (always audited). */
bool cs_repeat_seen(cs_repeat_table *t, const char *viewer, uint64_t digest, int64_t now_ms,
                    int64_t window_ms);
/* cs_repeat_seen that also counts: each time it returns true the viewer's
 * count goes up by one; when it returns false, *skipped (may be NULL) gets
 * the viewer's count since it was last recorded (0 for a new or evicted
 * viewer), and the count starts again. For collapsed refusals, whose next
 * entry says how many went unrecorded before it. */
bool cs_repeat_seen_counted(cs_repeat_table *t, const char *viewer, uint64_t digest, int64_t now_ms,
                            int64_t window_ms, uint64_t *skipped);

/* FNV-1a 64 of `len` bytes, continuing from `h` (start with
 * CS_REPEAT_DIGEST_INIT): to build a list's digest field by field. */
#define CS_REPEAT_DIGEST_INIT 0xcbf29ce484222325ULL
uint64_t cs_repeat_digest(uint64_t h, const void *bytes, size_t len);

#endif
