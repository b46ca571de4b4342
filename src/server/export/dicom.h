/* dicom.h - key frames as DICOM, and sending them to a PACS: a small C++
 * module over dcmtk (dicom.cc) behind this plain C header. Nothing here
 * speaks DICOM on the wire by hand: dcmtk's DcmSCU does the association
 * and C-STORE.
 *
 * One frame becomes one VL Endoscopic Image Storage instance (SOP Class
 * 1.2.840.10008.5.1.4.1.1.77.1.1, PS3.3 A.32.1) holding the frame's JPEG
 * bytes as received, encapsulated in JPEG Baseline (Process 1, transfer
 * syntax 1.2.840.10008.1.2.4.50): no re-encoding, so the archive holds
 * exactly the pixels the reader saw. One kind cannot be stored that way:
 * a 3-component JPEG without chroma subsampling (its photometric
 * interpretation would be YBR_FULL, which the VL Image module does not
 * allow) is decoded (libjpeg, capscreen/reencode.h) and stored as RGB,
 * Explicit VR Little Endian. A JPEG that is not baseline (progressive,
 * 12-bit, lossless) is refused: CS_ERR_UNSUPPORTED.
 *
 * Identity (docs/clinical-record.md, "Identity outside capscreen") comes
 * in a cs_dicom_identity the caller fills; empty strings leave type-2
 * attributes empty (present, zero length), as DICOM allows.
 *
 * Ownership: a cs_dicom_instance is owned by the caller; free it with
 * cs_dicom_instance_free (accepts NULL).
 *
 * Threads: any; instances are not shared between threads. dcmtk's own
 * logging is turned off on first use (nothing below main() prints).
 *
 * Errors: CS_ERR_ARG (a missing UID, empty JPEG), CS_ERR_NOT_IMAGE (not a
 * JPEG), CS_ERR_CORRUPT (no frame header), CS_ERR_UNSUPPORTED (not
 * baseline), CS_ERR_NOMEM, CS_ERR_IO (a file, the network, the PACS
 * refusing: the reason from dcmtk or the C-STORE status). No C++
 * exception crosses this header. */
#ifndef CAPSCREEN_SERVER_EXPORT_DICOM_H
#define CAPSCREEN_SERVER_EXPORT_DICOM_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capscreen/status.h"
#include "server/export/uid.h"

#define CS_DICOM_SOP_VL_ENDOSCOPIC "1.2.840.10008.5.1.4.1.1.77.1.1"
#define CS_DICOM_TS_JPEG_BASELINE "1.2.840.10008.1.2.4.50"
#define CS_DICOM_TS_EXPLICIT_LE "1.2.840.10008.1.2.1"

/* Who and which study; every string NUL-terminated, "" = not known. */
typedef struct cs_dicom_identity {
    char patient_id[65];           /* LO: the NHS number */
    char patient_id_issuer[65];    /* LO: "NHS" */
    char patient_name[193];        /* PN: "Family^Given" */
    char patient_birth_date[9];    /* DA: YYYYMMDD */
    char patient_sex[2];           /* CS: "M", "F", "O" */
    char study_uid[CS_UID_MAX];    /* required */
    char series_uid[CS_UID_MAX];   /* required */
    char accession[17];            /* SH: the study id (at most 16 characters) */
    char study_id[17];             /* SH: the study id (at most 16 characters) */
    char study_date[9];            /* DA: YYYYMMDD */
    char study_time[7];            /* TM: HHMMSS */
    char study_description[65];    /* LO */
    char referring_physician[193]; /* PN */
    char series_description[65];   /* LO */
    int series_number;
} cs_dicom_identity;

/* Whether the identity's text is valid in its attributes (PS3.5 6.2):
 * Patient's Name and Referring Physician's Name (PN) at most 64 bytes in
 * each component group ('='-separated), the LO, SH, DA, TM and CS values
 * within their lengths, and no control character in any of them (a byte
 * below 0x20, 0x7F, or a UTF-8 C1 control) nor a backslash in a
 * single-valued string. CS_ERR_ARG naming the attribute and the rule
 * otherwise: the writer never cuts an identity short, so such a value
 * must be corrected where it was entered. Pure; any thread. */
