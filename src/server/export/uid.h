/* uid.h - the identifiers a study carries outside capscreen: the DICOM
 * UIDs of its study, series and instances, which the FHIR export quotes,
 * so that the hospital's record and its image archive name the same study.
 *
 * UIDs are "2.25." followed by a 128-bit number in decimal (ISO/IEC 9834-8,
 * the root for UUID-derived UIDs, as DICOM PS3.5 B.2 allows): the first 16
 * bytes of SHA-256("capscreen/" kind "/" key), with the UUID version (8) and
 * variant bits set. Deterministic: the same study always gets the same UIDs,
 * on any server, so a resent export replaces rather than duplicates.
 *
 * Pure functions; any thread. */
#ifndef CAPSCREEN_SERVER_EXPORT_UID_H
#define CAPSCREEN_SERVER_EXPORT_UID_H

#include <stddef.h>
#include <stdint.h>

#include "capscreen/status.h"

#define CS_UID_MAX 65 /* a DICOM UID is at most 64 characters, NUL included here */

/* The UID for `kind` ("study", "series", "instance", ...) and `key` (e.g.
 * the study id, or "<study id>/<frame seq>"). Errors: CS_ERR_ARG when kind
 * or key is NULL or empty. `out` holds CS_UID_MAX bytes. */
cs_status cs_uid_make(const char *kind, const char *key, char out[CS_UID_MAX],
                      cs_error *err) CS_WARN_UNUSED;

/* The study's Study Instance UID: cs_uid_make("study", study_id). */
cs_status cs_uid_study(const char *study_id, char out[CS_UID_MAX], cs_error *err) CS_WARN_UNUSED;

/* The key frames' series: cs_uid_make("series", "<study_id>/key-frames"). */
cs_status cs_uid_key_frame_series(const char *study_id, char out[CS_UID_MAX],
                                  cs_error *err) CS_WARN_UNUSED;

/* One frame's SOP Instance UID: cs_uid_make("instance", "<study_id>/<seq>"). */
cs_status cs_uid_frame_instance(const char *study_id, uint64_t seq, char out[CS_UID_MAX],
                                cs_error *err) CS_WARN_UNUSED;

/* The accession number both exports quote: the study id's first 16
 * characters (DICOM's Accession Number and Study ID hold at most 16).
 * `out` holds 17 bytes. */
void cs_uid_accession(const char *study_id, char out[17]);

#endif
