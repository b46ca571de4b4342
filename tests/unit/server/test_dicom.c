/* test_dicom.c - key frames as VL Endoscopic Image instances (dicom.h):
 * built from real JPEG bytes (encoded here with libjpeg), written as a
 * Part 10 file and read back through dcmtk, each mandatory attribute of
 * the IOD's modules present with the identity given; the JPEG stored
 * byte for byte in JPEG Baseline; a 4:4:4 JPEG decoded to RGB; bad input
 * refused with the reason; an identity that does not fit its attributes
 * (too long, a control character) refused, never cut; C-STORE response
 * statuses read as PS3.4 B.2.3 and PS3.7 C say (a warning is stored).
 * Sending is tested against a real Orthanc by
 * tests/integration/server_pacs.sh. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jpeglib.h>

#include "capscreen/fileio.h"
#include "server/export/dicom.h"

/* A w x h gradient as JPEG: `h_samp` x `v_samp` luma sampling (2,2 =
 * 4:2:0; 1,1 = 4:4:4), `components` 1 or 3, progressive or baseline. */
static uint8_t *make_jpeg(int w, int h, int components, int h_samp, int v_samp, bool progressive,
                          size_t *len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *buf = NULL;
    unsigned long n = 0;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &n);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = components;
    c.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 85, TRUE);
    if (components == 3) {
        c.comp_info[0].h_samp_factor = h_samp;
        c.comp_info[0].v_samp_factor = v_samp;
    }
    if (progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    unsigned char *row = malloc((size_t)w * (size_t)components);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w * components; x++)
            row[x] = (unsigned char)((x * 7 + y * 3) & 0xFF);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    *len = n;
    return buf;
}

static void identity(cs_dicom_identity *id)
{
    memset(id, 0, sizeof *id);
    snprintf(id->patient_id, sizeof id->patient_id, "9434765919");
    snprintf(id->patient_id_issuer, sizeof id->patient_id_issuer, "NHS");
    snprintf(id->patient_name, sizeof id->patient_name, "Smith^Anna");
    snprintf(id->patient_birth_date, sizeof id->patient_birth_date, "19620314");
    snprintf(id->patient_sex, sizeof id->patient_sex, "F");
    cs_error e = {0};
    assert_int_equal(cs_uid_study("s-test-1", id->study_uid, &e), CS_OK);
    assert_int_equal(cs_uid_key_frame_series("s-test-1", id->series_uid, &e), CS_OK);
    snprintf(id->accession, sizeof id->accession, "s-test-1");
    snprintf(id->study_id, sizeof id->study_id, "s-test-1");
    snprintf(id->study_date, sizeof id->study_date, "20261202");
    snprintf(id->study_time, sizeof id->study_time, "031500");
    snprintf(id->study_description, sizeof id->study_description, "Colon capsule endoscopy");
    id->series_number = 1;
}

/* The attribute's value, failing the test when it is absent. */
static const char *tag(const cs_dicom_instance *inst, uint16_t g, uint16_t el)
{
    static char buf[4][256];
    static int next;
    char *out = buf[next++ % 4];
    int found = 0;
    cs_error e = {0};
    assert_int_equal(cs_dicom_instance_tag(inst, g, el, &found, out, 256, &e), CS_OK);
    if (!found)
        fail_msg("(%04x,%04x) is missing", g, el);
    return out;
}

