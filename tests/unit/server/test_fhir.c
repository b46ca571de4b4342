/* test_fhir.c - the FHIR R4 Bundle builder (src/server/export/fhir.h) on
 * hand-written record JSONs: report status from the report's state,
 * findings to Observations, the NHS number, optional data left out rather
 * than emitted empty or invalid, and byte-identical output for the same
 * record. (Validation against the R4 StructureDefinitions is
 * tests/integration/server_fhir.sh with tests/node/fhir_validate.mjs.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/export/fhir.h"
#include "server/export/uid.h"

static const char *FULL =
    "{\"base_url\": \"https://cs.example\","
    " \"study\": {\"study\": \"st-1\", \"created_at\": 1767225600, \"assigned_reader\": \"rdr\","
    "  \"patient\": {\"nhs_number\": \"9434765919\", \"family\": \"Smith\", \"given\": \"Anna\","
    "   \"birth_date\": \"1962-03-14\", \"sex\": \"female\"},"
    "  \"episode\": {\"pathway\": \"screening\", \"indication\": \"fit_positive\"}},"
    " \"report\": {\"state\": \"draft\", \"version\": 3, \"updated_by\": \"rdr\","
    "  \"updated_at_ms\": 1767229200123, \"signed_by\": \"\", \"signed_at_ms\": 0,"
    "  \"content\": {\"findings_text\": \"One polyp.\", \"recommendation\": \"colonoscopy\","
    "   \"follow_up_months\": 36, \"key_frames\": [120, 4],"
    "   \"cc_clear\": {\"right_colon\": 3, \"transverse_colon\": 2, \"left_colon\": 3}},"
    "  \"derived\": {\"cc_clear_total\": 8, \"cleansing_adequacy\": \"excellent\","
    "   \"completeness\": \"incomplete\", \"completeness_reasons\": [\"not excreted\"],"
    "   \"excreted\": false}},"
    " \"findings\": ["
    "  {\"id\": 7, \"seq_from\": 118, \"seq_to\": 125, \"type\": \"polyp\", \"note\": \"sessile\","
    "   \"size_mm\": 12, \"segment\": \"left_colon\", \"morphology\": \"0-Is\", \"count\": 2,"
    "   \"suspected_cancer\": true, \"created_by\": \"rdr\", \"updated_by\": \"rdr\","
    "   \"updated_at_ms\": 1767229100000},"
    "  {\"id\": 8, \"seq_from\": 40, \"type\": \"angioectasia\", \"note\": \"\", \"size_mm\": null,"
    "   \"segment\": \"\", \"morphology\": \"\", \"count\": 1, \"suspected_cancer\": false},"
    "  {\"id\": 9, \"seq_from\": 50, \"type\": \"ulcer\", \"deleted\": true}],"
    " \"key_frames\": [{\"seq\": 120, \"url\": \"/api/v1/studies/st-1/frames/120.jpg\"},"
    "                {\"seq\": 4, \"url\": \"/api/v1/studies/st-1/frames/4.jpg\"}]}";

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("bad test JSON: %s at %d", je.text, je.position);
    return j;
}

/* With CS_FHIR_DUMP_DIR set, every Bundle built is written there as
 * bundle-N.json, for tests/integration/server_fhir.sh to validate with the
 * R4 StructureDefinitions (these records hold fields the server may not
 * produce yet: structured findings, CC-CLEAR, addenda). */
static void dump(const json_t *b)
{
    static int n;
    const char *dir = getenv("CS_FHIR_DUMP_DIR");
    char path[4096];
    if (!dir || !*dir)
        return;
    snprintf(path, sizeof path, "%s/bundle-%d.json", dir, ++n);
    assert_int_equal(json_dump_file(b, path, JSON_INDENT(1)), 0);
}

static json_t *build(json_t *rec)
{
    json_t *b = NULL;
    cs_error e = {0};
    assert_int_equal(cs_fhir_bundle(rec, NULL, &b, &e), CS_OK);
    assert_non_null(b);
    dump(b);
    return b;
}

