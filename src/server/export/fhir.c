/* fhir.c - the record JSON as a FHIR R4 Bundle (fhir.h). Every value
 * written is checked first (an empty string, an unknown code or a bad date
 * is left out), because FHIR has no empty values and a receiver rejects
 * the whole Bundle for one bad field. */
#include "server/export/fhir.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/core/vocabulary.h"
#include "server/export/uid.h"

#define SNOMED "http://snomed.info/sct"
#define LOINC "http://loinc.org"
#define UCUM "http://unitsofmeasure.org"
#define DICOM_UID_SYSTEM "urn:dicom:uid"
#define DCM "http://dicom.nema.org/resources/ontology/DCM"
#define V2_0074 "http://terminology.hl7.org/CodeSystem/v2-0074"
#define V2_0203 "http://terminology.hl7.org/CodeSystem/v2-0203"
#define OBS_CATEGORY "http://terminology.hl7.org/CodeSystem/observation-category"
#define OBS_INTERPRETATION "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
#define MEDIA_TYPE "http://terminology.hl7.org/CodeSystem/media-type"
#define VL_ENDOSCOPIC_SOP_CLASS "urn:oid:1.2.840.10008.5.1.4.1.1.77.1.1"

/* Segments (docs/clinical-record.md, finding_segments) as SNOMED CT body
 * structures. */
static const struct segment {
    const char *name, *label, *snomed, *display;
} SEGMENTS[] = {
    {"oesophagus", "Oesophagus", "32849002", "Esophageal structure"},
    {"stomach", "Stomach", "69695003", "Stomach structure"},
    {"small_bowel", "Small bowel", "30315005", "Small intestinal structure"},
    {"caecum", "Caecum", "32713005", "Cecum structure"},
    {"right_colon", "Right colon", "51342009", "Right colon structure"},
    {"transverse_colon", "Transverse colon", "485005", "Transverse colon structure"},
    {"left_colon", "Left colon", "55572008", "Left colon structure"},
    {"rectum", "Rectum", "34402009", "Rectum structure"},
    {NULL, NULL, NULL, NULL},
};

static const char *const PARIS[] = {"0-Ip",  "0-Isp", "0-Is",  "0-IIa",
                                    "0-IIb", "0-IIc", "0-III", NULL};
static const char *const CC_CLEAR_SEGMENTS[] = {"right_colon", "transverse_colon", "left_colon",
                                                NULL};

typedef struct ctx {
    const char *study;
    const json_t *st, *rep, *content, *derived;
    const char *base_url;
    char system_base[512]; /* "" = no local codings */
    const char *obs_status;
    char patient_url[CS_FHIR_UUID_URN_MAX];
    char imaging_url[CS_FHIR_UUID_URN_MAX];
    char effective[40]; /* dateTime of the study, "" unknown */
    json_t *entries;
    json_t *results;    /* DiagnosticReport.result */
    json_t *media_refs; /* DiagnosticReport.media */
    json_t *key_seqs;   /* [seq, fullUrl] pairs of key frames */
    bool nomem;
    bool bad_text; /* the report's text could not be put in the Bundle */
} ctx;

/* ---- small helpers ------------------------------------------------------- */

/* A non-empty string member, or NULL. */
static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : NULL;
}

static void put_str(json_t *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(o, key, json_string(v));
}

/* o[key] = v when v is non-empty (an array or object with members);
 * otherwise v is released. */
static void put_nonempty(json_t *o, const char *key, json_t *v)
{
    if (v && ((json_is_array(v) && json_array_size(v) > 0) ||
              (json_is_object(v) && json_object_size(v) > 0)))
        json_object_set_new(o, key, v);
    else
        json_decref(v);
}

static const char *label_in(const cs_vocab_word *list, const char *name)
{
    for (size_t i = 0; name && list[i].name; i++)
        if (strcmp(list[i].name, name) == 0)
            return list[i].label;
    return NULL;
}

static bool in_list(const char *const *list, const char *v)
{
    for (size_t i = 0; v && list[i]; i++)
        if (strcmp(list[i], v) == 0)
            return true;
    return false;
}

static const struct segment *segment_of(const char *name)
{
    for (size_t i = 0; name && SEGMENTS[i].name; i++)
        if (strcmp(SEGMENTS[i].name, name) == 0)
            return &SEGMENTS[i];
    return NULL;
}