cs_status cs_dicom_identity_check(const cs_dicom_identity *id, cs_error *err) CS_WARN_UNUSED;

typedef struct cs_dicom_instance cs_dicom_instance;

/* One VL Endoscopic Image instance of `jpeg` (len bytes, a baseline JPEG)
 * with SOP Instance UID `instance_uid`, Instance Number `number`, and
 * content date/time `content_date`/`content_time` ("" = the study's).
 * The identity must pass cs_dicom_identity_check (its error otherwise). */
cs_status cs_dicom_instance_build(const cs_dicom_identity *id, const char *instance_uid, int number,
                                  const char *content_date, const char *content_time,
                                  const uint8_t *jpeg, size_t len, cs_dicom_instance **out,
                                  cs_error *err) CS_WARN_UNUSED;
void cs_dicom_instance_free(cs_dicom_instance *inst);

/* Write the instance as a DICOM Part 10 file; read one back. */
cs_status cs_dicom_instance_save(const cs_dicom_instance *inst, const char *path,
                                 cs_error *err) CS_WARN_UNUSED;
cs_status cs_dicom_instance_load(const char *path, cs_dicom_instance **out,
                                 cs_error *err) CS_WARN_UNUSED;

/* The value of attribute (group, element) as text (multiple values joined
 * by '\'), from the dataset or, for group 0x0002, the file meta header
 * (e.g. (0002,0010) the transfer syntax). *found false when absent; an
 * attribute present but empty is found with out "". Sequences: found,
 * out = the number of items. */
cs_status cs_dicom_instance_tag(const cs_dicom_instance *inst, uint16_t group, uint16_t element,
                                int *found, char *out, size_t cap, cs_error *err) CS_WARN_UNUSED;

/* Where to send: a DICOM node. */
typedef struct cs_dicom_peer {
    const char *host;
    int port;
    const char *called_aet;  /* the PACS's AE title */
    const char *calling_aet; /* ours */
    int timeout_s;           /* connect, association and each DIMSE message */
    /* Asked before connecting and before each C-STORE, on the sending
     * thread (may be NULL): true ends the send there (the association
     * aborted; CS_ERR_IO saying so), so a stopping server waits for one
     * step, not the whole study. */
    bool (*stop)(void *ctx);
    void *stop_ctx;
} cs_dicom_peer;

/* How a C-STORE response status reads (PS3.4 B.2.3, PS3.7 C): success
 * 0x0000; a warning, which means the instance was stored (0xB000
 * coercion of data elements, 0xB006 elements discarded, 0xB007 data set
 * does not match the SOP class, any other 0xBxxx, and the general 0x0001
 * optional attributes not supported, 0x0107 attribute list error, 0x0116
 * attribute value out of range); anything else a failure (0xA7xx out of
 * resources, 0xA9xx, 0xCxxx, 0x0122 SOP class not supported, ...; a
 * pending or cancel status is no answer to a store). `meaning` (may be
 * NULL) gets a short description, static. Pure; any thread. */
typedef enum cs_dicom_store_outcome {
    CS_DICOM_STORE_SUCCESS,
    CS_DICOM_STORE_WARNING,
    CS_DICOM_STORE_FAILURE
} cs_dicom_store_outcome;
cs_dicom_store_outcome cs_dicom_store_status(uint16_t status, const char **meaning);

/* Send `n` instances in one association with C-STORE. CS_OK only when the
 * PACS stored every one: it answered success or a warning
 * (cs_dicom_store_status). *sent (may be NULL) counts those stored before
 * any failure; statuses (may be NULL, n entries) gets each stored
 * instance's response status, so the caller can report the warnings.
 * CS_ERR_IO with the reason on a connection, association or store
 * failure. */
cs_status cs_dicom_send(const cs_dicom_peer *peer, cs_dicom_instance *const *instances, size_t n,
                        size_t *sent, uint16_t *statuses, cs_error *err) CS_WARN_UNUSED;

#ifdef __cplusplus
}
#endif

#endif