/* The entries whose resource has type `type`, in order. */
static size_t resources(const json_t *b, const char *type, json_t **out, size_t cap)
{
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(json_object_get(b, "entry"), i, e)
    {
        json_t *r = json_object_get(e, "resource");
        if (strcmp(json_string_value(json_object_get(r, "resourceType")), type) == 0) {
            if (n < cap)
                out[n] = r;
            n++;
        }
    }
    return n;
}

static json_t *one(const json_t *b, const char *type)
{
    json_t *r = NULL;
    assert_int_equal(resources(b, type, &r, 1), 1);
    return r;
}

static const char *s(const json_t *o, const char *path)
{
    json_t *v = json_object_get(o, path);
    return json_string_value(v);
}

/* FHIR has no empty strings, arrays or objects and no nulls. */
static void assert_no_empty(const json_t *j, const char *where)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_null(j))
        fail_msg("null at %s", where);
    if (json_is_string(j) && !json_string_value(j)[0])
        fail_msg("empty string at %s", where);
    if (json_is_array(j)) {
        if (json_array_size(j) == 0)
            fail_msg("empty array at %s", where);
        json_array_foreach(j, i, v) assert_no_empty(v, where);
    }
    if (json_is_object(j)) {
        if (json_object_size(j) == 0)
            fail_msg("empty object at %s", where);
        json_object_foreach((json_t *)j, k, v) assert_no_empty(v, k);
    }
}