static json_t *coding(const char *system, const char *code, const char *display)
{
    json_t *c = json_object();
    put_str(c, "system", system);
    put_str(c, "code", code);
    put_str(c, "display", display);
    return c;
}

/* A CodeableConcept with one coding (when system and code are given) and
 * text. */
static json_t *concept(const char *system, const char *code, const char *display, const char *text)
{
    json_t *cc = json_object();
    if (system && *system && code && *code)
        json_object_set_new(cc, "coding", json_pack("[o]", coding(system, code, display)));
    put_str(cc, "text", text);
    return cc;
}

/* A concept coded in capscreen's own CodeSystem `name` (when there is a
 * system base) with text. */
static json_t *local_concept(const ctx *c, const char *name, const char *code, const char *text)
{
    char sys[640];
    if (!c->system_base[0])
    return concept(NULL, NULL, NULL, text);
    snprintf(sys, sizeof sys, "%s/CodeSystem/%s", c->system_base, name);
    return concept(sys, code, text, text);
}

static json_t *ref(const char *url, const char *display)
{
    json_t *r = json_object();
    put_str(r, "reference", url);
    put_str(r, "display", display);
    return r;
}

/* ms since 1970 as a FHIR instant ("2026-12-02T03:21:19.123Z"); false for
 * a time that is not set (<= 0). */
static bool instant(int64_t ms, char out[40])
{
    if (ms <= 0)
        return false;
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&sec, &tm))
        return false;
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%03dZ", (int)(ms % 1000));
    return true;
}

