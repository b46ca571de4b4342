/* repeat.c - the viewer -> last audited list table (repeat.h). A linear
 * scan: the table is small (a few hundred open worklists) and the scan is
 * cheaper than the store append it saves. */
#include <stdlib.h>
#include <string.h>

#include "server/audit/repeat.h"

typedef struct slot {
    bool used;
    char viewer[CS_REPEAT_VIEWER_MAX];
    uint64_t digest;
    int64_t at_ms;
    uint64_t skipped; /* seen since last recorded */
} slot;

struct cs_repeat_table {
    size_t n;
    slot *slots;
};

cs_repeat_table *cs_repeat_new(size_t slots)
{
    cs_repeat_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->n = slots ? slots : 1;
    t->slots = calloc(t->n, sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return NULL;
    }
    return t;
}

void cs_repeat_free(cs_repeat_table *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t);
}

bool cs_repeat_seen(cs_repeat_table *t, const char *viewer, uint64_t digest, int64_t now_ms,
                    int64_t window_ms)
{
    return cs_repeat_seen_counted(t, viewer, digest, now_ms, window_ms, NULL);
}

bool cs_repeat_seen_counted(cs_repeat_table *t, const char *viewer, uint64_t digest, int64_t now_ms,
                            int64_t window_ms, uint64_t *skipped)
{
    size_t len = strlen(viewer);
    if (skipped)
        *skipped = 0;
    if (len >= CS_REPEAT_VIEWER_MAX)
        return false;
    slot *mine = NULL, *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < t->n; i++) {
        slot *s = &t->slots[i];
        if (!s->used) {
            if (!free_slot)
                free_slot = s;
        } else if (strcmp(s->viewer, viewer) == 0) {
            mine = s;
            break;
        } else if (!oldest || s->at_ms < oldest->at_ms) {
            oldest = s;
        }
    }
    if (mine && mine->digest == digest && now_ms - mine->at_ms < window_ms &&
        now_ms >= mine->at_ms) {
        mine->skipped++;
        return true;
    }
    if (mine && skipped)
        *skipped = mine->skipped;
    slot *s = mine ? mine : free_slot ? free_slot : oldest;
    s->used = true;
    memcpy(s->viewer, viewer, len + 1);
    s->digest = digest;
    s->at_ms = now_ms;
    s->skipped = 0;
    return false;
}

uint64_t cs_repeat_digest(uint64_t h, const void *bytes, size_t len)
{
    const unsigned char *p = bytes;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
