/* dicom.cc - key frames as VL Endoscopic Image instances and C-STORE to a
 * PACS, over dcmtk (dicom.h). Every entry point catches what dcmtk or the
 * standard library may throw: no exception reaches C. */
#include "server/export/dicom.h"

#include <dcmtk/config/osconfig.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/scu.h>
#include <dcmtk/oflog/oflog.h>

#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <mutex>
#include <new>

extern "C" {
#include "capscreen/reencode.h"
}

struct cs_dicom_instance {
    DcmFileFormat file;
    E_TransferSyntax xfer = EXS_Unknown; /* how it is stored and sent */
};

namespace
{

std::once_flag dcmtk_once;

/* dcmtk logs warnings to stderr by default: off (nothing below main()
 * prints; failures come back as cs_error). No codec is registered (they
 * are process-wide and never freed): the one decode needed is libjpeg's,
 * through capscreen/reencode.h. */
void dcmtk_init()
{
    std::call_once(dcmtk_once, [] { OFLog::configure(OFLogger::OFF_LOG_LEVEL); });
}

/* What a JPEG's frame header says. */
struct jpeg_info {
    int width = 0, height = 0, components = 0, precision = 0;
    bool baseline = false;   /* SOF0 */
    bool subsampled = false; /* a component sampled below the first */
    bool adobe_rgb = false;  /* APP14 "Adobe" with transform 0: RGB, no YCbCr */
};

cs_status jpeg_parse(const uint8_t *p, size_t n, jpeg_info *ji, cs_error *err)
{
    if (n < 4 || p[0] != 0xFF || p[1] != 0xD8)
        return cs_error_set(err, CS_ERR_NOT_IMAGE, "the frame is not a JPEG (no SOI marker)");
    size_t i = 2;
    while (i + 4 <= n) {
        if (p[i] != 0xFF)
            return cs_error_set(err, CS_ERR_CORRUPT, "JPEG: no marker at byte %zu", i);
        uint8_t m = p[i + 1];
        if (m == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        size_t seglen = (size_t)p[i + 2] << 8 | p[i + 3];
        if (seglen < 2 || i + 2 + seglen > n)
            return cs_error_set(err, CS_ERR_CORRUPT, "JPEG: a segment runs past the end");
        const uint8_t *s = p + i + 4;
        if (m == 0xEE && seglen >= 14 && memcmp(s, "Adobe", 5) == 0)
            ji->adobe_rgb = s[11] == 0;
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            if (seglen < 8)
                return cs_error_set(err, CS_ERR_CORRUPT, "JPEG: a short frame header");
            ji->baseline = m == 0xC0;
            ji->precision = s[0];
            ji->height = s[1] << 8 | s[2];
            ji->width = s[3] << 8 | s[4];
            ji->components = s[5];
            if (seglen < 8 + 3 * (size_t)ji->components)
                return cs_error_set(err, CS_ERR_CORRUPT, "JPEG: a short frame header");
            int h0 = s[7] >> 4, v0 = s[7] & 15;
            for (int c = 1; c < ji->components; c++)
                if ((s[7 + 3 * c] >> 4) != h0 || (s[7 + 3 * c] & 15) != v0)
                    ji->subsampled = true;
            return CS_OK;
        }
        if (m == 0xDA)
            break; /* scan data before any frame header */
        i += 2 + seglen;
    }
    return cs_error_set(err, CS_ERR_CORRUPT, "JPEG: no frame header (SOF)");
}

const char *or_empty(const char *s) { return s ? s : ""; }

/* Put a string attribute (empty allowed: a type-2 attribute present and
 * empty). */
bool put(DcmItem *ds, const DcmTagKey &tag, const char *v)
{
    return ds->putAndInsertString(tag, or_empty(v)).good();
}

/* The first control character in t (a byte below 0x20, 0x7F, a UTF-8 C1
 * control), or NULL. */
const char *control_char(const char *t)
{
    for (const unsigned char *u = (const unsigned char *)t; *u; u++)
        if (*u < 0x20 || *u == 0x7F || (*u == 0xC2 && u[1] >= 0x80 && u[1] <= 0x9F))
            return (const char *)u;
    return NULL;
}

/* One string value of the identity against its VR (PS3.5 6.2): `max`
 * bytes at most (for PN: per component group), no control character, no
 * backslash (every value here is single). */
cs_status check_value(const char *name, const char *vr, const char *v, size_t max, cs_error *err)
{
    const char *cc = control_char(v);
    if (cc)
        return cs_error_set(err, CS_ERR_ARG,
                            "%s (%s) holds a control character (byte 0x%02x at byte %zu), which "
                            "DICOM does not allow",
                            name, vr, (unsigned)(unsigned char)*cc, (size_t)(cc - v));
    if (strchr(v, '\\'))
        return cs_error_set(err, CS_ERR_ARG, "%s (%s) holds a backslash, DICOM's value separator",
                            name, vr);
    bool pn = strcmp(vr, "PN") == 0;
    for (const char *g = v; g;) {
        const char *end = pn ? strchr(g, '=') : NULL;
        size_t n = end ? (size_t)(end - g) : strlen(g);
        if (n > max)
            return cs_error_set(err, CS_ERR_ARG,
                                "%s (%s) is %zu bytes; DICOM allows at most %zu%s, and it is "
                                "never cut short: correct it where it was entered",
                                name, vr, n, max, pn ? " per component group" : "");
        g = end ? end + 1 : NULL;
    }
    return CS_OK;
}

cs_status build(const cs_dicom_identity *id, const char *instance_uid, int number,
                const char *content_date, const char *content_time, const uint8_t *jpeg, size_t len,
                cs_dicom_instance **out, cs_error *err)
{
    if (!id || !instance_uid || !instance_uid[0] || !id->study_uid[0] || !id->series_uid[0])
        return cs_error_set(err, CS_ERR_ARG, "a DICOM instance needs study, series, instance UIDs");
    cs_status idst = cs_dicom_identity_check(id, err);
    if (idst != CS_OK)
        return idst;
    if (!jpeg || len == 0)
        return cs_error_set(err, CS_ERR_ARG, "no JPEG bytes for the instance");
    if (len > 0xFFFFFFF0u)
        return cs_error_set(err, CS_ERR_TOO_LARGE, "the JPEG is too large for one DICOM item");
    jpeg_info ji;
    cs_status st = jpeg_parse(jpeg, len, &ji, err);
    if (st != CS_OK)
        return st;
    if (!ji.baseline || ji.precision != 8)
        return cs_error_set(err, CS_ERR_UNSUPPORTED,
                            "the JPEG is not baseline 8-bit (progressive, extended or lossless): "
                            "JPEG Baseline transfer syntax cannot carry it");
    if (ji.components != 1 && ji.components != 3)
        return cs_error_set(err, CS_ERR_UNSUPPORTED, "a JPEG of %d components", ji.components);
    if (ji.width < 1 || ji.height < 1)
        return cs_error_set(err, CS_ERR_CORRUPT, "JPEG: %d x %d pixels", ji.width, ji.height);
    /* As stored in the JPEG: grey, YCbCr subsampled (YBR_FULL_422 is the
     * name PS3.5 8.2.1 gives 4:2:2 and 4:2:0 alike), RGB (Adobe), or
     * YCbCr 4:4:4, which is YBR_FULL: not allowed in a VL image, so that
     * one is decoded below and stored as RGB. */
    const char *photometric = ji.components == 1 ? "MONOCHROME2"
                              : ji.adobe_rgb     ? "RGB"
                              : ji.subsampled    ? "YBR_FULL_422"
                                                 : "YBR_FULL";
    bool decode = strcmp(photometric, "YBR_FULL") == 0;

    cs_dicom_instance *inst = new (std::nothrow) cs_dicom_instance;
    if (!inst)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory building a DICOM instance");
    DcmDataset *ds = inst->file.getDataset();
    const char *cdate = content_date && content_date[0] ? content_date : id->study_date;
    const char *ctime = content_time && content_time[0] ? content_time : id->study_time;
    char rows[16], cols[16], num[16], series[16], ratio[32];
    snprintf(rows, sizeof rows, "%d", ji.height);
    snprintf(cols, sizeof cols, "%d", ji.width);
    snprintf(num, sizeof num, "%d", number);
    snprintf(series, sizeof series, "%d", id->series_number);
    double raw = (double)ji.width * ji.height * ji.components;
    snprintf(ratio, sizeof ratio, "%.2f", raw / (double)len);
    ratio[16] = '\0'; /* DS: at most 16 characters */

    bool ok =
        /* SOP Common */
        put(ds, DCM_SpecificCharacterSet, "ISO_IR 192") &&
        put(ds, DCM_SOPClassUID, CS_DICOM_SOP_VL_ENDOSCOPIC) &&
        put(ds, DCM_SOPInstanceUID, instance_uid) &&
        /* Patient */
        put(ds, DCM_PatientName, id->patient_name) && put(ds, DCM_PatientID, id->patient_id) &&
        (!id->patient_id_issuer[0] || put(ds, DCM_IssuerOfPatientID, id->patient_id_issuer)) &&
        put(ds, DCM_PatientBirthDate, id->patient_birth_date) &&
        put(ds, DCM_PatientSex, id->patient_sex) &&
        /* General Study */
        put(ds, DCM_StudyInstanceUID, id->study_uid) && put(ds, DCM_StudyDate, id->study_date) &&
        put(ds, DCM_StudyTime, id->study_time) &&
        put(ds, DCM_ReferringPhysicianName, id->referring_physician) &&
        put(ds, DCM_StudyID, id->study_id) && put(ds, DCM_AccessionNumber, id->accession) &&
        (!id->study_description[0] || put(ds, DCM_StudyDescription, id->study_description)) &&
        /* General Series: ES, endoscopy */
        put(ds, DCM_Modality, "ES") && put(ds, DCM_SeriesInstanceUID, id->series_uid) &&
        put(ds, DCM_SeriesNumber, series) &&
        put(ds, DCM_Laterality, "") && /* type 2C: the colon is not paired */
        (!id->series_description[0] || put(ds, DCM_SeriesDescription, id->series_description)) &&
        /* General Equipment */
        put(ds, DCM_Manufacturer, "capscreen") &&
        put(ds, DCM_ManufacturerModelName, "capscreen capsule screening") &&
        /* General Image */
        put(ds, DCM_InstanceNumber, num) && put(ds, DCM_PatientOrientation, "") &&
        put(ds, DCM_ContentDate, cdate) && put(ds, DCM_ContentTime, ctime) &&
        /* VL Image: the frame as captured; lossy (the capsule's JPEG) */
        put(ds, DCM_ImageType, "ORIGINAL\\PRIMARY") && put(ds, DCM_LossyImageCompression, "01") &&
        put(ds, DCM_LossyImageCompressionRatio, ratio) &&
        put(ds, DCM_LossyImageCompressionMethod, "ISO_10918_1") &&
        /* Acquisition Context: nothing to say (an empty sequence) */
        ds->insertEmptyElement(DCM_AcquisitionContextSequence).good() &&
        /* Image Pixel */
        ds->putAndInsertUint16(DCM_SamplesPerPixel, (Uint16)ji.components).good() &&
        put(ds, DCM_PhotometricInterpretation, photometric) && put(ds, DCM_Rows, rows) &&
        put(ds, DCM_Columns, cols) && ds->putAndInsertUint16(DCM_BitsAllocated, 8).good() &&
        ds->putAndInsertUint16(DCM_BitsStored, 8).good() &&
        ds->putAndInsertUint16(DCM_HighBit, 7).good() &&
        ds->putAndInsertUint16(DCM_PixelRepresentation, 0).good() &&
        (ji.components == 1 || ds->putAndInsertUint16(DCM_PlanarConfiguration, 0).good());
    if (!ok) {
        delete inst;
        return cs_error_set(err, CS_ERR_ARG,
                            "an identity value does not fit its DICOM attribute (too long?)");
    }

    OFCondition c = EC_Normal;
    if (decode) {
        /* YCbCr 4:4:4: decoded (libjpeg) and stored as RGB, uncompressed. */
        uint8_t *rgb = NULL;
        int w = 0, h = 0;
        cs_error de = {CS_OK, ""};
        cs_status ds_st = cs_jpeg_decode_rgb(jpeg, len, &rgb, &w, &h, &de);
        if (ds_st != CS_OK) {
            delete inst;
            return cs_error_set(err, ds_st, "decoding the JPEG: %s", de.msg);
        }
        size_t n = (size_t)w * (size_t)h * 3;
        c = ds->putAndInsertString(DCM_PhotometricInterpretation, "RGB");
        if (c.good() && (w != ji.width || h != ji.height))
            c = EC_IllegalCall;
        if (c.good())
            c = ds->putAndInsertUint8Array(DCM_PixelData, rgb, (unsigned long)n);
        free(rgb);
        inst->xfer = EXS_LittleEndianExplicit;
    } else {
        /* The JPEG bytes as one fragment, after an empty offset table. */
        DcmPixelSequence *seq = new DcmPixelSequence(DcmTag(DCM_PixelData, EVR_OB));
        DcmPixelItem *offsets = new DcmPixelItem(DcmTag(DCM_Item, EVR_OB));
        seq->insert(offsets);
        DcmOffsetList offs;
        c = seq->storeCompressedFrame(offs, const_cast<Uint8 *>(jpeg), (Uint32)len, 0);
        if (c.good())
            c = offsets->createOffsetTable(offs);
        DcmPixelData *pd = new DcmPixelData(DCM_PixelData);
        pd->putOriginalRepresentation(EXS_JPEGProcess1, NULL, seq);
        if (c.good())
            c = ds->insert(pd, true);
        else
            delete pd;
        inst->xfer = EXS_JPEGProcess1;
    }
    if (c.good())
        ds->updateOriginalXfer();
    if (c.bad()) {
        delete inst;
        return cs_error_set(err, CS_ERR_CORRUPT, "DICOM pixel data: %s", c.text());
    }
    *out = inst;
    return CS_OK;
}

cs_status send(const cs_dicom_peer *peer, cs_dicom_instance *const *inst, size_t n, size_t *sent,
               uint16_t *statuses, cs_error *err)
{
    if (!peer || !peer->host || !peer->host[0] || peer->port <= 0 || peer->port > 65535 ||
        !peer->called_aet || !peer->called_aet[0] || !peer->calling_aet || !peer->calling_aet[0])
        return cs_error_set(err, CS_ERR_ARG, "a PACS needs host, port, called and calling AE");
    if (n == 0)
        return CS_OK;
    int t = peer->timeout_s > 0 ? peer->timeout_s : 30;
    DcmSCU scu;
    scu.setPeerHostName(peer->host);
    scu.setPeerPort((Uint16)peer->port);
    scu.setPeerAETitle(peer->called_aet);
    scu.setAETitle(peer->calling_aet);
    scu.setConnectionTimeout(t);
    scu.setACSETimeout((Uint32)t);
    scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
    scu.setDIMSETimeout((Uint32)t);
    scu.setVerbosePCMode(OFFalse);
    /* One presentation context per transfer syntax, so each is accepted
     * or refused on its own. */
    OFList<OFString> jpeg, plain;
    jpeg.push_back(UID_JPEGProcess1TransferSyntax);
    plain.push_back(UID_LittleEndianExplicitTransferSyntax);
    OFCondition c = scu.addPresentationContext(CS_DICOM_SOP_VL_ENDOSCOPIC, jpeg);
    if (c.good())
        c = scu.addPresentationContext(CS_DICOM_SOP_VL_ENDOSCOPIC, plain);
    if (c.good())
        c = scu.initNetwork();
    if (c.good() && peer->stop && peer->stop(peer->stop_ctx))
        return cs_error_set(err, CS_ERR_IO,
                            "stopped before connecting to %s:%d: the server is shutting down",
                            peer->host, peer->port);
    if (c.good())
        c = scu.negotiateAssociation();
    if (c.bad())
        return cs_error_set(err, CS_ERR_IO, "PACS %s:%d (%s): %s", peer->host, peer->port,
                            peer->called_aet, c.text());
    cs_status st = CS_OK;
    size_t done = 0;
    for (size_t i = 0; i < n && st == CS_OK; i++) {
        if (peer->stop && peer->stop(peer->stop_ctx)) {
            st = cs_error_set(err, CS_ERR_IO,
                              "stopped after %zu of %zu instance(s): the server is shutting down",
                              done, n);
            break;
        }
        const char *ts = inst[i]->xfer == EXS_JPEGProcess1 ? UID_JPEGProcess1TransferSyntax
                                                           : UID_LittleEndianExplicitTransferSyntax;
        T_ASC_PresentationContextID pc =
            scu.findPresentationContextID(CS_DICOM_SOP_VL_ENDOSCOPIC, ts);
        if (pc == 0) {
            st =
                cs_error_set(err, CS_ERR_IO, "PACS %s:%d refused VL Endoscopic Image Storage in %s",
                             peer->host, peer->port, ts);
            break;
        }
        Uint16 rsp = 0;
        const char *meaning = "";
        c = scu.sendSTORERequest(pc, "", inst[i]->file.getDataset(), rsp);
        if (c.bad())
            st = cs_error_set(err, CS_ERR_IO, "C-STORE to %s:%d: %s", peer->host, peer->port,
                              c.text());
        else if (cs_dicom_store_status(rsp, &meaning) == CS_DICOM_STORE_FAILURE)
            st = cs_error_set(err, CS_ERR_IO,
                              "C-STORE to %s:%d: the PACS answered status 0x%04x (%s)", peer->host,
                              peer->port, (unsigned)rsp, meaning);
        else if (statuses)
            statuses[done++] = rsp; /* stored: success, or a warning */
        else
            done++;
    }
    if (st == CS_OK)
        scu.releaseAssociation();
    else
        scu.abortAssociation();
    if (sent)
        *sent = done;
    return st;
}

} // namespace