static int64_t int_member(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* "YYYY-MM-DD" with a real month and day (FHIR date). */
static bool is_date(const char *s)
{
    int y, m, d;
    char tail;
    if (!s || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return false;
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
            return false;
    static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days[m - 1])
        return false;
    return !(m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
}

static bool is_nhs_number(const char *s)
{
    if (!s || strlen(s) != 10)
        return false;
    for (int i = 0; i < 10; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

cs_status cs_fhir_uuid(const char *study, const char *key, char out[CS_FHIR_UUID_URN_MAX],
                       cs_error *err)
{
    if (!study || !*study || !key || !*key)
        return cs_error_set(err, CS_ERR_ARG, "a FHIR id needs a study id and a resource key");
    crypto_hash_sha256_state h;
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const unsigned char *)"capscreen/fhir/", 15);
    crypto_hash_sha256_update(&h, (const unsigned char *)study, strlen(study));
    crypto_hash_sha256_update(&h, (const unsigned char *)"/", 1);
    crypto_hash_sha256_update(&h, (const unsigned char *)key, strlen(key));
    crypto_hash_sha256_final(&h, d);
    d[6] = (unsigned char)((d[6] & 0x0f) | 0x80); /* UUID version 8 (custom) */
    d[8] = (unsigned char)((d[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char *p = out + snprintf(out, CS_FHIR_UUID_URN_MAX, "urn:uuid:");
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        p += snprintf(p, 3, "%02x", d[i]);
    }
    return CS_OK;
}

/* Append {"fullUrl", "resource"} with the resource's id = the uuid. */
static void add_entry(ctx *c, const char *url, json_t *res)
{
    json_object_set_new(res, "id", json_string(url + 9));
    json_t *e = json_pack("{s:s, s:o}", "fullUrl", url, "resource", res);
    if (!e || json_array_append_new(c->entries, e) != 0)
        c->nomem = true;
}

static void url_for(ctx *c, const char *key, char out[CS_FHIR_UUID_URN_MAX])
{
    if (cs_fhir_uuid(c->study, key, out, NULL) != CS_OK)
        out[0] = '\0'; /* unreachable: study and key are non-empty */
}

static json_t *subject(const ctx *c)
{
    return c->patient_url[0] ? ref(c->patient_url, NULL) : NULL;
}

/* ---- resources ----------------------------------------------------------- */

static void add_patient(ctx *c)
{
    const json_t *p = json_object_get(c->st, "patient");
    if (!json_is_object(p))
        return;
    const char *nhs = str(p, "nhs_number"), *family = str(p, "family"), *given = str(p, "given");
    const char *birth = str(p, "birth_date"), *sex = str(p, "sex");
    json_t *res = json_pack("{s:s}", "resourceType", "Patient");
    if (is_nhs_number(nhs))
        json_object_set_new(
            res, "identifier",
            json_pack("[{s:s, s:s}]", "system", CS_FHIR_NHS_NUMBER_SYSTEM, "value", nhs));
    if (family || given) {
        json_t *name = json_pack("{s:s}", "use", "official");
        put_str(name, "family", family);
        if (given)
            json_object_set_new(name, "given", json_pack("[s]", given));
        json_object_set_new(res, "name", json_pack("[o]", name));
    }
    static const char *const GENDERS[] = {"female", "male", "other", "unknown", NULL};
    if (in_list(GENDERS, sex))
        put_str(res, "gender", sex);
    if (is_date(birth))
        put_str(res, "birthDate", birth);
    if (json_object_size(res) == 1) { /* nothing usable: no Patient at all */
        json_decref(res);
        return;
    }
    url_for(c, "patient", c->patient_url);
    add_entry(c, c->patient_url, res);
}

/* The key frames: [{"seq", "url"}], in report order, at most once each. */
static void add_media(ctx *c, const json_t *key_frames)
{
    size_t i;
    json_t *kf;
    json_array_foreach(key_frames, i, kf)
    {
        json_t *seqv = json_object_get(kf, "seq");
        if (!json_is_integer(seqv) || json_integer_value(seqv) < 0)
            continue;
        uint64_t seq = (uint64_t)json_integer_value(seqv);
        char key[64], url[CS_FHIR_UUID_URN_MAX], uid[CS_UID_MAX], title[48], val[80];
        snprintf(key, sizeof key, "media/%" PRIu64, seq);
        url_for(c, key, url);
        bool dup = false;
        for (size_t k = 0; k < json_array_size(c->key_seqs); k++)
            dup =
                dup || strcmp(json_string_value(json_array_get(json_array_get(c->key_seqs, k), 1)),
                              url) == 0;
        if (dup)
            continue;
        snprintf(title, sizeof title, "Frame %" PRIu64, seq);
        json_t *res = json_pack("{s:s}", "resourceType", "Media");
        if (cs_uid_frame_instance(c->study, seq, uid, NULL) == CS_OK) {
            snprintf(val, sizeof val, "urn:oid:%s", uid);
            json_object_set_new(
                res, "identifier",
                json_pack("[{s:s, s:s}]", "system", DICOM_UID_SYSTEM, "value", val));
        }
        json_object_set_new(res, "status", json_string("completed"));
        json_object_set_new(res, "type", concept(MEDIA_TYPE, "image", "Image", NULL));
        json_object_set_new(res, "modality", concept(DCM, "ES", "Endoscopy", NULL));
        put_nonempty(res, "subject", subject(c));
        json_t *att = json_pack("{s:s}", "contentType", "image/jpeg");
        const char *u = str(kf, "url");
        if (u) {
            /* A path is made absolute with base_url; without one it is left
             * out (Attachment.url is an absolute URL). */
            char full[1024];
            if (u[0] == '/' && c->base_url)
                snprintf(full, sizeof full, "%s%s", c->base_url, u);
            else
                snprintf(full, sizeof full, "%s", strstr(u, "://") ? u : "");
            put_str(att, "url", full);
        }
        put_str(att, "title", title);
        json_object_set_new(res, "content", att);
        add_entry(c, url, res);
        json_array_append_new(c->key_seqs, json_pack("[I, s]", (json_int_t)seq, url));
        json_array_append_new(c->media_refs,
                              json_pack("{s:s, s:o}", "comment", title, "link", ref(url, NULL)));
    }
}

static void add_imaging_study(ctx *c, const char *accession_system)
{
    char uid[CS_UID_MAX], val[80], series[CS_UID_MAX];
    if (cs_uid_study(c->study, uid, NULL) != CS_OK)
        return;
    snprintf(val, sizeof val, "urn:oid:%s", uid);
    url_for(c, "imaging-study", c->imaging_url);
    json_t *ids = json_pack("[{s:s, s:s}]", "system", DICOM_UID_SYSTEM, "value", val);
    json_t *acc = json_pack("{s:o}", "type", concept(V2_0203, "ACSN", "Accession ID", NULL));
    put_str(acc, "system", accession_system);
    char accession[17];
    cs_uid_accession(c->study, accession); /* the same as the DICOM export's */
    put_str(acc, "value", accession);
    json_array_append_new(ids, acc);
    json_t *res = json_pack("{s:s, s:o, s:s, s:[o]}", "resourceType", "ImagingStudy", "identifier",
                            ids, "status", "available", "modality", coding(DCM, "ES", "Endoscopy"));
    /* subject is 1..1 in ImagingStudy: without a patient, say so in words. */
    json_object_set_new(res, "subject",
                        c->patient_url[0] ? ref(c->patient_url, NULL)
                                          : ref(NULL, "patient not recorded"));
    put_str(res, "started", c->effective);
    size_t n = json_array_size(c->key_seqs);
    if (n > 0 && cs_uid_key_frame_series(c->study, series, NULL) == CS_OK) {
        json_t *inst = json_array();
        for (size_t i = 0; i < n; i++) {
            uint64_t seq =
                (uint64_t)json_integer_value(json_array_get(json_array_get(c->key_seqs, i), 0));
            char iuid[CS_UID_MAX], title[48];
            if (cs_uid_frame_instance(c->study, seq, iuid, NULL) != CS_OK)
                continue;
            snprintf(title, sizeof title, "Frame %" PRIu64, seq);
            json_t *in = json_pack("{s:s, s:o}", "uid", iuid, "sopClass",
                                   coding("urn:ietf:rfc:3986", VL_ENDOSCOPIC_SOP_CLASS,
                                          "VL Endoscopic Image Storage"));
            /* As the DICOM export's Instance Number: the key frame's place. */
            json_object_set_new(in, "number", json_integer((json_int_t)i + 1));
            put_str(in, "title", title);
            json_array_append_new(inst, in);
        }
        json_object_set_new(res, "numberOfSeries", json_integer(1));
        json_object_set_new(res, "numberOfInstances",
                            json_integer((json_int_t)json_array_size(inst)));
        json_object_set_new(res, "series",
                            json_pack("[{s:s, s:i, s:o, s:s, s:i, s:o}]", "uid", series, "number",
                                      1, "modality", coding(DCM, "ES", "Endoscopy"), "description",
                                      "Key frames", "numberOfInstances", (int)json_array_size(inst),
                                      "instance", inst));
    }
    put_str(res, "description", "Colon capsule endoscopy");
    add_entry(c, c->imaging_url, res);
}

/* The parts every Observation shares: status, category, code, subject,
 * effective. */
static json_t *observation(const ctx *c, json_t *code)
{
    json_t *o =
        json_pack("{s:s, s:s, s:[o], s:o}", "resourceType", "Observation", "status", c->obs_status,
                  "category", concept(OBS_CATEGORY, "imaging", "Imaging", NULL), "code", code);
    put_nonempty(o, "subject", subject(c));
    put_str(o, "effectiveDateTime", c->effective);
    return o;
}

static void add_result(ctx *c, const char *key, json_t *obs)
{
    char url[CS_FHIR_UUID_URN_MAX];
    url_for(c, key, url);
    add_entry(c, url, obs);
    json_array_append_new(c->results, ref(url, NULL));
}

static json_t *component(json_t *code, const char *value_key, json_t *value)
{
    return json_pack("{s:o, s:o}", "code", code, value_key, value);
}

static void add_finding(ctx *c, const json_t *f)
{
    json_t *idv = json_object_get(f, "id"), *from = json_object_get(f, "seq_from");
    const char *type = str(f, "type");
    if (!json_is_integer(idv) || !json_is_integer(from) || !type ||
        json_is_true(json_object_get(f, "deleted")))
        return;
    json_t *tov = json_object_get(f, "seq_to");
    json_int_t a = json_integer_value(from), b = json_is_integer(tov) ? json_integer_value(tov) : a;
    const char *label = label_in(cs_vocab_finding_types, type);
    json_t *obs = observation(c, local_concept(c, "finding-type", type, label ? label : type));
    char buf[64];
    if (instant(int_member(f, "updated_at_ms"), buf))
        put_str(obs, "issued", buf);
    const char *by = str(f, "updated_by") ? str(f, "updated_by") : str(f, "created_by");
    if (by)
        json_object_set_new(obs, "performer", json_pack("[o]", ref(NULL, by)));
    json_t *size = json_object_get(f, "size_mm");
    if (json_is_number(size) && json_number_value(size) >= 0)
        json_object_set_new(obs, "valueQuantity",
                            json_pack("{s:f, s:s, s:s, s:s}", "value", json_number_value(size),
                                      "unit", "mm", "system", UCUM, "code", "mm"));
    if (json_is_true(json_object_get(f, "suspected_cancer")))
        json_object_set_new(obs, "interpretation",
                            json_pack("[o]", concept(OBS_INTERPRETATION, "AA", "Critical abnormal",
                                                     "Suspected cancer: urgent")));
    const struct segment *seg = segment_of(str(f, "segment"));
    if (seg)
        json_object_set_new(obs, "bodySite",
                            concept(SNOMED, seg->snomed, seg->display, seg->label));
    /* The note: the frame range, then the reader's note. */
    const char *note = str(f, "note");
    char range[96];
    if (a == b)
        snprintf(range, sizeof range, "Frame %" JSON_INTEGER_FORMAT, a);
    else
        snprintf(range, sizeof range, "Frames %" JSON_INTEGER_FORMAT "-%" JSON_INTEGER_FORMAT, a,
                 b);
    json_t *notes = json_pack("[{s:s}]", "text", range);
    if (note)
        json_array_append_new(notes, json_pack("{s:s}", "text", note));
    json_object_set_new(obs, "note", notes);
    /* Derived from the study and from the key frames inside the range. */
    json_t *from_refs = json_array();
    if (c->imaging_url[0])
        json_array_append_new(from_refs, ref(c->imaging_url, NULL));
    for (size_t i = 0; i < json_array_size(c->key_seqs); i++) {
        json_t *p = json_array_get(c->key_seqs, i);
        json_int_t seq = json_integer_value(json_array_get(p, 0));
        if (seq >= a && seq <= b)
            json_array_append_new(from_refs, ref(json_string_value(json_array_get(p, 1)), NULL));
    }
    put_nonempty(obs, "derivedFrom", from_refs);
    json_t *comps = json_array();
    json_array_append_new(
        comps, component(local_concept(c, "observation", "frame-range", "Capsule frame range"),
                         "valueRange",
                         json_pack("{s:{s:I}, s:{s:I}}", "low", "value", a, "high", "value", b)));
    const char *morph = str(f, "morphology");
    if (in_list(PARIS, morph))
        json_array_append_new(
            comps, component(local_concept(c, "observation", "paris", "Paris classification"),
                             "valueCodeableConcept", local_concept(c, "paris", morph, morph)));
    json_t *count = json_object_get(f, "count");
    if (strcmp(type, "polyp") == 0 && json_is_integer(count) && json_integer_value(count) >= 1 &&
        json_integer_value(count) <= 99)
        json_array_append_new(
            comps, component(local_concept(c, "observation", "polyp-count", "Number of polyps"),
                             "valueInteger", json_integer(json_integer_value(count))));
    json_object_set_new(obs, "component", comps);
    snprintf(buf, sizeof buf, "finding/%" JSON_INTEGER_FORMAT, json_integer_value(idv));
    add_result(c, buf, obs);
}

static void add_cc_clear(ctx *c)
{
    /* The scores in force, as the report signed them: the reader's, else a
     * migrated old grade (derived.cc_clear; docs/clinical-record.md). The
     * content's own cc_clear holds only the reader's: a report graded in
     * the old words had no CC-CLEAR in the record at all. An older record
     * without derived.cc_clear falls back to the content's. */
    const json_t *cc = json_object_get(c->derived, "cc_clear");
    if (!json_is_object(cc))
        cc = json_object_get(c->content, "cc_clear");
    if (!json_is_object(cc))
        return;
    json_t *comps = json_array();
    json_int_t sum = 0;
    bool all = true;
    for (size_t i = 0; CC_CLEAR_SEGMENTS[i]; i++) {
        json_t *v = json_object_get(cc, CC_CLEAR_SEGMENTS[i]);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 3) {
            all = false;
            continue;
        }
        const struct segment *seg = segment_of(CC_CLEAR_SEGMENTS[i]);
        char code[48], text[64];
        snprintf(code, sizeof code, "cc-clear-%s", seg->name);
        snprintf(text, sizeof text, "CC-CLEAR %s", seg->label);
        sum += json_integer_value(v);
        json_array_append_new(comps,
                              component(local_concept(c, "observation", code, text), "valueInteger",
                                        json_integer(json_integer_value(v))));
    }
    if (json_array_size(comps) == 0) {
        json_decref(comps);
        return;
    }
    json_t *obs = observation(
        c, local_concept(c, "observation", "cc-clear", "CC-CLEAR bowel cleansing score"));
    json_t *total = json_object_get(c->derived, "cc_clear_total");
    if (json_is_integer(total))
        json_object_set_new(obs, "valueInteger", json_integer(json_integer_value(total)));
    else if (all)
        json_object_set_new(obs, "valueInteger", json_integer(sum));
    const char *adequacy = str(c->derived, "cleansing_adequacy");
    static const char *const ADEQUACY[] = {"excellent", "good", "inadequate", NULL};
    if (in_list(ADEQUACY, adequacy)) {
        char text[48];
        snprintf(text, sizeof text, "%c%s", adequacy[0] - 'a' + 'A', adequacy + 1);
        json_array_append_new(
            comps,
            component(local_concept(c, "observation", "cleansing-adequacy", "Cleansing adequacy"),
                      "valueCodeableConcept",
                      local_concept(c, "cleansing-adequacy", adequacy, text)));
    }
    json_object_set_new(obs, "component", comps);
    add_result(c, "cc-clear", obs);
}

static void add_completeness(ctx *c)
{
    const char *v = str(c->derived, "completeness");
    if (!v || (strcmp(v, "complete") != 0 && strcmp(v, "incomplete") != 0))
        return;
    json_t *obs = observation(
        c, local_concept(c, "observation", "completeness", "Completeness of the capsule study"));
    json_object_set_new(
        obs, "valueCodeableConcept",
        local_concept(c, "completeness", v, v[0] == 'c' ? "Complete" : "Incomplete"));
    json_t *excreted = json_object_get(c->derived, "excreted");
    if (json_is_boolean(excreted))
        json_object_set_new(
            obs, "component",
            json_pack("[o]", component(local_concept(c, "observation", "excreted",
                                                     "Capsule excreted within the recording"),
                                       "valueBoolean", json_boolean(json_is_true(excreted)))));
    json_t *notes = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(c->derived, "completeness_reasons"), i,
                       r) if (json_string_value(r) && *json_string_value(r))
        json_array_append_new(notes, json_pack("{s:s}", "text", json_string_value(r)));
    put_nonempty(obs, "note", notes);
    add_result(c, "completeness", obs);
}

/* ---- the DiagnosticReport's conclusion ----------------------------------- */

typedef struct text {
    char *buf;
    size_t len, cap;
    bool nomem;
} text;

static void add_text(text *t, const char *s)
{
    size_t n = strlen(s);
    if (t->nomem || n == 0)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->cap ? t->cap * 2 : 1024) + n;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->nomem = true;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n + 1);
    t->len += n;
}

