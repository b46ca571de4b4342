/* protocol.h - the care protocol as data (docs/care.md): the alert rules'
 * timings, the booster schedule and the patient's prep schedule, read from
 * a JSON file (`protocol`; the default ships as etc/care-protocol.json).
 * The text a study started under is stored with it, so a protocol edited
 * later never changes the rules of a study already running.
 *
 * Parsing is strict: an unknown key, a value of the wrong type or out of
 * range, a duplicate id or a booster without its instruction is an error
 * that names the key, because a typo in a clinical protocol must not
 * silently fall back to a default.
 *
 * Threads: a parsed cs_protocol is plain data, read-only, any thread.
 * Ownership: cs_protocol holds no pointers. */
#ifndef CS_SERVER_CARE_PROTOCOL_H
#define CS_SERVER_CARE_PROTOCOL_H

#include <stdbool.h>
#include <stdint.h>

#include "capscreen/status.h"
#include "server/care/report_rules.h"

#define CS_PROTOCOL_VERSION 1
#define CS_PROTOCOL_BOOSTERS_MAX 4
#define CS_PROTOCOL_PREP_MAX 16
#define CS_PROTOCOL_ID_MAX 32
#define CS_PROTOCOL_TEXT_MAX 400
#define CS_PROTOCOL_NAME_MAX 128

typedef struct cs_booster {
    char id[CS_PROTOCOL_ID_MAX]; /* "booster_1" ... */
    int64_t delay_s;             /* after small-bowel entry is marked */
    char instruction[CS_PROTOCOL_TEXT_MAX];
} cs_booster;

typedef struct cs_prep_step {
    char id[CS_PROTOCOL_ID_MAX];
    char day[16]; /* "day_before" or "day_of" */
    char time[8]; /* "HH:MM", local time */
    char text[CS_PROTOCOL_TEXT_MAX];
} cs_prep_step;

typedef struct cs_protocol {
    char name[CS_PROTOCOL_NAME_MAX];
    int64_t no_frames_alert_s;         /* no new bytes for this long */
    int64_t hub_offline_alert_s;       /* no hub status for this long */
    int spool_full_pct;                /* the hub's spool at or above this */
    int64_t gastric_retention_alert_s; /* from the first bytes, no small-bowel entry */
    bool end_of_recording_incomplete;  /* the recorder stopped before excretion */
    bool bleeding_live;                /* a live suspected-bleeding alert */
    cs_booster boosters[CS_PROTOCOL_BOOSTERS_MAX];
    int nboosters;
    cs_prep_step prep[CS_PROTOCOL_PREP_MAX];
    int nprep;
    /* The report's recommendation rule table ("report_rules", an ordered
     * list, first match wins; docs/clinical-record.md). Absent: the
     * default table (cs_report_rules_default). */
    cs_report_rules report;
} cs_protocol;

/* Parse protocol JSON text. Errors: CS_ERR_ARG with the key at fault. */
cs_status cs_protocol_parse(const char *json, cs_protocol *out, cs_error *err) CS_WARN_UNUSED;

/* Read and parse a protocol file; *text (malloc'd, may be NULL) gets the
 * file's text as read, to store with each study. Errors: CS_ERR_IO (the
 * file), CS_ERR_ARG (its content, with the path). */
cs_status cs_protocol_load(const char *path, cs_protocol *out, char **text,
                           cs_error *err) CS_WARN_UNUSED;

#endif
