/* test_uplink_spool.c - frames are taken in natural name order, packing
 * never deletes anything, only frames whose bytes the server confirmed are
 * deleted, the full signal follows the cap, a frame that cannot be sent is
 * set aside (never deleted), a torn outbox is rebuilt byte for byte, and
 * the read-ahead (ahead.h) yields exactly the bytes packing would make.
 * No network: the tests drive the packing and confirming steps directly. */
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

#include "capscreen/crc32c.h"
#include "capscreen/framestream.h"
#include "uplink/internal.h"
#include "uplink/sha256.h"

static char root[256], spool[300], statedir[300];

static int make_dirs(void **state)
{
    char dev[400];
    (void)state;
    snprintf(root, sizeof root, "%s/csu-spool-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(root))
        return -1;
    snprintf(spool, sizeof spool, "%s/spool", root);
    snprintf(statedir, sizeof statedir, "%s/state", root);
    snprintf(dev, sizeof dev, "%s/device", statedir);
    if (mkdir(spool, 0700) || mkdir(statedir, 0700))
        return -1;
    FILE *f = fopen(dev, "w");
    if (!f)
        return -1;
    fputs("server http://127.0.0.1:9\ntoken t\nstudy s\n", f);
    return fclose(f);
}

static int remove_dirs(void **state)
{
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd);
}

