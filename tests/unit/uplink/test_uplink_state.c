/* test_uplink_state.c - the progress file survives a round trip, ignores a
 * torn temp file, rejects a truncated or garbled file; the JSON helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "uplink/json.h"
#include "uplink/state.h"

static char dir[256];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s/csu-state-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void sample(csu_saved *s)
{
    csu_saved_init(s);
    snprintf(s->upload_url, sizeof s->upload_url, "http://h:1/uploads/ab c");
    s->next_index = 41;
    s->frames_sent = 39;
    s->bytes_sent = 123456789012ull;
    s->offset = 5000;
    s->seg_start = 4000;
    s->seg_len = 1234;
    s->seg_crc = 0xDEADBEEF;
    s->seg_header = true;
    s->n = 2;
    s->entries[0] =
        (csu_entry){.index = 39, .time_us = -5, .size = 100, .flags = 3, .name = "frame 0039.jpg"};
    s->entries[1] = (csu_entry){
        .index = 40, .time_us = 1700000000000000, .size = 1062, .src_off = 77, .name = ""};
}

static void progress_round_trips_every_field(void **state)
{
    csu_saved a, *b = malloc(sizeof *b);
    bool found = false;
    (void)state;
    sample(&a);
    assert_int_equal(csu_saved_store(&a, dir, NULL), CS_OK);
    assert_int_equal(csu_saved_load(b, dir, &found, NULL), CS_OK);
    assert_true(found);
    assert_string_equal(b->upload_url, a.upload_url);
    assert_int_equal(b->next_index, 41);
    assert_int_equal(b->frames_sent, 39);
    assert_true(b->bytes_sent == 123456789012ull);
    assert_int_equal(b->offset, 5000);
    assert_int_equal(b->seg_start, 4000);
    assert_int_equal(b->seg_len, 1234);
    assert_int_equal(b->seg_crc, 0xDEADBEEF);
    assert_true(b->seg_header);
    assert_int_equal(b->n, 2);
    assert_string_equal(b->entries[0].name, "frame 0039.jpg");
    assert_int_equal(b->entries[0].time_us, -5);
    assert_int_equal(b->entries[0].flags, 3);
    assert_int_equal(b->entries[1].size, 1062);
    assert_int_equal(b->entries[1].src_off, 77);
    assert_string_equal(b->entries[1].name, "");
    struct stat sb;
    char path[512];
    snprintf(path, sizeof path, "%s/progress", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    free(b);
}

static void missing_progress_is_a_fresh_start(void **state)
{
    csu_saved *s = malloc(sizeof *s);
    bool found = true;
    (void)state;
    assert_int_equal(csu_saved_load(s, dir, &found, NULL), CS_OK);
    assert_false(found);
    assert_string_equal(s->upload_url, "");
    assert_int_equal(s->next_index, 0);
    free(s);
}

static void torn_temp_file_is_ignored(void **state)
{
    csu_saved a, *b = malloc(sizeof *b);
    bool found = false;
    (void)state;
    sample(&a);
    assert_int_equal(csu_saved_store(&a, dir, NULL), CS_OK);
    /* A crash mid-write leaves half a temp file beside the real one. */
    write_file("progress.tmp", "csuplink-progress 1\nupload http://x/\nnext_ind");
    assert_int_equal(csu_saved_load(b, dir, &found, NULL), CS_OK);
    assert_true(found);
    assert_int_equal(b->next_index, 41);
    /* The next store replaces the torn temp file. */
    a.next_index = 42;
    assert_int_equal(csu_saved_store(&a, dir, NULL), CS_OK);
    assert_int_equal(csu_saved_load(b, dir, &found, NULL), CS_OK);
    assert_int_equal(b->next_index, 42);
    free(b);
}

static void torn_temp_file_alone_is_a_fresh_start(void **state)
{
    csu_saved *s = malloc(sizeof *s);
    bool found = true;
    (void)state;
    write_file("progress.tmp", "csuplink-progress 1\nupl");
    assert_int_equal(csu_saved_load(s, dir, &found, NULL), CS_OK);
    assert_false(found);
    free(s);
}

static void truncated_or_garbled_progress_is_reported(void **state)
{
    csu_saved *s = malloc(sizeof *s);
    bool found;
    cs_error err = {0};
    (void)state;
    write_file("progress", "csuplink-progress 1\nupload -\nnext_index 3\n");
    assert_int_equal(csu_saved_load(s, dir, &found, &err), CS_ERR_CORRUPT);
    assert_non_null(strstr(err.msg, "progress"));
    write_file("progress", "csuplink-progress 1\nnext_index x3\nend\n");
    assert_int_equal(csu_saved_load(s, dir, &found, NULL), CS_ERR_CORRUPT);
    write_file("progress", "csuplink-progress 1\noutbox 0 0 0 2\nframe 1 2 3 0 0 a\nend\n");
    assert_int_equal(csu_saved_load(s, dir, &found, NULL), CS_ERR_CORRUPT);
    free(s);
}

static void json_reads_flat_members_and_quotes_strings(void **state)
{
    char v[64], q[64];
    const char *j = "{\"a\": {\"token\": \"no\"}, \"list\": [1, \"}\"], "
                    "\"token\": \"t\\\"ok\\u0041\", \"study\": 17}";
    (void)state;
    assert_true(csu_json_get(j, "token", v, sizeof v));
    assert_string_equal(v, "t\"okA");
    assert_true(csu_json_get(j, "study", v, sizeof v));
    assert_string_equal(v, "17");
    assert_false(csu_json_get(j, "missing", v, sizeof v));
    assert_false(csu_json_get("{\"token\": \"abcdef\"}", "token", v, 4));
    assert_false(csu_json_get("not json", "token", v, sizeof v));
    assert_true(csu_json_quote("a\"b\\c\n", q, sizeof q));
    assert_string_equal(q, "\"a\\\"b\\\\c\\u000a\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(progress_round_trips_every_field, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(missing_progress_is_a_fresh_start, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(torn_temp_file_is_ignored, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(torn_temp_file_alone_is_a_fresh_start, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(truncated_or_garbled_progress_is_reported, make_dir,
                                        remove_dir),
        cmocka_unit_test(json_reads_flat_members_and_quotes_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
