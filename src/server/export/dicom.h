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

#include <stddef.h>
#include <stdint.h>

#include "capscreen/status.h"
#include "server/export/uid.h"

#define CS_DICOM_SOP_VL_ENDOSCOPIC "1.2.840.10008.5.1.4.1.1.77.1.1"
#define CS_DICOM_TS_JPEG_BASELINE "1.2.840.10008.1.2.4.50"
#define CS_DICOM_TS_EXPLICIT_LE "1.2.840.10008.1.2.1"

/* Who and which study; every string NUL-terminated, "" = not known. */
typedef struct cs_dicom_identity {
    char patient_id[65];        /* LO: the NHS number */
    char patient_id_issuer[65]; /* LO: "NHS" */
    char patient_name[193];     /* PN: "Family^Given" */
    char patient_birth_date[9]; /* DA: YYYYMMDD */
    char patient_sex[2];        /* CS: "M", "F", "O" */
    char study_uid[CS_UID_MAX]; /* required */
    char series_uid[CS_UID_MAX]; /* required */
    char accession[17];         /* SH: the study id (at most 16 characters) */
    char study_id[17];          /* SH: the study id (at most 16 characters) */
    char study_date[9];         /* DA: YYYYMMDD */
    char study_time[7];         /* TM: HHMMSS */
    char study_description[65]; /* LO */
    char referring_physician[193]; /* PN */
    char series_description[65];   /* LO */
    int series_number;
} cs_dicom_identity;

typedef struct cs_dicom_instance cs_dicom_instance;

/* One VL Endoscopic Image instance of `jpeg` (len bytes, a baseline JPEG)
 * with SOP Instance UID `instance_uid`, Instance Number `number`, and
 * content date/time `content_date`/`content_time` ("" = the study's). */
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
} cs_dicom_peer;

/* Send `n` instances in one association with C-STORE. CS_OK only when the
 * PACS answered success (or a warning) for every one; *sent (may be NULL)
 * counts those stored before any failure. CS_ERR_IO with the reason on a
 * connection, association or store failure. */
cs_status cs_dicom_send(const cs_dicom_peer *peer, cs_dicom_instance *const *instances, size_t n,
                        size_t *sent, cs_error *err) CS_WARN_UNUSED;

#ifdef __cplusplus
}
#endif

#endif