/* A small fake JPEG: SOI, `n` bytes, EOI. */
static void drop(const char *name, size_t n)
{
    char tmp[512], path[512];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", spool, name);
    snprintf(path, sizeof path, "%s/%s", spool, name);
    FILE *f = fopen(tmp, "wb");
    assert_non_null(f);
    fputc(0xFF, f);
    fputc(0xD8, f);
    for (size_t i = 0; i < n; i++)
        fputc((int)(i & 0xFF), f);
    fputc(0xFF, f);
    fputc(0xD9, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
}

static bool exists(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", spool, name);
    return access(path, F_OK) == 0;
}

static csu_uplink *open_uplink(uint32_t max_frames)
{
    csu_config c;
    csu_uplink *u = NULL;
    cs_error err = {0};
    csu_config_init(&c);
    c.state_dir = statedir;
    c.spool_dir = spool;
    c.chunk_ms = 0;
    c.spool_max_frames = max_frames;
    c.checksum = CSU_CHECKSUM_NEVER;
    c.rng_seed = 1;
    if (csu_uplink_create(&c, &u, &err) != CS_OK)
        fail_msg("create: %s", err.msg);
    return u;
}

/* The records packing would make for the listed frames [from, to). */
static size_t expected_records(const csu_spool_list *l, size_t from, size_t to, uint64_t index,
                               uint8_t *out, size_t cap)
{
    size_t len = 0;
    for (size_t i = from; i < to; i++) {
        char path[600];
        uint8_t payload[4096];
        size_t written = 0;
        snprintf(path, sizeof path, "%s/%s", spool, l->files[i].name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        size_t n = fread(payload, 1, sizeof payload, f);
        fclose(f);
        assert_int_equal(cs_fs_encode_record(out + len, cap - len, index++, l->files[i].mtime_us, 0,
                                             payload, (uint32_t)n, &written, NULL),
                         CS_OK);
        len += written;
    }
    return len;
}

/* Pack chunk 1 (4 frames), read ahead while "its PATCH is sent", confirm
 * it, pack chunk 2: the read-ahead's records, CRC, hash and file. */
static csu_uplink *first_chunk_then_read_ahead(void)
{
    cs_error err = {0};
    bool packed = false;
    csu_config c;
    csu_uplink *u = NULL;
    csu_config_init(&c);
    c.state_dir = statedir;
    c.spool_dir = spool;
    c.chunk_ms = 0;
    c.chunk_frames = 4;
    c.checksum = CSU_CHECKSUM_ALWAYS;
    c.rng_seed = 1;
    if (csu_uplink_create(&c, &u, &err) != CS_OK)
        fail_msg("create: %s", err.msg);
    assert_int_equal(csu__scan(u, &err), CS_OK);
    assert_int_equal(csu__pack(u, &packed, &err), CS_OK);
    assert_int_equal(u->saved->n, 4);
    assert_false(u->ob.has_sha256); /* packed here: tus hashes it */
    assert_true(csu_ahead_start(&u->ahead, spool, statedir, u->list.files + 4, u->list.n - 4,
                                u->saved->next_index, 1u << 20, 4, true));
    csu_ahead_finish(&u->ahead, false);
    assert_int_equal(u->ahead.n, 4);
    assert_int_equal(csu__confirm(u, u->saved->seg_start + u->saved->seg_len, &err), CS_OK);
    assert_int_equal(csu__scan(u, &err), CS_OK);
    return u;
}

static void read_ahead_gives_the_bytes_packing_would(void **state)
{
    cs_error err = {0};
    bool packed = false;
    static uint8_t want[64 * 1024];
    uint8_t sum[32];
    char path[600];
    (void)state;
    for (int i = 0; i < 10; i++) {
        char n[16];
        snprintf(n, sizeof n, "r%d.jpg", i);
        drop(n, 300 + 37 * (size_t)i);
    }
    csu_uplink *u = first_chunk_then_read_ahead();
    size_t want_len = expected_records(&u->list, 0, 4, 4, want, sizeof want);
    assert_int_equal(csu__pack(u, &packed, &err), CS_OK);
    csu_saved *s = u->saved;
    assert_true(packed);
    assert_int_equal(s->n, 4);
    assert_string_equal(s->entries[0].name, "r4.jpg");
    assert_int_equal(s->entries[0].index, 4);
    assert_int_equal(s->next_index, 8);
    assert_int_equal(u->ob.len, want_len);
    assert_memory_equal(u->ob.data, want, want_len);
    assert_int_equal(s->seg_len, want_len);
    assert_int_equal(s->seg_crc, cs_crc32c(0, want, want_len));
    assert_true(u->ob.has_sha256); /* taken whole: its digest holds */
    csu_sha256(want, want_len, sum);
    assert_memory_equal(u->ob.sha256, sum, 32);
    /* the outbox file is the read-ahead's, renamed: the same bytes */
    bool valid = false;
    csu_outbox check;
    assert_int_equal(csu_outbox_init(&check, u->ob.cap, &err), CS_OK);
    assert_int_equal(csu_outbox_load(&check, s, statedir, &valid, &err), CS_OK);
    assert_true(valid);
    csu_outbox_free(&check);
    snprintf(path, sizeof path, "%s/%s", statedir, CSU_AHEAD_FILE);
    assert_int_equal(access(path, F_OK), -1);
    csu_uplink_destroy(u);
}

static void a_frame_changed_since_the_read_ahead_is_packed_afresh(void **state)
{
    cs_error err = {0};
    bool packed = false;
    static uint8_t want[64 * 1024];
    char path[600];
    (void)state;
    for (int i = 0; i < 10; i++) {
        char n[16];
        snprintf(n, sizeof n, "c%d.jpg", i);
        drop(n, 300);
    }
    csu_uplink *u = first_chunk_then_read_ahead();
    /* c6.jpg is replaced by a bigger frame after the read-ahead (against
     * the drop protocol, but the bytes sent must still be the spool's),
     * and c5.jpg is not a JPEG any more. */
    drop("c6.jpg", 900);
    snprintf(path, sizeof path, "%s/c5.jpg", spool);
    FILE *f = fopen(path, "wb");
    fputs("not a JPEG", f);
    fclose(f);
    assert_int_equal(csu__scan(u, &err), CS_OK);
    assert_int_equal(csu__pack(u, &packed, &err), CS_OK);
    csu_saved *s = u->saved;
    assert_true(packed);
    assert_true(exists("c5.jpg.rejected")); /* the packer met it, as ever */
    assert_int_equal(s->n, 4);              /* c4, c6, c7, c8 */
    assert_string_equal(s->entries[1].name, "c6.jpg");
    assert_int_equal(s->entries[1].size, 904);
    assert_int_equal(csu__scan(u, &err), CS_OK); /* c4, c6, c7, ... */
    size_t want_len = expected_records(&u->list, 0, 4, 4, want, sizeof want);
    assert_int_equal(u->ob.len, want_len);
    assert_memory_equal(u->ob.data, want, want_len);
    assert_false(u->ob.has_sha256); /* not the read-ahead's chunk */
    csu_uplink_destroy(u);
}

static void natural_order_compares_digit_runs_by_value(void **state)
{
    (void)state;
    assert_true(csu_natcmp("f2.jpg", "f10.jpg") < 0);
    assert_true(csu_natcmp("f10.jpg", "f9.jpg") > 0);
    assert_true(csu_natcmp("a.jpg", "a1.jpg") < 0);
    assert_true(csu_natcmp("cam1-0009.jpg", "cam1-0010.jpg") < 0);
    assert_true(csu_natcmp("f007.jpg", "f7.jpg") != 0); /* a total order */
    assert_int_equal(csu_natcmp("x1y2", "x1y2"), 0);
    assert_true(csu_natcmp("b1", "a2") > 0);
}

static void scan_lists_frames_in_natural_order_and_ignores_the_rest(void **state)
{
    csu_spool_list l = {0};
    char path[512];
    (void)state;
    drop("f10.jpg", 1);
    drop("f9.JPG", 1);
    drop("f100.jpeg", 1);
    drop("f1.jpg", 1);
    snprintf(path, sizeof path, "%s/f11.jpg.tmp", spool); /* being written */
    fclose(fopen(path, "w"));
    snprintf(path, sizeof path, "%s/.hidden.jpg", spool);
    fclose(fopen(path, "w"));
    snprintf(path, sizeof path, "%s/study.end", spool);
    fclose(fopen(path, "w"));
    assert_int_equal(csu_spool_scan(spool, &l, NULL), CS_OK);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.files[0].name, "f1.jpg");
    assert_string_equal(l.files[1].name, "f9.JPG");
    assert_string_equal(l.files[2].name, "f10.jpg");
    assert_string_equal(l.files[3].name, "f100.jpeg");
    assert_int_equal(l.bytes, 4 * 5);
    assert_true(l.end_marker);
    csu_spool_list_free(&l);
}

static void only_frames_whose_bytes_are_confirmed_are_deleted(void **state)
{
    cs_error err = {0};
    bool packed = false;
    char names[6][16];
    (void)state;
    for (int i = 0; i < 6; i++) {
        snprintf(names[i], sizeof names[i], "f%d.jpg", i + 1);
        drop(names[i], 100 + (size_t)i);
    }
    drop("bad.jpg", 0);
    { /* make bad.jpg not a JPEG */
        char path[512];
        snprintf(path, sizeof path, "%s/bad.jpg", spool);
        FILE *f = fopen(path, "wb");
        fputs("text", f);
        fclose(f);
    }
    csu_uplink *u = open_uplink(0);
    assert_int_equal(csu__scan(u, &err), CS_OK);
    assert_int_equal(csu__pack(u, &packed, &err), CS_OK);
    assert_true(packed);
    csu_saved *s = u->saved;
    assert_int_equal(s->n, 6);
    for (int i = 0; i < 6; i++) {
        assert_string_equal(s->entries[i].name, names[i]);
        assert_int_equal(s->entries[i].index, (uint64_t)i);
        assert_true(exists(names[i])); /* packing deletes nothing */
    }
    assert_false(exists("bad.jpg"));
    assert_true(exists("bad.jpg.rejected")); /* set aside, not deleted */
    assert_int_equal(s->seg_start, 0);
    assert_int_equal(s->seg_len, u->ob.len);

    /* The server confirms up to the middle of frame 3's record. */
    uint64_t mid = csu_outbox_entry_end(s, 1) + 10;
    assert_int_equal(csu__confirm(u, mid, &err), CS_OK);
    assert_false(exists("f1.jpg"));
    assert_false(exists("f2.jpg"));
    for (int i = 2; i < 6; i++)
        assert_true(exists(names[i]));
    assert_int_equal(s->n, 6); /* the outbox stays until all confirmed */

    /* Confirming the same offset again (after a crash) is harmless. */
    assert_int_equal(csu__confirm(u, mid, &err), CS_OK);
    assert_true(exists("f3.jpg"));

    assert_int_equal(csu__confirm(u, s->seg_start + s->seg_len, &err), CS_OK);
    for (int i = 0; i < 6; i++)
        assert_false(exists(names[i]));
    assert_int_equal(s->n, 0);
    assert_int_equal(s->seg_len, 0);
    assert_int_equal(s->frames_sent, 6);
    assert_int_equal(s->next_index, 6);
    csu_uplink_destroy(u);
}

static void full_spool_signals_and_clears_without_deleting(void **state)
{
    cs_error err = {0};
    char marker[512];
    bool packed;
    (void)state;
    snprintf(marker, sizeof marker, "%s/spool.full", spool);
    for (int i = 0; i < 5; i++) {
        char n[16];
        snprintf(n, sizeof n, "g%d.jpg", i);
        drop(n, 50);
    }
    csu_uplink *u = open_uplink(4);
    assert_int_equal(csu__scan(u, &err), CS_OK);
    assert_true(u->full);
    assert_int_equal(access(marker, F_OK), 0);
    csu__refresh_status(u);
    assert_int_equal(u->info.state, CSU_STATE_SPOOL_FULL);
    assert_int_equal(u->info.frames_queued, 5);
    assert_int_equal(csu__pack(u, &packed, &err), CS_OK);
    assert_int_equal(u->saved->n, 5);
    for (int i = 0; i < 5; i++) {
        char n[16];
        snprintf(n, sizeof n, "g%d.jpg", i);
        assert_true(exists(n));
    }
    assert_int_equal(csu__confirm(u, csu_outbox_entry_end(u->saved, 1), &err), CS_OK);
    assert_int_equal(csu__scan(u, &err), CS_OK);
    assert_false(u->full);
    assert_int_equal(access(marker, F_OK), -1);
    csu_uplink_destroy(u);
}

static void torn_outbox_is_rebuilt_byte_for_byte(void **state)
{
    cs_error err = {0};
    bool packed;
    uint8_t *before;
    size_t len;
    char path[512];
    (void)state;
    for (int i = 0; i < 3; i++) {
        char n[16];
        snprintf(n, sizeof n, "h%d.jpg", i);
        drop(n, 200);
    }
    csu_uplink *u = open_uplink(0);
    assert_int_equal(csu__scan(u, &err), CS_OK);
    assert_int_equal(csu__pack(u, &packed, &err), CS_OK);
    len = u->ob.len;
    before = malloc(len);
    memcpy(before, u->ob.data, len);
    /* The first frame was confirmed and released, then a crash. */
    assert_int_equal(csu__confirm(u, csu_outbox_entry_end(u->saved, 0), &err), CS_OK);
    csu_uplink_destroy(u);
    snprintf(path, sizeof path, "%s/outbox.csfs", statedir);
    FILE *f = fopen(path, "r+b");
    fseek(f, 100, SEEK_SET);
    fputc('X', f); /* torn */
    fclose(f);
    u = open_uplink(0);
    /* Rebuilt by the first step after the HEAD (step.c), as here. */
    assert_true(u->ob_stale);
    assert_int_equal(
        csu__rebuild(u, u->saved->seg_start, u->saved->seg_header, u->saved->offset, false, &err),
        CS_OK);
    assert_false(u->ob_stale);
    assert_int_equal(u->ob.len, len);
    uint64_t from = csu_outbox_entry_end(u->saved, 0);
    assert_memory_equal(u->ob.data + from, before + from, len - from);
    assert_memory_equal(u->ob.data, before, CS_FS_FILE_HEADER_SIZE);
    assert_int_equal(u->saved->offset, from);
    free(before);
    csu_uplink_destroy(u);
}

static void a_second_uplink_on_the_same_state_is_refused(void **state)
{
    csu_config c;
    csu_uplink *u2 = NULL;
    cs_error err = {0};
    (void)state;
    csu_uplink *u = open_uplink(0);
    csu_config_init(&c);
    c.state_dir = statedir;
    c.spool_dir = spool;
    assert_int_equal(csu_uplink_create(&c, &u2, &err), CS_ERR_ARG);
    assert_null(u2);
    assert_non_null(strstr(err.msg, "another uplink"));
    csu_uplink_destroy(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(natural_order_compares_digit_runs_by_value),
        cmocka_unit_test_setup_teardown(scan_lists_frames_in_natural_order_and_ignores_the_rest,
                                        make_dirs, remove_dirs),
        cmocka_unit_test_setup_teardown(only_frames_whose_bytes_are_confirmed_are_deleted,
                                        make_dirs, remove_dirs),
        cmocka_unit_test_setup_teardown(full_spool_signals_and_clears_without_deleting, make_dirs,
                                        remove_dirs),
        cmocka_unit_test_setup_teardown(torn_outbox_is_rebuilt_byte_for_byte, make_dirs,
                                        remove_dirs),
        cmocka_unit_test_setup_teardown(a_second_uplink_on_the_same_state_is_refused, make_dirs,
                                        remove_dirs),
        cmocka_unit_test_setup_teardown(read_ahead_gives_the_bytes_packing_would, make_dirs,
                                        remove_dirs),
        cmocka_unit_test_setup_teardown(a_frame_changed_since_the_read_ahead_is_packed_afresh,
                                        make_dirs, remove_dirs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