/* Build, write to a file, read back: the file is what a PACS gets. */
static cs_dicom_instance *roundtrip(const cs_dicom_identity *id, const char *uid,
                                    const uint8_t *jpeg, size_t len, char *path, size_t cap)
{
    cs_dicom_instance *built = NULL, *back = NULL;
    cs_error e = {0};
    assert_int_equal(cs_dicom_instance_build(id, uid, 3, "", "", jpeg, len, &built, &e), CS_OK);
    snprintf(path, cap, "%s/cs-dicom-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    if (cs_dicom_instance_save(built, path, &e) != CS_OK)
        fail_msg("save: %s", e.msg);
    cs_dicom_instance_free(built);
    if (cs_dicom_instance_load(path, &back, &e) != CS_OK)
        fail_msg("load: %s", e.msg);
    return back;
}

static void instance_has_every_mandatory_attribute_and_the_jpeg_as_is(void **state)
{
    (void)state;
    cs_dicom_identity id;
    identity(&id);
    char uid[CS_UID_MAX], path[256];
    cs_error e = {0};
    assert_int_equal(cs_uid_frame_instance("s-test-1", 42, uid, &e), CS_OK);
    size_t len = 0;
    uint8_t *jpeg = make_jpeg(64, 48, 3, 2, 2, false, &len);
    cs_dicom_instance *d = roundtrip(&id, uid, jpeg, len, path, sizeof path);

    /* SOP Common, the transfer syntax */
    assert_string_equal(tag(d, 0x0008, 0x0016), CS_DICOM_SOP_VL_ENDOSCOPIC);
    assert_string_equal(tag(d, 0x0002, 0x0002), CS_DICOM_SOP_VL_ENDOSCOPIC);
    assert_string_equal(tag(d, 0x0008, 0x0018), uid);
    assert_string_equal(tag(d, 0x0002, 0x0003), uid);
    assert_string_equal(tag(d, 0x0002, 0x0010), CS_DICOM_TS_JPEG_BASELINE);
    assert_string_equal(tag(d, 0x0008, 0x0005), "ISO_IR 192");
    /* Patient */
    assert_string_equal(tag(d, 0x0010, 0x0010), "Smith^Anna");
    assert_string_equal(tag(d, 0x0010, 0x0020), "9434765919");
    assert_string_equal(tag(d, 0x0010, 0x0021), "NHS");
    assert_string_equal(tag(d, 0x0010, 0x0030), "19620314");
    assert_string_equal(tag(d, 0x0010, 0x0040), "F");
    /* General Study: the UID both exports quote */
    assert_string_equal(tag(d, 0x0020, 0x000D), id.study_uid);
    assert_string_equal(tag(d, 0x0008, 0x0020), "20261202");
    assert_string_equal(tag(d, 0x0008, 0x0030), "031500");
    assert_string_equal(tag(d, 0x0008, 0x0050), "s-test-1");
    assert_string_equal(tag(d, 0x0020, 0x0010), "s-test-1");
    assert_string_equal(tag(d, 0x0008, 0x0090), ""); /* type 2: present, empty */
    /* General Series, Equipment, General Image */
    assert_string_equal(tag(d, 0x0008, 0x0060), "ES");
    assert_string_equal(tag(d, 0x0020, 0x000E), id.series_uid);
    assert_string_equal(tag(d, 0x0020, 0x0011), "1");
    assert_string_equal(tag(d, 0x0008, 0x0070), "capscreen");
    assert_string_equal(tag(d, 0x0020, 0x0013), "3");
    assert_string_equal(tag(d, 0x0008, 0x0023), "20261202"); /* content date: the study's */
    /* VL Image, Acquisition Context (an empty sequence) */
    assert_string_equal(tag(d, 0x0008, 0x0008), "ORIGINAL\\PRIMARY");
    assert_string_equal(tag(d, 0x0028, 0x2110), "01");
    assert_string_equal(tag(d, 0x0040, 0x0555), "0");
    /* Image Pixel */
    assert_string_equal(tag(d, 0x0028, 0x0002), "3");
    assert_string_equal(tag(d, 0x0028, 0x0004), "YBR_FULL_422");
    assert_string_equal(tag(d, 0x0028, 0x0010), "48");
    assert_string_equal(tag(d, 0x0028, 0x0011), "64");
    assert_string_equal(tag(d, 0x0028, 0x0100), "8");
    assert_string_equal(tag(d, 0x0028, 0x0006), "0");
    cs_dicom_instance_free(d);

    /* The JPEG's bytes are in the file as they were (one fragment). */
    uint8_t *file = NULL;
    size_t n = 0;
    assert_int_equal(cs_file_read(path, 1 << 24, &file, &n, &e), CS_OK);
    bool found = false;
    for (size_t i = 0; i + len <= n && !found; i++)
        found = memcmp(file + i, jpeg, len) == 0;
    assert_true(found);
    free(file);
    unlink(path);
    free(jpeg);
}

static void grey_is_monochrome2_and_444_is_decoded_to_rgb(void **state)
{
    (void)state;
    cs_dicom_identity id;
    identity(&id);
    char path[256];
    size_t len = 0;
    uint8_t *grey = make_jpeg(40, 30, 1, 1, 1, false, &len);
    cs_dicom_instance *d = roundtrip(&id, "2.25.1", grey, len, path, sizeof path);
    assert_string_equal(tag(d, 0x0028, 0x0004), "MONOCHROME2");
    assert_string_equal(tag(d, 0x0028, 0x0002), "1");
    assert_string_equal(tag(d, 0x0002, 0x0010), CS_DICOM_TS_JPEG_BASELINE);
    cs_dicom_instance_free(d);
    unlink(path);
    free(grey);

    /* 4:4:4 YCbCr would be YBR_FULL, which a VL image may not be. */
    uint8_t *full = make_jpeg(40, 30, 3, 1, 1, false, &len);
    d = roundtrip(&id, "2.25.2", full, len, path, sizeof path);
    assert_string_equal(tag(d, 0x0028, 0x0004), "RGB");
    assert_string_equal(tag(d, 0x0002, 0x0010), CS_DICOM_TS_EXPLICIT_LE);
    assert_string_equal(tag(d, 0x0008, 0x0018), "2.25.2");
    assert_string_equal(tag(d, 0x0028, 0x2110), "01"); /* still lossy: it was a JPEG */
    cs_dicom_instance_free(d);
    unlink(path);
    free(full);
}

static void bad_input_is_refused_with_a_reason(void **state)
{
    (void)state;
    cs_dicom_identity id;
    identity(&id);
    cs_dicom_instance *d = NULL;
    cs_error e = {0};
    size_t len = 0;
    uint8_t *prog = make_jpeg(32, 32, 3, 2, 2, true, &len);
    assert_int_equal(cs_dicom_instance_build(&id, "2.25.3", 1, "", "", prog, len, &d, &e),
                     CS_ERR_UNSUPPORTED);
    assert_null(d);
    assert_non_null(strstr(e.msg, "baseline"));
    free(prog);

    const uint8_t png[] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    assert_int_equal(cs_dicom_instance_build(&id, "2.25.4", 1, "", "", png, sizeof png, &d, &e),
                     CS_ERR_NOT_IMAGE);
    const uint8_t cut[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x40, 0x00};
    assert_int_equal(cs_dicom_instance_build(&id, "2.25.5", 1, "", "", cut, sizeof cut, &d, &e),
                     CS_ERR_CORRUPT);
    assert_int_equal(cs_dicom_instance_build(&id, "", 1, "", "", cut, sizeof cut, &d, &e),
                     CS_ERR_ARG);
    id.study_uid[0] = '\0';
    assert_int_equal(cs_dicom_instance_build(&id, "2.25.6", 1, "", "", cut, sizeof cut, &d, &e),
                     CS_ERR_ARG);
    assert_null(d);
    cs_dicom_instance_free(NULL);
}

static void send_to_nobody_is_an_io_error_with_the_reason(void **state)
{
    (void)state;
    cs_dicom_identity id;
    identity(&id);
    size_t len = 0, sent = 99;
    uint8_t *jpeg = make_jpeg(16, 16, 3, 2, 2, false, &len);
    cs_dicom_instance *d = NULL;
    cs_error e = {0};
    assert_int_equal(cs_dicom_instance_build(&id, "2.25.7", 1, "", "", jpeg, len, &d, &e), CS_OK);
    /* Port 1 on loopback: nothing listens (connection refused). */
    cs_dicom_peer peer = {.host = "127.0.0.1",
                          .port = 1,
                          .called_aet = "ORTHANC",
                          .calling_aet = "CAPSCREEN",
                          .timeout_s = 5};
    assert_int_equal(cs_dicom_send(&peer, &d, 1, &sent, NULL, &e), CS_ERR_IO);
    assert_int_equal(sent, 0);
    assert_non_null(strstr(e.msg, "127.0.0.1:1"));
    peer.called_aet = "";
    assert_int_equal(cs_dicom_send(&peer, &d, 1, &sent, NULL, &e), CS_ERR_ARG);
    cs_dicom_instance_free(d);
    free(jpeg);
}

/* The writer never cuts an identity short nor passes a control
 * character: a value that does not fit its VR is refused, naming it. */
static void an_identity_that_does_not_fit_dicom_is_refused_not_cut(void **state)
{
    (void)state;
    cs_dicom_identity id;
    cs_error e = {0};
    size_t len = 0;
    uint8_t *jpeg = make_jpeg(16, 16, 3, 2, 2, false, &len);
    cs_dicom_instance *d = NULL;
    identity(&id);
    assert_int_equal(cs_dicom_identity_check(&id, &e), CS_OK);
    /* "Family^Given": 64 bytes fit one PN component group, 65 do not. */
    memset(id.patient_name, 'F', 64);
    id.patient_name[40] = '^';
    id.patient_name[64] = '\0';
    assert_int_equal(cs_dicom_identity_check(&id, &e), CS_OK);
    id.patient_name[64] = 'G';
    id.patient_name[65] = '\0';
    assert_int_equal(cs_dicom_identity_check(&id, &e), CS_ERR_ARG);
    assert_non_null(strstr(e.msg, "Patient's Name"));
    assert_non_null(strstr(e.msg, "65 bytes"));
    assert_int_equal(cs_dicom_instance_build(&id, "2.25.7", 1, "", "", jpeg, len, &d, &e),
                     CS_ERR_ARG);
    assert_null(d);
    /* Each group counts on its own (alphabetic=ideographic=phonetic). */
    identity(&id);
    memset(id.patient_name, 'A', 60);
    id.patient_name[60] = '=';
    memset(id.patient_name + 61, 'B', 60);
    id.patient_name[121] = '\0';
    assert_int_equal(cs_dicom_identity_check(&id, &e), CS_OK);
    const char *bad[] = {"Smi\nth^Anna", "Smith^An\tna",
                         "Smith\x7f"
                         "^Anna",
                         "Smith^\xc2\x85"
                         "Anna"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        identity(&id);
        snprintf(id.patient_name, sizeof id.patient_name, "%s", bad[i]);
        assert_int_equal(cs_dicom_identity_check(&id, &e), CS_ERR_ARG);
        assert_non_null(strstr(e.msg, "control character"));
    }
    identity(&id);
    memset(id.referring_physician, 'R', 65);
    id.referring_physician[65] = '\0';
    assert_int_equal(cs_dicom_identity_check(&id, &e), CS_ERR_ARG);
    assert_non_null(strstr(e.msg, "Referring Physician's Name"));
    identity(&id);
    snprintf(id.patient_id, sizeof id.patient_id, "94347\\65919");
    assert_int_equal(cs_dicom_identity_check(&id, &e), CS_ERR_ARG);
    assert_non_null(strstr(e.msg, "Patient ID"));
    free(jpeg);
}

/* PS3.4 B.2.3 / PS3.7 C: warnings mean the instance was stored. */
static void store_statuses_read_as_the_standard_says(void **state)
{
    (void)state;
    const char *m = NULL;
    assert_int_equal(cs_dicom_store_status(0x0000, &m), CS_DICOM_STORE_SUCCESS);
    assert_string_equal(m, "success");
    const uint16_t warnings[] = {0xB000, 0xB006, 0xB007, 0x0001, 0x0107, 0x0116, 0xB123};
    for (size_t i = 0; i < sizeof warnings / sizeof warnings[0]; i++) {
        if (cs_dicom_store_status(warnings[i], &m) != CS_DICOM_STORE_WARNING)
            fail_msg("0x%04x is not a warning", warnings[i]);
        assert_non_null(strstr(m, "warning"));
    }
    assert_int_equal(cs_dicom_store_status(0x0107, &m), CS_DICOM_STORE_WARNING);
    assert_string_equal(m, "warning: attribute list error");
    assert_int_equal(cs_dicom_store_status(0x0116, &m), CS_DICOM_STORE_WARNING);
    assert_string_equal(m, "warning: attribute value out of range");
    const uint16_t failures[] = {0xA700, 0xA7FF, 0xA900, 0xC000, 0xCFFF, 0x0122,
                                 0x0110, 0x0117, 0x0211, 0xFE00, 0xFF00, 0xFF01};
    for (size_t i = 0; i < sizeof failures / sizeof failures[0]; i++)
        if (cs_dicom_store_status(failures[i], &m) != CS_DICOM_STORE_FAILURE)
            fail_msg("0x%04x is not a failure", failures[i]);
    assert_int_equal(cs_dicom_store_status(0xA701, NULL), CS_DICOM_STORE_FAILURE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(instance_has_every_mandatory_attribute_and_the_jpeg_as_is),
        cmocka_unit_test(grey_is_monochrome2_and_444_is_decoded_to_rgb),
        cmocka_unit_test(bad_input_is_refused_with_a_reason),
        cmocka_unit_test(send_to_nobody_is_an_io_error_with_the_reason),
        cmocka_unit_test(an_identity_that_does_not_fit_dicom_is_refused_not_cut),
        cmocka_unit_test(store_statuses_read_as_the_standard_says),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
