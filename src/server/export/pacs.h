/* pacs.h - the export of a study's key frames to the hospital's PACS
 * (docs/pacs.md): a queue kept in the store (one row per study, store.h
 * "the PACS export queue") and a worker thread that sends what is due as
 * VL Endoscopic Image instances over C-STORE (dicom.h), retrying with
 * backoff while the PACS is down. Driven by what is stored, so a restart
 * loses no export: one that was being sent when the server stopped is due
 * again when its lease ends.
 *
 * What is sent: the key frames of the signed report (content.key_frames),
 * one instance per frame, in the key frames' series; the same UIDs every
 * time (uid.h), so a resend replaces rather than duplicates. A signed
 * report without key frames is recorded `sent` with 0 instances.
 *
 * Every attempt is audited (by nobody: the worker): pacs.sent with what
 * went where (the frames, the PACS, the patient identifier they carried),
 * or pacs.failed with the reason.
 *
 * Threads: every call may come from any thread; the worker runs on its
 * own. Errors: the store's; CS_ERR_ARG for a bad `pacs` setting at start. */
#ifndef CS_SERVER_EXPORT_PACS_H
#define CS_SERVER_EXPORT_PACS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capscreen/store.h"
#include "server/audit/audit.h"
#include "server/export/dicom.h"

#define CS_PACS_TIMEOUT_S 30      /* connect, association, each message */
#define CS_PACS_LEASE_MS 600000   /* a send in progress holds its export this long */
#define CS_PACS_BACKOFF_MAX_S 300 /* retries slow to one per 5 min, never stop */

/* A frame's JPEG bytes as received (the media layer's, above this one:
 * server.c passes it in). *out malloc'd; *found false when no such frame. */
typedef cs_status (*cs_pacs_frame_fn)(void *ctx, const char *study, uint64_t seq, bool *found,
                                      uint8_t **out, size_t *len, cs_error *err);

/* What the export works with; all must outlive it. */
typedef struct cs_pacs_deps {
    cs_store *store;
    const char *pacs;        /* "host:port" of the PACS; "" = none: nothing is exported */
    const char *called_aet;  /* the PACS's AE title */
    const char *calling_aet; /* ours */
    cs_pacs_frame_fn frame;
    void *frame_ctx;
    cs_audit_log *audit; /* each attempt's outcome: pacs.sent, pacs.failed (NULL: none) */
    int tick_ms;         /* how often due exports are looked for; 0 = 1000 */
    int backoff_max_s;   /* 0 = CS_PACS_BACKOFF_MAX_S */
} cs_pacs_deps;

typedef struct cs_pacs cs_pacs;

/* Start the worker when a PACS is configured (no thread otherwise). */
cs_status cs_pacs_new(const cs_pacs_deps *d, cs_pacs **out, cs_error *err) CS_WARN_UNUSED;
/* Stop the worker and free: a send in flight ends after the step it is
 * on (building a key frame, connecting, or one message: each finishes or
 * times out, CS_PACS_TIMEOUT_S), is queued again, due at once and not
 * counted as an attempt (audited pacs.stopped), so the study goes whole
 * at the next start. Accepts NULL. */
void cs_pacs_free(cs_pacs *p);

/* Whether a PACS is configured (false for NULL). */
bool cs_pacs_configured(const cs_pacs *p);

/* Queue an export of `study` requested by `by` and wake the worker.
 * *outcome NOT_FOUND when there is no such study. With no PACS
 * configured nothing is queued: CS_OK, *outcome CS_CHECK_OK, *queued
 * false. `queued` may be NULL. */
cs_status cs_pacs_enqueue(cs_pacs *p, const char *study, const char *by, bool *queued,
                          cs_check_outcome *outcome, cs_error *err) CS_WARN_UNUSED;

/* The study's identity for DICOM (docs/clinical-record.md, "Identity
 * outside capscreen"): UIDs from uid.h, accession and Study ID from the
 * study id, study date and time from its creation (the server's local
 * time), patient from the study's patient when it has one. *found false
 * when there is no such study; CS_ERR_ARG for a training study (no
 * patient's study is ever exported as one). */
cs_status cs_pacs_identity_load(cs_store *store, const char *study, bool *found,
                                cs_dicom_identity *id, cs_error *err) CS_WARN_UNUSED;

/* The study id as an SH value (Accession Number, Study ID): at most 16
 * characters, so the first 16 of a longer id (ids are 20 hex digits: the
 * first 16 are 64 random bits). out holds 17 bytes. */
void cs_pacs_accession(const char *study, char out[17]);

#endif