static void draft_is_preliminary_and_maps_everything(void **state)
{
    (void)state;
    json_t *rec = load(FULL), *b = build(rec);
    assert_no_empty(b, "bundle");
    assert_string_equal(s(b, "resourceType"), "Bundle");
    assert_string_equal(s(b, "type"), "collection");
    assert_string_equal(s(b, "timestamp"), "2026-01-01T01:00:00.123Z");

    json_t *p = one(b, "Patient");
    json_t *id = json_array_get(json_object_get(p, "identifier"), 0);
    assert_string_equal(s(id, "system"), "https://fhir.nhs.uk/Id/nhs-number");
    assert_string_equal(s(id, "value"), "9434765919");
    assert_string_equal(s(p, "birthDate"), "1962-03-14");
    assert_string_equal(s(p, "gender"), "female");
    json_t *name = json_array_get(json_object_get(p, "name"), 0);
    assert_string_equal(s(name, "family"), "Smith");
    assert_string_equal(json_string_value(json_array_get(json_object_get(name, "given"), 0)),
                        "Anna");

    json_t *dr = one(b, "DiagnosticReport");
    assert_string_equal(s(dr, "status"), "preliminary");
    json_t *code = json_array_get(json_object_get(json_object_get(dr, "code"), "coding"), 0);
    assert_string_equal(s(code, "system"), "http://loinc.org");
    assert_string_equal(s(code, "code"), CS_FHIR_REPORT_LOINC);
    assert_string_equal(s(dr, "effectiveDateTime"), "2026-01-01T00:00:00.000Z");
    assert_string_equal(s(dr, "issued"), "2026-01-01T01:00:00.123Z");
    assert_null(json_object_get(dr, "performer")); /* nobody validated a draft */
    assert_string_equal(s(json_array_get(json_object_get(dr, "resultsInterpreter"), 0), "display"),
                        "rdr");
    assert_non_null(strstr(s(dr, "conclusion"), "One polyp."));
    assert_non_null(strstr(s(dr, "conclusion"), "Recommendation: Colonoscopy"));
    assert_non_null(strstr(s(dr, "conclusion"), "36 months"));
    /* subject -> the Patient's fullUrl */
    const char *pat_url = s(json_array_get(json_object_get(b, "entry"), 0), "fullUrl");
    assert_string_equal(s(json_object_get(dr, "subject"), "reference"), pat_url);

    /* two live findings + CC-CLEAR + completeness; the deleted one is out */
    json_t *obs[8];
    assert_int_equal(resources(b, "Observation", obs, 8), 4);
    assert_int_equal(json_array_size(json_object_get(dr, "result")), 4);
    json_t *polyp = obs[0];
    assert_string_equal(s(polyp, "status"), "preliminary");
    assert_string_equal(s(json_object_get(polyp, "code"), "text"), "Polyp");
    json_t *q = json_object_get(polyp, "valueQuantity");
    assert_true(json_number_value(json_object_get(q, "value")) == 12.0);
    assert_string_equal(s(q, "code"), "mm");
    assert_string_equal(s(q, "system"), "http://unitsofmeasure.org");
    json_t *site = json_array_get(json_object_get(json_object_get(polyp, "bodySite"), "coding"), 0);
    assert_string_equal(s(site, "code"), "55572008");
    json_t *interp = json_array_get(
        json_object_get(json_array_get(json_object_get(polyp, "interpretation"), 0), "coding"), 0);
    assert_string_equal(s(interp, "code"), "AA");
    assert_string_equal(s(json_array_get(json_object_get(polyp, "note"), 0), "text"),
                        "Frames 118-125");
    assert_string_equal(s(json_array_get(json_object_get(polyp, "note"), 1), "text"), "sessile");
    json_t *comps = json_object_get(polyp, "component");
    assert_int_equal(json_array_size(comps), 3); /* frame range, Paris, count */
    assert_string_equal(
        s(json_object_get(json_array_get(comps, 1), "valueCodeableConcept"), "text"), "0-Is");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(comps, 2), "valueInteger")),
                     2);
    /* derived from the study and the key frame 120 inside 118..125 */
    assert_int_equal(json_array_size(json_object_get(polyp, "derivedFrom")), 2);

    json_t *angio = obs[1];
    assert_null(json_object_get(angio, "valueQuantity"));
    assert_null(json_object_get(angio, "bodySite"));
    assert_null(json_object_get(angio, "interpretation"));
    assert_int_equal(json_array_size(json_object_get(angio, "component")), 1); /* range only */
    assert_string_equal(s(json_array_get(json_object_get(angio, "note"), 0), "text"), "Frame 40");

    assert_int_equal(json_integer_value(json_object_get(obs[2], "valueInteger")), 8);
    assert_int_equal(json_array_size(json_object_get(obs[2], "component")), 4);
    assert_string_equal(s(json_object_get(obs[3], "valueCodeableConcept"), "text"), "Incomplete");

    json_t *media[4];
    assert_int_equal(resources(b, "Media", media, 4), 2);
    assert_string_equal(s(json_object_get(media[0], "content"), "url"),
                        "https://cs.example/api/v1/studies/st-1/frames/120.jpg");
    assert_int_equal(json_array_size(json_object_get(dr, "media")), 2);

    char uid[CS_UID_MAX], want[80];
    assert_int_equal(cs_uid_study("st-1", uid, NULL), CS_OK);
    snprintf(want, sizeof want, "urn:oid:%s", uid);
    json_t *is = one(b, "ImagingStudy");
    json_t *isid = json_array_get(json_object_get(is, "identifier"), 0);
    assert_string_equal(s(isid, "system"), "urn:dicom:uid");
    assert_string_equal(s(isid, "value"), want);
    json_t *series = json_array_get(json_object_get(is, "series"), 0);
    assert_int_equal(json_array_size(json_object_get(series, "instance")), 2);
    json_t *inst1 = json_array_get(json_object_get(series, "instance"), 1);
    assert_int_equal(json_integer_value(json_object_get(inst1, "number")), 2); /* as DICOM */
    char iuid[CS_UID_MAX];
    assert_int_equal(cs_uid_frame_instance("st-1", 4, iuid, NULL), CS_OK);
    assert_string_equal(s(inst1, "uid"), iuid);
    assert_int_equal(cs_uid_key_frame_series("st-1", iuid, NULL), CS_OK);
    assert_string_equal(s(series, "uid"), iuid);
    assert_int_equal(json_integer_value(json_object_get(is, "numberOfInstances")), 2);
    json_decref(b);
    json_decref(rec);
}

