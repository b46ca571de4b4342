/* patient.h - the checks on a patient's identity that the 2025 record
 * needs before anything is stored (docs/clinical-record.md): the NHS
 * number with its modulus-11 check digit, and a plausible date of birth.
 *
 * Pure functions on caller-owned strings; any thread. */
#ifndef CS_SERVER_PATIENT_H
#define CS_SERVER_PATIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "capscreen/store.h"

#define CS_NHS_AGE_MAX 120 /* years: an older date of birth is a typing error */
/* Bytes in one DICOM PN component group (PS3.5 6.2): "Family^Given" and
 * the referrer must fit, since a name is never cut short. */
#define CS_PN_GROUP_MAX 64

/* Normalise and check an NHS number: digits with optional spaces or
 * hyphens between them (as printed, "943 476 5919"); 10 digits whose last
 * is the modulus-11 check digit of the first nine (NHS Data Dictionary:
 * weights 10..2, check = 11 - sum mod 11, 11 -> 0, 10 -> never valid).
 * On true, out (11 bytes) holds the 10 digits. */
bool cs_nhs_number_check(const char *in, char out[11]);

/* A date of birth "YYYY-MM-DD" that exists in the calendar, is not after
 * `today` ("YYYY-MM-DD", UTC) and at most CS_NHS_AGE_MAX years before it. */
bool cs_birth_date_check(const char *date, const char *today);

/* Today's date, UTC, as "YYYY-MM-DD" (11 bytes) for `now_s`. */
void cs_date_utc(int64_t now_s, char out[11]);

/* Read body.patient and body.episode (each optional; absent or null =
 * none) into *p and *e (zeroed first), checked against
 * docs/clinical-record.md with `today` for the date of birth. Returns 0
 * when good; else the HTTP status (400 a missing field or a bad type,
 * length or word; 422 an invalid NHS number or date of birth, a control
 * character in any text, or a family and given name too long together
 * for DICOM's Patient's Name) with `code` (32 bytes: bad_json,
 * invalid_nhs_number, invalid_birth_date, invalid_characters,
 * name_too_long) and a message naming the field in msg (cap bytes). Used
 * by the API (creation and correction) and the CLI. */
int cs_patient_from_json(json_t *body, const char *today, cs_patient_rec *p, cs_episode_rec *e,
                         char code[32], char *msg, size_t cap);

#endif