/* A paragraph: a blank line between paragraphs. */
static void add_para(text *t, const char *head, const char *body)
{
    if (!body || !*body)
        return;
    if (t->len)
        add_text(t, "\n\n");
    add_text(t, head);
    add_text(t, body);
}

static char *conclusion(const ctx *c, const json_t *addenda)
{
    text t = {0};
    char line[256];
    add_para(&t, "", str(c->content, "findings_text"));
    add_para(&t, "Extracolonic and small-bowel findings: ", str(c->content, "extracolonic"));
    const char *rec = str(c->content, "recommendation");
    const char *rec_label = label_in(cs_vocab_recommendations, rec);
    add_para(&t, "Recommendation: ", rec_label ? rec_label : rec);
    add_para(&t, "Reason for the recommendation: ", str(c->content, "recommendation_reason"));
    json_t *fu = json_object_get(c->content, "follow_up_months");
    if (json_is_integer(fu)) {
        snprintf(line, sizeof line, "%" JSON_INTEGER_FORMAT " months", json_integer_value(fu));
        add_para(&t, "Follow-up interval: ", line);
    }
    add_para(&t, "Comments: ", str(c->content, "comments"));
    size_t i;
    json_t *a;
    json_array_foreach(addenda, i, a)
    {
        const char *body = str(a, "text");
        if (!body || !*body)
            continue;
        const char *who = str(a, "by") ? str(a, "by") : str(a, "author");
        const char *why = str(a, "reason");
        char when[40] = "";
        if (!instant(int_member(a, "at_ms"), when))
            instant(int_member(a, "created_at_ms"), when);
        /* Piece by piece, never through a fixed buffer: a long reason was
         * cut there (in a multi-byte character, the whole conclusion was
         * then no valid text and left out of the Bundle). */
        if (t.len)
            add_text(&t, "\n\n");
        snprintf(line, sizeof line, "Addendum %zu (", i + 1);
        add_text(&t, line);
        add_text(&t, when);
        if (who) {
            add_text(&t, when[0] ? ", by " : "by ");
            add_text(&t, who);
        }
        if (why) {
            add_text(&t, "; reason: ");
            add_text(&t, why);
        }
        add_text(&t, "): ");
        add_text(&t, body);
    }
    if (t.nomem) {
        free(t.buf);
        return NULL;
    }
    return t.buf ? t.buf : calloc(1, 1);
}

