/* fhir.h - a study's clinical record as a FHIR R4 Bundle (type
 * "collection"): Patient, DiagnosticReport, ImagingStudy, one Observation
 * per finding, CC-CLEAR and completeness Observations, one Media per key
 * frame. The mapping, resource by resource, and the codes it uses are in
 * docs/clinical-record.md ("FHIR R4 export").
 *
 * The input is the record JSON (docs/clinical-record.md, "The record
 * JSON"): {"study", "report", "findings", "key_frames", "base_url"}, as the
 * API answers them. Only "study.study" (the id) is required; anything else
 * missing or of the wrong type is left out of the Bundle rather than
 * guessed, so the output is always valid FHIR R4.
 *
 * Deterministic: every fullUrl is a urn:uuid derived from the study id and
 * the resource (cs_fhir_uuid), and no clock is read, so the same record
 * gives byte-identical JSON and a resend replaces rather than duplicates.
 *
 * Pure; any thread. */
#ifndef CAPSCREEN_SERVER_EXPORT_FHIR_H
#define CAPSCREEN_SERVER_EXPORT_FHIR_H

#include "server/core/core.h"

/* The LOINC code of the DiagnosticReport: "Colon capsule endoscopy study Document"
 * (a document-class LOINC code, see docs/clinical-record.md). */
#define CS_FHIR_REPORT_LOINC "100227-8"
#define CS_FHIR_NHS_NUMBER_SYSTEM "https://fhir.nhs.uk/Id/nhs-number"
#define CS_FHIR_UUID_URN_MAX 46 /* "urn:uuid:" + 36 + NUL */

typedef struct cs_fhir_opts {
    /* Base of capscreen's own CodeSystems (finding types, Paris
     * morphology, CC-CLEAR...): "<base>/CodeSystem/<name>". NULL: the
     * record's base_url + "/fhir"; with neither, those codings are left
     * out and only their text is sent. */
    const char *system_base;
} cs_fhir_opts;

/* Build the Bundle for `record` into *out (a new reference, owned by the
 * caller). opts may be NULL. Errors: CS_ERR_ARG when record is not an
 * object or has no study id; CS_ERR_NOMEM. *out is NULL on error. */
cs_status cs_fhir_bundle(const json_t *record, const cs_fhir_opts *opts, json_t **out,
                         cs_error *err) CS_WARN_UNUSED;

/* "urn:uuid:<uuid>" for resource `key` of study `study`: the first 16 bytes
 * of SHA-256("capscreen/fhir/" study "/" key), UUID version 8 and RFC 4122
 * variant bits set. Errors: CS_ERR_ARG for NULL or empty arguments. */
cs_status cs_fhir_uuid(const char *study, const char *key, char out[CS_FHIR_UUID_URN_MAX],
                       cs_error *err) CS_WARN_UNUSED;

#endif
