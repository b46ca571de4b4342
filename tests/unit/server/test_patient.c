/* test_patient.c - the clinical record's identity checks
 * (server/core/patient.h) and the study UIDs both exports quote
 * (server/export/uid.h): NHS numbers pass only with their modulus-11 check
 * digit (a check value of 10 never passes), printed separators are
 * accepted and stripped; dates of birth must exist, not lie in the future
 * and not be over 120 years ago; the JSON reader names the field at fault
 * with the right status; UIDs match an independent computation and stay
 * within DICOM's 64 characters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/core/patient.h"
#include "server/export/uid.h"

static void nhs_numbers_pass_only_with_their_check_digit(void **state)
{
    (void)state;
    char out[11];
    assert_true(cs_nhs_number_check("9434765919", out));
    assert_string_equal(out, "9434765919");
    assert_true(cs_nhs_number_check("943 476 5919", out)); /* as printed */
    assert_string_equal(out, "9434765919");
    assert_true(cs_nhs_number_check("401-023-2137", out));
    assert_string_equal(out, "4010232137");
    assert_true(cs_nhs_number_check("4505577104", out));
    /* every other last digit fails */
    for (char d = '0'; d <= '9'; d++) {
        char n[11] = "943476591";
        n[9] = d;
        n[10] = '\0';
        assert_int_equal(cs_nhs_number_check(n, out), d == '9');
    }
    /* check value 10: no last digit makes these valid */
    for (char d = '0'; d <= '9'; d++) {
        char n[11] = "123456789";
        n[9] = d;
        n[10] = '\0';
        assert_false(cs_nhs_number_check(n, out));
    }
    assert_false(cs_nhs_number_check("943476591", out));    /* 9 digits */
    assert_false(cs_nhs_number_check("94347659190", out));  /* 11 digits */
    assert_false(cs_nhs_number_check("94347659l9", out));   /* a letter */
    assert_false(cs_nhs_number_check(" 9434765919", out));  /* leading space */
    assert_false(cs_nhs_number_check("9434765919 ", out));  /* trailing space */
    assert_false(cs_nhs_number_check("943  4765919", out)); /* two separators */
    assert_false(cs_nhs_number_check("", out));
    assert_false(cs_nhs_number_check(NULL, out));
}

static void birth_dates_must_exist_and_be_plausible(void **state)
{
    (void)state;
    const char *today = "2026-12-02";
    assert_true(cs_birth_date_check("1962-03-14", today));
    assert_true(cs_birth_date_check("2026-12-02", today));  /* born today */
    assert_false(cs_birth_date_check("2026-12-03", today)); /* tomorrow */
    assert_true(cs_birth_date_check("1906-12-02", today));  /* 120 years exactly */
    assert_false(cs_birth_date_check("1906-12-01", today)); /* a day more */
    assert_true(cs_birth_date_check("2000-02-29", today));  /* leap year */
    assert_false(cs_birth_date_check("1900-02-29", today)); /* not one (and too old) */
    assert_false(cs_birth_date_check("1999-02-29", today));
    assert_false(cs_birth_date_check("1962-13-01", today));
    assert_false(cs_birth_date_check("1962-04-31", today));
    assert_false(cs_birth_date_check("1962-3-14", today));
    assert_false(cs_birth_date_check("14/03/1962", today));
    assert_false(cs_birth_date_check("", today));
    char d[11];
    cs_date_utc(0, d);
    assert_string_equal(d, "1970-01-01");
    cs_date_utc(951782400, d); /* 2000-02-29T00:00:00Z */
    assert_string_equal(d, "2000-02-29");
}

/* Parse `text` as the body; return the status and leave code/msg. */
static int parse(const char *text, cs_patient_rec *p, cs_episode_rec *e, char code[32],
                 char msg[512])
{
    json_error_t je;
    json_t *body = json_loads(text, 0, &je);
    assert_non_null(body);
    int st = cs_patient_from_json(body, "2026-12-02", p, e, code, msg, 512);
    json_decref(body);
    return st;
}