static void add_report(ctx *c, const char *status, const json_t *addenda,
                       const char *accession_system)
{
    char url[CS_FHIR_UUID_URN_MAX], when[40];
    url_for(c, "report", url);
    json_t *acc = json_pack("{s:o}", "type", concept(V2_0203, "ACSN", "Accession ID", NULL));
    put_str(acc, "system", accession_system);
    char accession[17];
    cs_uid_accession(c->study, accession); /* the same as the DICOM export's */
    put_str(acc, "value", accession);
    json_t *res = json_pack(
        "{s:s, s:[o], s:s, s:[o], s:o}", "resourceType", "DiagnosticReport", "identifier", acc,
        "status", status, "category", concept(V2_0074, "IMG", "Diagnostic Imaging", NULL), "code",
        concept(LOINC, CS_FHIR_REPORT_LOINC, "Colon capsule endoscopy study Document",
                "Colon capsule endoscopy report"));
    put_nonempty(res, "subject", subject(c));
    put_str(res, "effectiveDateTime", c->effective);
    bool is_signed = str(c->rep, "signed_by") && int_member(c->rep, "signed_at_ms") > 0 &&
                     strcmp(str(c->rep, "state") ? str(c->rep, "state") : "", "signed") == 0;
    if (instant(is_signed ? int_member(c->rep, "signed_at_ms")
                          : int_member(c->rep, "updated_at_ms"),
                when))
        put_str(res, "issued", when);
    /* The reader interprets; the validator (the consultant who signed) is
     * responsible for the report. The reader is who saved the report's
     * version (Nyborg's reader, as the printable report names it), never
     * the study's assigned reader: someone else may have read it, and an
     * assignment can change after signing. */
    const char *reader = str(c->rep, "updated_by");
    const char *validator = is_signed ? str(c->rep, "signed_by") : NULL;
    if (validator)
        json_object_set_new(res, "performer", json_pack("[o]", ref(NULL, validator)));
    json_t *interp = json_array();
    if (reader)
        json_array_append_new(interp, ref(NULL, reader));
    if (validator && (!reader || strcmp(reader, validator) != 0))
        json_array_append_new(interp, ref(NULL, validator));
    put_nonempty(res, "resultsInterpreter", interp);
    put_nonempty(res, "result", json_incref(c->results));
    if (c->imaging_url[0])
        json_object_set_new(res, "imagingStudy", json_pack("[o]", ref(c->imaging_url, NULL)));
    put_nonempty(res, "media", json_incref(c->media_refs));
    char *concl = conclusion(c, addenda);
    if (!concl)
        c->nomem = true;
    /* The signed text must be in the Bundle whole or the Bundle not made:
     * a conclusion jansson cannot take (not UTF-8) is an error, never a
     * member quietly left out. */
    json_t *cj = concl && *concl ? json_string(concl) : NULL;
    if (concl && *concl && !cj)
        c->bad_text = true;
    else if (cj && json_object_set_new(res, "conclusion", cj) != 0)
        c->nomem = true;
    free(concl);
    /* Put the report right after the Patient (or first): receivers look
     * for it there. */
    json_object_set_new(res, "id", json_string(url + 9));
    json_t *e = json_pack("{s:s, s:o}", "fullUrl", url, "resource", res);
    if (!e || json_array_insert_new(c->entries, c->patient_url[0] ? 1 : 0, e) != 0)
        c->nomem = true;
}

