/* rules.h - the care protocol's alert rules as pure functions: given what
 * is known of a study (its facts) and the time, which alerts are due. No
 * I/O, no clock, no locks: care.c gathers the facts and stores what these
 * return, and the unit tests call them directly.
 *
 * Every alert carries a key, and the store raises one alert per (study,
 * kind, key): a rule that fires again (every second, or after a restart)
 * adds nothing. Keys name the episode: "no_frames" is keyed by the time of
 * the last bytes, so frames that stop again later raise a new alert.
 *
 * Threads: any. Ownership: out[] is the caller's. */
#ifndef CS_SERVER_CARE_RULES_H
#define CS_SERVER_CARE_RULES_H

#include <stddef.h>

#include "capscreen/store.h"
#include "server/care/protocol.h"

/* What the rules look at; times are unix ms, 0 = not (yet). */
typedef struct cs_care_facts {
    int64_t now_ms;
    int64_t first_byte_ms, last_byte_ms; /* the study's upload bytes */
    bool closed;                         /* closed by staff: no alert but acks */
    cs_hub_status_rec hub;               /* at_ms 0: never reported */
    /* landmarks (marked by staff from the frames) */
    int64_t stomach_at_ms;     /* first_gastric */
    int64_t small_bowel_at_ms; /* first_duodenal: small-bowel entry */
    int64_t colon_at_ms;       /* first_caecal */
    int64_t excreted_at_ms;    /* excreted */
    uint64_t n_bleeding;       /* frames flagged for bleeding so far */
    uint64_t n_frames;         /* frames analysed so far */
    /* Since when the hub has reported its recorder "recording" while no
     * byte has arrived (0 = not so, or not known): care.c watches it, so
     * a recorder that records and never uploads raises no_frames too. */
    int64_t recording_no_bytes_since_ms;
} cs_care_facts;

typedef struct cs_care_alert {
    char kind[CS_ALERT_KIND_MAX];
    char key[CS_ALERT_KEY_MAX];
    char message[CS_ALERT_MSG_MAX];
} cs_care_alert;

#define CS_CARE_ALERTS_MAX 12 /* more than the rules can return at once */

/* The study's stage: "awaiting" (no bytes yet), "ingested", "stomach",
 * "small_bowel", "colon", "excreted". The furthest landmark counts. */
const char *cs_care_stage(const cs_care_facts *f);

/* When the capsule entered the small bowel (unix ms, 0 = not known): its
 * landmark, or the colon's when that was marked alone or first (the
 * capsule went through the small bowel on its way). The boosters are due
 * from it, on the monitor and on the patient's page alike. */
int64_t cs_care_small_bowel_entry_ms(const cs_care_facts *f);

/* The alerts due from time and marks: no_frames (keyed "none" while no
 * byte ever arrived), hub_offline, gastric_retention, booster_due,
 * bleeding, excreted. Once the capsule is excreted the data rules and the
 * boosters stop; bleeding does not (a hub uploads its backlog after
 * excretion). A closed study raises none. Returns how many were written
 * to out[0..cap). */
size_t cs_care_rules_timed(const cs_protocol *p, const cs_care_facts *f, cs_care_alert *out,
                           size_t cap);

/* The alerts a new hub status raises, against the one it replaced (keyed
 * by the replaced report's time, 0 for the first report):
 * spool_full (crossing spool_full_pct) and recording_ended_incomplete (the
 * recorder left "recording", or a first report is not "recording", before
 * excretion was marked: after the first bytes any such report, before
 * them only one into "error"). */
size_t cs_care_rules_status(const cs_protocol *p, const cs_care_facts *f,
                            const cs_hub_status_rec *before, const cs_hub_status_rec *now,
                            cs_care_alert *out, size_t cap);

#endif