static void signed_is_final_and_addenda_appended(void **state)
{
    (void)state;
    json_t *rec = load(FULL);
    json_t *rep = json_object_get(rec, "report");
    json_object_set_new(rep, "state", json_string("signed"));
    json_object_set_new(rep, "signed_by", json_string("cons"));
    json_object_set_new(rep, "signed_at_ms", json_integer(1767232800000));
    json_t *b = build(rec);
    json_t *dr = one(b, "DiagnosticReport");
    assert_string_equal(s(dr, "status"), "final");
    assert_string_equal(s(dr, "issued"), "2026-01-01T02:00:00.000Z");
    assert_string_equal(s(json_array_get(json_object_get(dr, "performer"), 0), "display"), "cons");
    assert_int_equal(json_array_size(json_object_get(dr, "resultsInterpreter")), 2);
    json_t *obs[8];
    size_t n = resources(b, "Observation", obs, 8);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(s(obs[i], "status"), "final");
    const char *bundle_id = s(b, "id");
    char *first_id = strdup(bundle_id);

    json_object_set_new(rep, "addenda",
                        json_pack("[{s:s, s:I, s:s, s:s}]", "by", "cons", "at_ms",
                                  (json_int_t)1767319200000, "reason", "size corrected", "text",
                                  "The polyp measures 14 mm."));
    json_t *b2 = build(rec);
    json_t *dr2 = one(b2, "DiagnosticReport");
    assert_string_equal(s(dr2, "status"), "appended");
    const char *concl = s(dr2, "conclusion");
    assert_non_null(strstr(concl, "One polyp.")); /* the signed text is kept */
    assert_non_null(strstr(concl, "Addendum 1 (2026-01-02T02:00:00.000Z, by cons; reason: size "
                                  "corrected): The polyp measures 14 mm."));
    /* a new content, a new Bundle id; the same resources, the same fullUrls */
    assert_string_not_equal(s(b2, "id"), first_id);
    assert_string_equal(s(json_array_get(json_object_get(b2, "entry"), 1), "fullUrl"),
                        s(json_array_get(json_object_get(b, "entry"), 1), "fullUrl"));
    free(first_id);
    json_decref(b);
    json_decref(b2);
    json_decref(rec);
}

/* A long reason in multi-byte characters (255 bytes, the most an addendum
 * takes) used to be cut in a 256-byte buffer: mid-character, the whole
 * conclusion was no valid text and left out of the Bundle. */
static void a_long_addendum_reason_is_kept_whole(void **state)
{
    (void)state;
    json_t *rec = load(FULL);
    json_t *rep = json_object_get(rec, "report");
    json_object_set_new(rep, "state", json_string("signed"));
    json_object_set_new(rep, "signed_by", json_string("cons"));
    json_object_set_new(rep, "signed_at_ms", json_integer(1767232800000));
    char reason[256] = "";
    for (int i = 0; i < 84; i++)
        strcat(reason, "\xe2\x82\xac"); /* the euro sign, 3 bytes */
    strcat(reason, "END");
    assert_int_equal(strlen(reason), 255);
    json_object_set_new(rep, "addenda",
                        json_pack("[{s:s, s:I, s:s, s:s}]", "by", "cons", "at_ms",
                                  (json_int_t)1767319200000, "reason", reason, "text",
                                  "Tubular adenoma."));
    json_t *b = build(rec);
    const char *concl = s(one(b, "DiagnosticReport"), "conclusion");
    assert_non_null(concl);
    assert_non_null(strstr(concl, "One polyp."));
    char want[400];
    snprintf(want, sizeof want, "; reason: %s): Tubular adenoma.", reason);
    assert_non_null(strstr(concl, want));
    json_decref(b);
    json_decref(rec);
}

/* A report graded in the old words has its scores in derived.cc_clear
 * (source migrated_grade) and none in content.cc_clear: the record must
 * carry the scores the report was signed with. */