extern "C" {

cs_status cs_dicom_identity_check(const cs_dicom_identity *id, cs_error *err)
{
    const struct {
        const char *name, *vr, *v;
        size_t max;
    } f[] = {{"Patient's Name", "PN", id->patient_name, 64},
             {"Patient ID", "LO", id->patient_id, 64},
             {"Issuer of Patient ID", "LO", id->patient_id_issuer, 64},
             {"Patient's Birth Date", "DA", id->patient_birth_date, 8},
             {"Patient's Sex", "CS", id->patient_sex, 16},
             {"Accession Number", "SH", id->accession, 16},
             {"Study ID", "SH", id->study_id, 16},
             {"Study Date", "DA", id->study_date, 8},
             {"Study Time", "TM", id->study_time, 14},
             {"Study Description", "LO", id->study_description, 64},
             {"Referring Physician's Name", "PN", id->referring_physician, 64},
             {"Series Description", "LO", id->series_description, 64}};
    for (const auto &x : f) {
        cs_status st = check_value(x.name, x.vr, x.v, x.max, err);
        if (st != CS_OK)
            return st;
    }
    return CS_OK;
}

cs_status cs_dicom_instance_build(const cs_dicom_identity *id, const char *instance_uid, int number,
                                  const char *content_date, const char *content_time,
                                  const uint8_t *jpeg, size_t len, cs_dicom_instance **out,
                                  cs_error *err)
{
    *out = NULL;
    try {
        dcmtk_init();
        return build(id, instance_uid, number, content_date, content_time, jpeg, len, out, err);
    } catch (const std::bad_alloc &) {
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory building a DICOM instance");
    } catch (...) {
        return cs_error_set(err, CS_ERR_IO, "dcmtk failed building a DICOM instance");
    }
}

void cs_dicom_instance_free(cs_dicom_instance *inst) { delete inst; }

cs_status cs_dicom_instance_save(const cs_dicom_instance *inst, const char *path, cs_error *err)
{
    try {
        dcmtk_init();
        OFCondition c = const_cast<cs_dicom_instance *>(inst)->file.saveFile(path, inst->xfer);
        if (c.bad())
            return cs_error_set(err, CS_ERR_IO, "cannot write DICOM file %s: %s", path, c.text());
        return CS_OK;
    } catch (...) {
        return cs_error_set(err, CS_ERR_IO, "dcmtk failed writing %s", path);
    }
}

cs_status cs_dicom_instance_load(const char *path, cs_dicom_instance **out, cs_error *err)
{
    *out = NULL;
    try {
        dcmtk_init();
        cs_dicom_instance *inst = new cs_dicom_instance;
        OFCondition c = inst->file.loadFile(path);
        if (c.bad()) {
            delete inst;
            return cs_error_set(err, CS_ERR_IO, "cannot read DICOM file %s: %s", path, c.text());
        }
        inst->xfer = inst->file.getDataset()->getOriginalXfer();
        *out = inst;
        return CS_OK;
    } catch (const std::bad_alloc &) {
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory reading %s", path);
    } catch (...) {
        return cs_error_set(err, CS_ERR_IO, "dcmtk failed reading %s", path);
    }
}

cs_status cs_dicom_instance_tag(const cs_dicom_instance *inst, uint16_t group, uint16_t element,
                                int *found, char *out, size_t cap, cs_error *err)
{
    *found = 0;
    if (cap)
        out[0] = '\0';
    try {
        cs_dicom_instance *mi = const_cast<cs_dicom_instance *>(inst);
        DcmTagKey key(group, element);
        DcmItem *where =
            group == 0x0002 ? (DcmItem *)mi->file.getMetaInfo() : (DcmItem *)mi->file.getDataset();
        OFString v;
        DcmSequenceOfItems *sq = NULL;
        if (where->findAndGetSequence(key, sq).good() && sq) {
            *found = 1;
            v = OFString(std::to_string(sq->card()).c_str());
        } else if (where->tagExists(key)) {
            *found = 1;
            where->findAndGetOFStringArray(key, v);
        } else if (key == DCM_TransferSyntaxUID && mi->xfer != EXS_Unknown) {
            /* Built, not written yet: the meta header comes on writing. */
            *found = 1;
            v = DcmXfer(mi->xfer).getXferID();
        }
        snprintf(out, cap, "%s", v.c_str());
        return CS_OK;
    } catch (...) {
        return cs_error_set(err, CS_ERR_IO, "dcmtk failed reading (%04x,%04x)", group, element);
    }
}

cs_dicom_store_outcome cs_dicom_store_status(uint16_t status, const char **meaning)
{
    /* PS3.4 B.2.3 (C-STORE) and PS3.7 C (the general statuses). */
    static const struct {
        uint16_t status, mask;
        cs_dicom_store_outcome outcome;
        const char *meaning;
    } known[] = {
        {0x0000, 0xFFFF, CS_DICOM_STORE_SUCCESS, "success"},
        {0xB000, 0xFFFF, CS_DICOM_STORE_WARNING, "warning: coercion of data elements"},
        {0xB006, 0xFFFF, CS_DICOM_STORE_WARNING, "warning: elements discarded"},
        {0xB007, 0xFFFF, CS_DICOM_STORE_WARNING, "warning: data set does not match SOP class"},
        {0x0001, 0xFFFF, CS_DICOM_STORE_WARNING,
         "warning: requested optional attributes are not supported"},
        {0x0107, 0xFFFF, CS_DICOM_STORE_WARNING, "warning: attribute list error"},
        {0x0116, 0xFFFF, CS_DICOM_STORE_WARNING, "warning: attribute value out of range"},
        {0xB000, 0xF000, CS_DICOM_STORE_WARNING, "warning"},
        {0x0122, 0xFFFF, CS_DICOM_STORE_FAILURE, "refused: SOP class not supported"},
        {0xA700, 0xFF00, CS_DICOM_STORE_FAILURE, "refused: out of resources"},
        {0xA900, 0xFF00, CS_DICOM_STORE_FAILURE, "error: data set does not match SOP class"},
        {0xC000, 0xF000, CS_DICOM_STORE_FAILURE, "error: cannot understand"},
        {0xFE00, 0xFFFF, CS_DICOM_STORE_FAILURE, "cancelled"},
        {0xFF00, 0xFF00, CS_DICOM_STORE_FAILURE, "pending, which is no answer to a store"},
    };
    for (const auto &k : known)
        if ((status & k.mask) == k.status) {
            if (meaning)
                *meaning = k.meaning;
            return k.outcome;
        }
    if (meaning)
        *meaning = "failure";
    return CS_DICOM_STORE_FAILURE;
}

cs_status cs_dicom_send(const cs_dicom_peer *peer, cs_dicom_instance *const *instances, size_t n,
                        size_t *sent, uint16_t *statuses, cs_error *err)
{
    if (sent)
        *sent = 0;
    try {
        dcmtk_init();
        return send(peer, instances, n, sent, statuses, err);
    } catch (const std::bad_alloc &) {
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory sending to the PACS");
    } catch (...) {
        return cs_error_set(err, CS_ERR_IO, "dcmtk failed sending to the PACS");
    }
}

} // extern "C"
