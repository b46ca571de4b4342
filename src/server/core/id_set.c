/* id_set.c - open addressing (linear probing) over fixed slots, at most
 * half of them in use so that probes stay short; full means "forget
 * everything" (id_set.h). */
#include "server/core/id_set.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capscreen/store.h" /* CS_ID_MAX */

struct cs_id_set {
    pthread_mutex_t mu;
    size_t mask;             /* slots - 1 */
    size_t count, max_count; /* in use; at most half the slots */
    char (*slot)[CS_ID_MAX]; /* "" = empty */
};

cs_id_set *cs_id_set_new(size_t capacity)
{
    size_t slots = 32;
    while (slots / 2 < capacity && slots < ((size_t)1 << 24))
        slots *= 2;
    cs_id_set *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->slot = calloc(slots, sizeof *s->slot);
    if (!s->slot || pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s->slot);
        free(s);
        return NULL;
    }
    s->mask = slots - 1;
    s->max_count = slots / 2;
    return s;
}

void cs_id_set_free(cs_id_set *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s->slot);
    free(s);
}

/* FNV-1a: ids are random already; this only spreads them over the slots. */
static size_t hash_of(const char *id)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)h;
}

/* The slot holding `id`, or the empty slot where it would go. Under mu. */
static size_t find_slot(const cs_id_set *s, const char *id)
{
    size_t i = hash_of(id) & s->mask;
    while (s->slot[i][0] && strcmp(s->slot[i], id) != 0)
        i = (i + 1) & s->mask;
    return i;
}

static bool usable(const char *id) { return id && id[0] && strlen(id) < CS_ID_MAX; }

bool cs_id_set_has(cs_id_set *s, const char *id)
{
    if (!s || !usable(id))
        return false;
    pthread_mutex_lock(&s->mu);
    bool found = s->slot[find_slot(s, id)][0] != '\0';
    pthread_mutex_unlock(&s->mu);
    return found;
}

void cs_id_set_add(cs_id_set *s, const char *id)
{
    if (!s || !usable(id))
        return;
    pthread_mutex_lock(&s->mu);
    size_t i = find_slot(s, id);
    if (!s->slot[i][0]) {
        if (s->count == s->max_count) { /* full: start again (a cache, never an answer) */
            memset(s->slot, 0, (s->mask + 1) * sizeof *s->slot);
            s->count = 0;
            i = find_slot(s, id);
        }
        memcpy(s->slot[i], id, strlen(id) + 1);
        s->count++;
    }
    pthread_mutex_unlock(&s->mu);
}

size_t cs_id_set_count(cs_id_set *s)
{
    if (!s)
        return 0;
    pthread_mutex_lock(&s->mu);
    size_t n = s->count;
    pthread_mutex_unlock(&s->mu);
    return n;
}