cs_status cs_fhir_bundle(const json_t *record, const cs_fhir_opts *opts, json_t **out,
                         cs_error *err)
{
    *out = NULL;
    if (!json_is_object(record))
        return cs_error_set(err, CS_ERR_ARG, "the record must be a JSON object");
    ctx c = {0};
    c.st = json_object_get(record, "study");
    c.study = str(c.st, "study");
    if (!c.study)
        return cs_error_set(err, CS_ERR_ARG, "the record has no study id (study.study)");
    c.rep = json_object_get(record, "report");
    c.content = json_object_get(c.rep, "content");
    c.derived = json_object_get(c.rep, "derived");
    c.base_url = str(record, "base_url");
    if (opts && opts->system_base && *opts->system_base)
        snprintf(c.system_base, sizeof c.system_base, "%s", opts->system_base);
    else if (c.base_url)
        snprintf(c.system_base, sizeof c.system_base, "%s/fhir", c.base_url);
    const json_t *addenda = json_object_get(c.rep, "addenda");
    if (!json_is_array(addenda))
        addenda = NULL;
    /* Status: the report's state; a signed report with addenda is
     * "appended" (new content added, the signed content unchanged). */
    const char *state = str(c.rep, "state");
    const char *status = "registered"; /* no report yet */
    if (state && strcmp(state, "signed") == 0)
        status = json_array_size(addenda) > 0 ? "appended" : "final";
    else if (state)
        status = "preliminary";
    c.obs_status = state && strcmp(state, "signed") == 0 ? "final"
                   : state                               ? "preliminary"
                                                         : "registered";
    char started[40];
    if (instant(int_member(c.st, "created_at") * 1000, started))
        snprintf(c.effective, sizeof c.effective, "%s", started);
    char accession_system[600] = "";
    if (c.base_url)
        snprintf(accession_system, sizeof accession_system, "%s/accession", c.base_url);

    c.entries = json_array();
    c.results = json_array();
    c.media_refs = json_array();
    c.key_seqs = json_array();
    add_patient(&c);
    add_media(&c, json_object_get(record, "key_frames"));
    add_imaging_study(&c, accession_system);
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(record, "findings"), i, f) add_finding(&c, f);
    add_cc_clear(&c);
    add_completeness(&c);
    add_report(&c, status, addenda, accession_system);

    /* The Bundle: its id names this exact content (report version and
     * addenda), the resources' ids name the study's resources. */
    char key[96], burl[CS_FHIR_UUID_URN_MAX], when[40] = "";
    snprintf(key, sizeof key, "bundle/%" JSON_INTEGER_FORMAT "/%zu/%s",
             (json_int_t)int_member(c.rep, "version"), json_array_size(addenda), status);
    url_for(&c, key, burl);
    json_t *b =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:s}", "resourceType", "Bundle", "id", burl + 9,
                  "identifier", "system", "urn:ietf:rfc:3986", "value", burl, "type", "collection");
    int64_t ts = strcmp(status, "final") == 0 || strcmp(status, "appended") == 0
                     ? int_member(c.rep, "signed_at_ms")
                     : int_member(c.rep, "updated_at_ms");
    if (b && instant(ts, when))
        put_str(b, "timestamp", when);
    if (b)
        json_object_set(b, "entry", c.entries);
    json_decref(c.entries);
    json_decref(c.results);
    json_decref(c.media_refs);
    json_decref(c.key_seqs);
    if (!b || c.nomem) {
        json_decref(b);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory building the FHIR Bundle");
    }
    if (c.bad_text) {
        json_decref(b);
        return cs_error_set(err, CS_ERR_CORRUPT,
                            "the report's text is not valid UTF-8: no Bundle is made without it");
    }
    *out = b;
    return CS_OK;
}