static void the_json_reader_names_the_field_at_fault(void **state)
{
    (void)state;
    cs_patient_rec p;
    cs_episode_rec e;
    char code[32], msg[512];
    assert_int_equal(parse("{\"patient\": {\"nhs_number\": \"943 476 5919\", \"family\": \"Smith\","
                           " \"given\": \"Anna\", \"birth_date\": \"1962-03-14\", \"sex\": "
                           "\"female\"}, \"episode\": {\"pathway\": \"screening\", "
                           "\"indication\": \"fit_positive\", \"referrer\": \"Dr Khan\"}}",
                           &p, &e, code, msg),
                     0);
    assert_string_equal(p.nhs_number, "9434765919");
    assert_string_equal(p.family, "Smith");
    assert_string_equal(p.birth_date, "1962-03-14");
    assert_string_equal(e.indication, "fit_positive");
    assert_string_equal(e.referrer, "Dr Khan");
    /* nothing given: no patient, fine */
    assert_int_equal(parse("{\"label\": \"x\"}", &p, &e, code, msg), 0);
    assert_string_equal(p.nhs_number, "");
    assert_int_equal(parse("{\"patient\": null}", &p, &e, code, msg), 0);
    /* 40 + '^' + 23 = 64 bytes: the longest name DICOM's PN holds; a
     * referrer of 64 bytes; non-ASCII letters are not control characters */
    assert_int_equal(parse("{\"patient\": {\"nhs_number\": \"9434765919\", \"family\": "
                           "\"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\", \"given\": "
                           "\"GGGGGGGGGGGGGGGGGGGGGGG\", \"birth_date\": \"1962-03-14\", "
                           "\"sex\": \"female\"}, \"episode\": {\"referrer\": "
                           "\"RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR\"}}",
                           &p, &e, code, msg),
                     0);
    assert_int_equal(strlen(e.referrer), 64);
    assert_int_equal(parse("{\"patient\": {\"nhs_number\": \"9434765919\", \"family\": "
                           "\"\\u00d3 Dh\\u00fanaigh\", \"given\": \"Zo\\u00eb\", \"birth_date\": "
                           "\"1962-03-14\", \"sex\": \"female\"}}",
                           &p, &e, code, msg),
                     0);
    assert_string_equal(p.family, "\xc3\x93 Dh\xc3\xba"
                                  "naigh");

    struct {
        const char *body;
        int status;
        const char *code, *names;
    } bad[] = {
        {"{\"patient\": {\"nhs_number\": \"9434765918\", \"family\": \"S\", \"given\": \"A\","
         " \"birth_date\": \"1962-03-14\", \"sex\": \"female\"}}",
         422, "invalid_nhs_number", "nhs_number"},
        {"{\"patient\": {\"nhs_number\": \"9434765919\", \"family\": \"S\", \"given\": \"A\","
         " \"birth_date\": \"2030-01-01\", \"sex\": \"female\"}}",
         422, "invalid_birth_date", "birth_date"},
        {"{\"patient\": {\"nhs_number\": \"9434765919\", \"given\": \"A\","
         " \"birth_date\": \"1962-03-14\", \"sex\": \"female\"}}",
         400, "bad_json", "family"},
        {"{\"patient\": {\"nhs_number\": \"9434765919\", \"family\": \"  \", \"given\": \"A\","
         " \"birth_date\": \"1962-03-14\", \"sex\": \"female\"}}",
         400, "bad_json", "family"},
        {"{\"patient\": {\"nhs_number\": 9434765919, \"family\": \"S\", \"given\": \"A\","
         " \"birth_date\": \"1962-03-14\", \"sex\": \"female\"}}",
         400, "bad_json", "nhs_number"},
        {"{\"patient\": {\"nhs_number\": \"9434765919\", \"family\": \"S\", \"given\": \"A\","
         " \"birth_date\": \"1962-03-14\", \"sex\": \"F\"}}",
         400, "bad_json", "sex"},
        {"{\"patient\": \"Smith\"}", 400, "bad_json", "patient"},
        {"{\"episode\": {\"pathway\": \"walk-in\"}}", 400, "bad_json", "pathway"},
        {"{\"episode\": {\"indication\": \"other\"}}", 400, "bad_json", "indication_detail"},
        {"{\"episode\": {\"referrer\": 7}}", 400, "bad_json", "referrer"},
        /* control characters: refused in any patient or episode text */
        {"{\"patient\": {\"nhs_number\": \"9434765919\", \"family\": \"Smi\\nth\", "
         "\"given\": \"A\", \"birth_date\": \"1962-03-14\", \"sex\": \"female\"}}",
         422, "invalid_characters", "patient.family"},
        {"{\"patient\": {\"nhs_number\": \"9434765919\", \"family\": \"S\", "
         "\"given\": \"An\\tna\", \"birth_date\": \"1962-03-14\", \"sex\": \"female\"}}",
         422, "invalid_characters", "patient.given"},
        {"{\"patient\": {\"nhs_number\": \"9434765919\", \"family\": \"S\\u007f\", "
         "\"given\": \"A\", \"birth_date\": \"1962-03-14\", \"sex\": \"female\"}}",
         422, "invalid_characters", "patient.family"},
        {"{\"patient\": {\"nhs_number\": \"9434765919\", \"family\": \"S\\u0085\", "
         "\"given\": \"A\", \"birth_date\": \"1962-03-14\", \"sex\": \"female\"}}",
         422, "invalid_characters", "patient.family"},
        {"{\"episode\": {\"referrer\": \"Dr Khan\\r\\nRiverside\"}}", 422, "invalid_characters",
         "episode.referrer"},
        {"{\"episode\": {\"indication\": \"other\", \"indication_detail\": \"a\\u001bb\"}}", 422,
         "invalid_characters", "episode.indication_detail"},
        /* "Family^Given" must fit DICOM's PN component group: 64 bytes */
        {"{\"patient\": {\"nhs_number\": \"9434765919\", \"family\": "
         "\"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\", \"given\": "
         "\"GGGGGGGGGGGGGGGGGGGGGGGG\", \"birth_date\": \"1962-03-14\", \"sex\": \"female\"}}",
         422, "name_too_long", "patient.family and patient.given together are 64 bytes"},
        {"{\"episode\": {\"referrer\": "
         "\"RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR\"}}",
         400, "bad_json", "episode.referrer must be text of at most 64 bytes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = parse(bad[i].body, &p, &e, code, msg);
        if (st != bad[i].status || strcmp(code, bad[i].code) != 0 || !strstr(msg, bad[i].names))
            fail_msg("case %zu: %d %s '%s'", i, st, code, msg);
        assert_string_equal(p.nhs_number, ""); /* nothing half-filled */
    }
}

static void study_uids_are_stable_derived_and_short(void **state)
{
    (void)state;
    char a[CS_UID_MAX], b[CS_UID_MAX], s[CS_UID_MAX], i1[CS_UID_MAX], i2[CS_UID_MAX];
    cs_error e = {0};
    assert_int_equal(cs_uid_study("abc", a, &e), CS_OK);
    /* Python: d = sha256(b"capscreen/study/abc").digest()[:16]; d[6] = d[6] & 0x0f | 0x80;
     * d[8] = d[8] & 0x3f | 0x80; "2.25." + str(int.from_bytes(d, "big")) */
    assert_string_equal(a, "2.25.49418298400773958898624420588483902277");
    assert_int_equal(cs_uid_study("abc", b, &e), CS_OK);
    assert_string_equal(a, b);
    assert_int_equal(cs_uid_study("abd", b, &e), CS_OK);
    assert_string_not_equal(a, b);
    assert_int_equal(cs_uid_key_frame_series("abc", s, &e), CS_OK);
    assert_int_equal(cs_uid_frame_instance("abc", 1, i1, &e), CS_OK);
    assert_int_equal(cs_uid_frame_instance("abc", 2, i2, &e), CS_OK);
    assert_string_not_equal(s, a);
    assert_string_not_equal(i1, i2);
    const char *all[] = {a, b, s, i1, i2};
    for (size_t k = 0; k < 5; k++) {
        assert_true(strlen(all[k]) <= 64);
        assert_memory_equal(all[k], "2.25.", 5);
        assert_true(all[k][5] != '0'); /* DICOM: no leading zero in a component */
    }
    assert_int_equal(cs_uid_study("", a, &e), CS_ERR_ARG);
    assert_int_equal(cs_uid_make(NULL, "x", a, &e), CS_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nhs_numbers_pass_only_with_their_check_digit),
        cmocka_unit_test(birth_dates_must_exist_and_be_plausible),
        cmocka_unit_test(the_json_reader_names_the_field_at_fault),
        cmocka_unit_test(study_uids_are_stable_derived_and_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