static void migrated_cc_clear_scores_are_exported(void **state)
{
    (void)state;
    json_t *rec = load(FULL);
    json_t *rep = json_object_get(rec, "report");
    json_object_del(json_object_get(rep, "content"), "cc_clear");
    json_t *derived = json_object_get(rep, "derived");
    json_object_set_new(
        derived, "cc_clear",
        json_pack("{s:i, s:i, s:i}", "right_colon", 1, "transverse_colon", 1, "left_colon", 2));
    json_object_set_new(derived, "cc_clear_total", json_integer(4));
    json_object_set_new(derived, "cleansing_adequacy", json_string("inadequate"));
    json_t *b = build(rec);
    json_t *obs[8];
    size_t n = resources(b, "Observation", obs, 8), found = 0;
    for (size_t i = 0; i < n && n <= 8; i++) {
        json_t *code =
            json_array_get(json_object_get(json_object_get(obs[i], "code"), "coding"), 0);
        const char *c = s(code, "code");
        if (!c || strcmp(c, "cc-clear") != 0)
            continue;
        found++;
        assert_int_equal(json_integer_value(json_object_get(obs[i], "valueInteger")), 4);
        /* three segment scores and the adequacy */
        assert_true(json_array_size(json_object_get(obs[i], "component")) >= 3);
    }
    assert_int_equal(found, 1);
    json_decref(b);
    json_decref(rec);
}

static void optional_data_missing_or_bad_is_left_out(void **state)
{
    (void)state;
    /* only a study id: no Patient, a registered report, an ImagingStudy */
    json_t *rec = load("{\"study\": {\"study\": \"bare\"}}"), *b = build(rec);
    assert_no_empty(b, "bundle");
    assert_int_equal(resources(b, "Patient", NULL, 0), 0);
    assert_int_equal(resources(b, "Observation", NULL, 0), 0);
    assert_int_equal(resources(b, "Media", NULL, 0), 0);
    json_t *dr = one(b, "DiagnosticReport");
    assert_string_equal(s(dr, "status"), "registered");
    assert_null(json_object_get(dr, "subject"));
    assert_null(json_object_get(dr, "conclusion"));
    assert_null(json_object_get(b, "timestamp"));
    json_t *is = one(b, "ImagingStudy");
    assert_string_equal(s(json_object_get(is, "subject"), "display"), "patient not recorded");
    assert_null(json_object_get(is, "series"));
    json_decref(b);
    json_decref(rec);

    /* bad values are dropped, never passed on */
    rec = load("{\"study\": {\"study\": \"bad\", \"created_at\": \"yesterday\","
               " \"patient\": {\"nhs_number\": \"12345\", \"family\": \"\", \"given\": 3,"
               "  \"birth_date\": \"1962-02-30\", \"sex\": \"f\"}},"
               " \"report\": {\"state\": \"read\", \"content\": {\"key_frames\": \"x\","
               "  \"cc_clear\": {\"right_colon\": 7, \"transverse_colon\": null}},"
               "  \"derived\": {\"completeness\": \"maybe\"}, \"addenda\": {}},"
               " \"findings\": [{\"id\": 1, \"seq_from\": 3, \"type\": \"polyp\","
               "   \"size_mm\": -1, \"segment\": \"elbow\", \"morphology\": \"0-X\","
               "   \"count\": 500}, {\"id\": \"x\"}, 5],"
               " \"key_frames\": [{\"seq\": -1}, {\"url\": \"/x.jpg\"}, 7]}");
    b = build(rec);
    assert_no_empty(b, "bundle");
    assert_int_equal(resources(b, "Patient", NULL, 0), 0); /* nothing usable in it */
    assert_string_equal(s(one(b, "DiagnosticReport"), "status"), "preliminary");
    json_t *obs[4];
    assert_int_equal(resources(b, "Observation", obs, 4), 1);
    assert_null(json_object_get(obs[0], "valueQuantity"));
    assert_null(json_object_get(obs[0], "bodySite"));
    assert_int_equal(json_array_size(json_object_get(obs[0], "component")), 1);
    assert_int_equal(resources(b, "Media", NULL, 0), 0);
    json_decref(b);
    json_decref(rec);
}

static void output_is_deterministic(void **state)
{
    (void)state;
    json_t *rec = load(FULL), *b1 = build(rec), *b2 = build(rec);
    char *t1 = json_dumps(b1, JSON_COMPACT), *t2 = json_dumps(b2, JSON_COMPACT);
    assert_string_equal(t1, t2);
    /* every fullUrl is a urn:uuid, distinct within the Bundle */
    size_t i, j;
    json_t *e, *f;
    json_array_foreach(json_object_get(b1, "entry"), i, e)
    {
        const char *u = s(e, "fullUrl");
        assert_int_equal(strlen(u), 45);
        assert_int_equal(strncmp(u, "urn:uuid:", 9), 0);
        assert_string_equal(s(json_object_get(e, "resource"), "id"), u + 9);
        json_array_foreach(json_object_get(b1, "entry"), j, f) if (j != i)
            assert_string_not_equal(u, s(f, "fullUrl"));
    }
    /* another study: other fullUrls */
    json_object_set_new(json_object_get(rec, "study"), "study", json_string("st-2"));
    json_t *b3 = build(rec);
    assert_string_not_equal(s(json_array_get(json_object_get(b3, "entry"), 0), "fullUrl"),
                            s(json_array_get(json_object_get(b1, "entry"), 0), "fullUrl"));
    char u1[CS_FHIR_UUID_URN_MAX], u2[CS_FHIR_UUID_URN_MAX];
    assert_int_equal(cs_fhir_uuid("st-1", "patient", u1, NULL), CS_OK);
    assert_int_equal(cs_fhir_uuid("st-1", "patient", u2, NULL), CS_OK);
    assert_string_equal(u1, u2);
    assert_true(u1[9 + 14] == '8'); /* version 8 */
    assert_string_equal(u1, s(json_array_get(json_object_get(b1, "entry"), 0), "fullUrl"));
    free(t1);
    free(t2);
    json_decref(b1);
    json_decref(b2);
    json_decref(b3);
    json_decref(rec);
}

static void bad_records_are_refused(void **state)
{
    (void)state;
    json_t *b = (json_t *)1;
    cs_error e = {0};
    json_t *arr = json_array(), *noid = load("{\"study\": {\"label\": \"x\"}}");
    assert_int_equal(cs_fhir_bundle(arr, NULL, &b, &e), CS_ERR_ARG);
    assert_null(b);
    assert_int_equal(cs_fhir_bundle(noid, NULL, &b, &e), CS_ERR_ARG);
    assert_non_null(strstr(e.msg, "study id"));
    assert_int_equal(cs_fhir_bundle(NULL, NULL, &b, &e), CS_ERR_ARG);
    char u[CS_FHIR_UUID_URN_MAX];
    assert_int_equal(cs_fhir_uuid("", "x", u, NULL), CS_ERR_ARG);
    json_decref(arr);
    json_decref(noid);
}

static void system_base_option_names_local_codes(void **state)
{
    (void)state;
    json_t *rec = load(FULL), *b = NULL;
    cs_fhir_opts o = {.system_base = "https://terms.example/fhir"};
    assert_int_equal(cs_fhir_bundle(rec, &o, &b, NULL), CS_OK);
    json_t *obs[8];
    resources(b, "Observation", obs, 8);
    json_t *c = json_array_get(json_object_get(json_object_get(obs[0], "code"), "coding"), 0);
    assert_string_equal(s(c, "system"), "https://terms.example/fhir/CodeSystem/finding-type");
    assert_string_equal(s(c, "code"), "polyp");
    json_decref(b);
    /* no base at all: text only, no coding */
    json_object_del(rec, "base_url");
    b = build(rec);
    resources(b, "Observation", obs, 8);
    assert_null(json_object_get(json_object_get(obs[0], "code"), "coding"));
    assert_string_equal(s(json_object_get(obs[0], "code"), "text"), "Polyp");
    /* and no relative URL for a key frame: Attachment.url is absolute */
    json_t *media[2];
    assert_int_equal(resources(b, "Media", media, 2), 2);
    assert_null(json_object_get(json_object_get(media[0], "content"), "url"));
    assert_string_equal(s(json_object_get(media[0], "content"), "contentType"), "image/jpeg");
    json_decref(b);
    json_decref(rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(draft_is_preliminary_and_maps_everything),
        cmocka_unit_test(signed_is_final_and_addenda_appended),
        cmocka_unit_test(a_long_addendum_reason_is_kept_whole),
        cmocka_unit_test(migrated_cc_clear_scores_are_exported),
        cmocka_unit_test(optional_data_missing_or_bad_is_left_out),
        cmocka_unit_test(output_is_deterministic),
        cmocka_unit_test(bad_records_are_refused),
        cmocka_unit_test(system_base_option_names_local_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
